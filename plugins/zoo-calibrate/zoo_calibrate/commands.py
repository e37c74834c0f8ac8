"""``zoo calibrate``: fit a calibrator for a registered classifier on held-out labelled data and
register the classifier plus calibrator as a new version of the same model.

The work is done by this plugin's ``calibrate.calibrated_model`` component
(``zoo_calibrate.model.CalibratedModel``); this module reads the data, measures calibration
before and after, draws the reliability diagram and registers through
``zoo.register_trained``, the one train-and-register path. Imported by the plugin's
``register_commands`` hook whenever the CLI starts, so numpy, pandas, matplotlib and the
registry are imported inside the command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

import zoo
from zoo import DataError, ZooError
from zoo.clitools import (
    console,
    escape,
    json_option,
    make_table,
    open_registry,
    parse_pairs,
    print_json,
    progress_steps,
    pyplot,
)

#: Lineage relation from a calibrated version to the version(s) it calibrates.
RELATION = "calibrated_from"
#: Suffix of the metrics measured on the uncalibrated probabilities.
UNCALIBRATED = "_uncalibrated"
METRICS = ("ece", "ece_adaptive", "mce", "brier", "log_loss", "accuracy", "roc_auc")
#: Parameters that have their own option.
_OWN_OPTIONS = {"method": "--method", "group_columns": "--group-columns"}


@click.command()
@click.argument("ref")
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--target", required=True, help="Label column of DATA.")
@click.option("--method", default="auto", show_default=True,
              help="auto (a blend of the methods within one standard error of the best "
                   "cross-validated log loss), sigmoid, isotonic, temperature, histogram, "
                   "beta, spline, scaling_binning or identity; or a calibrator's qualified name.")
@click.option("--group-columns", metavar="A,B,...",
              help="Group columns, top level first (e.g. campaign,ad_group,ad): a calibrator per group, "
                   "shrunk toward its parent; the columns are then needed at predict time.")
@click.option("--member", "members", multiple=True, metavar="REF",
              help="Another registered classifier to average with REF after calibration, weights fit "
                   "on DATA (a calibrated ensemble); repeatable.")
@click.option("--name", help="Model name to register under (default: REF's model).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="Calibrated-model parameter: min_group_size, shrinkage, cv (folds), seed; repeatable.")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Version tag; repeatable.")
@click.option("--description", help="Free text stored with the version.")
@click.option("--force", is_flag=True,
              help="Register even when calibration makes the held-out log loss worse.")
@json_option
@click.pass_context
def calibrate(ctx: click.Context, ref: str, data: str, target: str, method: str,
              group_columns: str | None, members: tuple[str, ...], name: str | None,
              params: tuple[str, ...], tags: tuple[str, ...], description: str | None,
              force: bool, as_json: bool) -> None:
    """Calibrate classifier REF on held-out labelled DATA and register REF + calibrator as a new version.

    DATA must not be the data REF was trained on. Calibration metrics (ECE with 15 bins,
    adaptive ECE, MCE, Brier, log loss) are measured on DATA before calibration (stored
    as *_uncalibrated) and after it, out of fold: each fold scored by a calibrator fit on
    the others. The reliability diagram is stored as the artifact reliability.png;
    `zoo report` shows both. A calibrator that makes the out-of-fold log loss worse than
    REF's own is not registered, unless --force.
    """
    import tempfile

    from zoo.data import fingerprint, read_table
    from zoo_calibrate.model import CalibratedModel

    info = zoo.build_catalogue().of_class(CalibratedModel)  # create() names unknown --param keys
    columns = _group_columns(group_columns)
    values = parse_pairs(params, "--param")
    for key, option in _OWN_OPTIONS.items():
        if key in values:
            raise ZooError(f"set {key} with {option}, not --param")
    tag_values = {k: str(v) for k, v in parse_pairs(tags, "--tag").items()}
    model = info.create(method=method, group_columns=columns or None, **values)
    refs = [ref, *members]
    model.make_calibrator(len(refs))  # an unknown method fails before any data is read

    registry = open_registry(ctx)
    versions = [registry.get(r) for r in refs]
    _check_versions(versions)
    with progress_steps() as step, tempfile.TemporaryDirectory(prefix="zoo-calibrate-") as tmp:
        df = read_table(data)
        if target not in df.columns:
            shown = ", ".join(map(str, df.columns[:20]))
            raise DataError(f"no column {target!r} in {data}; columns are: {shown}")
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise DataError(f"no group column {', '.join(map(repr, missing))} in {data}; "
                            f"--group-columns must name columns of the data")
        X, y = df.drop(columns=[target]), df[target]
        step("loading " + ", ".join(v["ref"] for v in versions))
        loaded = [registry.load(v["ref"], observed=False) for v in versions]
        step("fitting the calibrator")
        model.fit(X, y, members=loaded)  # warns once about columns no member uses
        X = X[model.feature_names]
        step("cross-validating the calibration")
        y_idx = model.class_indices(y)
        before = model.uncalibrated_proba(X)
        after = model.cross_validated_proba(X, y)
        metrics = calibration_metrics(y_idx, before, after)
        check_log_loss(metrics, model.summary()["calibrator"], force)
        step("drawing the reliability diagram")
        png = Path(tmp) / "reliability.png"
        summary = model.summary()
        title = f"{' + '.join(v['ref'] for v in versions)} · {summary['calibrator']}"
        if summary.get("chosen"):
            title += f" (auto: {summary['chosen']}, {summary['bins']} bins)"
        if columns:
            title += f" by {', '.join(columns)}"
        reliability_diagram(png, y_idx, before, after, model.classes_, title)
        # DATA is the calibration set, already scored out of fold above: no rows are held out
        # for plugins' training artifacts, and the version keeps no reference sample of its own.
        result = zoo.TrainResult(model=model, metrics=metrics, data=fingerprint(df), n_train=len(df))
        version = zoo.register_trained(
            registry, name or versions[0]["name"], result, step=step,
            params={**model.get_params(), **summary}, tags=tag_values,
            parents=[v["ref"] for v in versions], relation=RELATION,
            description=description, artifacts={"reliability.png": png},
        )
    if as_json:
        print_json(version)
        return
    chosen = (f" (auto chose {summary['chosen']}, rounded to {summary['bins']} bins)"
              if summary.get("chosen") else "")
    console.print(f"Registered [bold]{escape(version['ref'])}[/] = "
                  f"{escape(' + '.join(v['ref'] for v in versions))} + "
                  f"{escape(summary['calibrator'])}{escape(chosen)}, fit on {len(df)} rows")
    if "weights" in summary:
        console.print("ensemble weights: " + escape(", ".join(
            f"{v['ref']} {w:.3f}" for v, w in zip(versions, summary["weights"], strict=True))))
    print_before_after(version["metrics"], title=f"Calibration on {escape(data)} ({len(df)} rows; "
                       "calibrated: out of fold)")
    console.print(f"reliability diagram: zoo report {escape(version['ref'])}")


def check_log_loss(metrics: dict[str, float], calibrator: str, force: bool) -> None:
    """Refuse a calibrator whose out-of-fold log loss is worse than the uncalibrated one's
    (it would register a worse model); with ``force`` only warn."""
    import warnings

    after, before = metrics["log_loss"], metrics["log_loss" + UNCALIBRATED]
    # A relative margin of 1e-6 keeps rounding noise of an identity-like calibrator from tripping it.
    if not after > before * (1 + 1e-6) + 1e-12:
        return
    message = (f"{calibrator} raised the held-out log loss from {before:.4f} to {after:.4f} "
               "(out of fold)")
    if force:
        warnings.warn(f"{message}; registered anyway (--force)", stacklevel=2)
        return
    raise ZooError(f"{message}: not registered; try another --method (auto picks by log loss), "
                   "or --force to register it anyway")


def _group_columns(text: str | None) -> list[str]:
    if text is None:
        return []
    columns = [c.strip() for c in text.split(",") if c.strip()]
    if not columns:
        raise ZooError("--group-columns needs column names, e.g. --group-columns campaign,ad_group")
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        raise ZooError(f"--group-columns names {', '.join(dupes)} twice")
    return columns


def _check_versions(versions: list[dict[str, Any]]) -> None:
    refs = [v["ref"] for v in versions]
    dupes = sorted({r for r in refs if refs.count(r) > 1})
    if dupes:
        raise ZooError(f"{', '.join(dupes)} is named twice; give each ensemble member once")
    for v in versions:
        if v["kind"] != "predictor" or v["task"] != "classification":
            raise ZooError(f"{v['ref']} is a {v['task']} {v['kind']} ({v['component']}); "
                           "only classifiers' probabilities can be calibrated")


def calibration_metrics(y_idx: Any, before: Any, after: Any) -> dict[str, float]:
    """Calibration and accuracy metrics of ``after``, plus those of ``before`` with ``_uncalibrated``."""
    import numpy as np

    from zoo import metrics

    classes = np.arange(after.shape[1])
    out: dict[str, float] = {}
    for suffix, proba in (("", after), (UNCALIBRATED, before)):
        scores = {**metrics.classification(y_idx, proba, classes),
                  **metrics.calibration(y_idx, proba, classes)}
        out.update({f"{key}{suffix}": float(scores[key]) for key in METRICS})
    return out


def print_before_after(values: dict[str, float], title: str) -> None:
    """A table of each metric uncalibrated and calibrated."""
    table = make_table("metric", "uncalibrated", "calibrated", title=title)
    for key in METRICS:
        if key in values:
            table.add_row(escape(key), _fmt(values.get(key + UNCALIBRATED)), _fmt(values[key]))
    console.print(table)


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def reliability_diagram(path: Path, y_idx: Any, before: Any, after: Any, classes: Any, title: str) -> None:
    """A PNG: observed frequency against predicted probability (15 bins), before and after, with counts."""
    import numpy as np

    from zoo import metrics

    plt = pyplot()

    index = np.arange(after.shape[1])
    binary = after.shape[1] == 2
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 7), height_ratios=[3, 1], sharex=True)
    top.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1, label="perfectly calibrated")
    for proba, label, color in ((before, "uncalibrated", "tab:red"), (after, "calibrated (out of fold)",
                                                                      "tab:blue")):
        curve = metrics.reliability_curve(y_idx, proba, index)
        ece = metrics.calibration(y_idx, proba, index)["ece"]
        top.plot(curve["confidence"], curve["frequency"], color=color, linewidth=1.2,
                 label=f"{label}: ECE {100 * ece:.2f}%")
        # Marker area follows the bin's row count: a far-off point on few rows matters little.
        top.scatter(curve["confidence"], curve["frequency"], color=color, zorder=3,
                    s=12 + 150 * np.sqrt(curve["count"] / curve["count"].max()))
        confidence = proba[:, 1] if binary else proba.max(axis=1)
        bottom.hist(confidence, bins=curve["edges"], color=color, alpha=0.45, label=label)
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    positive = str(classes[1]) if binary else ""
    top.set_ylabel(f"observed share of class {positive}" if binary else "accuracy")
    top.set_title(title, fontsize=10)
    top.legend(loc="upper left", fontsize=8)
    top.grid(alpha=0.3)
    bottom.set_xlabel(f"predicted P(class {positive})" if binary else "top-label confidence")
    bottom.set_ylabel("rows")
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


#: The commands this plugin adds (``register_commands``).
COMMANDS = (calibrate,)
