"""Helpers shared by tests that run the real `zoo` commands in-process.

On pytest's pythonpath (see pyproject.toml), so a test module writes
`from zootest import zoo, one_line_error`.
"""

from click.testing import CliRunner

from zoo.cli import cli


def zoo(*args, ok=True):
    """The real `zoo` command in-process; stdout and stderr are both in ``.output``."""
    result = CliRunner().invoke(cli, list(map(str, args)))
    if ok:
        assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def one_line_error(result) -> str:
    """The single `Error:` line of a failed command: non-zero exit, no traceback."""
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = [ln for ln in result.output.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1, result.output
    return lines[0]


def needs_plugin(name):
    """Skip the calling test unless plugin ``name`` is loaded: kernel tests that borrow an
    installed plugin's components still pass with ``ZOO_LOAD_PLUGINS=`` (no plugins)."""
    import pytest

    from zoo.plugins import get_plugins

    info = get_plugins().infos.get(name)
    if info is None or info.error:
        pytest.skip(f"needs the {name} plugin")
