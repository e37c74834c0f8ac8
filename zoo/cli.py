"""The ``zoo`` command line.

Start-up must stay fast with every plugin installed: this module imports only click
and the light kernel modules at the top (json, subprocess and rich too are imported
where they are used). The registry (sqlite-utils pulls in pandas), numpy,
pandas and every plugin's library are imported inside the commands that need them.
"""

from __future__ import annotations

import contextlib
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
    escape,
    json_option,
    make_table,
    open_registry,
    parse_pairs,
    print_json,
    print_metrics,
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
            except BrokenPipeError:  # `zoo ... | head` closed the pipe: nothing left to say
                _quiet_broken_pipe()
            except Exception as exc:  # a bug in zoo or a plugin: still one line unless debugging
                known = _library_error_message(exc)
                if known is not None:
                    _fail(known, 1)
                if os.environ.get("ZOO_DEBUG"):
                    raise
                _fail(f"{type(exc).__name__}: {exc} (set ZOO_DEBUG=1 for the traceback)", 1)


def _fail(message: str, code: int) -> None:
    # Messages echo user input (names, refs, column headers): escaped, never markup.
    err_console.print(f"[bold red]Error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(code)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    err_console.print(f"[yellow]Warning:[/] {escape(message)}", highlight=False, soft_wrap=True)


def _quiet_broken_pipe() -> None:
    """Exit without a word when the reader of stdout has gone (128 + SIGPIPE, as a shell
    tool killed by the signal); stdout goes to /dev/null so the exit flush cannot fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (a test runner's stream)
        pass
    sys.exit(141)


def _library_error_message(exc: Exception) -> str | None:
    """One deliberate line for errors libraries raise on bad input: a damaged compressed
    file (a bundle, a zip-based artifact) and a parameter value scikit-learn rejects at fit
    time (``--param alpha=abc``); ``None`` for any other error."""
    import zipfile
    import zlib

    if isinstance(exc, (zlib.error, zipfile.BadZipFile)) or (
            isinstance(exc, EOFError) and "compressed" in str(exc)):
        return (f"a compressed file is damaged or truncated ({exc}); make it again "
                "(e.g. `zoo export`) and copy it whole")
    if type(exc).__name__ == "InvalidParameterError":  # sklearn's, by name: no import
        return f"bad parameter value: {exc} Fix the --param value"
    return None


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
    table = make_table("name", "version", "licence", "status", "hooks", title="Plugins",
                       drop=("hooks", "licence"))
    for info in infos:
        status = "[green]ok[/]" if not info.error else f"[red]broken[/]: {escape(info.error)}"
        table.add_row(escape(info.name), escape(info.version), escape(info.licence), status,
                      escape(", ".join(info.hooks)))
    console.print(table if infos else "No plugins installed. Try: zoo install ./plugins/zoo-sklearn")
    for c in conflicts:
        err_console.print(
            f"[yellow]Warning:[/] {escape(c['refused'])} also provides {escape(c['kind'])} "
            f"{escape(c['name'])}; {escape(c['kept'])} keeps it"
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
    if not yes and not sys.stdin.isatty():
        raise ZooError(f"zoo uninstall asks before removing {' '.join(packages)}, and there is no "
                       "terminal to answer: add -y to uninstall without asking")
    confirm(f"Uninstall {', '.join(packages)}?", yes)
    _run_pip([sys.executable, "-m", "pip", "uninstall", "-y", *packages])


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
        console.print(f"[bold]{escape(info['name'])}[/] ({escape(info['kind'])}, {escape(info['task'])}) "
                      f"from {escape(info['plugin'])} {escape(info['plugin_version'])}{escape(licence)}\n"
                      f"{escape(info['description'], newlines=True)}")
        table = make_table("parameter", "default", title="Parameters")
        for key, value in info["params"].items():
            table.add_row(escape(key), escape(repr(value)))
        console.print(table)
        return
    items = [c.as_dict() for c in catalogue.of_kind(kind)]
    if as_json:
        print_json(items)
        return
    table = make_table("name", "kind", "task", "plugin", "licence", "description", title="Components",
                       drop=("licence", "plugin", "task"))
    for c in items:
        table.add_row(*map(escape, (c["name"], c["kind"], c["task"], f"{c['plugin']} {c['plugin_version']}",
                                    c["licence"], c["description"])))
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
@click.option("--features", metavar="A,B,...", help="Learn from these columns only.")
@click.option("--drop", metavar="A,B,...", help="Columns not to learn from (IDs, leaks, ...).")
@click.option("--drop-missing-target", is_flag=True, help="Drop rows whose target is missing.")
@json_option
@click.pass_context
def train(ctx: click.Context, component: str, data: str, target: str | None, name: str,
          params: tuple[str, ...], tags: tuple[str, ...], test_size: float, seed: int,
          description: str | None, features: str | None, drop: str | None,
          drop_missing_target: bool, as_json: bool) -> None:
    """Train COMPONENT on DATA (CSV or Parquet), hold out a test split and register a version.

    Columns may hold numbers, true/false, text categories, dates and missing values.
    """
    from zoo.catalogue import build_catalogue
    from zoo.data import choose_columns, read_table
    from zoo.models import train_and_register

    info = build_catalogue().get(component)
    param_values = parse_pairs(params, "--param")
    tag_values = {k: str(v) for k, v in parse_pairs(tags, "--tag").items()}
    info.create(**param_values)  # reject unknown parameters before reading any data
    registry = open_registry(ctx)
    with progress_steps() as step:
        df = choose_columns(read_table(data), target, features, drop, drop_missing_target)
        version, result = train_and_register(
            registry, info, df, target, name=name, params=param_values, test_size=test_size,
            seed=seed, tags=tag_values, description=description, step=step)
    if as_json:
        print_json(version)
        return
    console.print(f"Registered [bold]{version['ref']}[/] ({info.name}, "
                  f"{result.n_train} train / {result.n_test} test rows)")
    print_metrics(version["metrics"])


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
    # Batches are reported once the file has scored, so a bad row late in a file records
    # none; past PENDING_ROWS the oldest go out early, to keep memory flat on huge files.
    pending: list[tuple[Any, Any, float]] = []

    def scored(status: Any) -> Iterator[Any]:
        nonlocal seconds
        done = 0
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
            pending.append((chunk, out, elapsed))
            while sum(len(c) for c, _, _ in pending) > PENDING_ROWS and len(pending) > 1:
                batch_predicted(registry, version, *pending.pop(0))
            done += len(chunk)
            status.update(f"scored {done:,} rows with {escape(version['ref'])}")
            yield out

    # Progress only when the rows go to a file: a live display would capture stdout's rows.
    with (err_console.status(f"reading {escape(data)}") if output else _NoStatus()) as status:
        rows = write_chunks(scored(status), output, as_json)
    for chunk, out, elapsed in pending:
        batch_predicted(registry, version, chunk, out, elapsed)
    if note:
        err_console.print(note, highlight=False, soft_wrap=True)
    if output:
        err_console.print(f"Wrote {rows} rows to {output} ({version['ref']}, {seconds:.3f} s scoring)")


#: Rows of scored batches ``zoo predict`` holds back until the whole file has scored.
PENDING_ROWS = 250_000


class _NoStatus(contextlib.nullcontext):
    """What ``err_console.status`` gives, doing nothing (rows go to stdout)."""

    def __enter__(self) -> _NoStatus:
        return self

    def update(self, _text: str) -> None:
        pass


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
    try:
        cli()
    finally:
        try:  # output still buffered when the reader of a pipe has gone
            sys.stdout.flush()
        except BrokenPipeError:
            _quiet_broken_pipe()
