"""The web app of ``zoo ui``: Datasette on the registry file, opened read-only, with the zoo
pages of ``zoo_ui.datasette_plugin``.

Read-only twice over: every connection Datasette opens to the registry (including the one
it would use for writes) is SQLite ``mode=ro`` with ``query_only``, and the plugin denies
Datasette's write actions. Not ``immutable``: a live registry changes while the UI runs, and
an immutable database would ignore the WAL and count rows once.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from datasette.app import Datasette
from datasette.database import Database

DATABASE = "registry"


class ReadOnlyDatabase(Database):
    """A Datasette database whose every connection, the write one too, is read-only."""

    def connect(self, write: bool = False) -> sqlite3.Connection:
        """A ``mode=ro`` connection with ``query_only`` on, whatever ``write`` asks for."""
        conn = super().connect(write=False)
        conn.execute("PRAGMA query_only = ON")
        return conn


def make_app(registry: str | Path) -> Datasette:
    """Datasette serving ``registry`` read-only with the zoo pages; ``.app()`` is the ASGI app."""
    path = Path(registry).expanduser().absolute()
    ds = Datasette(
        metadata={"title": "zoo registry", "plugins": {"zoo-ui": {"registry": str(path)}}},
        settings={"allow_download": False, "default_page_size": 50, "sql_time_limit_ms": 2000},
    )
    ds.add_database(ReadOnlyDatabase(ds, path=str(path), is_mutable=True), name=DATABASE)
    return ds


def asgi_app(registry: str | Path) -> Any:
    """The ASGI application of ``make_app``."""
    return make_app(registry).app()
