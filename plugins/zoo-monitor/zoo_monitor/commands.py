"""``zoo monitor``, ``zoo alerts`` and ``zoo batches``.

Imported by the plugin's ``register_commands`` hook whenever the CLI starts, so only click
and zoo's light CLI helpers are imported here; numpy, pandas, the registry and the drift
tests load inside the commands.
"""

from __future__ import annotations

import math
from typing import Any

import click

from zoo import DataError, ZooError
from zoo.clitools import (
    console,
    err_console,
    escape,
    json_option,
    make_table,
    open_registry,
    parse_pairs,
    print_json,
    progress_steps,
)

MONITOR = "monitor.health"
#: Lineage relation from a challenger to the version it was retrained from.
RELATION = "retrained"
CHALLENGER = "challenger"
#: Exit status of `zoo monitor` when health is below --threshold.
UNHEALTHY = 3
SEVERITY_STYLE = {"LOW": "yellow", "MEDIUM": "dark_orange", "HIGH": "red", "CRITICAL": "bold red"}


@click.command()
@click.argument("ref")
@click.argument("current", type=click.Path(dir_okay=False))
@click.option("--target", metavar="COL",
              help="Label column of CURRENT: performance is scored against REF's validation metrics.")
@click.option("--threshold", type=float, default=60.0, show_default=True,
              help="Health below this is unhealthy: exit status 3, and --retrain trains a challenger.")
@click.option("--cooldown", type=float, metavar="SECONDS",
              help="An alert is not stored again for the same version and check within this many "
                   "seconds unless it is more severe [default: 3600].")
@click.option("--retrain", is_flag=True,
              help="When health is below --threshold, train a challenger with REF's component and "
                   "params on CURRENT (needs --target), register it with lineage to REF and alias "
                   "it `challenger`.")
