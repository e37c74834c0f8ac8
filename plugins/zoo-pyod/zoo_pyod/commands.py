"""``zoo detect``: anomalies in a table with a detector, or in metric time series against a
rolling seasonal baseline (``--time-column``).

Imported by the plugin's ``register_commands`` hook whenever the CLI starts, so only click
and zoo's light CLI helpers are imported here; numpy, pandas, the registry and the
detectors load inside the command.
"""

from __future__ import annotations

import time
from typing import Any

import click

import zoo
from zoo import DataError, NotFoundError
from zoo.clitools import (
    console,
    err_console,
    escape,
    json_option,
    make_table,
    open_registry,
    parse_pairs,
    print_json,
)

#: The detector used when none is named.
DEFAULT_DETECTOR = "pyod.auto"
#: Flagged rows shown in the table printed for people (all of them go to -o / --json).
SHOWN = 20


@click.command()
@click.argument("args", nargs=-1, required=True, metavar="[REF|COMPONENT] DATA")
@click.option("--contamination", type=float,
              help="Expected share of anomalies (above 0, at most 0.5): the share of training rows "
                   "the threshold flags. Default: the detector's own (0.1 for PyOD detectors).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="Parameter of COMPONENT (not of a registered REF); repeatable.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write every row with its scores here (CSV or Parquet, by suffix).")
@click.option("--explain", is_flag=True,
              help="For flagged rows, each feature's share of the score (share_<feature> columns) and "
                   "the largest as driver.")
@click.option("--time-column", help="Time-series mode: the column of dates (or step numbers).")
@click.option("--dimensions", help="Time-series mode: comma-separated metric columns to watch.")
@click.option("--baseline-window", default=30, show_default=True,
              help="Time-series mode: time steps before each point that form its baseline.")
@click.option("--period", type=int,
              help="Time-series mode: seasonal period in time steps (7 for a weekly pattern in daily "
                   "data, 1 for none). Default: found per dimension.")
@click.option("--threshold", type=float,
              help="Time-series mode: robust z-score beyond which a point is flagged [default: 3.5].")
@click.option("--features", metavar="A,B,...", help="Score these columns only (fitting a COMPONENT).")
@click.option("--drop", metavar="A,B,...", help="Columns not to score (IDs, labels, ...).")
@json_option
@click.pass_context
def detect(ctx: click.Context, args: tuple[str, ...], contamination: float | None,
           params: tuple[str, ...], output: str | None, explain: bool, time_column: str | None,
           dimensions: str | None, baseline_window: int, period: int | None, threshold: float | None,
           features: str | None, drop: str | None, as_json: bool) -> None:
    """Flag anomalous rows of DATA (CSV or Parquet).

    With a registered detector REF (name, name:3, name@alias) the rows are scored against
    what it learnt in training. With a detector COMPONENT (e.g. pyod.iforest) it is fitted
    on DATA itself and flags its --contamination share. Without either, pyod.auto is
    fitted. A bare name that is a component means the component: write name:N or
    name@alias for a registered model of the same name.

    Time-series mode (--time-column with --dimensions) takes no detector: it compares each
    dimension with a rolling baseline of the --baseline-window steps before it, aware of
    trend and seasonality, flags points beyond --threshold robust z-scores, says whether
    each is a positive or negative anomaly and which dimension drove it.
    """
    from zoo.data import read_table

    if len(args) > 2:
        raise click.UsageError(f"expected [REF|COMPONENT] DATA, got {len(args)} arguments")
    detector, data = (None, args[0]) if len(args) == 1 else args
    if time_column or dimensions:
        if detector is not None:
            raise DataError(f"time-series mode compares each dimension with its own baseline and takes "
                            f"no detector: drop {detector!r}")
        for flag, value in (("--contamination", contamination), ("--param", params),
                            ("--explain", explain)):
            if value:
                raise DataError(f"{flag} is for tables; time-series mode flags by --threshold")
        if not (time_column and dimensions):
            raise DataError("time-series mode needs both --time-column and --dimensions, e.g. "
                            "--time-column date --dimensions clicks,conversions,ctr")
        _detect_series(read_table(data), time_column, dimensions, baseline_window, period, threshold,
                       output, as_json)
        return
    if threshold is not None or period is not None:
        raise DataError("--threshold and --period are for time-series mode (--time-column); "
                        "for tables use --contamination")
    _detect_table(ctx, detector, data, contamination, params, output, explain, as_json,
                  columns=(features, drop))


# --- tables ---


def _detect_table(ctx: click.Context, detector: str | None, data: str, contamination: float | None,
                  params: tuple[str, ...], output: str | None, explain: bool, as_json: bool,
                  columns: tuple[str | None, str | None] = (None, None)) -> None:
    import numpy as np

    from zoo.data import align, choose_columns, read_table

    catalogue = zoo.build_catalogue()
    name = detector or DEFAULT_DETECTOR
    info = None
    if ":" not in name and "@" not in name and name in catalogue.components:
        info = catalogue.get(name)
        if info.kind != "detector":
            raise DataError(f"{name} is a {info.kind.replace('_', ' ')}; zoo detect needs a detector "
                            "(see zoo components --kind detector)")
    elif detector is None:
        raise NotFoundError(f"no detector given and the default, {DEFAULT_DETECTOR}, is not installed: "
                            "install it (zoo install zoo-pyod) or name a detector")
    param_values = parse_pairs(params, "--param")
    if info is not None and contamination is not None:
        param_values["contamination"] = contamination
    if info is not None:
        model = info.create(**param_values)  # unknown parameters fail before reading data
        version = None
    else:
        if param_values:
            raise DataError(f"--param sets a component's parameters; {name} is a trained model "
                            "(retrain it with zoo train to change them)")
        registry = open_registry(ctx)
        try:
            version = registry.get(name)
        except NotFoundError:
            raise NotFoundError(f"no detector component or registered model {name!r}: see zoo "
                                "components --kind detector and zoo models") from None
        if version["kind"] != "detector":
            raise DataError(f"{version['ref']} is a {version['kind']}; zoo detect needs a detector "
                            "(zoo predict scores with predictors)")
        model = registry.load(name, observed=False)
        if contamination is not None:
            model.set_contamination(contamination)

    df = read_table(data)
    if version is None and any(columns):  # a registered detector scores the columns it learnt
        df = choose_columns(df, None, *columns)
    start = time.perf_counter()
    with err_console.status(f"{'fitting and scoring' if version is None else 'scoring'} "
                            f"{len(df)} rows with {name}"):
        if version is None:
            X = df
            model.fit(X)
        else:
            X = align(df, list(model.feature_names_in_), schema=getattr(model, "input_schema_", None))
        scores = np.asarray(model.decision_function(X), dtype=float)
        flagged = scores > model.threshold_
        try:
            shares = model.explain(X[flagged]) if explain and flagged.any() else None
        except NotImplementedError:
            raise DataError(f"{name} cannot explain its scores; drop --explain") from None
    seconds = time.perf_counter() - start

    out = df.copy()
    out["anomaly_score"] = scores
    out["anomaly"] = flagged.astype(int)
    if explain:
        features = [str(c) for c in model.feature_names_in_]
        out["driver"] = ""
        for feature in features:
            out[f"share_{feature}"] = np.nan
        if shares is not None:
            rows = np.flatnonzero(flagged)
            top = shares.to_numpy().argmax(axis=1)
            has_any = shares.to_numpy().sum(axis=1) > 0
            out.iloc[rows, out.columns.get_loc("driver")] = np.where(
                has_any, np.asarray(features, dtype=object)[top], "")
            for k, feature in enumerate(features):
                out.iloc[rows, out.columns.get_loc(f"share_{feature}")] = shares.iloc[:, k].to_numpy()
    if version is not None:
        zoo.batch_predicted(open_registry(ctx), version, df, out, seconds)

    summary = {
        "detector": version["ref"] if version else name,
        "component": version["component"] if version else name,
        "fitted_on_data": version is None,
        "rows": int(len(out)),
        "flagged": int(flagged.sum()),
        "threshold": float(model.threshold_),
        "contamination": float(getattr(model, "contamination", float("nan"))),
        "seconds": round(seconds, 3),
    }
    _finish(out, summary, output, as_json, _table_rows(out, explain), df.index)


def _table_rows(out: Any, explain: bool) -> tuple[list[str], list[list[str]]]:
    flagged = out[out["anomaly"] == 1].sort_values("anomaly_score", ascending=False).head(SHOWN)
    columns = ["row", "anomaly_score"] + (["driver", "share"] if explain else [])
    rows = []
    for index, r in flagged.iterrows():
        row = [str(out.index.get_loc(index) + 1), f"{r['anomaly_score']:.4g}"]
        if explain:
            driver = r["driver"]
            share = r[f"share_{driver}"] if driver else float("nan")
            row += [str(driver) or "-", f"{share:.0%}" if driver else "-"]
        rows.append(row)
    return columns, rows


# --- time series ---


def _detect_series(df: Any, time_column: str, dimensions: str, window: int,
                   period: int | None, threshold: float | None, output: str | None,
                   as_json: bool) -> None:
    from zoo_pyod.timeseries import DEFAULT_THRESHOLD, detect_series

    names = [d.strip() for d in dimensions.split(",") if d.strip()]
    threshold = DEFAULT_THRESHOLD if threshold is None else threshold
    start = time.perf_counter()
    result = detect_series(df, time_column, names, window=window, period=period, threshold=threshold)
    out = result.table
    summary = {
        "mode": "time-series",
        "time_column": time_column,
        "dimensions": names,
        "baseline_window": window,
        "periods": result.periods,
        "scales": result.scales,
        "threshold": threshold,
        "rows": int(len(out)),
        "scored": int(out["anomaly_score"].notna().sum()),
        "flagged": int(out["anomaly"].sum()),
        "positive": int((out["direction"] == "positive").sum()),
        "negative": int((out["direction"] == "negative").sum()),
        "seconds": round(time.perf_counter() - start, 3),
    }
    flagged = out[out["anomaly"] == 1].sort_values("anomaly_score", ascending=False).head(SHOWN)
    columns = [time_column, "driver", "direction", "value", "expected", "score"]
    rows = []
    for _, r in flagged.iterrows():
        d = r["driver"]
        rows.append([str(r[time_column]), str(d), str(r["direction"]), f"{r[d]:.4g}",
                     f"{r[f'{d}_expected']:.4g}", f"{r[f'{d}_score']:+.2f}"])
    _finish(out, summary, output, as_json, (columns, rows), df.index)


# --- output shared by both modes ---


def _finish(out: Any, summary: dict[str, Any], output: str | None, as_json: bool,
            shown: tuple[list[str], list[list[str]]], input_index: Any) -> None:
    """Write -o, then print JSON (summary + flagged rows) or a summary and a table for people."""
    import json

    from zoo.data import write_table

    if output:
        write_table(out, output)
        err_console.print(f"Wrote {len(out)} rows to {escape(output)}", highlight=False)
    if as_json:
        flagged = out[out["anomaly"] == 1]
        records = json.loads(flagged.to_json(orient="records", date_format="iso"))
        # The row's number in DATA (time-series output is sorted by time).
        for record, position in zip(records, input_index.get_indexer(flagged.index), strict=True):
            record["row"] = int(position) + 1
        print_json({**summary, "anomalies": records})
        return
    time_series = summary.get("mode") == "time-series"
    rows, flagged = summary["rows"], summary["flagged"]
    scored = summary.get("scored", rows)
    share = flagged / scored if scored else 0.0
    if time_series:
        periods = ", ".join(f"{d} {p}" for d, p in summary["periods"].items())
        console.print(f"{flagged} of {scored} scored time steps flagged ({share:.1%}; "
                      f"{summary['positive']} positive, {summary['negative']} negative) beyond "
                      f"{summary['threshold']:g} robust z; baseline {summary['baseline_window']} steps, "
                      f"seasonal period {periods}; the first {rows - scored} steps are the "
                      "first baseline", highlight=False)
    else:
        fitted = " (fitted on this data)" if summary["fitted_on_data"] else ""
        console.print(f"{flagged} of {rows} rows flagged ({share:.1%}) by {escape(summary['detector'])}"
                      f"{fitted}: score above {summary['threshold']:.4g}, the threshold that flags "
                      f"{summary['contamination']:.1%} of its training rows", highlight=False)
    columns, table_rows = shown
    if table_rows:
        table = make_table(*map(escape, columns), title="Flagged")  # CSV headers: untrusted
        if flagged > SHOWN:
            table.caption = f"top {SHOWN} of {flagged}; all of them with -o or --json"
        for r in table_rows:
            table.add_row(*map(escape, r))
        console.print(table)


#: The commands this plugin adds (``register_commands``).
COMMANDS = (detect,)
