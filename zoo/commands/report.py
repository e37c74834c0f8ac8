"""``zoo report``: a version's metrics and the files of its extra artifacts (plots and the like).

Generic on purpose: every artifact a version was registered with, other than the model
itself, is listed with its path in the registry's store, whatever command made it
(``zoo calibrate`` stores ``reliability.png``). Metrics measured on a baseline of the same
model (``<metric>_uncalibrated``) are shown beside the metric.
"""

from __future__ import annotations

from typing import Any

import click

from zoo.cli import cli, console, json_option, make_table, open_registry, print_json

#: Metric-name suffixes of baseline measurements, shown as their own column: suffix -> heading.
BASELINES = {"_uncalibrated": "uncalibrated"}


@cli.command()
@click.argument("ref")
@json_option
@click.pass_context
def report(ctx: click.Context, ref: str, as_json: bool) -> None:
    """Show version REF's metrics and the stored path of each of its extra artifacts (e.g. PNG plots)."""
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
