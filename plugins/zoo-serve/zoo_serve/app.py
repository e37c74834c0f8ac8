"""The HTTP application: a ``Server`` (what is served, and how) and its Starlette routes.

Routes (``{name}`` is a model name, optionally ``name@alias`` or ``name:3`` among the refs
served):

- ``POST /v1/models/{name}/predict``: JSON records/columns/instances or CSV; ``?interval=0.9``
  adds intervals or prediction sets; ``X-Zoo-Unit`` (or ``?unit=``) routes by experiment.
- ``POST /v1/models/{name}/outcomes``: ``{"unit": ..., "value": ...}`` (or a list under
  ``"outcomes"``), recorded once per unit by the experiment that routes the model.
- ``GET /v1/models``, ``GET /v1/models/{name}``, ``GET /openapi.json``.
- ``GET /health`` (alive), ``GET /ready`` (every ref loaded and verified), ``GET /metrics``.

Every error is JSON ``{"error": {"status", "message", "field"}}``; a bearer token, when set,
guards everything but ``/health`` and ``/ready``.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import math
import threading
import time
import warnings
from typing import Any

from zoo_serve.inputs import BadInput, parse
from zoo_serve.metrics import Metrics
from zoo_serve.reporting import Reporter
from zoo_serve.served import Loaded, ModelFailed, Slot


class Server:
    """The refs a process serves and its settings; ``app()`` is the ASGI application."""

    def __init__(self, registry: Any, refs: list[str], *, token: str | None = None,
                 max_batch: int = 64, max_wait: float = 0.002, max_body: int = 1 << 20,
                 poll: float = 1.0, monitor: bool = True) -> None:
        from zoo import ZooError

        self.registry = registry
        self.token = token.encode() if token else None
        self.max_batch, self.max_wait, self.max_body, self.poll = max_batch, max_wait, max_body, poll
        self.metrics = Metrics()
        self.reporter = Reporter(registry.path, monitor=monitor)
        self.slots: dict[str, Slot] = {}
        self.pinned: dict[str, Loaded] = {}  # versions experiments route to, by version ref
        self.loop: Any = None
        self.stopping = threading.Event()
        for ref in refs:
            if ref in self.slots:
                raise ZooError(f"{ref} is given twice: serve each ref once")
            self.slots[ref] = Slot(ref, self._load(registry, ref))
            self.metrics.served[ref] = self.slots[ref].loaded.ref
        self.by_name: dict[str, Slot] = {}
        for slot in self.slots.values():
            self.by_name.setdefault(slot.name, slot)

    def _load(self, registry: Any, ref: str) -> Loaded:
        version = registry.get(ref)
        if version.get("kind") not in ("predictor", "detector"):
            from zoo import ZooError

            raise ZooError(f"{version['ref']} is a {version.get('kind')}: zoo serve serves predictors "
                           "and detectors")
        model = registry.load(version["ref"], observed=False)  # the server reports batches itself
        return Loaded(version, model, self.max_batch, self.max_wait, self._scored)

    def _scored(self, loaded: Loaded, rows: Any, out: dict[str, Any], seconds: float) -> None:
        self.metrics.batch(loaded.version["name"], str(loaded.version["version"]))
        self.reporter.scored(loaded, rows, out, seconds)

    # --- lifecycle ---

    async def startup(self) -> None:
        import asyncio

        self.loop = asyncio.get_running_loop()
        self.reporter.start()
        if any(s.follows for s in self.slots.values()) and self.poll > 0:
            threading.Thread(target=self._follow, name="zoo-serve-follow", daemon=True).start()

    async def shutdown(self) -> None:
        self.stopping.set()
        self.reporter.stop()

    def _follow(self) -> None:
        """Poll followed refs; load a moved alias's version here, swap it in the loop."""
        import gc

        from zoo import Registry, ZooError

        try:
            registry = Registry(self.registry.path)
        except ZooError as exc:
            warnings.warn(f"zoo serve cannot follow aliases: {exc}", stacklevel=1)
            return
        try:
            while not self.stopping.wait(self.poll):
                for slot in list(self.slots.values()):
                    if not slot.follows:
                        continue
                    try:
                        version = registry.get(slot.ref)
                        if version["ref"] == slot.loaded.ref:
                            continue
                        loaded = self._load(registry, slot.ref)
                    except (ZooError, OSError) as exc:  # keep serving the old version
                        slot.error = str(exc).splitlines()[0]
                        continue
                    gc.collect()
                    gc.freeze()  # the new model's objects, like the first ones, out of the collector's way
                    self.loop.call_soon_threadsafe(self._swap, slot, loaded)
        finally:
            registry.close()

    def _swap(self, slot: Slot, loaded: Loaded) -> None:
        slot.swap(loaded)
        self.metrics.served[slot.ref] = loaded.ref

    # --- requests ---

    def slot(self, name: str) -> Slot:
        """The slot a URL names: a served ref, else the first served ref of that model name."""
        slot = self.slots.get(name) or self.by_name.get(name)
        if slot is None:
            served = ", ".join(self.slots) or "nothing"
            raise BadInput(f"{name[:200]!r} is not served here (serving {served}); start zoo serve "
                           "with that ref to serve it", 404)
        return slot

    def pin(self, ref: str) -> Loaded:
        """A fixed version an experiment routes to (loaded once, on first use)."""
        loaded = self.pinned.get(ref)
        if loaded is None:
            for slot in self.slots.values():
                if slot.loaded.ref == ref:
                    return slot.loaded
            try:
                loaded = self.pinned[ref] = self._load(self.registry, ref)
            except Exception as exc:
                raise ModelFailed(f"cannot load {ref} for its experiment: {str(exc)[:200]}") from None
        return loaded

    def check_token(self, request: Any) -> None:
        if self.token is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.token):
            raise BadInput("missing or wrong bearer token: send Authorization: Bearer <token>", 401,
                           "authorization")

    async def body(self, request: Any) -> bytes:
        """The request body, refused past ``max_body`` bytes before reading it all."""
        length = request.headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                raise BadInput("Content-Length is not a number", 400, "content-length")
            if int(length) > self.max_body:
                raise BadInput(f"body of {int(length):,} bytes is over the limit of {self.max_body:,} "
                               "(zoo serve --max-body)", 413)
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body:
                raise BadInput(f"body is over the limit of {self.max_body:,} bytes (zoo serve --max-body)",
                               413)
            chunks.append(chunk)
        return b"".join(chunks)

    async def predict(self, request: Any) -> dict[str, Any]:
        slot = self.slot(request.path_params["name"])
        loaded = slot.loaded  # held to the end: a swap now does not touch this request
        request.state.version = loaded.ref
        query = request.query_params
        level = _level(query.get("interval"))
        body = await self.body(request)
        content_type = request.headers.get("content-type", "")
        rows, first = parse(body, content_type, loaded.schema)
        unit = request.headers.get("x-zoo-unit") or query.get("unit")
        route = None
        if request.path_params["name"] == slot.name:  # a pinned ref in the URL is not rerouted
            route = _ask("serve_route", registry=self.registry, model=slot.name, unit=unit,
                         fields=first if isinstance(first, dict) else {})
        if route:
            routed = self.pin(route["ref"])
            if routed.schema.features != loaded.schema.features:
                rows, _ = parse(body, content_type, routed.schema)
            loaded = routed
        if level is None:
            result = await loaded.batcher.submit(rows)
            if isinstance(result, Exception):
                raise result
            X = None
        else:
            X = loaded.frame(rows)
            start = time.perf_counter()
            result = loaded.score(X)
            loaded._report(rows, result, time.perf_counter() - start)
        answer: dict[str, Any] = {"model": slot.name, "ref": loaded.ref,
                                  "version": loaded.version["version"]}
        if loaded.classes is not None:
            answer["classes"] = loaded.classes
        for key, values in result.items():
            answer[key] = values.tolist()
        if level is not None:
            answer["intervals"] = self._intervals(loaded, X, result, level, query.get("method"))
        if route:
            answer["experiment"], answer["arm"] = route.get("experiment"), route.get("arm")
            shadows = route.get("shadows") or {}
            if shadows:
                self._shadows(route, shadows, loaded, rows, result)
        request.state.rows = len(rows)
        request.state.version = loaded.ref
        return answer

    def _intervals(self, loaded: Loaded, X: Any, result: dict[str, Any], level: float,
                   method: str | None) -> dict[str, list[Any]]:
        key = (level, method)
        if key not in loaded.intervals:
            answer = _ask("prediction_intervals", registry=self.registry, version=loaded.version,
                          level=level, method=method)
            if answer is None:
                raise BadInput(f"no plugin computes intervals{' with method ' + method if method else ''} "
                               f"for {loaded.ref}", 422, "interval")
            loaded.intervals[key] = answer[0]
        table = loaded.table(X, result)
        try:
            full = loaded.intervals[key](loaded.model, X, table)
        except Exception as exc:
            raise BadInput(f"{loaded.ref} cannot give intervals: {str(exc).splitlines()[0][:200]}", 422,
                           "interval") from None
        return {str(c): _jsonable(full[c].tolist()) for c in full.columns if c not in table.columns}

    def _shadows(self, route: dict[str, Any], shadows: dict[str, str], control: Loaded, rows: Any,
                 result: dict[str, Any]) -> None:
        """Score the same rows with each shadow version and log them; never fails the request."""
        control_table = None
        for arm, ref in shadows.items():
            try:
                shadow = self.pin(ref)
                X = shadow.frame(rows)
                start = time.perf_counter()
                out = shadow.score(X)
                seconds = time.perf_counter() - start
                if control_table is None:
                    control_table = control.table(control.frame(rows), result)
                self.reporter.shadow(route["experiment"], arm, ref, control_table,
                                     shadow.table(X, out), seconds)
            except Exception as exc:  # a shadow must never break what is served
                warnings.warn(f"shadow arm {arm} ({ref}) skipped a request: {exc}", stacklevel=1)

    async def outcomes(self, request: Any) -> dict[str, Any]:
        slot = self.slot(request.path_params["name"])
        body = await self.body(request)
        try:
            data = json.loads(body or b"null")
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise BadInput("body is not valid JSON", 400) from None
        items = data.get("outcomes") if isinstance(data, dict) and "outcomes" in data else [data]
        if not isinstance(items, list) or not items:
            raise BadInput("send {\"unit\": ID, \"value\": NUMBER} or {\"outcomes\": [...]}", 422, "outcomes")
        recorded = []
        for n, item in enumerate(items):
            if not isinstance(item, dict) or "unit" not in item or "value" not in item:
                raise BadInput(f"outcome {n + 1} needs \"unit\" and \"value\"", 422,
                               "value" if isinstance(item, dict) and "unit" in item else "unit")
            unit, value = item["unit"], item["value"]
            if not isinstance(unit, (str, int)) or isinstance(unit, bool) or len(str(unit)) > 200:
                raise BadInput(f"outcome {n + 1}: unit must be a string or integer id", 422, "unit")
            if isinstance(value, bool):
                value = int(value)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise BadInput(f"outcome {n + 1}: value must be a finite number (0/1 for conversions)",
                               422, "value")
            answer = _ask("serve_outcome", registry=self.registry, model=slot.name, unit=str(unit),
                          value=float(value))
            if answer is None:
                raise BadInput(f"no running experiment routes {slot.name}: start one with zoo ab start",
                               409)
            recorded.append({"unit": str(unit), **answer})
        return {"model": slot.name, "outcomes": recorded}

    def ready(self) -> tuple[bool, dict[str, Any]]:
        models = {ref: {"serving": s.loaded.ref, **({"follow_error": s.error} if s.error else {})}
                  for ref, s in self.slots.items()}
        return bool(self.slots) and not self.stopping.is_set(), models

    def openapi(self) -> dict[str, Any]:
        from zoo_serve.openapi import document

        return document(self)

    def app(self) -> Any:
        """The Starlette application."""
        return build_app(self)


