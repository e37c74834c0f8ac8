"""Zoo plugin: ``zoo serve REF [REF ...]``, an HTTP prediction service for registered versions.

Several models per process; ``name@alias`` refs follow their alias (swapped atomically,
in-flight requests finish on the old version); concurrent requests to one version are
scored together (adaptive micro-batching); batch summaries reach monitors through
``batch_predicted`` once a second, never a write per request; zoo-ab's experiments route
requests by unit (``serve_route``) and record outcomes (``serve_outcome``).

This is the entry module, imported whenever the ``zoo`` CLI starts: it imports neither
Starlette nor numpy (``zoo_serve.command`` and the modules it runs do).
"""

from __future__ import annotations

from typing import Any

from zoo import hookimpl


@hookimpl
def register_commands(cli: Any) -> None:
    """Add ``zoo serve``."""
    from zoo_serve.command import serve

    cli.add_command(serve)
