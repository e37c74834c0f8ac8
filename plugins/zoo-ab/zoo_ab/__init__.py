"""Zoo plugin: online A/B tests between registered versions (``zoo ab``).

Sticky routing by a hashed unit id, outcomes recorded in the registry (the plugin's own
tables, ``zoo_ab.store``), a report with intervals, a significance test and a recommendation,
a Thompson-sampling bandit and shadow mode. From Python::

    from zoo_ab import Experiment
    exp = Experiment.start(registry, "churn-q3", {"A": "churn@champion", "B": "churn@challenger"},
                           id_column="customer_id")
    scored = exp.predict(df)             # an `arm` column says which version scored each row
    exp.record(ids, converted)           # 0/1 or any number per unit
    exp.report()["recommendation"]

This is the entry module, imported whenever the ``zoo`` CLI starts: it imports neither
numpy nor pandas (``Experiment`` is loaded on first use).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zoo import hookimpl
from zoo_ab.references import version_references  # noqa: F401  (a hook implementation)
from zoo_ab.serving import serve_outcome, serve_route, shadow_scored  # noqa: F401  (hooks)

__all__ = ["Experiment"]


@hookimpl
def register_commands(cli: Any) -> None:
    """Add the ``zoo ab`` command group."""
    from zoo_ab.cli import ab

    cli.add_command(ab)


@hookimpl
def register_migrations(register: Callable[[str, Any], None]) -> None:
    """Create the ``experiments``, ``outcomes`` and ``shadow_batches`` tables
    (``zoo_ab.store.MIGRATIONS``)."""
    from zoo_ab.store import MIGRATIONS

    for name, statements in MIGRATIONS.items():
        register(name, statements)


def __getattr__(name: str) -> Any:
    if name == "Experiment":
        from zoo_ab.experiment import Experiment

        return Experiment
    raise AttributeError(f"module 'zoo_ab' has no attribute {name!r}")
