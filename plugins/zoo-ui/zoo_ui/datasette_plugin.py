"""The Datasette plugin: zoo's model-centric pages under ``/zoo``, and the registry kept
read-only.

Each page is ``/zoo/...`` as HTML and ``/zoo/...?_format=json`` as JSON (the same dict).
Pages read through ``zoo_ui.pages`` on a read-only store, one per Datasette worker thread,
so the event loop never waits on SQLite. Templates autoescape (Datasette's Jinja
environment); chart specs go into ``<script type="application/json">`` through ``tojson``,
which escapes ``<``, ``>``, ``&`` and quotes.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from datasette import Response, hookimpl

#: Datasette's write actions (1.0's write API, table edits): never allowed on the registry.
WRITE_ACTIONS = frozenset({"insert-row", "delete-row", "update-row", "upsert-row", "create-table",
                           "drop-table", "alter-table", "create-query", "edit-query"})
PLUGIN = "zoo-ui"
_local = threading.local()


@hookimpl
def permission_allowed(action: str) -> bool | None:
    """Deny every write action, whoever asks."""
    return False if action in WRITE_ACTIONS else None


@hookimpl
def prepare_jinja2_environment(env: Any) -> None:
    """Find the zoo templates (zoo_*.html) after the user's and Datasette's own."""
    from jinja2 import ChoiceLoader, FileSystemLoader

    env.loader = ChoiceLoader([env.loader, FileSystemLoader(str(Path(__file__).parent / "templates"))])


@hookimpl
def startup(datasette: Any) -> None:
    """Start building the chart script so the first chart does not wait for it."""
    from zoo_ui import charts

    charts.warm_up()


@hookimpl
def extra_template_vars() -> dict[str, Any]:
    """Link helpers for the zoo templates."""
    return {"zoo_url": zoo_url}


@hookimpl
def menu_links(datasette: Any) -> list[dict[str, str]]:
    """The zoo pages in Datasette's menu."""
    return [{"href": datasette.urls.path("/zoo"), "label": "Zoo models"},
            {"href": datasette.urls.path("/zoo/ab"), "label": "Zoo A/B experiments"}]


@hookimpl
def register_routes() -> list[tuple[str, Any]]:
    """The zoo pages."""
    name = r"(?P<name>[A-Za-z0-9][A-Za-z0-9_.\-]*)"
    return [
        (r"^/zoo/?$", models_view),
        (r"^/zoo/-/vega\.js$", vega_view),
        (r"^/zoo/-/charts\.js$", charts_js_view),
        (r"^/zoo/compare$", compare_view),
        (r"^/zoo/ab/?$", experiments_view),
        (rf"^/zoo/ab/{name}$", experiment_view),
        (rf"^/zoo/models/{name}$", model_view),
        (rf"^/zoo/models/{name}/monitoring$", monitoring_view),
        (rf"^/zoo/models/{name}/(?P<version>[0-9]{{1,9}})$", version_view),
        (rf"^/zoo/models/{name}@(?P<alias>[A-Za-z][A-Za-z0-9_.\-]*)$", alias_view),
        (rf"^/zoo/models/{name}/(?P<version>[0-9]{{1,9}})/files/(?P<file>[^/]+)$", artifact_view),
    ]


def zoo_url(path: str, **query: Any) -> str:
    """``/zoo/<path>`` with the non-empty ``query`` arguments (values percent-encoded)."""
    from urllib.parse import quote

    args = {k: v for k, v in query.items() if v not in (None, "")}
    url = "/zoo/" + quote(path.lstrip("/"), safe="/:@")
    return url + ("?" + urlencode(args) if args else "")


# --- running page functions ---


def registry_path(datasette: Any) -> Path:
    """The registry file: plugin config ``registry`` (``zoo ui`` sets it), else the first file
    database Datasette serves."""
    config = datasette.plugin_config(PLUGIN) or {}
    if config.get("registry"):
        return Path(config["registry"])
    for db in datasette.databases.values():
        if db.path:
            return Path(db.path)
    from zoo import ZooError

    raise ZooError("zoo-ui found no registry: serve a registry file (datasette registry.db)")


def _store(path: Path) -> Any:
    from zoo_ui.pages import ReadOnlyStore

    store = getattr(_local, "store", None)
    if store is None or store.path != path.absolute():
        store = ReadOnlyStore(path)
        _local.store = store
    return store


