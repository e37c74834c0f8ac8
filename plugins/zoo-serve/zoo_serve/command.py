"""``zoo serve REF [REF ...]``: the command. Starlette and uvicorn are imported when it runs."""

from __future__ import annotations

import re
import signal

import click

from zoo import ZooError
from zoo.clitools import err_console, open_registry

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|k|mb|m|gb|g)?\s*$", re.I)


@click.command()
@click.argument("refs", nargs=-1, required=True, metavar="REF [REF...]")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 opens it to the network: set a token).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--token", envvar="ZOO_SERVE_TOKEN", metavar="TOKEN",
              help="Require 'Authorization: Bearer TOKEN' on model endpoints and /metrics "
                   "(default: $ZOO_SERVE_TOKEN).")
@click.option("--max-batch", default=64, show_default=True, type=click.IntRange(1, 100_000),
              help="Rows scored together from concurrent requests; 1 turns micro-batching off.")
@click.option("--max-wait-ms", default=2.0, show_default=True, type=click.FloatRange(0, 1000),
              help="Longest a request waits for others to share its batch.")
@click.option("--max-body", default="1MB", show_default=True, metavar="SIZE",
              help="Largest request body (e.g. 512KB, 10MB); larger ones get 413.")
@click.option("--poll", default=1.0, show_default=True, type=click.FloatRange(0, 3600),
              help="Seconds between checks of followed aliases (0: never follow).")
@click.option("--no-monitor", is_flag=True,
              help="Do not report batch summaries to monitors (zoo-monitor's batches).")
@click.option("--log-level", default="warning", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
@click.pass_context
def serve(ctx: click.Context, refs: tuple[str, ...], host: str, port: int, token: str | None,
          max_batch: int, max_wait_ms: float, max_body: str, poll: float, no_monitor: bool,
          log_level: str) -> None:
    """Serve model REFs over HTTP (name, name:3 or name@alias; several models at once).

    POST /v1/models/NAME/predict scores JSON records or CSV; name@alias refs follow their
    alias without a restart. GET /openapi.json documents every endpoint, /health and /ready
    are probes, /metrics is Prometheus text. Stops cleanly on SIGTERM or Ctrl-C.
    """
    import gc

    from zoo_serve.app import Server

    limit = _size(max_body)
    if token is not None and not token.strip():
        raise ZooError("--token is empty: give a secret, or leave it out to serve without one")
    registry = open_registry(ctx)
    server = Server(registry, list(refs), token=token, max_batch=max_batch,
                    max_wait=max_wait_ms / 1000, max_body=limit, poll=poll, monitor=not no_monitor)
    if host not in ("127.0.0.1", "localhost", "::1") and token is None:
        err_console.print(f"[yellow]Warning:[/] serving on {host} without --token: anyone who reaches "
                          "this port can use the models", highlight=False)
    # Everything loaded so far lives as long as the server: keep it out of the collector's
    # full passes, whose pauses (tens of ms) otherwise set the tail latency.
    gc.collect()
    gc.freeze()
    for ref, slot in server.slots.items():
        err_console.print(f"Serving {ref} ({slot.loaded.ref}) at http://{host}:{port}/v1/models/"
                          f"{slot.name if server.by_name[slot.name] is slot else ref}/predict",
                          highlight=False, soft_wrap=True)
    _run(server.app(), host, port, log_level)


def _run(app: object, host: str, port: int, log_level: str) -> None:
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False,
                            loop=_loop(), http=_http(), lifespan="on", timeout_graceful_shutdown=30,
                            server_header=False)
    server = uvicorn.Server(config)
    stopped: list[int] = []
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then raises the signal again through
    # the handlers it found: these make that a clean exit (status 0) instead of a kill.
    previous = {sig: signal.signal(sig, lambda number, _frame: stopped.append(number))
                for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not server.started:
        raise ZooError(f"could not listen on {host}:{port} (is the port taken?): pick another --port")
    if stopped:
        err_console.print(f"Stopped on {signal.Signals(stopped[0]).name} after finishing the requests "
                          "in flight", highlight=False)


def _loop() -> str:
    try:
        import uvloop  # noqa: F401

        return "uvloop"
    except ImportError:
        return "asyncio"


def _http() -> str:
    try:
        import httptools  # noqa: F401

        return "httptools"
    except ImportError:
        return "h11"


def _size(text: str) -> int:
    match = _SIZE.match(text)
    if not match:
        raise ZooError(f"--max-body {text!r} is not a size: write it like 512KB or 10MB")
    number, unit = float(match.group(1)), (match.group(2) or "b").lower()
    scale = {"b": 1, "k": 1 << 10, "kb": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "g": 1 << 30, "gb": 1 << 30}
    size = int(number * scale[unit])
    if size < 1:
        raise ZooError("--max-body must be at least 1 byte")
    return size