@click.option("--batches", "n_batches", type=int, default=10, show_default=True,
              help="How many recently recorded batches of REF to show (0: none).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="monitor.health parameter (alpha, correction, drift_test, tolerance, ...; "
                   "`zoo components monitor.health` lists them); repeatable.")
@json_option
@click.pass_context
def monitor(ctx: click.Context, ref: str, current: str, target: str | None, threshold: float,
            cooldown: float | None, retrain: bool, n_batches: int, params: tuple[str, ...],
            as_json: bool) -> None:
    """Check version REF on new data CURRENT: drift, performance, health 0-100 and alerts.

    Drift is tested against the sample of training data REF keeps (versions trained by
    `zoo train` have one); with --target, REF's metrics on CURRENT are compared with its
    stored validation metrics. Alerts (LOW, MEDIUM, HIGH, CRITICAL) are stored in the
    registry unless the same check raised one as severe within the cooldown; `zoo alerts`
    lists them.

    health = 100 - drift penalty (up to 80 points, growing with the share of features the
    drift test flags, each weighted by its PSI) - performance penalty (up to 80 points,
    growing with the mean relative drop of the validation metrics beyond 2%). Below 80 an
    alert is LOW, below 60 MEDIUM, 40 HIGH, 20 CRITICAL.

    Exit status: 0 healthy (health >= --threshold), 3 unhealthy (below it, whether or not
    --retrain registered a challenger), 1 an error, 2 a usage error.
    """
    from zoo import build_catalogue

    if retrain and not target:
        raise ZooError("--retrain needs --target COL: the challenger is trained on CURRENT's labels")
    if not 0 <= threshold <= 100:
        raise ZooError(f"--threshold must be between 0 and 100, got {threshold:g}")
    if cooldown is not None and not cooldown >= 0:
        raise ZooError(f"--cooldown must be a number of seconds >= 0, got {cooldown:g}")
    if n_batches < 0:
        raise ZooError(f"--batches must be 0 or more, got {n_batches}")
    watcher = build_catalogue().get(MONITOR).create(**parse_pairs(params, "--param"))
    watcher._check_params()  # bad parameters fail before any data is read
    cooldown = watcher.cooldown if cooldown is None else cooldown

    registry = open_registry(ctx)
    version = registry.get(ref)
    if version["kind"] not in ("predictor", "detector"):
        raise ZooError(f"{version['ref']} is a {version['kind']} ({version['component']}); "
                       "zoo monitor watches predictors and detectors")
    if target and version["kind"] != "predictor":
        raise ZooError(f"{version['ref']} is an anomaly detector: it has no labels to score; drop --target")
    report = _check(registry, version, current, target, watcher, cooldown, threshold, n_batches)
    if retrain and report["health"] < threshold:
        report["challenger"] = _retrain(registry, version, report.pop("_data"), target, report["health"])
    report.pop("_data", None)
    if as_json:
        print_json(_clean(report))
    else:
        _print_report(report, retrain)
    if not report["healthy"]:
        ctx.exit(UNHEALTHY)


def _check(registry: Any, version: dict[str, Any], current: str, target: str | None, watcher: Any,
           cooldown: float, threshold: float, n_batches: int) -> dict[str, Any]:
    """Score CURRENT, store the alerts; the report `zoo monitor` prints."""
    from zoo import predict_table
    from zoo.data import as_target, read_table
    from zoo.drift import load_reference
    from zoo_monitor import store
    from zoo_monitor.batches import shift, summarise
    from zoo_monitor.health import baseline_of, severity_of
    from zoo_monitor.validate import check_reference

    with progress_steps() as step:
        df = read_table(current)
        if target and target not in df.columns:
            shown = ", ".join(map(str, list(df.columns)[:20]))
            raise DataError(f"no column {target!r} in {current}; columns are: {shown}")
        step(f"reading the reference sample of {version['ref']}")
        check_reference(registry, version)  # bounded before pandas reads it (validate.py)
        reference = load_reference(registry, version)
        model = registry.load(version["ref"], observed=False)  # this check is not a served batch
        features = [str(c) for c in model.feature_names_in_]
        missing = [c for c in features if c not in df.columns]
        if missing:
            raise DataError(f"{current} has no column {missing[0]!r}; {version['ref']} was trained with "
                            "it: add it to the data")
        missing = [c for c in features if c not in reference.columns]
        if missing:
            raise DataError(f"the reference sample of {version['ref']} has no column {missing[0]!r}; "
                            "retrain the version with `zoo train` to store a complete one")
        y = None
        if target:
            y = as_target(df[target], len(df), numeric=version["task"] == "regression")
        step("scoring the reference sample and CURRENT")
        ref_table = predict_table(model, reference[features])
        cur_table = predict_table(model, df[features])
        step("testing drift")
        watcher.fit(reference, ref_table, baseline_of(version))
        result = watcher.observe(df, cur_table, y)
        recent = store.batches(registry, version["ref"], limit=max(n_batches, 50))
        latency = watcher.check_latency(recent)
        if latency:
            result["alerts"].append(latency)
        step("storing alerts")
        alerts = []
        for alert in result["alerts"]:
            stored = store.raise_alert(registry, version["ref"], alert["check"], alert["severity"],
                                       alert["message"], alert.get("details"), cooldown)
            entry = {k: alert[k] for k in ("check", "severity", "message")}
            entry["raised"] = stored["raised"]
            entry["id"] = stored["id"]
            if not stored["raised"]:
                entry["suppressed_by"] = {k: stored[k] for k in ("id", "at", "severity", "message")}
            alerts.append(entry)
        ref_summary = summarise(version, reference[features], ref_table, 0.0)
        batches = [{"id": b["id"], "at": b["at"], "source": b["source"], "rows": b["rows"],
                    "seconds": b["seconds"],
                    "rows_per_second": b["rows"] / b["seconds"] if b["seconds"] > 0 else None,
                    "prediction_shift": shift(b["summary"], ref_summary)}
                   for b in recent[:n_batches]]
    health = result["health"]
    notes = []
    label = (version.get("metadata") or {}).get("target")
    if not target and label and label in df.columns and version["kind"] == "predictor":
        notes.append(f"{current} has the label column {label!r}: add --target {label} to check performance")
    return {"ref": version["ref"], "data": current, "rows": int(len(df)), "health": health,
            "severity": severity_of(health), "threshold": threshold, "healthy": health >= threshold,
            "cooldown": cooldown, "drift": result["drift"], "performance": result["performance"],
            "prediction_shift": result["prediction_shift"], "drivers": result.get("drivers", {}),
            "explanation": result.get("explanation", ""), "alerts": alerts, "batches": batches,
            "challenger": None, "notes": notes, "_data": df}


def _retrain(registry: Any, version: dict[str, Any], df: Any, target: str, health: float) -> dict[str, Any]:
    """Train REF's component with REF's params on CURRENT's columns of REF's training schema
    (its features and the target), register it as a challenger of REF."""
    import zoo

    if version["kind"] != "predictor":
        raise ZooError(f"{version['ref']} is a {version['kind']}: --retrain trains predictors only")
    info = zoo.build_catalogue().get(version["component"])
    # Stored params may hold extra facts (a calibrated model's summary); train with the component's own.
    params = {k: v for k, v in version["params"].items() if k in info.params}
    columns = _training_columns(version, target)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(f"CURRENT has no column {missing[0]!r}, which {version['ref']} was trained "
                        "with: --retrain trains on the same columns")
    with progress_steps(f"training a challenger of {escape(version['ref'])} on {len(df)} rows"):
        new, _ = zoo.train_and_register(
            registry, info, df[columns], target, name=version["name"], params=params,
            parents=[version["ref"]], relation=RELATION,
            tags={"retrained_from": version["ref"], "trigger": f"zoo monitor health {health:.1f}"},
            description=f"Retrained from {version['ref']} by zoo monitor (health {health:.1f}/100)",
        )
    registry.set_alias(version["name"], CHALLENGER, new["version"])
    return registry.get(new["ref"])


def _training_columns(version: dict[str, Any], target: str) -> list[str]:
    """The columns REF's model uses, then ``target``: its features (not every column of its
    training table, which may hold ids and columns the component ignored), else, for a
    version that did not record them, its training table's schema less its label."""
    meta = version.get("metadata") or {}
    features = [str(c) for c in meta.get("feature_names") or []]
    if not features:
        schema = list((version.get("data") or {}).get("schema") or {})
        features = [c for c in schema if c != meta.get("target")]
    return [c for c in features if c != target] + [target]


# --- printing ---


def _print_report(report: dict[str, Any], retrain: bool) -> None:
    from rich.panel import Panel

    health, drift, perf = report["health"], report["drift"], report["performance"]
    style = _health_style(health)
    lines = [f"[bold]{escape(report['ref'])}[/] on {escape(report['data'])} ({report['rows']} rows)",
             f"health [{style}]{health:.0f}/100[/]"
             + (f" ({report['severity']})" if report["severity"] else "")
             + f", threshold {report['threshold']:g}: "
             + ("[green]healthy[/]" if report["healthy"] else f"[{style}]unhealthy[/]"),
             f"drift ({drift['test']}, {drift['correction']}, alpha {drift['alpha']}): "
             f"{len(drift['drifted'])} of {len(drift['features'])} features, weighted share "
             f"{drift['weighted_share']:.3f}: {_points(drift['penalty'])}"]
    if perf:
        lines.append(f"performance on {perf['rows']} labelled rows: mean degradation "
                     f"{perf['degradation']:.1%} beyond tolerance: {_points(perf['penalty'])}")
    if report.get("explanation"):
        lines.append(escape(report["explanation"]))
    shift = report["prediction_shift"]
    if shift:
        psi = f"PSI {shift['psi']:.3f}" if shift.get("psi") is not None else "no PSI"
        lines.append(f"model outputs vs the reference sample: {psi}, "
                     + ("[red]shifted[/]" if shift["drift"] else "no significant shift"))
    console.print(Panel("\n".join(lines), title="zoo monitor", border_style=style, expand=False))
    drifted = sorted((f for f in drift["features"] if f["drift"]), key=lambda f: -(f.get("psi") or 0))
    if drifted:
        table = make_table("feature", "test", "statistic", "p adjusted", "PSI", "weight",
                           title=f"Drifted features ({len(drifted)})", drop=("test", "statistic"))
        for f in drifted[:20]:
            table.add_row(escape(f["feature"]), escape(f.get("test", "")), _fmt(f.get("statistic")),
                          _fmt(f.get("p_adjusted")), _fmt(f.get("psi")), f"{f['weight']:.2f}")
        console.print(table)
        if len(drifted) > 20:
            console.print(f"... and {len(drifted) - 20} more (--json lists every feature)")
    if perf:
        table = make_table("metric", "validation", "now", "change", title="Performance")
        for key, now in perf["metrics"].items():
            table.add_row(escape(key), _fmt(perf["baseline"].get(key)), _fmt(now),
                          change_text(perf["drops"].get(key)))
        console.print(table)
    if report["alerts"]:
        table = make_table("check", "severity", "message", "stored", title="Alerts")
        for a in report["alerts"]:
            if a["raised"]:
                status = f"raised #{a['id']}"
            else:
                by = a["suppressed_by"]
                status = (f"[dim]suppressed by the cooldown: #{by['id']} "
                          f"({escape(by['severity'])}, {escape(_when(by['at']))})[/]")
            table.add_row(escape(a["check"]), _severity(a["severity"]), escape(a["message"]), status)
        console.print(table)
    else:
        console.print("No alerts.")
    if report["batches"]:
        table = make_table("at", "source", "rows", "ms", "rows/s", "prediction shift",
                           title=f"Recent batches of {escape(report['ref'])}", drop=("rows/s", "source"))
        for b in report["batches"]:
            table.add_row(escape(_when(b["at"])), escape(b["source"]), str(b["rows"]),
                          f"{b['seconds'] * 1000:.1f}", _fmt(b["rows_per_second"], ".0f"),
                          _shift_text(b["prediction_shift"]))
        console.print(table)
    challenger = report.get("challenger")
    if challenger:
        metrics = ", ".join(f"{k} {v:.4g}" for k, v in challenger["metrics"].items())
        console.print(f"Registered [bold]{escape(challenger['ref'])}[/] ({CHALLENGER}), retrained from "
                      f"{escape(report['ref'])} on {escape(report['data'])}; held-out metrics: "
                      f"{escape(metrics)}")
        console.print(f"Compare before promoting: zoo compare {escape(report['ref'])} "
                      f"{escape(challenger['ref'])} LABELLED.csv --target COL")
    elif retrain:
        console.print("Healthy: no challenger trained.")
    for note in report["notes"]:
        err_console.print(escape(note), highlight=False, soft_wrap=True)


def _when(timestamp: str) -> str:
    """An ISO timestamp to seconds, for tables."""
    return timestamp[:19].replace("T", " ")


def change_text(drop: float | None) -> str:
    """A metric's change since validation, by its direction: ``_drop`` is positive when the
    metric got worse (a lower ROC-AUC, a higher log loss) and negative when it got better."""
    if drop is None:
        return ""
    if abs(drop) < 0.0005:
        return "unchanged"
    return f"{abs(drop):.1%} {'worse' if drop > 0 else 'better'}"


def _points(penalty: float) -> str:
    return f"-{penalty:.1f} points" if penalty >= 0.05 else "no penalty"


def _health_style(health: float) -> str:
    return "green" if health >= 80 else "yellow" if health >= 60 else "dark_orange" if health >= 40 else "red"


def _severity(severity: str) -> str:
    return f"[{SEVERITY_STYLE.get(severity, 'default')}]{escape(severity)}[/]"


def _shift_text(value: dict[str, Any] | None) -> str:
    if not value:
        return "-"
    if value["kind"] == "sd":
        return f"{value['value']:+.2f} sd"
    if value["kind"] == "tvd":
        return f"TVD {value['value']:.3f}"
    return f"{value['value']:+.3f} rate"


def _fmt(value: Any, spec: str = ".4g") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else format(value, spec)
    return str(value)


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# --- listings ---


def _scope(ref: str | None) -> dict[str, Any]:
    """A bare name means every version of that model; name:3 and name@alias one version."""
    if ref is None:
        return {}
    return {"ref": ref} if (":" in ref or "@" in ref) else {"model": ref}


@click.command()
@click.argument("ref", required=False)
@click.option("--severity", default="LOW", show_default=True,
              type=click.Choice(["LOW", "MEDIUM", "HIGH", "CRITICAL"], case_sensitive=False),
              help="Only alerts at least this severe.")
@click.option("--limit", type=int, default=50, show_default=True, help="At most this many, newest first.")
@json_option
@click.pass_context
def alerts(ctx: click.Context, ref: str | None, severity: str, limit: int, as_json: bool) -> None:
    """List stored alerts, newest first: of every model, of model REF (all its versions), or of
    one version (REF = name:3 or name@alias)."""
    if limit < 1:
        raise ZooError(f"--limit must be at least 1, got {limit}")
    from zoo_monitor import store

    rows = store.alerts(open_registry(ctx), **_scope(ref), min_severity=severity, limit=limit)
    if as_json:
        print_json(_clean(rows))
        return
    table = make_table("at", "ref", "severity", "check", "message", title="Alerts", drop=("check",))
    for a in rows:
        table.add_row(escape(_when(a["at"])), escape(a["ref"]), _severity(a["severity"]), escape(a["check"]),
                      escape(a["message"]))
    console.print(table if rows else "No alerts.")


@click.command()
@click.argument("ref")
@click.option("--limit", type=int, default=20, show_default=True, help="At most this many, newest first.")
@json_option
@click.pass_context
def batches(ctx: click.Context, ref: str, limit: int, as_json: bool) -> None:
    """List the batches recorded for REF (a model name: all its versions; or name:3, name@alias)."""
    if limit < 1:
        raise ZooError(f"--limit must be at least 1, got {limit}")
    from zoo_monitor import store

    rows = store.batches(open_registry(ctx), **_scope(ref), limit=limit)
    if as_json:
        print_json(_clean(rows))
        return
    table = make_table("at", "ref", "source", "rows", "ms", "predictions", "missing",
                       title="Scored batches", drop=("missing", "source", "ms"))
    for b in rows:
        s = b["summary"]
        table.add_row(escape(_when(b["at"])), escape(b["ref"]), escape(b["source"]), str(b["rows"]),
                      f"{b['seconds'] * 1000:.1f}", escape(_prediction_text(s)), escape(_missing_text(s)))
    console.print(table if rows else f"No batches recorded for {escape(ref)}.")


def _prediction_text(summary: dict[str, Any]) -> str:
    parts = []
    pred = summary.get("prediction") or {}
    if "labels" in pred:
        total = pred.get("count") or 1
        parts.append(", ".join(f"{k} {v / total:.0%}" for k, v in list(pred["labels"].items())[:4]))
    elif pred.get("mean") is not None:
        parts.append(f"mean {pred['mean']:.4g} sd {pred['std']:.3g}")
    proba = summary.get("proba_mean") or {}
    if len(proba) == 2:  # binary: P(the second class) says it all
        key = list(proba)[1]
        parts = [f"P({key}) {proba[key]:.3f}"]
    elif proba:
        parts.append("P " + ", ".join(f"{k} {v:.3f}" for k, v in list(proba.items())[:4]))
    if summary.get("anomaly_rate") is not None:
        parts.append(f"anomalies {summary['anomaly_rate']:.1%}")
    return "; ".join(parts) or "-"


def _missing_text(summary: dict[str, Any]) -> str:
    missing = summary.get("missing") or {}
    if not missing:
        return "-"
    worst = max(missing.items(), key=lambda kv: kv[1])
    return f"{len(missing)} cols, worst {worst[0]} {worst[1]:.1%}"


COMMANDS = (monitor, alerts, batches)
