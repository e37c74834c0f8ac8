"""Zoo plugin: ``zoo ui``, a read-only registry browser in the web browser.

Datasette serves the registry file (opened read-only) with its table browser, JSON API and
SQL; ``zoo_ui.datasette_plugin`` adds the model-centric pages under ``/zoo``: models,
a model, a version, compare, monitoring and A/B experiments.

This is the entry module, imported whenever the ``zoo`` CLI starts: it imports neither
datasette nor anything heavy (the command loads them when it runs).
"""

from __future__ import annotations

from typing import Any

from zoo import hookimpl


@hookimpl
def register_commands(cli: Any) -> None:
    """Add the ``zoo ui`` command."""
    from zoo_ui.commands import ui

    cli.add_command(ui)
