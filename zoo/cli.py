"""The ``zoo`` command line.

Start-up must stay fast with every plugin installed: this module imports only click
and the light kernel modules at the top (json, subprocess and rich too are imported
where they are used). The registry (sqlite-utils pulls in pandas), numpy,
pandas and every plugin's library are imported inside the commands that need them.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Iterator
from typing import Any

import click

from zoo import KINDS, __version__
from zoo.clitools import (
    confirm,
    console,
    err_console,
    json_option,
    make_table,
    open_registry,
    parse_pairs,
    print_json,
    progress_steps,
    write_chunks,
    yes_option,
)
from zoo.errors import DataError, ZooError


class ZooGroup(click.Group):
    """Turns a ``ZooError`` into one line on stderr and a non-zero exit, with no traceback,
    and refuses a plugin command whose name is taken (``zoo plugins`` reports the clash)."""

    load_error: ZooError | None = None
    #: Which plugin added each command ("zoo" for the built-in ones).
    owners: dict[str, str] = {}

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        from zoo.plugins import current_plugin

        name = name or cmd.name
        owner = current_plugin() or "zoo"
        if name in self.commands and self.owners.get(name, "zoo") != owner:
            from zoo.plugins import get_plugins

            get_plugins().conflict("command", name, self.owners.get(name, "zoo"), owner)
            return
        self.owners[name] = owner
        super().add_command(cmd, name)

    def invoke(self, ctx: click.Context) -> Any:
        if self.load_error is not None:
            _fail(str(self.load_error), self.load_error.exit_code)
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            try:
                return super().invoke(ctx)
            except ZooError as exc:
                _fail(str(exc), exc.exit_code)
            except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
                raise
            except Exception as exc:  # a bug in zoo or a plugin: still one line unless debugging
                if os.environ.get("ZOO_DEBUG"):
                    raise
                _fail(f"{type(exc).__name__}: {exc} (set ZOO_DEBUG=1 for the traceback)", 1)


def _fail(message: str, code: int) -> None:
    err_console.print(f"[bold red]Error:[/] {message}", highlight=False, soft_wrap=True)
    sys.exit(code)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    err_console.print(f"[yellow]Warning:[/] {message}", highlight=False, soft_wrap=True)


@click.group(cls=ZooGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="zoo")
@click.option(
    "--registry",
    "registry_path",
    envvar="ZOO_REGISTRY",
    type=click.Path(dir_okay=False),
    help="Registry database file (default: $ZOO_REGISTRY or the user data directory).",
)
@click.pass_context
def cli(ctx: click.Context, registry_path: str | None) -> None:
    """Zoo: train, version, compare, promote and serve models from a local registry."""
    ctx.obj = {"registry_path": registry_path}


# --- plugins ---


@cli.command()
@click.option("--all", "show_all", is_flag=True, help="Include built-in plugins.")
@click.option("--requirements", is_flag=True, help="Print pip requirements for the installed plugins.")
@json_option
def plugins(show_all: bool, requirements: bool, as_json: bool) -> None:
    """List installed plugins, their versions and hooks, and any that failed to load."""
    from zoo.catalogue import build_catalogue
    from zoo.plugins import get_plugins

    loaded = get_plugins()
    build_catalogue(loaded)  # records component clashes in loaded.conflicts
    infos = [i for i in loaded.infos.values() if show_all or not i.builtin]
    if requirements:
        for info in infos:
            if info.distribution and not info.builtin:
                click.echo(f"{info.distribution}=={info.version}")
        return
    conflicts = list(loaded.conflicts)
    if as_json:
        print_json({"plugins": [i.as_dict() for i in infos], "conflicts": conflicts})
        return
    table = make_table("name", "version", "licence", "status", "hooks", title="Plugins")
    for info in infos:
        status = "[green]ok[/]" if not info.error else f"[red]broken[/]: {info.error}"
        table.add_row(info.name, info.version, info.licence, status, ", ".join(info.hooks))
    console.print(table if infos else "No plugins installed. Try: zoo install ./plugins/zoo-sklearn")
    for c in conflicts:
        err_console.print(
            f"[yellow]Warning:[/] {c['refused']} also provides {c['kind']} {c['name']}; "
            f"{c['kept']} keeps it"
        )


@cli.command()
@click.argument("packages", nargs=-1, required=True)
@click.option("-U", "--upgrade", is_flag=True, help="Upgrade packages to the latest version.")
@click.option("-e", "--editable", is_flag=True, help="Install a local project in editable mode.")
def install(packages: tuple[str, ...], upgrade: bool, editable: bool) -> None:
    """Install plugins (names or paths) into the environment zoo runs in, with pip."""
    args = [sys.executable, "-m", "pip", "install"]
    if upgrade:
        args.append("--upgrade")
    for package in packages:
        args += ["-e", package] if editable else [package]
    _run_pip(args)


@cli.command()
@click.argument("packages", nargs=-1, required=True)
@yes_option
def uninstall(packages: tuple[str, ...], yes: bool) -> None:
    """Uninstall plugins from the environment zoo runs in, with pip."""
    _run_pip([sys.executable, "-m", "pip", "uninstall", *packages, *(["-y"] if yes else [])])


def _run_pip(args: list[str]) -> None:
    import subprocess

    code = subprocess.run(args).returncode
    if code:
        raise ZooError(f"pip exited with status {code}; see its output above")


# --- components ---


@cli.command()
@click.argument("name", required=False)
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    help="Only components of this kind.",
)
@json_option
def components(name: str | None, kind: str | None, as_json: bool) -> None:
    """List the components plugins provide, or show one component's parameters."""
    from zoo.catalogue import build_catalogue

    catalogue = build_catalogue()
    if name:
        info = catalogue.get(name).as_dict()
        if as_json:
            print_json(info)
            return
        licence = f", licence {info['licence']}" if info["licence"] else ""
        console.print(f"[bold]{info['name']}[/] ({info['kind']}, {info['task']}) from "
                      f"{info['plugin']} {info['plugin_version']}{licence}\n{info['description']}")
        table = make_table("parameter", "default", title="Parameters")
        for key, value in info["params"].items():
            table.add_row(key, repr(value))
        console.print(table)
        return
    items = [c.as_dict() for c in catalogue.of_kind(kind)]
    if as_json:
        print_json(items)
        return
    table = make_table("name", "kind", "task", "plugin", "licence", "description", title="Components")
    for c in items:
        table.add_row(c["name"], c["kind"], c["task"], f"{c['plugin']} {c['plugin_version']}",
                      c["licence"], c["description"])
    console.print(table)


