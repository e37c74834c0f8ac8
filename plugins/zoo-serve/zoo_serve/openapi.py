"""An OpenAPI 3.1 document made from the schema of each served version."""

from __future__ import annotations

from typing import Any


def document(server: Any) -> dict[str, Any]:
    """``GET /openapi.json``: one predict path per served ref, its request body built from the
    version's input columns and its response from its outputs."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        __version__ = version("zoo-serve")
    except PackageNotFoundError:
        __version__ = "unknown"

    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {"Error": {
        "type": "object",
        "properties": {"error": {"type": "object", "properties": {
            "status": {"type": "integer"}, "message": {"type": "string"},
            "field": {"type": ["string", "null"]}}}}}}
    for ref, slot in server.slots.items():
        loaded = slot.loaded
        key = _key(slot.name if server.by_name.get(slot.name) is slot else ref)
        record = {"type": "object", "required": list(loaded.schema.features), "properties": {
            f: {"type": "string"} if f in loaded.schema.labels else {"type": ["number", "null"]}
            for f in loaded.schema.features}}
        schemas[f"{key}Record"] = record
        one = {"$ref": f"#/components/schemas/{key}Record"}
        schemas[f"{key}Request"] = {"oneOf": [
            {"type": "object", "required": ["records"],
             "properties": {"records": {"type": "array", "items": one}}},
            {"type": "object", "required": ["columns"], "properties": {"columns": {
                "type": "object", "properties": {f: {"type": "array"} for f in loaded.schema.features}}}},
            {"type": "array", "items": one},
        ]}
        if loaded.kind == "detector":
            outputs = {"scores": {"type": "array", "items": {"type": "number"}},
                       "anomalies": {"type": "array", "items": {"type": "integer"}}}
        else:
            outputs = {"predictions": {"type": "array"}}
            if loaded.classes is not None:
                outputs["classes"] = {"type": "array"}
                outputs["probabilities"] = {"type": "array",
                                            "items": {"type": "array", "items": {"type": "number"}}}
        schemas[f"{key}Response"] = {"type": "object", "properties": {
            "model": {"type": "string"}, "ref": {"type": "string"}, "version": {"type": "integer"},
            **outputs, "intervals": {"type": "object"}, "experiment": {"type": "string"},
            "arm": {"type": "string"}}}
        errors = {str(code): {"description": text, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Error"}}}}
            for code, text in ((400, "unreadable body"), (401, "missing or wrong token"),
                               (404, "not served"), (413, "body too large"),
                               (422, "missing or mistyped field (named in error.field)"),
                               (500, "the model failed"))}
        url = slot.name if server.by_name.get(slot.name) is slot else ref
        paths[f"/v1/models/{url}/predict"] = {"post": {
            "summary": f"Score rows with {ref} (now {loaded.ref}, {loaded.task or loaded.kind})",
            "operationId": f"predict_{key}",
            "parameters": [
                {"name": "interval", "in": "query", "required": False, "schema": {"type": "number"},
                 "description": "Add intervals or prediction sets at this coverage level, e.g. 0.9"},
                {"name": "X-Zoo-Unit", "in": "header", "required": False, "schema": {"type": "string"},
                 "description": "Unit id an A/B experiment routes by"}],
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{key}Request"}},
                "text/csv": {"schema": {"type": "string"}}}},
            "responses": {"200": {"description": "predictions, naming the version that served them",
                                  "content": {"application/json": {
                                      "schema": {"$ref": f"#/components/schemas/{key}Response"}}}},
                          **errors}}}
    for path, summary in (("/health", "alive"), ("/ready", "every model loaded and verified"),
                          ("/metrics", "Prometheus text"), ("/v1/models", "what is served")):
        paths[path] = {"get": {"summary": summary, "responses": {"200": {"description": summary}}}}
    doc: dict[str, Any] = {"openapi": "3.1.0",
                           "info": {"title": "zoo serve", "version": __version__},
                           "paths": paths, "components": {"schemas": schemas}}
    if server.token is not None:
        doc["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        doc["security"] = [{"bearer": []}]
    return doc


def _key(ref: str) -> str:
    """A schema name from a ref (letters, digits and underscores)."""
    return "".join(ch if ch.isalnum() else "_" for ch in ref)
