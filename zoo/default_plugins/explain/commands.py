"""``zoo explain``: which features a version leans on, globally and row by row."""

from __future__ import annotations

import click

from zoo import DataError
from zoo.clitools import console, err_console, escape, json_option, make_table, open_registry, print_json


@click.command()
@click.argument("ref")
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--target", help="Label column: needed for permutation importance, dropped otherwise.")
@click.option("--method", type=click.Choice(["auto", "contributions", "permutation"]), default="auto",
              show_default=True,
              help="contributions: the model's native TreeSHAP; permutation: shuffle each column and "
                   "measure the loss; auto: native when the model has it.")
@click.option("--metric", help="Permutation importance's metric (default log_loss or rmse).")
@click.option("--repeats", default=5, show_default=True, help="Shuffles per column (permutation).")
@click.option("--sample", type=int, help="Explain a seeded random sample of this many rows.")
@click.option("--top", default=20, show_default=True, help="Features shown in the table and the plot.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False),
              help="Write a bar chart of the top features to this PNG file.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write per-row contributions (CSV or Parquet, by suffix).")
@click.option("--seed", default=0, show_default=True, help="Seed of the sample and the shuffles.")
@json_option
@click.pass_context
def explain(ctx: click.Context, ref: str, data: str, target: str | None, method: str,
            metric: str | None, repeats: int, sample: int | None, top: int, plot_path: str | None,
            output: str | None, seed: int, as_json: bool) -> None:
    """Explain version REF on DATA: global feature importance and per-row contributions."""
    from zoo.data import read_table, write_table

    from .explain import contributions_frame, explain, plot_importance

    if plot_path and not plot_path.lower().endswith(".png"):
        raise DataError(f"--plot writes a PNG: name the file like importance.png, not {plot_path}")
    registry = open_registry(ctx)
    version = registry.get(ref)
    model = registry.load(ref, observed=False)
    if getattr(model, "kind", "") != "predictor":
        raise DataError(f"{version['ref']} is a {model.kind}: zoo explain is for classifiers and regressors")
    df = read_table(data)
    if sample is not None and sample < len(df):
        if sample < 1:
            raise DataError(f"--sample must be at least 1, got {sample}")
        df = df.sample(n=sample, random_state=seed)
    y = None
    if target is not None:
        if target not in df.columns:
            raise DataError(f"no column {target!r} in {data}; columns are: "
                            + ", ".join(map(str, list(df.columns)[:20])))
        y = df[target]
        df = df.drop(columns=[target])
    with err_console.status(f"explaining {len(df)} rows with {version['ref']}"):
        result = explain(model, df, y, method=method, metric=metric, n_repeats=repeats, seed=seed)
    if output:
        write_table(contributions_frame(model, result, df.index).reset_index(drop=True), output)
        err_console.print(f"Wrote per-row contributions of {len(df)} rows to {escape(output)}")
    if plot_path:
        plot_importance(result, plot_path, top=top, title=f"{version['ref']}: top features")
        err_console.print(f"Wrote {escape(plot_path)}")
    summary = {"ref": version["ref"], "rows": len(df), "method": result["method"],
               "metric": result["metric"], "importance": result["importance"]}
    if result["method"] == "permutation":
        summary["baseline"] = result["baseline"]
    if as_json:
        print_json(summary)
        return
    what = ("mean |contribution| to the raw output (native TreeSHAP)" if result["method"] == "contributions"
            else f"worsening of {result['metric']} when the column is shuffled ({repeats} repeats; "
                 f"unshuffled {result['baseline']:.4g})")
    table = make_table("rank", "feature", "importance", *(["± std"] if result["method"] == "permutation"
                                                            else []),
                       title=f"Feature importance of {escape(version['ref'])} on {len(df)} rows")

    for rank, row in enumerate(result["importance"][:top], start=1):
        cells = [str(rank), escape(row["feature"]), f"{row['importance']:.4g}"]
        if row["std"] is not None:
            cells.append(f"{row['std']:.2g}")
        table.add_row(*cells)
    console.print(table)
    console.print(f"importance: {what}", highlight=False)