async def _run(datasette: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
    path = registry_path(datasette)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(datasette.executor, lambda: fn(_store(path), *args, **kwargs))


async def _page(datasette: Any, request: Any, template: str, fn: Any, *args: Any,
                extra: Any = None, **kwargs: Any) -> Response:
    """Run ``fn`` for the page's data; JSON with ``?_format=json``, else the template.
    Errors become one line on the page (404 for what does not exist, 400 for bad input)."""
    from zoo import NotFoundError, ZooError
    from zoo_ui.pages import clean, visible

    try:
        data = await _run(datasette, fn, *args, **kwargs)
    except NotFoundError as exc:
        return await _error(datasette, request, str(exc), 404)
    except ZooError as exc:
        return await _error(datasette, request, str(exc), 400)
    data = clean(data)
    if request.args.get("_format") == "json":
        return Response.json(data)
    data = visible(data)
    context = {"data": data, "charts": extra(data) if extra else [],
               "json_url": request.path + "?" + urlencode({**dict(parse_qsl(request.query_string)),
                                                            "_format": "json"})}
    html = await datasette.render_template(template, context, request=request)
    return Response.html(html, headers=_HEADERS)


async def _error(datasette: Any, request: Any, message: str, status: int) -> Response:
    if request.args.get("_format") == "json":
        return Response.json({"ok": False, "error": message}, status=status)
    html = await datasette.render_template("zoo_error.html", {"message": message, "status": status},
                                           request=request)
    return Response.html(html, status=status, headers=_HEADERS)


# Scripts only from this origin (the vega bundle compiles expressions, hence 'unsafe-eval');
# inline JSON data blocks are not scripts. Nothing is fetched from anywhere else.
_HEADERS = {"Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-eval'; "
                                       "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                                       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}


# --- views ---


async def models_view(datasette: Any, request: Any) -> Response:
    from zoo_ui import pages

    return await _page(datasette, request, "zoo_models.html", pages.models_page,
                       q=request.args.get("q", ""), where=request.args.get("where", ""),
                       after=request.args.get("after", ""))


async def model_view(datasette: Any, request: Any) -> Response:
    from zoo_ui import charts, pages

    def extra(data: dict[str, Any]) -> list[Any]:
        key = data["order"].lstrip("-")
        keys = [key.split(".", 1)[1]] if key.startswith("metrics.") else data["metric_keys"][:1]
        return [c for c in (charts.metric_trend(data["name"], data["versions"], k) for k in keys) if c]

    return await _page(datasette, request, "zoo_model.html", pages.model_page,
                       request.url_vars["name"], order=request.args.get("order", "-version"),
                       where=request.args.get("where", ""), cursor=request.args.get("cursor", ""),
                       extra=extra)


async def version_view(datasette: Any, request: Any) -> Response:
    from zoo_ui import charts, pages

    def extra(data: dict[str, Any]) -> list[Any]:
        return [c for c in [charts.metric_intervals(data["metrics"])] if c]

    return await _page(datasette, request, "zoo_version.html", pages.version_page,
                       request.url_vars["name"], int(request.url_vars["version"]), extra=extra)


async def alias_view(datasette: Any, request: Any) -> Response:
    """``/zoo/models/NAME@ALIAS``: a link that follows the alias, to the version it names now."""
    from zoo import NotFoundError

    ref = f"{request.url_vars['name']}@{request.url_vars['alias']}"
    try:
        version = await _run(datasette, lambda store: store.get(ref))
    except NotFoundError as exc:
        return await _error(datasette, request, str(exc), 404)
    target = zoo_url(f"models/{version['name']}/{version['version']}",
                     _format=request.args.get("_format"))
    return Response.redirect(target)


async def compare_view(datasette: Any, request: Any) -> Response:
    from zoo_ui import pages

    a, b = request.args.get("a", ""), request.args.get("b", "")
    if not a or not b:
        return await _error(datasette, request, "compare needs two versions: /zoo/compare?a=NAME:1&b=NAME:2",
                            400)
    return await _page(datasette, request, "zoo_compare.html", pages.compare_page, a, b)


async def monitoring_view(datasette: Any, request: Any) -> Response:
    from zoo_ui import charts, pages

    def extra(data: dict[str, Any]) -> list[Any]:
        return [c for c in [*charts.batches(data["batches"]), charts.health(data["health"]),
                            charts.drift(data["alerts"])] if c]

    return await _page(datasette, request, "zoo_monitoring.html", pages.monitoring_page,
                       request.url_vars["name"], extra=extra)


async def experiments_view(datasette: Any, request: Any) -> Response:
    from zoo_ui import pages

    return await _page(datasette, request, "zoo_experiments.html", pages.experiments_page)


async def experiment_view(datasette: Any, request: Any) -> Response:
    from zoo_ui import charts, pages

    def extra(data: dict[str, Any]) -> list[Any]:
        return [c for c in [charts.arms(data["arms"], data["metric"])] if c]

    return await _page(datasette, request, "zoo_experiment.html", pages.experiment_page,
                       request.url_vars["name"], extra=extra)


async def artifact_view(datasette: Any, request: Any) -> Response:
    """A stored file, its sha256 checked, with the content type of its suffix; never rendered
    as a page of this origin (SVG and HTML could carry scripts)."""
    from zoo import NotFoundError, ZooError
    from zoo_ui import pages

    file = request.url_vars["file"]
    try:
        body, kind = await _run(datasette, pages.artifact, request.url_vars["name"],
                                int(request.url_vars["version"]), file)
    except NotFoundError as exc:
        return Response.text(str(exc), status=404)
    except ZooError as exc:  # e.g. a corrupted artifact: its hash no longer matches
        return Response.text(str(exc), status=409)
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=3600",
               "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox"}
    if not kind.startswith("image/") or kind == "image/svg+xml":
        headers["Content-Disposition"] = "attachment" if kind == "application/octet-stream" else "inline"
    return Response(body, content_type=kind, headers=headers)


async def vega_view(datasette: Any, request: Any) -> Response:
    from zoo_ui import charts

    loop = asyncio.get_running_loop()
    body = await loop.run_in_executor(None, charts.vega_bundle)
    return Response(body, content_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "public, max-age=86400"})


async def charts_js_view(datasette: Any, request: Any) -> Response:
    body = (Path(__file__).parent / "static" / "charts.js").read_bytes()
    return Response(body, content_type="text/javascript; charset=utf-8")