# --- training and prediction ---


@cli.command()
@click.argument("component")
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--target", help="Label column (predictors).")
@click.option("--name", required=True, help="Model name to register the version under.")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="Component parameter; repeatable.")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Version tag; repeatable.")
@click.option("--test-size", default=0.2, show_default=True, help="Share of rows held out for metrics.")
@click.option("--seed", default=0, show_default=True, help="Seed of the train/test split.")
@click.option("--description", help="Free text stored with the version.")
@json_option
@click.pass_context
def train(ctx: click.Context, component: str, data: str, target: str | None, name: str,
          params: tuple[str, ...], tags: tuple[str, ...], test_size: float, seed: int,
          description: str | None, as_json: bool) -> None:
    """Train COMPONENT on DATA (CSV or Parquet), hold out a test split and register a version."""
    from zoo.catalogue import build_catalogue
    from zoo.data import read_table
    from zoo.models import train_and_register

    info = build_catalogue().get(component)
    param_values = parse_pairs(params, "--param")
    tag_values = {k: str(v) for k, v in parse_pairs(tags, "--tag").items()}
    info.create(**param_values)  # reject unknown parameters before reading any data
    registry = open_registry(ctx)
    with progress_steps() as step:
        df = read_table(data)
        version, result = train_and_register(
            registry, info, df, target, name=name, params=param_values, test_size=test_size,
            seed=seed, tags=tag_values, description=description, step=step)
    if as_json:
        print_json(version)
        return
    console.print(f"Registered [bold]{version['ref']}[/] ({info.name}, "
                  f"{result.n_train} train / {result.n_test} test rows)")
    _print_metrics(version["metrics"])


@cli.command()
@click.argument("ref")
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write CSV or Parquet here (by suffix) instead of CSV on stdout.")
@click.option("--interval", type=float, metavar="LEVEL",
              help="Add an interval (regressors) or prediction set (classifiers) holding the true "
                   "value with this probability, e.g. 0.9.")
@click.option("--engine", default="local", show_default=True,
              help="local: this process; another engine comes from a plugin, e.g. dask: each file "
                   "of DATA (a quoted glob such as 'data/*.parquet') on a Dask cluster, written "
                   "to the -o directory.")
@click.option("--scheduler", metavar="ADDRESS",
              help="Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: start a local cluster).")
@click.option("--chunk-rows", default=100_000, show_default=True,
              help="Rows read and scored at a time (memory stays flat as files grow).")
