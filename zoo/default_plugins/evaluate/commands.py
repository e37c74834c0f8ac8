"""``zoo card``, ``zoo compare`` and ``zoo report``: a version described, tested against
another and listed with its files. Like every command module, heavy libraries are imported
inside the commands."""

from __future__ import annotations

from typing import Any

import click

from zoo import DataError
from zoo.clitools import console, err_console, json_option, make_table, open_registry, print_json

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
        err_console.print(f"Wrote the model card of {version['ref']} to {output}")
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

    Accuracy is tested with McNemar's test, the other metrics with a paired bootstrap. The
    recommendation is promote (B is significantly better), keep (A is better, or the two do
    not differ by more than --margin) or need more data.
    """
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
    with err_console.status(f"scoring {va['ref']} and {vb['ref']} on {len(X)} rows"):
        result = run_compare(model_a, model_b, X, y, metric=metric, alpha=alpha, margin=margin,
                             n_boot=n_boot, seed=seed)
    result = {"a": va["ref"], "b": vb["ref"], **result}
    if as_json:
        print_json(result)
        return
    table = make_table("metric", f"A {va['ref']}", f"B {vb['ref']}", "B - A", "95% CI", "p", "better",
                       title=f"{va['ref']} against {vb['ref']} on {len(X)} labelled rows")
    for key, t in result["metrics"].items():
        marker = " *" if key == result["metric"] else ""
        table.add_row(key + marker, f"{t['a']:.4f}", f"{t['b']:.4f}", f"{t['diff']:+.4f}",
                      f"{t['low']:+.3f}…{t['high']:+.3f}", f"{t['p_value']:.2g}",
                      {"a": "A", "b": "B", None: "-"}[t["better"]])
    console.print(table)
    tests = "accuracy: McNemar's test; " if "accuracy" in result["metrics"] else ""
    console.print(f"p: {tests}paired bootstrap ({n_boot} resamples) for the others; significant "
                  f"below {alpha}", highlight=False)
    colour = {"promote": "green", "keep": "yellow", "need more data": "cyan"}[result["recommendation"]]
    console.print(f"Recommendation ([bold]*[/] {result['metric']}): [bold {colour}]"
                  f"{result['recommendation']}[/] — {result['reason']}")


@click.command()
@click.argument("ref")
@json_option
@click.pass_context
def report(ctx: click.Context, ref: str, as_json: bool) -> None:
    """Show version REF's metrics and the stored path of each of its extra artifacts (e.g. PNG plots).

    Generic on purpose: every artifact a version was registered with, other than the model
    itself, is listed with its path in the registry's store, whatever command made it
    (``zoo calibrate`` stores ``reliability.png``). Metrics measured on a baseline of the same
    model (``<metric>_uncalibrated``) are shown beside the metric.
    """
    registry = open_registry(ctx)
    version = registry.get(ref)
    artifacts = [
        {"name": name, "sha256": sha, "path": str(registry.artifacts.path(sha)),
         "exists": registry.artifacts.exists(sha)}
        for name, sha in version["artifacts"].items() if name != "model"
    ]
    if as_json:
        print_json({"ref": version["ref"], "component": version["component"],
                    "created_at": version["created_at"], "parents": version["parents"],
                    "metrics": version["metrics"], "artifacts": artifacts})
        return
    console.print(f"[bold]{version['ref']}[/]  {version['component']}  created {version['created_at'][:19]}")
    for parent in version["parents"]:
        console.print(f"{parent['relation']}: {parent['ref']}")
    _print_metrics(version["metrics"])
    if not artifacts:
        console.print("No artifacts besides the model.")
        return
    table = make_table("artifact", "path", title="Artifacts")
    for a in artifacts:
        table.add_row(a["name"], a["path"] if a["exists"] else f"[red]missing[/] {a['path']}")
    console.print(table)


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
        table.add_row(name, _fmt(metrics.get(name)), *[_fmt(metrics.get(name + s)) for s in baselines])
    console.print(table)


def _fmt(value: Any) -> str:
    return "" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)
