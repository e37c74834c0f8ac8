"""``zoo ui``: serve the registry browser on 127.0.0.1."""

from __future__ import annotations

import os
from pathlib import Path

import click

from zoo import ZooError


@click.command()
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535),
              help="Port on 127.0.0.1 (0 picks a free one).")
@click.pass_context
def ui(ctx: click.Context, port: int) -> None:
    """Browse the registry in a web browser: models, versions, plots, lineage, monitoring, A/B.

    Read-only and local: it binds 127.0.0.1 and never writes to the registry. Datasette's
    table browser, JSON API and SQL are at / and the zoo pages at /zoo; every page has a
    JSON twin (?_format=json). It can run next to `zoo serve` on another port.
    """
    path = _registry_path(ctx)
    if not path.is_file():
        raise ZooError(f"no registry at {path}: train a model first (zoo train), or point "
                       "--registry or $ZOO_REGISTRY at an existing registry file")
    import socket

    import uvicorn

    from zoo_ui.app import make_app
    from zoo_ui.pages import ReadOnlyStore

    ReadOnlyStore(path).close()  # a file that is not a registry fails here, in one line
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        raise ZooError(f"cannot listen on 127.0.0.1:{port} ({exc.strerror}): pick another --port") from None
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/zoo"
    click.echo(f"zoo ui: {url} (read-only view of {path}; Ctrl-C stops it)", err=True)
    config = uvicorn.Config(make_app(path).app(), log_level="warning", lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])


def _registry_path(ctx: click.Context) -> Path:
    obj = ctx.find_root().obj or {}
    path = obj.get("registry_path") or os.environ.get("ZOO_REGISTRY")
    if not path:
        import platformdirs

        path = Path(platformdirs.user_data_dir("zoo")) / "registry.db"  # Store's default
    return Path(path).expanduser().absolute()
