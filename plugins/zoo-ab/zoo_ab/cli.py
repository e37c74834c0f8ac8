"""``zoo ab``: start, score through, record, report on, update and stop A/B experiments.

Imported when the CLI starts (the plugin's ``register_commands`` hook), so it imports only
click and the kernel's CLI helpers at the top; numpy, pandas and scipy load inside commands.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from typing import Any

import click

from zoo import DataError, ZooError
from zoo.clitools import (
    confirm,
    console,
    err_console,
    escape,
    json_option,
    make_table,
    open_registry,
    print_json,
    write_chunks,
    yes_option,
)


@click.group()
def ab() -> None:
    """Online A/B tests between versions: sticky routing, outcomes, report, bandit, shadow.

    \b
    zoo ab start churn-q3 --arm A=churn@champion --arm B=churn@challenger --id-column customer_id
    zoo ab predict churn-q3 today.csv -o scored.csv      # an `arm` column says who scored each row
    zoo ab record churn-q3 outcomes.csv --id-column customer_id --value-column converted
    zoo ab report churn-q3                               # CIs, test, promote / keep / keep collecting
    """


@ab.command()
@click.argument("name")
@click.option("--arm", "arms", multiple=True, required=True, metavar="NAME=REF",
              help="An arm and the version it serves (name, name:3 or name@alias); repeat for each "
                   "arm. The first is the control.")
@click.option("--split", metavar="PERCENTS",
              help="Traffic share of each arm in percent, in --arm order, e.g. 90,10 (default equal).")
@click.option("--mode", type=click.Choice(["split", "bandit", "shadow"]), default="split", show_default=True,
              help="split: fixed shares; bandit: `zoo ab update` moves traffic to the better arm "
                   "(Thompson sampling); shadow: the control serves everyone, the others score the "
                   "same rows for the log only.")
@click.option("--id-column", metavar="COL", help="Column of the unit id that routes each row (sticky).")
@click.option("--metric", help="Name of the outcome, for reports (e.g. conversion, revenue).")
@click.option("--lower-is-better", is_flag=True, help="A lower outcome is better (e.g. churn, latency).")
@click.option("--floor", default=5.0, show_default=True, metavar="PERCENT",
              help="Bandit mode: the least traffic each arm keeps, so the loser is still measured.")
@json_option
@click.pass_context
def start(ctx: click.Context, name: str, arms: tuple[str, ...], split: str | None, mode: str,
          id_column: str | None, metric: str | None, lower_is_better: bool, floor: float,
          as_json: bool) -> None:
    """Start experiment NAME between two or more versions."""
    from zoo_ab.experiment import Experiment

    named: dict[str, str] = {}
    for pair in arms:
        arm, sep, ref = pair.partition("=")
        if not sep or not arm or not ref:
            raise ZooError(f"--arm {pair!r} is not NAME=REF; write it like --arm A=churn@champion")
        if arm in named:
            raise ZooError(f"arm {arm!r} is given twice: name each arm once")
        named[arm] = ref
    shares = None
    if split is not None:
        try:
            shares = [float(s) for s in split.split(",")]
        except ValueError:
            raise ZooError(f"--split {split!r} is not numbers: write percentages like 50,50") from None
    exp = Experiment.start(open_registry(ctx), name, named, shares, mode, id_column, metric,
                           not lower_is_better, floor / 100)
    if as_json:
        print_json(_listing(exp))
        return
    arms_text = ", ".join(f"{arm}={ref}" + (f" ({exp.config['refs'][arm]})" if exp.config["refs"][arm] != ref
                                           else "") for arm, ref in exp.config["arms"].items())
    console.print(f"Started [bold]{escape(name)}[/] ({mode}): {escape(arms_text)}; split "
                  f"{escape(_split_text(exp.split))}; control {escape(exp.control)}", highlight=False)
    if not id_column:
        err_console.print("No --id-column: pass ids from Python (Experiment.predict(df, ids=...)), "
                          "or start with --id-column to score files", highlight=False)


@ab.command()
@click.argument("name")
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write CSV or Parquet here (by suffix) instead of CSV on stdout.")
@click.option("--chunk-rows", default=100_000, show_default=True,
              help="Rows read and scored at a time (memory stays flat as files grow).")
@json_option
@click.pass_context
def predict(ctx: click.Context, name: str, data: str, output: str | None, chunk_rows: int,
            as_json: bool) -> None:
    """Score DATA through experiment NAME: each row by its arm's version, with an `arm` column.

    In shadow mode every row gets the control's predictions; the other arms score the same
    rows and their agreement is logged (zoo ab report shows it), never written out.
    """
    from zoo.data import iter_table
    from zoo_ab.experiment import Experiment

    if chunk_rows < 1:
        raise ZooError(f"--chunk-rows must be at least 1, got {chunk_rows}")
    exp = Experiment(open_registry(ctx), name)
    exp.check_running("score rows")
    counts, start = dict.fromkeys(exp.arms, 0), time.perf_counter()

    def scored() -> Iterator[Any]:
        for n, chunk in enumerate(iter_table(data, chunk_rows)):
            with warnings.catch_warnings():
                if n:  # the first chunk already warned about extra columns
                    warnings.simplefilter("ignore")
                out = exp.predict(chunk)
            for arm, k in out["arm"].value_counts().items():
                counts[arm] += int(k)
            yield out

    rows = write_chunks(scored(), output, as_json)
    seconds = time.perf_counter() - start
    served = ", ".join(f"{arm} {k}" for arm, k in counts.items())
    note = f" ({'shadow: ' + ', '.join(exp.arms[1:]) + ' logged only; ' if exp.mode == 'shadow' else ''}" \
           f"{seconds:.2f} s)"
    if output:
        err_console.print(f"Wrote {rows} rows to {escape(output)}: {escape(served + note)}", highlight=False)


@ab.command()
@click.argument("name")
@click.argument("outcomes", type=click.Path(dir_okay=False))
@click.option("--id-column", metavar="COL",
              help="Column of unit ids (default: the experiment's id column).")
@click.option("--value-column", required=True, metavar="COL",
              help="Column of outcomes: numbers, 0/1 for conversions.")
@click.option("--arm-column", metavar="COL",
              help="Column of the arm each unit was served (e.g. `arm` from zoo ab predict); "
                   "default: route each id again.")
@click.option("--update", is_flag=True,
              help="Replace the outcome of units already recorded with a different value.")
@json_option
@click.pass_context
def record(ctx: click.Context, name: str, outcomes: str, id_column: str | None, value_column: str,
           arm_column: str | None, update: bool, as_json: bool) -> None:
    """Record outcomes for experiment NAME from a CSV or Parquet file, one row per unit.

    Each unit counts once: recording a file again changes nothing; a unit whose outcome
    differs from the one recorded is an error unless --update replaces it."""
    from zoo.data import read_table
    from zoo_ab.experiment import Experiment

    exp = Experiment(open_registry(ctx), name)
    id_column = id_column or exp.config.get("id_column")
    if not id_column:
        raise ZooError(f"experiment {name!r} has no id column: give --id-column COL")
    df = read_table(outcomes)
    for option, column in (("--id-column", id_column), ("--value-column", value_column),
                           ("--arm-column", arm_column)):
        if column is not None and column not in df.columns:
            raise DataError(f"{outcomes} has no column {column!r} ({option}); its columns are "
                            f"{', '.join(map(str, df.columns))}")
    exp.record(df[id_column], df[value_column], df[arm_column] if arm_column else None, update=update)
    done = exp.recorded
    if as_json:
        print_json({"experiment": name, **done, "totals": exp.totals})
        return
    totals = ", ".join(f"{escape(arm)} {int(exp.totals.get(arm, {}).get('n', 0)):,}" for arm in exp.arms)
    same = f", {done['unchanged']:,} already recorded unchanged" if done["unchanged"] else ""
    verb = "Recorded or updated" if update else "Recorded"
    console.print(f"{verb} {done['written']:,} outcomes for {escape(name)}{same}; outcomes per arm: "
                  f"{totals}", highlight=False)


@ab.command()
@click.argument("name")
@click.option("--alpha", default=0.05, show_default=True, help="Significance level of the test.")
@click.option("--seed", default=0, show_default=True,
              help="Seed of the permutation test (small samples) and the bandit's Monte Carlo.")
@click.option("--plot", type=click.Path(dir_okay=False), metavar="FILE.png",
              help="Draw each arm's running mean with its interval, and the posteriors, to this PNG.")
@json_option
@click.pass_context
def report(ctx: click.Context, name: str, alpha: float, seed: int, plot: str | None, as_json: bool) -> None:
    """Report on experiment NAME: each arm's mean and CI, the test against the control, and a
    recommendation (promote, keep, or keep collecting with the sample size still needed)."""
    from zoo_ab.experiment import Experiment

    exp = Experiment(open_registry(ctx), name)
    if plot and not plot.lower().endswith(".png"):
        raise ZooError(f"--plot writes a PNG: give a file name ending in .png, not {plot!r}")
    result = exp.report(alpha=alpha, seed=seed)
    if plot:
        from zoo_ab.plot import draw

        draw(exp, result, plot)
        result["plot"] = plot
    if as_json:
        print_json(result)
        return
    _print_report(result)
    if plot:
        err_console.print(f"Plot written to {escape(plot)}", highlight=False)


def _print_report(result: dict[str, Any]) -> None:
    level = f"{1 - result['alpha']:.0%}"
    binary = result["outcome"] == "binary"
    title = (f"{result['experiment']} ({result['mode']}, {result['status']}): {result['metric']}, "
             f"{'higher' if result['higher_is_better'] else 'lower'} is better")
    p_best = result.get("probability_best") or {}
    columns = ["arm", "version", "traffic", "n", "mean", f"{level} CI"] + (["P(best)"] if p_best else [])
    table = make_table(*columns, title=escape(title))
    for a in result["arms"]:
        row = [escape(a["arm"]) + (" (control)" if a["arm"] == result["control"] else ""), escape(a["ref"]),
               f"{a['share']:.1%}", f"{a['n']:,}", _num(a["mean"], binary),
               "-" if a["ci_low"] is None else f"{_num(a['ci_low'], binary)} … {_num(a['ci_high'], binary)}"]
        if p_best:
            row.append(f"{p_best[a['arm']]:.1%}")
        table.add_row(*row)
    console.print(table)
    if result["mode"] != "shadow":
        diff = make_table("arm", "difference", f"{level} CI", "lift", "p", "needed / arm",
                          title=f"Against the control {escape(result['control'])}")
        for c in result["comparisons"]:
            if c["diff"] is None:
                diff.add_row(escape(c["arm"]), "-", "-", "-", "-", "-")
                continue
            ci = ("-" if c["ci_low"] is None else
                  f"{_diff(c['ci_low'], binary)} … {_diff(c['ci_high'], binary)}")
            diff.add_row(escape(c["arm"]), _diff(c["diff"], binary), ci,
                         "-" if c["lift"] is None else f"{c['lift']:+.1%}",
                         "-" if c["p_adjusted"] is None else f"{c['p_adjusted']:.3g}",
                         "-" if not c["needed_per_arm"] else f"{c['needed_per_arm']:,}")
        console.print(diff)
        tests = sorted({c["test"] for c in result["comparisons"] if c["test"]})
        if tests:
            corrected = (f", Bonferroni-corrected for {len(result['comparisons'])} challengers"
                         if len(result["comparisons"]) > 1 else "")
            console.print(f"p: {', '.join(tests)} (two-sided{corrected}); needed / arm: units per arm "
                          f"for the observed difference at 80% power", highlight=False)
    else:
        shadow = make_table("shadow arm", "version", "batches", "rows", "agreement", "mean |diff|",
                            title=f"Shadow scoring against {escape(result['control'])}")
        for arm, s in result["shadow"].items():
            shadow.add_row(escape(arm), escape(s["ref"]), str(s["batches"]), f"{s['rows']:,}",
                           "-" if s["agreement"] is None else f"{s['agreement']:.1%}",
                           "-" if s["mean_abs_diff"] is None else f"{s['mean_abs_diff']:.4g}")
        console.print(shadow)
    rec = result["recommendation"]
    colour = {"promote": "green", "keep": "yellow", "collect": "cyan"}[rec["action"]]
    console.print(f"Recommendation: [bold {colour}]{escape(rec['text'])}[/] — {escape(rec['reason'])}",
                  highlight=False)


def _num(value: float | None, binary: bool) -> str:
    if value is None:
        return "-"
    return f"{value:.2%}" if binary else f"{value:.4g}"


def _diff(value: float, binary: bool) -> str:
    return f"{value * 100:+.2f} pp" if binary else f"{value:+.4g}"


@ab.command()
@click.argument("name")
@click.option("--seed", type=int, help="Seed of the Monte Carlo (default: from the experiment and step).")
@json_option
@click.pass_context
def update(ctx: click.Context, name: str, seed: int | None, as_json: bool) -> None:
    """Bandit step for experiment NAME: move traffic toward the arm likely to be best.

    Each arm's new share is its posterior probability of being best (Thompson sampling),
    never below the --floor given at start.
    """
    from zoo_ab.experiment import Experiment

    exp = Experiment(open_registry(ctx), name)
    before = exp.split
    result = exp.update_bandit(seed=seed)
    if as_json:
        print_json(result)
        return
    table = make_table("arm", "outcomes", "P(best)", "traffic before", "traffic now",
                       title=f"{escape(name)}: bandit step")
    for arm in exp.arms:
        table.add_row(escape(arm), f"{result['n'][arm]:,}", f"{result['probability_best'][arm]:.1%}",
                      f"{before[arm]:.1%}", f"{result['split'][arm]:.1%}")
    console.print(table)


@ab.command(name="list")
@json_option
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """List experiments, newest first: mode, status, arms, split and outcomes per arm."""
    from zoo_ab import store

    rows = [_row(r) for r in store.experiments(open_registry(ctx)) if "salt" in r["config"]]
    if as_json:
        print_json(rows)
        return
    table = make_table("name", "mode", "status", "arms", "split", "outcomes", "started", title="Experiments",
                       drop=("started", "mode", "split"))
    for r in rows:
        table.add_row(*map(escape, (r["name"], r["mode"], r["status"],
                                    ", ".join(f"{a}={ref}" for a, ref in r["arms"].items()),
                                    _split_text(r["split"]),
                                    ", ".join(f"{a} {n:,}" for a, n in r["outcomes"].items()),
                                    r["created_at"][:16].replace("T", " "))))
    console.print(table if rows else "No experiments yet. Try: zoo ab start --help")


def _listing(exp: Any) -> dict[str, Any]:
    return _row({"name": exp.name, "config": exp.config, "status": exp.status,
                 "created_at": exp.created_at, "totals": exp.totals})


def _row(r: dict[str, Any]) -> dict[str, Any]:
    config = r["config"]
    return {"name": r["name"], "mode": config["mode"], "status": r["status"], "arms": config["arms"],
            "refs": config.get("refs", {}), "control": config["control"], "split": config["split"],
            "id_column": config.get("id_column"), "metric": config.get("metric"),
            "outcomes": {arm: int(r["totals"].get(arm, {}).get("n", 0)) for arm in config["arms"]},
            "created_at": r["created_at"]}


def _split_text(split: dict[str, float]) -> str:
    return "/".join(f"{100 * v:.4g}" for v in split.values())


@ab.command()
@click.argument("name")
@click.pass_context
def stop(ctx: click.Context, name: str) -> None:
    """Stop experiment NAME: no more scoring or bandit steps (late outcomes are still recorded)."""
    from zoo_ab.experiment import Experiment

    exp = Experiment(open_registry(ctx), name)
    exp.stop()
    console.print(f"Stopped {escape(name)}; zoo ab report {escape(name)} shows the result", highlight=False)


@ab.command()
@click.argument("name")
@yes_option
@click.pass_context
def delete(ctx: click.Context, name: str, yes: bool) -> None:
    """Delete experiment NAME, its outcomes and its shadow log."""
    from zoo_ab import store

    registry = open_registry(ctx)
    store.experiment(registry, name)  # an unknown name fails before asking
    confirm(f"Delete experiment {name} and its outcomes?", yes)
    store.delete_experiment(registry, name)
    console.print(f"Deleted experiment {escape(name)}", highlight=False)
