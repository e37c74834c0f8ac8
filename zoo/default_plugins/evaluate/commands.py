"""``zoo card``, ``zoo compare`` and ``zoo report``: a version described, tested against
another and listed with its files. Like every command module, heavy libraries are imported
inside the commands."""

from __future__ import annotations

from typing import Any

import click

from zoo import DataError
from zoo.clitools import console, err_console, escape, json_option, make_table, open_registry, print_json

#: Metric-name suffixes of baseline measurements, shown by ``zoo report`` as their own column:
#: suffix -> heading.
BASELINES = {"_uncalibrated": "uncalibrated"}
#: The calibration record ``zoo card`` describes under "Uncertainty" (the built-in zoo.conformal
#: stores it with every trained predictor).
CONFORMAL_ARTIFACT = "conformal.json"


@click.command()
@click.argument("ref")
@click.argument("data", type=click.Path(dir_okay=False), required=False)
@click.option("--target", help="Label column of DATA (to compute metrics with confidence intervals).")
@click.option("--bootstrap", "n_boot", default=1000, show_default=True,
              help="Resamples for the confidence intervals when DATA is given.")
@click.option("--seed", default=0, show_default=True, help="Seed of the bootstrap.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the card here instead of stdout.")
@click.pass_context
def card(ctx: click.Context, ref: str, data: str | None, target: str | None, n_boot: int, seed: int,
         output: str | None) -> None:
    """Write a Markdown model card for REF: details, intended use, data, metrics, lineage.

    Intended use and limitations come from the tags intended_use, limitations, out_of_scope
    and ethical_considerations (of the version, or of the model). Metrics carry bootstrap
    confidence intervals computed on DATA when given, else those stored at training.
    """
    from pathlib import Path

    from . import evaluation

    if data and not target:
        raise DataError("DATA needs --target naming its label column")
    if target and not data:
        raise DataError("--target needs DATA: zoo card REF DATA --target COLUMN")
    registry = open_registry(ctx)
    version = registry.get(ref)
    model_tags = next((m["tags"] for m in registry.models() if m["name"] == version["name"]), {})
    scores, source = None, ""
    if data:
        from zoo.data import as_target, fingerprint, read_table

        model = registry.load(ref, observed=False)
        if getattr(model, "kind", "") != "predictor":
            raise DataError(f"{version['ref']} is a {model.kind}: metrics on DATA are for predictors")
        df = read_table(data)
        X, y = evaluation.evaluate_data(model, df, target)

        y = as_target(y, len(X), numeric=model.task == "regression").to_numpy()
        with err_console.status(f"scoring {version['ref']} on {len(X)} rows"):
            scores = evaluation.metric_intervals(model.task, y, evaluation.outputs(model, X),
                                                 getattr(model, "classes_", None), n_boot=n_boot, seed=seed)
        source = f"`{Path(data).name}`, given to `zoo card`"
        if (version.get("data") or {}).get("sha256") == fingerprint(df)["sha256"]:
            source += "; this is the training data, so these metrics are optimistic"
    elif evaluation.ARTIFACT in version["artifacts"]:
        scores = evaluation.read_json_artifact(registry, version, evaluation.ARTIFACT)
        source = "held out at training"
    record = (evaluation.read_json_artifact(registry, version, CONFORMAL_ARTIFACT)
              if version["kind"] == "predictor" and CONFORMAL_ARTIFACT in version["artifacts"] else None)
    text = evaluation.model_card(version, registry.lineage(ref), model_tags, scores, source, record)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        err_console.print(f"Wrote the model card of {escape(version['ref'])} to {escape(output)}")
    else:
        click.echo(text, nl=False)


@click.command()
@click.argument("ref_a")
@click.argument("ref_b")
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--target", required=True, help="Label column of DATA.")
@click.option("--metric", help="Metric the recommendation rests on (default roc_auc for classifiers, "
                               "rmse for regressors).")
