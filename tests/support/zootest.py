"""Helpers shared by the tests of the kernel and of the plugins: the real `zoo` commands
in-process, and registry files read or built as an older zoo wrote them.

On pytest's pythonpath (see pyproject.toml), so a test module writes
`from zootest import zoo, one_line_error`.
"""

import os
import sqlite3
import subprocess
import sys
from contextlib import closing, contextmanager
from pathlib import Path

from click.testing import CliRunner

from zoo.cli import cli

#: The registry's released schema step m007 (batches, alerts, experiments, outcomes), from
#: before zoo-monitor and zoo-ab owned those tables.
#: A registry written by zoo 0.1.0 (commit 3d02e90), before plugins owned their tables: its core
#: step m007 made batches, alerts, experiments and outcomes. Models churn and m, two versions each.
OLD_REGISTRY = Path(__file__).resolve().parents[1] / "registry" / "data" / "zoo-0.1.0-m007" / "registry.db"


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


def version_count(registry_path) -> int:
    """How many versions the registry file holds (0 when it does not exist yet), read with
    sqlite3 alone so that counting never creates or migrates a registry."""
    if not registry_path.exists():
        return 0
    with closing(sqlite3.connect(registry_path)) as conn:
        return conn.execute("SELECT count(*) FROM versions").fetchone()[0]


def old_registry(path, name: str) -> None:
    """A copy at ``path`` of the registry zoo 0.1.0 wrote (``OLD_REGISTRY``, artifacts
    included), whose model ``name`` ("churn" or "m") has two versions. The caller adds rows
    to the old tables as that zoo did."""
    import shutil

    assert name in ("churn", "m"), name
    shutil.copyfile(OLD_REGISTRY, path)
    shutil.copytree(OLD_REGISTRY.parent / "registry-artifacts",
                    Path(path).parent / f"{Path(path).stem}-artifacts")


def registry_without(path, plugin: str) -> None:
    """A new registry at ``path``, made in a fresh process with ``plugin`` disabled (so none
    of that plugin's schema steps ran)."""
    code = "import sys; from zoo import Registry; Registry(sys.argv[1]).close()"
    env = {**os.environ, "ZOO_DISABLE_PLUGINS": plugin}
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, env=env, timeout=120)


def table_schema(path, tables: tuple[str, ...]) -> dict[str, str]:
    """The CREATE statement of each of ``tables`` and of their indexes, by name."""
    marks = ", ".join("?" for _ in tables)
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute(f"SELECT name, sql FROM sqlite_master WHERE tbl_name IN ({marks}) "
                            "AND sql IS NOT NULL", tables).fetchall()
    return dict(rows)


def recorded_migrations(path) -> list[tuple[str, str]]:
    """``(migration set, step name)`` of every schema step applied to the registry, in order."""
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute("SELECT migration_set, name FROM _sqlite_migrations ORDER BY id").fetchall()


def needs_plugin(name):
    """Skip the calling test unless plugin ``name`` is loaded: kernel tests that borrow an
    installed plugin's components still pass with ``ZOO_LOAD_PLUGINS=`` (no plugins)."""
    import pytest

    from zoo.plugins import get_plugins

    info = get_plugins().infos.get(name)
    if info is None or info.error:
        pytest.skip(f"needs the {name} plugin")


def assert_plugin_tables_match_m007(tmp_path, tables: tuple[str, ...]) -> None:
    """A new registry, whose ``tables`` a plugin's own schema step made, has them exactly as the
    released core step m007 made them (same CREATE statements, indexes included)."""
    from zoo import Registry

    legacy, new = tmp_path / "old.db", tmp_path / "new.db"
    old_registry(legacy, "m")
    Registry(new).close()
    made = table_schema(new, tables)
    assert made == table_schema(legacy, tables) and set(made) >= set(tables)


@contextmanager
def enabled_later(tmp_path, plugin: str, tables: tuple[str, ...], step: str):
    """A registry made while ``plugin`` was disabled (none of its ``tables``, none of its schema
    steps), then opened with the plugin enabled: yields that ``zoo.Registry``, whose opening
    ran the plugin's ``step`` and made its tables."""
    from zoo import Registry

    path = tmp_path / "registry.db"
    registry_without(path, plugin)
    assert table_schema(path, tables) == {}  # the core creates none of them
    assert not any(s == plugin for s, _ in recorded_migrations(path))
    with Registry(path) as reg:  # the plugin is enabled: its step runs on open
        assert (plugin, step) in recorded_migrations(path)
        assert set(table_schema(path, tables)) >= set(tables)
        yield reg