@click.option("--method",
              help="How --interval is made, by the plugin that offers it. Built in: conformal "
                   "(default; split conformal, CQR or sets, with a coverage guarantee) and "
                   "bootstrap (residual bootstrap intervals, no guarantee).")
@json_option
@click.pass_context
def predict(ctx: click.Context, ref: str, data: str, output: str | None, interval: float | None,
            engine: str, scheduler: str | None, chunk_rows: int, method: str | None,
            as_json: bool) -> None:
    """Score DATA with model REF (name, name:3 or name@alias); columns are matched by name.

    The file is read and scored in chunks, so memory stays flat however large it is.
    """
    from zoo.data import iter_table
    from zoo.models import batch_predicted
    from zoo.plugins import get_plugins
    from zoo.predicting import predict_table

    if interval is not None and not 0.0 < interval < 1.0:
        raise DataError(f"--interval must be a coverage level between 0 and 1, such as 0.9; "
                        f"got {interval}")
    if method and interval is None:
        raise ZooError("--method needs --interval LEVEL, e.g. --interval 0.9")
    if chunk_rows < 1:
        raise ZooError(f"--chunk-rows must be at least 1, got {chunk_rows}")
    registry = open_registry(ctx)
    version = registry.get(ref)
    hook = get_plugins().hook
    intervals = note = None
    if interval is not None:
        answer = hook.prediction_intervals(registry=registry, version=version, level=interval,
                                           method=method)
        if answer is None:
            what = f" with --method {method}" if method else ""
            raise ZooError(f"no plugin computes intervals{what} (the built-in zoo.conformal "
                           "offers conformal and bootstrap); `zoo plugins --all` lists them")
        intervals, note = answer
    if engine != "local":
        options = {"scheduler": scheduler, "chunk_rows": chunk_rows, "intervals": intervals,
                   "as_json": as_json}
        parts = hook.predict_with_engine(engine=engine, registry=registry, version=version,
                                         data=data, output=output, options=options)
        if parts is None:
            raise ZooError(f"no plugin runs the prediction engine {engine!r}; use --engine local "
                           "or install the plugin that provides it (`zoo plugins` lists them)")
        if note:
            err_console.print(note, highlight=False, soft_wrap=True)
        return
    if scheduler:
        raise ZooError("--scheduler needs --engine dask")
    model = registry.load(ref, observed=False)  # reports each chunk itself
    seconds = 0.0

    def scored() -> Iterator[Any]:
        nonlocal seconds
        for n, chunk in enumerate(iter_table(data, chunk_rows)):
            start = time.perf_counter()
            with warnings.catch_warnings():
                if n:  # the first chunk already warned about extra columns
                    warnings.simplefilter("ignore")
                out = predict_table(model, chunk)
                if intervals is not None:
                    out = intervals(model, chunk, out)
            elapsed = time.perf_counter() - start
            seconds += elapsed
            batch_predicted(registry, version, chunk, out, elapsed)
            yield out

    rows = write_chunks(scored(), output, as_json)
    if note:
        err_console.print(note, highlight=False, soft_wrap=True)
    if output:
        err_console.print(f"Wrote {rows} rows to {output} ({version['ref']}, {seconds:.3f} s scoring)")


def _print_metrics(metrics: dict[str, float]) -> None:
    if metrics:
        table = make_table("metric", "value", title="Held-out metrics")
        for key, value in metrics.items():
            table.add_row(key, f"{value:.4f}")
        console.print(table)


# --- browsing the registry ---


@cli.command()
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
    table = make_table("name", "versions", "latest", "aliases", "tags", "updated", title="Models")
    for m in shown:
        table.add_row(
            m["name"], str(m["versions"]), str(m["latest"]),
            ", ".join(f"{a}→{v}" for a, v in m["aliases"].items()),
            ", ".join(f"{k}={v}" for k, v in m["tags"].items()),
            _when(m["updated_at"]),
        )
    console.print(table if shown else "The registry is empty. Try: zoo train --help")
    if len(shown) < total:
        # A person reads a page, not 1,000 rows: say how to see the rest.
        err_console.print(f"{len(shown)} of {total} models, most recently updated first; "
                          "--limit 0 shows all, --json prints them for scripts")


