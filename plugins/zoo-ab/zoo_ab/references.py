"""What zoo-ab needs of registered versions: the arms of running experiments.

``zoo delete`` asks every plugin (``version_references``) before it deletes a version, so
an arm of a running A/B test is not deleted from under ``zoo ab predict`` and ``zoo serve``
unless the user forces it. Arms are stored as fixed ``name:N`` refs (``zoo_ab.experiment``).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from zoo import hookimpl


@hookimpl
def version_references(registry: Any, version: dict[str, Any]) -> list[str]:
    """The running experiments whose arms serve ``version``, one line each."""
    with registry.read() as conn:  # inside the delete's own write transaction
        try:
            rows = conn.execute("SELECT name, config FROM experiments WHERE status = 'running' "
                                "ORDER BY id").fetchall()
        except sqlite3.OperationalError as exc:  # a registry zoo-ab never opened
            if "no such table" in str(exc):
                return []
            raise
    found = []
    for name, text in rows:
        try:
            arms = json.loads(text).get("arms") or {}
        except (ValueError, AttributeError):
            continue  # not a config zoo-ab wrote: nothing it could route to
        found += [f"arm {arm} of running A/B experiment {name}"
                  for arm, ref in arms.items() if ref == version["ref"]]
    return found