@click.option("--alpha", default=0.05, show_default=True, help="Significance level of the tests.")
@click.option("--margin", default=0.01, show_default=True,
              help="Smallest relative change of the metric worth acting on (0.01 = 1% of A's value).")
@click.option("--bootstrap", "n_boot", default=1000, show_default=True,
              help="Resamples of the paired bootstrap.")
@click.option("--seed", default=0, show_default=True, help="Seed of the bootstrap.")
@json_option
@click.pass_context
def compare(ctx: click.Context, ref_a: str, ref_b: str, data: str, target: str, metric: str | None,
            alpha: float, margin: float, n_boot: int, seed: int, as_json: bool) -> None:
    """Compare REF_A (current) with REF_B (candidate) on DATA: metrics, tests, recommendation.

    Accuracy is tested with McNemar's test, the other metrics with a paired bootstrap; each
    interval comes from the same test as its p-value, so the two agree. The recommendation
    is promote (B is significantly better), keep (A is better, or the two do not differ by
    more than --margin) or need more data.
    """
    import warnings

    from zoo.data import read_table

    from .evaluation import compare as run_compare
    from .evaluation import evaluate_data

    if not 0.0 < alpha < 1.0:
        raise DataError(f"--alpha must be between 0 and 1, got {alpha}")
    if n_boot < 100:
        raise DataError(f"--bootstrap needs at least 100 resamples, got {n_boot}")
    registry = open_registry(ctx)
    va, vb = registry.get(ref_a), registry.get(ref_b)
    model_a, model_b = registry.load(ref_a, observed=False), registry.load(ref_b, observed=False)
    for v, m in ((va, model_a), (vb, model_b)):
        if getattr(m, "kind", "") != "predictor":
            raise DataError(f"{v['ref']} is a {m.kind}: zoo compare is for classifiers and regressors")
    X, y = evaluate_data(model_a, read_table(data), target)
    with err_console.status(f"scoring {escape(va['ref'])} and {escape(vb['ref'])} on {len(X)} rows"), \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run_compare(model_a, model_b, X, y, metric=metric, alpha=alpha, margin=margin,
                             n_boot=n_boot, seed=seed)
    # Both models warn about the same extra columns: say it once.
    for text, category in dict.fromkeys((str(w.message), w.category) for w in caught):
        warnings.warn(text, category, stacklevel=1)
    result = {"a": va["ref"], "b": vb["ref"], **result}
    if as_json:
        print_json(result)
        return
    table = make_table("metric", f"A {escape(va['ref'])}", f"B {escape(vb['ref'])}", "B - A",
                       f"{1 - alpha:.0%} CI", "p", "better",
                       title=f"{escape(va['ref'])} against {escape(vb['ref'])} on {len(X)} labelled rows",
                       drop=("B - A",))
    for key, t in result["metrics"].items():
        marker = " *" if key == result["metric"] else ""
        table.add_row(escape(key) + marker, f"{t['a']:.4f}", f"{t['b']:.4f}", f"{t['diff']:+.4f}",
                      f"{t['low']:+.3f}…{t['high']:+.3f}", _p_text(t["p_value"], n_boot),
                      {"a": "A", "b": "B", None: "-"}[t["better"]])
    console.print(table)
    tests = "accuracy: McNemar's test; " if "accuracy" in result["metrics"] else ""
    console.print(f"p and CI: {tests}paired bootstrap ({n_boot} resamples) for the others; each interval "
                  f"inverts its metric's test, so it excludes 0 exactly when p < {alpha}", highlight=False)
    colour = {"promote": "green", "keep": "yellow", "need more data": "cyan"}[result["recommendation"]]
    console.print(f"Recommendation ([bold]*[/] {escape(result['metric'])}): [bold {colour}]"
                  f"{result['recommendation']}[/] — {escape(result['reason'])}")