@cli.command()
@click.argument("name", required=False)
@click.option("--where", help="Filter, e.g. \"metrics.auc > 0.9 and tags.team = 'growth'\".")
@click.option("--order-by", help="Sort fields, '-' for descending, e.g. -metrics.auc,version.")
@click.option("--limit", type=int, help="At most this many versions.")
@json_option
@click.pass_context
def versions(ctx: click.Context, name: str | None, where: str | None, order_by: str | None,
             limit: int | None, as_json: bool) -> None:
    """List versions of model NAME (of every model without NAME), filtered and sorted."""
    rows = open_registry(ctx).versions(name, where=where, order_by=order_by, limit=limit)
    if as_json:
        print_json(rows)
        return
    metric_keys = sorted({k for r in rows for k in r["metrics"]})[:5]
    table = make_table("ref", "component", "aliases", *metric_keys, "tags", "created", title="Versions")
    for r in rows:
        table.add_row(
            r["ref"], r["component"], ", ".join(r["aliases"]),
            *[_fmt(r["metrics"].get(k)) for k in metric_keys],
            ", ".join(f"{k}={v}" for k, v in r["tags"].items()),
            _when(r["created_at"]),
        )
    console.print(table if rows else "No versions match.")


def _when(timestamp: str | None) -> str:
    """An ISO timestamp to minutes, for tables."""
    return (timestamp or "")[:16].replace("T", " ")


def _fmt(value: Any) -> str:
    return "" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


@cli.command()
@click.argument("ref")
@json_option
@click.pass_context
def show(ctx: click.Context, ref: str, as_json: bool) -> None:
    """Show one version: component, params, metrics, tags, aliases, data fingerprint."""
    v = open_registry(ctx).get(ref)
    if as_json:
        print_json(v)
        return
    console.print(f"[bold]{v['ref']}[/]  {v['component']} ({v['kind']}, {v['task']}) "
                  f"from {v['plugin']} {v['plugin_version']}")
    console.print(f"created {v['created_at']}   aliases: {', '.join(v['aliases']) or '-'}")
    if v.get("description"):
        console.print(v["description"])
    if v.get("data"):
        d = v["data"]
        console.print(f"training data: {d['rows']} rows, {len(d['schema'])} columns, "
                      f"sha256 {d['sha256'][:16]}…")
    console.print(f"artifact: {v['artifact_format']} sha256 {v['artifact_sha256'][:16]}…")
    _print_metrics(v["metrics"])
    for title, values in (("Parameters", v["params"]), ("Tags", v["tags"])):
        if values:
            table = make_table("key", "value", title=title)
            for key, value in values.items():
                table.add_row(key, str(value))
            console.print(table)


@cli.command()
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
        console.print(f"Removed {name}@{delete_alias}")
        return
    if version is not None and alias:
        registry.set_alias(name, alias, version)
        console.print(f"{name}@{alias} → version {version}")
        return
    if version is not None:
        raise ZooError("give both VERSION and ALIAS, e.g. zoo alias fraud 3 champion")
    history = registry.alias_history(name)
    if as_json:
        print_json(history)
        return
    table = make_table("alias", "from", "to", "changed", title=f"Alias history of {name}")
    for h in history:
        table.add_row(h["alias"], _fmt(h["from_version"]) or "-", _fmt(h["to_version"]) or "-",
                      h["changed_at"][:19])
    console.print(table if history else f"{name} has no aliases yet.")


@cli.command()
@click.argument("ref")
@click.argument("pairs", nargs=-1, required=True, metavar="KEY=VALUE...")
@click.pass_context
def tag(ctx: click.Context, ref: str, pairs: tuple[str, ...]) -> None:
    """Tag a model (REF = name) or a version (name:3, name@alias) with KEY=VALUE pairs."""
    tags = {k: str(v) for k, v in parse_pairs(pairs, "tag").items()}
    open_registry(ctx).tag(ref, tags)
    console.print(f"Tagged {ref}: " + ", ".join(f"{k}={v}" for k, v in tags.items()))


@cli.command()
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
        text = f"[bold]{v['ref']}[/] {v['component']} ({v['plugin']} {v['plugin_version']})"
        if data:
            text += f" data {data['sha256'][:12]}… {data['rows']} rows"
        return f"{relation}: {text}" if relation else text

    def grow(tree: Any, v: dict[str, Any]) -> None:
        for parent in v.get("parents", []):
            grow(tree.add(label(parent, parent.get("relation"))), parent)

    root = Tree(label(node))
    grow(root, node)
    console.print(root)


