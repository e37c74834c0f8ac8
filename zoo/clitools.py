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

            # emoji=False: a user string like ':a:' must print as typed, not as an emoji
            self._console = Console(emoji=False, **self._options)
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
    """The registry named by --registry / $ZOO_REGISTRY, opened on first use.

    A registry named explicitly whose directory does not exist is an error naming
    ``zoo init``: a typo in a path must not silently create folders and an empty registry.
    """
    from pathlib import Path

    from zoo import Registry

    obj = ctx.find_root().obj
    if "registry" not in obj:
        path = obj.get("registry_path")
        if path and not Path(path).expanduser().absolute().parent.is_dir():
            raise ZooError(f"no registry directory {escape(str(Path(path).expanduser().parent))}: "
                           f"create the registry with `zoo --registry {escape(path)} init`, or fix the path")
        obj["registry"] = Registry(path)
        ctx.find_root().call_on_close(obj["registry"].close)
    return obj["registry"]


#: Characters shown as escapes rather than sent to the terminal: control characters (ESC
#: starts terminal sequences, CR rewrites a line), format characters (bidi overrides reorder
#: what follows) and line/paragraph separators.
_HIDDEN_CATEGORIES = ("Cc", "Cf", "Zl", "Zp")


def escape(value: Any, newlines: bool = False) -> str:
    """``value`` as text safe to hand to rich: markup is escaped (``[/b]`` prints as typed)
    and control characters are shown escaped (``\\x1b``). ``newlines=True`` keeps line breaks
    (free text such as descriptions); otherwise they show as ``\\n`` so a value cannot fake
    a table row. Apply it to every user-supplied string a command prints through rich."""
    import unicodedata

    from rich.markup import escape as escape_markup

    text = str(value)
    if not text.isprintable():
        out = []
        for ch in text:
            if newlines and ch == "\n":
                out.append(ch)
            elif unicodedata.category(ch) in _HIDDEN_CATEGORIES:
                code = ord(ch)
                out.append(repr(ch)[1:-1] if code < 0x80 else
                           f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
            else:
                out.append(ch)
        text = "".join(out)
    return escape_markup(text)


def make_table(*columns: str, title: str | None = None, drop: Iterable[str] = ()) -> Table:
    """A rich table that fits the console's width, piped output (80 columns) included.

    When the rows are too wide, the optional columns named in ``drop`` are left out, in that
    order, until the rest fits whole or none is left; then the widest columns are cut with an
    ellipsis, down to a common width but never below 8 characters (or the column's own width
    when narrower), so no cell wraps into a column of a few letters; the first column is cut
    last. If even that does not fit, the rightmost columns are left out (never the first). A
    caption names the columns left out. Cells are rich markup: pass user-supplied text
    through ``escape``.
    """
    table = _fitted_table_class()(title=title)
    table.drop_order = list(drop)
    for column in columns:
        table.add_column(column, no_wrap=True, overflow="ellipsis")
    return table


#: The narrowest a column is cut to (a narrower column is as wide as its widest cell).
MIN_COLUMN = 8


def _fitted_table_class() -> type:
    """``FittedTable``, made on first use so that importing this module does not import rich."""
    global _FITTED
    if _FITTED is not None:
        return _FITTED
    from rich.measure import Measurement
    from rich.table import Table as RichTable

    class FittedTable(RichTable):
        drop_order: list[str] = []

        def __rich_console__(self, console: Any, options: Any) -> Any:
            fitted = self._fit(console, options)
            return RichTable.__rich_console__(fitted, console, options)

        def _fit(self, console: Any, options: Any) -> Any:
            names = [str(c.header) for c in self.columns]
            natural = []
            for column in self.columns:
                cells = [column.header, *column.cells]
                natural.append(max(Measurement.get(console, options, console.render_str(c) if
                                                   isinstance(c, str) else c).maximum for c in cells))
            floor = [min(n, MIN_COLUMN) for n in natural]
            keep = list(range(len(self.columns)))

            def room(kept: list[int]) -> int:
                # Each column has a space of padding either side and a rule before it.
                return options.max_width - (1 if self.show_edge else -1) - 3 * len(kept)

            # Optional columns go first, while the table does not fit whole.
            for name in self.drop_order:
                if name in names and sum(natural[i] for i in keep) > room(keep):
                    keep.remove(names.index(name))
            # Then the rightmost while even cut columns would not fit (never the first).
            while len(keep) > 1 and sum(floor[i] for i in keep) > room(keep):
                keep.pop()
            widths = {i: natural[i] for i in keep}
            # Cut the widest of the other columns first, down to a common level but never
            # below their floor; the first column (the name or ref a row is about) last.
            while sum(widths.values()) > room(keep):
                pool = [i for i in keep[1:] if widths[i] > floor[i]] or [
                    i for i in keep[:1] if widths[i] > floor[i]]
                if not pool:
                    break
                widths[max(pool, key=lambda i: widths[i])] -= 1
            fitted = RichTable(title=self.title, caption=self.caption, box=self.box,
                               show_header=self.show_header, show_edge=self.show_edge)
            for i in keep:
                column = self.columns[i]
                fitted.add_column(column.header, width=widths[i], no_wrap=True, overflow="ellipsis",
                                  justify=column.justify, style=column.style)
            for r, row in enumerate(self.rows):
                fitted.add_row(*(self.columns[i]._cells[r] for i in keep), style=row.style)
            left_out = [names[i] for i in range(len(names)) if i not in keep]
            if left_out:
                fitted.caption = (f"not shown at this width: {', '.join(escape(n) for n in left_out)} "
                                  "(widen the terminal or use --json)")
            return fitted

    _FITTED = FittedTable
    return FittedTable


_FITTED: type | None = None


def json_option(f: Any) -> Any:
    """The ``--json`` flag (as the ``as_json`` argument): print JSON instead of a table."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(f)


@contextmanager
def progress_steps(first: str = "reading data") -> Iterator[Callable[[str], None]]:
    """A transient spinner on stderr for long work; yields ``step(label)`` naming each stage.

    Only on a terminal: elsewhere (a pipe, a log file) the spinner has nothing to animate
    and its clean-up would leave a blank line."""
    if not err_console.is_terminal:
        yield lambda label: None
        return
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

    To ``output`` (CSV or Parquet by suffix, see ``zoo.data.TableWriter``: renamed into place
    only once every chunk is written), else to stdout as CSV with one header, or with
    ``as_json`` as one JSON array: memory holds one chunk.
    """
    from zoo.data import TableWriter

    writer = TableWriter(output) if output else None
    rows, n, complete = 0, -1, False
    try:
        for n, out in enumerate(chunks):
            if writer is not None:
                writer.write(out)
            elif as_json:
                click.echo(("[" if n == 0 else ",") + out.to_json(orient="records")[1:-1], nl=False)
            else:
                click.echo(out.to_csv(index=False, header=n == 0), nl=False)
            rows += len(out)
        complete = True
    finally:
        if writer is not None:
            writer.close(complete)  # a failed or interrupted run leaves no partial file
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


def format_value(value: Any, spec: str = ".4g") -> str:
    """A metric, param or version number for a table cell ("" for none)."""
    return "" if value is None else format(value, spec) if isinstance(value, float) else str(value)


def print_metrics(metrics: dict[str, float], title: str = "Held-out metrics") -> None:
    """A version's metrics as a two-column table (nothing when it has none)."""
    if metrics:
        table = make_table("metric", "value", title=title)
        for key, value in metrics.items():
            table.add_row(escape(key), escape(format_value(value, ".4f")))
        console.print(table)