def build_app(server: Server) -> Any:
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        try:
            text = json.dumps(data, separators=(",", ":"), allow_nan=False, default=_default)
        except ValueError:  # a NaN or infinity somewhere: JSON has none, send null
            text = json.dumps(_finite(data), separators=(",", ":"), allow_nan=False, default=_default)
        return Response(text, status, headers, media_type="application/json")

    def error(status: int, message: str, field: str | None = None) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return json_response({"error": {"status": status, "message": message, "field": field}}, status,
                             headers)

    async def guarded(request: Request, endpoint: str, handler: Any) -> Response:
        start = time.perf_counter()
        name = request.path_params.get("name", "")
        code = 200
        try:
            server.check_token(request)
            response = json_response(await handler(request))
        except BadInput as exc:
            code, response = exc.status, error(exc.status, exc.message, exc.field)
        except ModelFailed as exc:
            code, response = 500, error(500, str(exc))
        except Exception as exc:  # a bug, or a model's surprise: JSON, never a traceback
            code, response = 500, error(500, f"{type(exc).__name__}: {str(exc)[:200]}")
        version = getattr(request.state, "version", "")
        model = name.split("@", 1)[0].split(":", 1)[0][:100]
        if code < 400 or model in server.by_name:
            server.metrics.request(model, version.rpartition(":")[2], endpoint, code,
                                   time.perf_counter() - start, getattr(request.state, "rows", 0))
        return response

    async def predict(request: Request) -> Response:
        return await guarded(request, "predict", server.predict)

    async def outcomes(request: Request) -> Response:
        return await guarded(request, "outcomes", server.outcomes)

    async def models(request: Request) -> Response:
        async def listing(_: Request) -> dict[str, Any]:
            return {"models": [{"served_as": ref, **s.loaded.describe()} for ref, s in server.slots.items()]}
        return await guarded(request, "models", listing)

    async def model(request: Request) -> Response:
        async def describe(req: Request) -> dict[str, Any]:
            slot = server.slot(req.path_params["name"])
            return {"served_as": slot.ref, **slot.loaded.describe()}
        return await guarded(request, "model", describe)

    async def openapi(request: Request) -> Response:
        async def document(_: Request) -> dict[str, Any]:
            return server.openapi()
        return await guarded(request, "openapi", document)

    async def health(_: Request) -> Response:
        return json_response({"status": "ok"})

    async def ready(_: Request) -> Response:
        ok, models = server.ready()
        return json_response({"ready": ok, "models": models}, 200 if ok else 503)

    async def metrics(request: Request) -> Response:
        try:
            server.check_token(request)
        except BadInput as exc:
            return error(exc.status, exc.message, exc.field)
        return Response(server.metrics.render(), media_type="text/plain; version=0.0.4")

    async def http_error(_: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 500)
        return error(status, {404: "no such endpoint: see GET /openapi.json",
                              405: "method not allowed for this endpoint"}.get(status, str(exc)))

    async def server_error(_: Request, exc: Exception) -> Response:
        return error(500, f"{type(exc).__name__}")

    routes = [
        Route("/v1/models/{name}/predict", predict, methods=["POST"]),
        Route("/v1/models/{name}/outcomes", outcomes, methods=["POST"]),
        Route("/v1/models/{name}", model, methods=["GET"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/ready", ready, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> Any:
        await server.startup()
        try:
            yield
        finally:
            await server.shutdown()

    return Starlette(routes=routes, lifespan=lifespan,
                     exception_handlers={HTTPException: http_error, Exception: server_error})


def _ask(hook: str, **kwargs: Any) -> Any:
    import zoo

    try:
        return zoo.ask_plugins(hook, **kwargs)
    except zoo.DataError as exc:
        raise BadInput(str(exc), 422, None) from None
    except zoo.ZooError as exc:
        raise BadInput(str(exc), 409, None) from None


def _level(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        level = float(text)
    except ValueError:
        level = math.nan
    if not 0.0 < level < 1.0:
        raise BadInput(f"interval must be a coverage level between 0 and 1, such as 0.9; got {text[:40]!r}",
                       422, "interval")
    return level


def _jsonable(values: list[Any]) -> list[Any]:
    """Numpy scalars as Python ones."""
    return [v.item() if hasattr(v, "item") else v for v in values]


def _finite(data: Any) -> Any:
    """``data`` with every NaN or infinite float as None."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_finite(v) for v in data]
    return data


def _default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
