"""``zoo init``, ``info``, ``models``, ``versions``, ``show``, ``alias``, ``tag``, ``lineage`` and
``audit``: what the registry holds, read and curated from the shell. Like every command module
they use only the public API; heavy libraries are imported inside the commands."""

from __future__ import annotations

from typing import Any

import click

import zoo
from zoo.clitools import (
    console,
    err_console,
    escape,
    format_value,
    json_option,
    make_table,
    open_registry,
    parse_pairs,
    print_json,
    print_metrics,
)


@click.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create the registry named by --registry / $ZOO_REGISTRY (and its directory)."""
    from pathlib import Path

    from zoo import Registry

    path = ctx.find_root().obj.get("registry_path")
    existed = bool(path) and Path(path).expanduser().is_file()
    registry = Registry(path)  # creates the directory, the file and the schema
    registry.close()
    verb = "Registry already exists at" if existed else "Created a registry at"
    console.print(f"{verb} {escape(str(registry.path))}", highlight=False, soft_wrap=True)


@click.command()
@json_option
@click.pass_context
def info(ctx: click.Context, as_json: bool) -> None:
    """Show where the registry is, its schema version, what it holds and its size on disk."""
    registry = open_registry(ctx)
    with registry.read() as conn:
        counts = {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                  for table in ("models", "versions", "artifacts", "aliases", "audit")}
    schema = registry.schema()
    files = [registry.path, *(registry.path.with_name(registry.path.name + s) for s in ("-wal", "-shm"))]
    database = sum(f.stat().st_size for f in files if f.is_file())
    root = registry.artifacts.root
    stored = sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) if root.is_dir() else 0
    result = {"path": str(registry.path), "artifacts_path": str(root),
              "schema": {k: {"version": len(v), "last": v[-1]} for k, v in schema.items()},
              "counts": counts, "bytes": {"database": database, "artifacts": stored}}
    if as_json:
        print_json(result)
        return
    core = result["schema"].get("zoo", {"version": 0, "last": "-"})
    plugins = ", ".join(f"{escape(k)} {v['version']}" for k, v in result["schema"].items() if k != "zoo")
    console.print("\n".join([
        f"registry   {escape(result['path'])}",
        f"artifacts  {escape(str(root))}",
        f"schema     {core['version']} ({escape(core['last'])})"
        + (f"; plugins: {plugins}" if plugins else ""),
        "holds      " + ", ".join(f"{n} {k}" for k, n in counts.items()),
        f"size       {_size(database)} database, {_size(stored)} artifacts",
    ]), highlight=False, soft_wrap=True)


def _size(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


@click.command()
@click.option("--limit", type=int, metavar="N",
              help="At most N models, most recently updated first (table default 50; 0 for all).")
@json_option
@click.pass_context
def models(ctx: click.Context, limit: int | None, as_json: bool) -> None:
    """List registered models with their latest version and aliases."""
    registry = open_registry(ctx)
    if as_json:
        print_json(registry.models(limit=limit, recent_first=bool(limit)))
        return
    limit = 50 if limit is None else limit
    shown = registry.models(limit=limit, recent_first=bool(limit))
    total = registry.model_count() if limit and len(shown) == limit else len(shown)
    table = make_table("name", "versions", "latest", "metric", "aliases", "tags", "updated", title="Models",
                       drop=("tags", "updated", "aliases"))
    for m in shown:
        latest = _latest(registry, m)
        table.add_row(
            escape(m["name"]), str(m["versions"]), format_value(m["latest"]),
            escape(_primary_text(latest)) if latest else "",
            escape(", ".join(f"{a}→{v}" for a, v in m["aliases"].items())),
            escape(", ".join(f"{k}={v}" for k, v in m["tags"].items())),
            _when(m["updated_at"]),
        )
    console.print(table if shown else f"The registry at {escape(str(registry.path))} is empty. "
                  "Try: zoo train --help")
    if len(shown) < total:
        # A person reads a page, not 1,000 rows: say how to see the rest.
        err_console.print(f"{len(shown)} of {total} models, most recently updated first; "
                          "--limit 0 shows all, --json prints them for scripts")


@click.command()
@click.argument("name", required=False)
@click.option("--where", help="Filter, e.g. \"metrics.roc_auc > 0.9 and tags.team = 'growth'\".")
@click.option("--order-by", help="Sort fields, '-' for descending, e.g. -metrics.roc_auc,version.")
@click.option("--limit", type=int, help="At most this many versions.")
@json_option
@click.pass_context
def versions(ctx: click.Context, name: str | None, where: str | None, order_by: str | None,
             limit: int | None, as_json: bool) -> None:
    """List versions of model NAME (of every model without NAME), filtered and sorted."""
    registry = open_registry(ctx)
    rows = registry.versions(name, where=where, order_by=order_by, limit=limit)
    for line in _unknown_keys(registry, " ".join(filter(None, (where, order_by)))):
        err_console.print(f"[yellow]Hint:[/] {escape(line)}", highlight=False, soft_wrap=True)
    if as_json:
        print_json(rows)
        return
    primary, others = _metric_columns(rows)
    metric_keys = primary + others
    table = make_table("ref", "component", "aliases", *map(escape, metric_keys), "tags", "created",
                       title="Versions", drop=("tags", "created", *map(escape, others[::-1]), "component",
                                               "aliases"))
    for r in rows:
        table.add_row(
            escape(r["ref"]), escape(r["component"]), escape(", ".join(r["aliases"])),
            *[format_value(r["metrics"].get(k)) for k in metric_keys],
            escape(", ".join(f"{k}={v}" for k, v in r["tags"].items())),
            _when(r["created_at"]),
        )
    console.print(table if rows else "No versions match.")


#: The metric a listing shows first, by task: the one `zoo compare` and `zoo monitor` decide on.
PRIMARY_METRIC = {"classification": "roc_auc", "regression": "rmse", "anomaly": "roc_auc"}


def _primary(version: dict[str, Any]) -> str | None:
    """The name of ``version``'s primary metric (its task's, else its first), if it has metrics."""
    metrics = version.get("metrics") or {}
    key = PRIMARY_METRIC.get(version.get("task") or "")
    return key if key in metrics else next(iter(sorted(metrics)), None)


def _primary_text(version: dict[str, Any]) -> str:
    key = _primary(version)
    return "" if key is None else f"{key} {format_value(version['metrics'][key])}"


def _latest(registry: Any, model: dict[str, Any]) -> dict[str, Any] | None:
    """The latest version of a ``models()`` row, ``None`` when the model has none left."""
    try:
        return registry.get(f"{model['name']}:{model['latest']}") if model.get("latest") else None
    except zoo.NotFoundError:  # deleted between the two reads
        return None


def _metric_columns(rows: list[dict[str, Any]], most: int = 5) -> tuple[list[str], list[str]]:
    """Metric columns of a versions listing: every row's primary metric, and then the
    metrics most versions have, up to ``most`` in all."""
    from collections import Counter

    primary = list(dict.fromkeys(k for k in map(_primary, rows) if k))
    counts = Counter(k for r in rows for k in r["metrics"] if k not in primary)
    others = [k for k, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return primary, others[:max(0, most - len(primary))]


def _unknown_keys(registry: Any, text: str) -> list[str]:
    """A hint for each ``metrics.KEY``, ``params.KEY`` or ``tags.KEY`` in a filter or sort that
    no version has, listing the keys that exist (a typo otherwise just matches nothing)."""
    import re

    tables = {"metrics": ("metrics", "key"), "params": ("params", "key"), "tags": ("version_tags", "key")}
    asked: dict[str, set[str]] = {}
    for kind, key in re.findall(r"\b(metrics|params|tags)\.([A-Za-z0-9_\-.]+)", text):
        asked.setdefault(kind, set()).add(key)
    hints = []
    with registry.read() as conn:
        for kind, keys in asked.items():
            table, column = tables[kind]
            known = [r[0] for r in conn.execute(f"SELECT DISTINCT {column} FROM {table} ORDER BY 1")]
            for key in sorted(keys - set(known)):
                some = ", ".join(known[:20]) + (", ..." if len(known) > 20 else "")
                hints.append(f"no version has {kind}.{key}; " +
                             (f"the {kind} keys are: {some}" if known else f"no version has any {kind}"))
    return hints


def _when(timestamp: str | None) -> str:
    """An ISO timestamp to minutes, for tables."""
    return (timestamp or "")[:16].replace("T", " ")


@click.command()
@click.argument("ref")
@json_option
@click.pass_context
def show(ctx: click.Context, ref: str, as_json: bool) -> None:
    """Show one version: component, params, metrics, tags, aliases, data fingerprint."""
    v = open_registry(ctx).get(ref)
    if as_json:
        print_json(v)
        return
    console.print(f"[bold]{escape(v['ref'])}[/]  {escape(v['component'])} ({escape(v['kind'])}, "
                  f"{escape(v['task'])}) from {escape(v['plugin'])} {escape(v['plugin_version'])}")
    console.print(f"created {escape(v['created_at'])}   aliases: {escape(', '.join(v['aliases']) or '-')}")
    if v.get("description"):
        console.print(escape(v["description"], newlines=True))
    if v.get("data"):
        d = v["data"]
        console.print(f"training data: {d['rows']} rows, {len(d['schema'])} columns, "
                      f"sha256 {d['sha256'][:16]}…")
    console.print(f"artifact: {escape(v['artifact_format'])} sha256 {escape(v['artifact_sha256'][:16])}…")
    print_metrics(v["metrics"])
    for title, values in (("Parameters", v["params"]), ("Tags", v["tags"])):
        if values:
            table = make_table("key", "value", title=title)
            for key, value in values.items():
                table.add_row(escape(key), escape(value))
            console.print(table)
    _print_schema(v.get("metadata") or {})


def _print_schema(metadata: dict[str, Any]) -> None:
    """The input columns a version takes (type, levels or date format, missing at training)
    and the columns predict adds."""
    from zoo.data import output_schema

    if not metadata.get("feature_names"):
        return
    plain = [{"name": name, "type": "number"} for name in metadata["feature_names"]]
    table = make_table("column", "type", "details", title="Input schema")
    for col in metadata.get("input_schema") or plain:
        details = []
        if col["type"] == "category":
            levels = col["levels"]
            more = f", … ({len(levels)} levels)" if len(levels) > 8 else ""
            shown = ", ".join(map(str, levels[:8])) + more
            details.append(f"levels: {shown}")
        elif col["type"] == "datetime":
            details.append(f"format {col.get('format', 'native')}")
        if col.get("missing"):
            details.append(f"{col['missing']} missing at training")
        table.add_row(escape(str(col["name"])), col["type"], escape("; ".join(details)))
    console.print(table)
    outputs = metadata.get("output_schema") or output_schema(metadata)
    if outputs:
        console.print("Output: " + escape(", ".join(f"{c['name']} ({c['type']})" for c in outputs)))


@click.command()
@click.argument("name")
@click.argument("version", type=int, required=False)
@click.argument("alias", required=False)
@click.option("--delete", "delete_alias", metavar="ALIAS", help="Remove this alias.")
@json_option
@click.pass_context
def alias(ctx: click.Context, name: str, version: int | None, alias: str | None,
          delete_alias: str | None, as_json: bool) -> None:
    """Point ALIAS (e.g. champion) of model NAME at VERSION; without them, show alias history."""
    registry = open_registry(ctx)
    if delete_alias:
        registry.remove_alias(name, delete_alias)
        console.print(f"Removed {escape(name)}@{escape(delete_alias)}")
        return
    if version is not None and alias:
        registry.set_alias(name, alias, version)
        console.print(f"{escape(name)}@{escape(alias)} → version {version}")
        return
    if version is not None:
        raise zoo.ZooError("give both VERSION and ALIAS, e.g. zoo alias fraud 3 champion")
    history = registry.alias_history(name)
    if as_json:
        print_json(history)
        return
    table = make_table("alias", "from", "to", "changed", title=f"Alias history of {escape(name)}")
    for h in history:
        table.add_row(escape(h["alias"]), format_value(h["from_version"]) or "-",
                      format_value(h["to_version"]) or "-", escape(h["changed_at"][:19]))
    console.print(table if history else f"{escape(name)} has no aliases yet.")


@click.command()
@click.argument("ref")
@click.argument("pairs", nargs=-1, required=True, metavar="KEY=VALUE...")
@click.pass_context
def tag(ctx: click.Context, ref: str, pairs: tuple[str, ...]) -> None:
    """Tag a model (REF = name) or a version (name:3, name@alias) with KEY=VALUE pairs."""
    tags = {k: str(v) for k, v in parse_pairs(pairs, "tag").items()}
    open_registry(ctx).tag(ref, tags)
    console.print(f"Tagged {escape(ref)}: " + escape(", ".join(f"{k}={v}" for k, v in tags.items())))


@click.command()
@click.argument("ref")
@json_option
@click.pass_context
def lineage(ctx: click.Context, ref: str, as_json: bool) -> None:
    """Show where a version came from: parents, component, plugin version, training data."""
    from rich.tree import Tree

    node = open_registry(ctx).lineage(ref)
    if as_json:
        print_json(node)
        return

    def label(v: dict[str, Any], relation: str | None = None) -> str:
        data = v.get("data") or {}
        if v.get("deleted"):  # only its ref and relation outlive a deleted parent
            return f"{escape(relation)}: [bold]{escape(v['ref'])}[/] [dim](deleted)[/]"
        text = (f"[bold]{escape(v['ref'])}[/] {escape(v['component'])} ({escape(v['plugin'])} "
                f"{escape(v['plugin_version'])})")
        if data:
            text += f" data {escape(data['sha256'][:12])}… {escape(data['rows'])} rows"
        return f"{escape(relation)}: {text}" if relation else text

    def grow(tree: Any, v: dict[str, Any]) -> None:
        for parent in v.get("parents", []):
            grow(tree.add(label(parent, parent.get("relation"))), parent)

    root = Tree(label(node))
    grow(root, node)
    console.print(root)


@click.command()
@click.argument("name", required=False)
@click.option("--limit", default=50, show_default=True)
@json_option
@click.pass_context
def audit(ctx: click.Context, name: str | None, limit: int, as_json: bool) -> None:
    """Show the append-only audit log of registry changes (newest first)."""
    import json

    rows = open_registry(ctx).audit(name, limit=limit)
    if as_json:
        print_json(rows)
        return
    table = make_table("at", "action", "model", "version", "details", title="Audit log",
                       drop=("details",))
    for r in rows:
        table.add_row(escape(r["at"][:19]), escape(r["action"]), escape(r["model"] or ""),
                      format_value(r["version"]),
                      escape(json.dumps(r["details"], ensure_ascii=False)[:200]) if r["details"] else "")
    console.print(table)


COMMANDS = (init, info, models, versions, show, alias, tag, lineage, audit)
