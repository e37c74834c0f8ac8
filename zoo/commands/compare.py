"""``zoo compare``: two versions on the same labelled rows, with paired significance tests."""

from __future__ import annotations

import click

from zoo.cli import cli, console, err_console, json_option, make_table, open_registry, print_json


@cli.command()
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
    from zoo.errors import DataError
    from zoo.evaluation import compare as run_compare
    from zoo.evaluation import evaluate_data

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
