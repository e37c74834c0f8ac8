"""Request bodies to feature rows: JSON records, JSON columns, arrays in schema order, or CSV.

Everything here is untrusted input. Each problem is a ``BadInput`` carrying the HTTP status,
a one-line message and the field it is about, so the client learns what to fix; nothing a
client sends can reach the model as anything but a float matrix in the version's column
order (or, for models with label columns, a table ``zoo.data.align`` has checked).
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

#: Rows one request may carry (the body limit usually stops far earlier).
MAX_ROWS = 100_000


class BadInput(Exception):
    """A request the server refuses: ``status`` (4xx), a one-line ``message`` and ``field``."""

    def __init__(self, message: str, status: int = 422, field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.status, self.field = message, status, field


class Schema:
    """A version's input columns: ``features`` in the model's order, ``labels`` those kept as
    text (the key columns of e.g. a group-wise calibrated model), the rest numbers."""

    def __init__(self, features: list[str], labels: list[str] | tuple[str, ...] = ()) -> None:
        self.features = [str(f) for f in features]
        self.labels = {str(f) for f in labels if str(f) in set(self.features)}


def parse(body: bytes, content_type: str, schema: Schema) -> tuple[Any, dict[str, Any]]:
    """``(rows, first)``: the body's rows as a float matrix (or, with label columns, a list of
    row dicts) in schema order, and its first row as a dict (for routing by a unit field)."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind in ("text/csv", "application/csv"):
        return _csv(body, schema)
    # curl -d sends form-encoded by default: read that (and plain text) as JSON too.
    if kind not in ("application/json", "", "text/json", "text/plain", "application/x-www-form-urlencoded"):
        raise BadInput(f"unsupported content type {kind!r}: send application/json or text/csv", 415)
    if not body:
        raise BadInput("empty body: send JSON records, e.g. {\"records\": [{...}]}", 400)
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadInput(f"body is not valid JSON ({str(exc)[:80] or 'nested too deep'})", 400) from None
    if isinstance(data, list):
        return _records(data, schema)
    if not isinstance(data, dict):
        raise BadInput("JSON body must be an object ({\"records\": [...]} or {\"columns\": {...}}) "
                       "or a list of records", 400)
    if "records" in data:
        return _records(data["records"], schema)
    if "columns" in data:
        return _columns(data["columns"], schema)
    if "instances" in data:
        return _instances(data["instances"], schema)
    return _records([data], schema)  # one record, bare


def _records(records: Any, schema: Schema) -> tuple[Any, dict[str, Any]]:
    if not isinstance(records, list):
        raise BadInput("\"records\" must be a list of objects, one per row", 422, "records")
    _count(len(records))
    features = schema.features
    if schema.labels:
        rows = []
        for n, rec in enumerate(records):
            rows.append({f: _value(rec, f, n, schema) for f in features} if isinstance(rec, dict)
                        else _not_object(n))
        return rows, records[0]
    out = []
    for n, rec in enumerate(records):
        if not isinstance(rec, dict):
            _not_object(n)
        try:
            values = [rec[f] for f in features]
        except KeyError:
            missing = next(f for f in features if f not in rec)
            raise BadInput(f"record {n + 1} has no field {missing!r}: the model needs "
                           f"{_listing(features)}", 422, missing) from None
        for i, v in enumerate(values):
            if type(v) is not float:  # the common case (JSON numbers with a point) is checked here
                values[i] = _number(v, features[i], n)
        out.append(values)
    return _matrix(out), records[0]


def _columns(columns: Any, schema: Schema) -> tuple[Any, dict[str, Any]]:
    if not isinstance(columns, dict):
        raise BadInput("\"columns\" must be an object of equal-length lists, one per column", 422,
                       "columns")
    lengths = {len(v) if isinstance(v, list) else -1 for v in columns.values()}
    for name, values in columns.items():
        if not isinstance(values, list):
            raise BadInput(f"column {str(name)[:80]!r} must be a list of values", 422, str(name)[:80])
    if len(lengths) > 1:
        raise BadInput("columns have different lengths: give every column one value per row", 422,
                       "columns")
    n_rows = lengths.pop() if lengths else 0
    _count(n_rows)
    missing = [f for f in schema.features if f not in columns]
    if missing:
        raise BadInput(f"no column {missing[0]!r}: the model needs {_listing(schema.features)}", 422,
                       missing[0])
    records = [{f: columns[f][n] for f in schema.features} for n in range(n_rows)]
    first = {str(k): v[0] for k, v in columns.items() if v}
    rows, _ = _records(records, schema)
    return rows, first