@cli.command()
@json_option
@click.pass_context
def verify(ctx: click.Context, as_json: bool) -> None:
    """Re-hash every artifact; report corrupted, missing and orphaned files (exit 1 if any)."""
    report = open_registry(ctx).verify()
    problems = len(report["corrupted"]) + len(report["missing"]) + len(report["orphans"])
    _print_result(report, as_json, f"Checked {report['checked']} artifacts: {report['ok']} ok",
                  *(f"[red]{problem}[/] {item['sha256'][:16]}… used by {', '.join(item['refs'])}"
                    for problem in ("corrupted", "missing") for item in report[problem]),
                  *(f"[yellow]orphan[/] {path}" for path in report["orphans"]))
    if problems:
        sys.exit(1)


@cli.command()
@click.option("--dry-run", is_flag=True, help="List what would be removed, remove nothing.")
@json_option
@click.pass_context
def gc(ctx: click.Context, dry_run: bool, as_json: bool) -> None:
    """Remove orphaned artifact files (left by a crash) and stale temp files from the store."""
    report = open_registry(ctx).gc(dry_run=dry_run)
    verb = "Would remove" if dry_run else "Removed"
    _print_result(report, as_json, f"{verb} {len(report['removed'])} orphaned files "
                  f"({report['bytes']} bytes)", *(f"  {path}" for path in report["removed"]))


@cli.command()
@click.argument("ref")
@yes_option
@click.pass_context
def delete(ctx: click.Context, ref: str, yes: bool) -> None:
    """Delete a version (name:3, name@alias) or a whole model (name) and its unshared artifacts."""
    registry = open_registry(ctx)
    whole_model = ":" not in ref and "@" not in ref
    what = f"model {ref} and all its versions" if whole_model else ref
    # Fail on an unknown ref before asking; a model may exist with no versions left.
    if not whole_model or ref not in {m["name"] for m in registry.models()}:
        registry.get(ref)
    confirm(f"Delete {what}?", yes)
    deleted = registry.delete(ref)
    console.print(f"Deleted {', '.join(deleted.get('refs', [ref]))}")


@cli.command()
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
    table = make_table("at", "action", "model", "version", "details", title="Audit log")
    for r in rows:
        table.add_row(r["at"][:19], r["action"], r["model"] or "", _fmt(r["version"]),
                      json.dumps(r["details"])[:80] if r["details"] else "")
    console.print(table)


@cli.command("export")
@click.argument("refs", nargs=-1, required=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Bundle file to write, e.g. fraud.zoo.")
@json_option
@click.pass_context
def export_command(ctx: click.Context, refs: tuple[str, ...], output: str, as_json: bool) -> None:
    """Write versions (REFS: name for all versions, name:3, name@alias) to a portable bundle."""
    result = open_registry(ctx).export(list(refs), output)
    _print_result(result, as_json, f"Exported {len(result['versions'])} versions and {result['artifacts']} "
                  f"artifacts to {result['path']} ({result['bytes']} bytes)")


@cli.command("import")
@click.argument("bundle", type=click.Path(dir_okay=False))
@json_option
@click.pass_context
def import_command(ctx: click.Context, bundle: str, as_json: bool) -> None:
    """Restore a bundle into the registry; every hash is verified before anything is written."""
    result = open_registry(ctx).import_bundle(bundle)
    skipped = f", skipped {len(result['skipped'])} already present" if result["skipped"] else ""
    _print_result(result, as_json, f"Imported {len(result['imported'])} versions{skipped}",
                  *(f"  {ref}" for ref in result["imported"]))


@cli.command("backup")
@click.argument("path", type=click.Path(dir_okay=False))
@json_option
@click.pass_context
def backup_command(ctx: click.Context, path: str, as_json: bool) -> None:
    """Copy the registry and its artifacts to PATH while other processes keep writing."""
    result = open_registry(ctx).backup(path)
    _print_result(result, as_json, f"Backed up {result['versions']} versions and {result['artifacts']} "
                  f"artifacts to {result['path']}; use it with --registry {result['path']}")


def _print_result(result: Any, as_json: bool, *lines: str) -> None:
    """A registry-wide command's ``result`` as JSON with --json, else its ``lines`` of text."""
    if as_json:
        print_json(result)
        return
    for line in lines:
        console.print(line)


def _add_plugin_commands() -> None:
    """Let plugins add commands once every built-in command exists."""
    from zoo.plugins import get_plugins

    try:
        get_plugins().hook.register_commands(cli=cli)
    except ZooError as exc:  # strict mode: report it as the command's error, in one line
        ZooGroup.load_error = exc


_add_plugin_commands()


def main() -> None:
    """Entry point of the ``zoo`` command."""
    cli()