def _p_text(p: float, n_boot: int) -> str:
    """A p-value for a table; a bootstrap p of 0 only says "below one in n_boot"."""
    return f"<{1 / n_boot:.2g}" if p == 0 else f"{p:.2g}"


@click.command()
@click.argument("ref")
@click.option("--save", "save_dir", type=click.Path(file_okay=False), metavar="DIR",
              help="Copy each artifact (hash-checked) to DIR as REF-NAME, e.g. wine-5-reliability.png.")
@json_option
@click.pass_context
def report(ctx: click.Context, ref: str, save_dir: str | None, as_json: bool) -> None:
    """Show version REF's metrics and the stored path of each of its extra artifacts (e.g. PNG plots).

    Generic on purpose: every artifact a version was registered with, other than the model
    itself, is listed with its path in the registry's store, whatever command made it
    (``zoo calibrate`` stores ``reliability.png``). Metrics measured on a baseline of the same
    model (``<metric>_uncalibrated``) are shown beside the metric. With --save DIR each is
    copied to DIR under a name a person can read (the version, then the artifact's name),
    after its hash is checked.
    """
    registry = open_registry(ctx)
    version = registry.get(ref)
    artifacts = [
        {"name": name, "sha256": sha, "path": str(registry.artifacts.path(sha)),
         "exists": registry.artifacts.exists(sha)}
        for name, sha in version["artifacts"].items() if name != "model"
    ]
    if save_dir:
        from pathlib import Path

        Path(save_dir).mkdir(parents=True, exist_ok=True)
        for a in artifacts:
            dest = Path(save_dir) / saved_name(version["ref"], a["name"])
            a["saved"] = str(registry.verified_copy(version, dest, artifact=a["name"]))
    if as_json:
        print_json({"ref": version["ref"], "component": version["component"],
                    "created_at": version["created_at"], "parents": version["parents"],
                    "metrics": version["metrics"], "artifacts": artifacts})
        return
    console.print(f"[bold]{escape(version['ref'])}[/]  {escape(version['component'])}  "
                  f"created {escape(version['created_at'][:19])}")
    for parent in version["parents"]:
        console.print(f"{escape(parent['relation'])}: {escape(parent['ref'])}")
    _print_metrics(version["metrics"])
    if not artifacts:
        console.print("No artifacts besides the model.")
        return
    # Paths as lines, not table cells: cut to fit a terminal they could not be copied.
    console.print("[bold]Artifacts[/]" + (f" (saved to {escape(save_dir)})" if save_dir else ""))
    for a in artifacts:
        path = escape(a.get("saved") or a["path"])
        console.print(f"  {escape(a['name'])}: " + (path if a["exists"] else f"[red]missing[/] {path}"),
                      highlight=False, soft_wrap=True)


def saved_name(ref: str, artifact: str) -> str:
    """A readable, safe file name for a version's artifact: ``wine:5`` and ``reliability.png``
    give ``wine-5-reliability.png``. Names come from bundles too: no path separators, no
    leading dot, only letters, digits and ``._-`` survive."""
    import re

    text = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{ref}-{artifact}").strip(".-")
    return text[:200] or "artifact"


def _print_metrics(metrics: dict[str, float]) -> None:
    if not metrics:
        console.print("No metrics recorded.")
        return
    baselines = {suffix: heading for suffix, heading in BASELINES.items()
                 if any(key.endswith(suffix) for key in metrics)}
    names = [k for k in metrics if not any(k.endswith(s) for s in baselines)]
    # A baseline whose metric is missing still gets a row.
    for key in metrics:
        for suffix in baselines:
            if key.endswith(suffix) and key[: -len(suffix)] not in metrics:
                names.append(key[: -len(suffix)])
    table = make_table("metric", "value", *baselines.values(), title="Metrics")
    for name in names:
        table.add_row(escape(name), _fmt(metrics.get(name)),
                      *[_fmt(metrics.get(name + s)) for s in baselines])
    console.print(table)


def _fmt(value: Any) -> str:
    return "" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)
