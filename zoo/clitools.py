"""Helpers for commands, the built-in ones and plugins' alike: output (rich tables, JSON,
streamed tables, plots), options, progress and the registry the command line names.

This is the public API for plugin commands (see docs/plugins.md); like ``zoo.cli`` it
imports only click at the top, so ``zoo --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from zoo.errors import ZooError

if TYPE_CHECKING:
    from rich.table import Table


class LazyConsole:
    """A rich ``Console`` made on first use: importing rich.console costs 30-50 ms, and
    ``zoo --help`` (click's own formatting) never needs it."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Any = None

    @property
    def real(self) -> Any:
        """The rich ``Console`` itself (made now if it was not yet)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    # `with console:` (rich's Live and Progress do it) looks dunders up on the type.
    def __enter__(self) -> Any:
        return self.real.__enter__()

    def __exit__(self, *exc_info: Any) -> None:
        self.real.__exit__(*exc_info)


console = LazyConsole()
err_console = LazyConsole(stderr=True)


def open_registry(ctx: click.Context) -> Any:
    """The registry named by --registry / $ZOO_REGISTRY, opened on first use."""
    from zoo import Registry

    obj = ctx.find_root().obj
    if "registry" not in obj:
        obj["registry"] = Registry(obj["registry_path"])
        ctx.find_root().call_on_close(obj["registry"].close)
    return obj["registry"]


def make_table(*columns: str, title: str | None = None) -> Table:
    """A rich table whose first column (a name or ref) never wraps; others fold when narrow."""
    from rich.table import Table

    table = Table(title=title)
    for i, column in enumerate(columns):
        table.add_column(column, no_wrap=i == 0, overflow="fold")
    return table


def json_option(f: Any) -> Any:
    """The ``--json`` flag (as the ``as_json`` argument): print JSON instead of a table."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(f)


@contextmanager
def progress_steps(first: str = "reading data") -> Iterator[Callable[[str], None]]:
    """A transient spinner on stderr for long work; yields ``step(label)`` naming each stage."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=err_console, transient=True) as progress:
        task = progress.add_task(first, total=None)
        yield lambda label: progress.update(task, description=label)


def yes_option(f: Any) -> Any:
    """The ``-y/--yes`` flag (as the ``yes`` argument) of a command that asks before it destroys."""
    return click.option("-y", "--yes", is_flag=True, help="Don't ask for confirmation.")(f)


def confirm(question: str, yes: bool) -> None:
    """Ask ``question`` unless ``--yes`` was given; a "no" aborts the command."""
    if not yes:
        click.confirm(question, abort=True)


def print_json(data: Any) -> None:
    """``data`` as indented JSON on stdout (values JSON cannot hold, as text)."""
    import json

    click.echo(json.dumps(data, indent=2, default=str))


def write_chunks(chunks: Iterable[Any], output: str | None, as_json: bool = False) -> int:
    """Write DataFrames as they are produced; returns the rows written.

    To ``output`` (CSV or Parquet by suffix, see ``zoo.data.TableWriter``), else to stdout
    as CSV with one header, or with ``as_json`` as one JSON array: memory holds one chunk.
    """
    from zoo.data import TableWriter

    writer = TableWriter(output) if output else None
    rows, n = 0, -1
    try:
        for n, out in enumerate(chunks):
            if writer is not None:
                writer.write(out)
            elif as_json:
                click.echo(("[" if n == 0 else ",") + out.to_json(orient="records")[1:-1], nl=False)
            else:
                click.echo(out.to_csv(index=False, header=n == 0), nl=False)
            rows += len(out)
    finally:
        if writer is not None:
            writer.close()
    if as_json and writer is None:
        click.echo("[]" if n < 0 else "]")
    return rows


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend (files only, no display), imported on first use;
    a one-line error when matplotlib is not installed."""
    try:
        import matplotlib
    except ImportError:
        raise ZooError("plots need matplotlib: pip install matplotlib") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def parse_pairs(pairs: tuple[str, ...], what: str) -> dict[str, Any]:
    """``key=value`` strings to a dict; values parse as JSON (numbers, true, null) when they can."""
    import json

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ZooError(f"{what} {pair!r} is not key=value; write it like max_depth=5")
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out