def _instances(instances: Any, schema: Schema) -> tuple[Any, dict[str, Any]]:
    if not isinstance(instances, list) or not all(isinstance(r, list) for r in instances):
        raise BadInput("\"instances\" must be a list of rows, each a list of values in the order of "
                       f"the model's columns ({_listing(schema.features)})", 422, "instances")
    width = len(schema.features)
    for n, row in enumerate(instances):
        if len(row) != width:
            raise BadInput(f"row {n + 1} has {len(row)} values; the model takes {width} "
                           f"({_listing(schema.features)})", 422, "instances")
    return _records([dict(zip(schema.features, row, strict=True)) for row in instances], schema)


def _csv(body: bytes, schema: Schema) -> tuple[Any, dict[str, Any]]:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadInput("CSV body is not UTF-8 text", 400) from None
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
        lines = list(reader)
    except (StopIteration, csv.Error) as exc:
        raise BadInput(f"CSV body has no header row or is malformed ({str(exc)[:80]})", 400) from None
    lines = [line for line in lines if line]
    if len(set(header)) != len(header):
        dupes = sorted({h for h in header if header.count(h) > 1})
        raise BadInput(f"CSV header repeats column {dupes[0][:80]!r}", 422, dupes[0][:80])
    for n, line in enumerate(lines):
        if len(line) != len(header):
            raise BadInput(f"CSV row {n + 1} has {len(line)} values for {len(header)} columns", 422)
    records = [{h: (None if v == "" else v) for h, v in zip(header, line, strict=True)} for line in lines]
    return _records(records, schema)


def _value(rec: dict[str, Any], name: str, n: int, schema: Schema) -> Any:
    if name not in rec:
        raise BadInput(f"record {n + 1} has no field {name!r}: the model needs "
                       f"{_listing(schema.features)}", 422, name)
    value = rec[name]
    if name in schema.labels:
        if value is not None and not isinstance(value, (str, int, float, bool)):
            raise BadInput(f"field {name!r} of record {n + 1} must be a label, not "
                           f"{type(value).__name__}", 422, name)
        return value
    return _number(value, name, n)


def _number(value: Any, name: str, n: int) -> float:
    """A JSON value as a feature's float: numbers and booleans; null is missing (NaN); text
    only when it reads as a number (CSV cells are text)."""
    if value is None:
        return math.nan
    kind = type(value)
    if kind is int or kind is bool or kind is float or kind is str:
        try:
            number = float(value)
        except OverflowError:  # an integer past the largest float
            number = math.inf
        except ValueError:
            raise BadInput(f"field {name!r} of record {n + 1} is {_shown(value)}, not a number", 422,
                           name) from None
    else:
        raise BadInput(f"field {name!r} of record {n + 1} must be a number, not "
                       f"{'an object' if kind is dict else 'a list' if kind is list else kind.__name__}",
                       422, name)
    if math.isinf(number):
        raise BadInput(f"field {name!r} of record {n + 1} is infinite: send a finite number", 422, name)
    return number


def _matrix(rows: list[list[float]]) -> Any:
    import numpy as np

    return np.array(rows, dtype=np.float64).reshape(len(rows), -1)


def _count(n: int) -> None:
    if n == 0:
        raise BadInput("no rows to score: send at least one record", 422, "records")
    if n > MAX_ROWS:
        raise BadInput(f"{n} rows in one request: send at most {MAX_ROWS:,}", 413)


def _not_object(n: int) -> Any:
    raise BadInput(f"record {n + 1} must be an object of field: value", 422, "records")


def _shown(value: str) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _listing(features: list[str]) -> str:
    shown = ", ".join(features[:8])
    return shown + (f" and {len(features) - 8} more" if len(features) > 8 else "")
