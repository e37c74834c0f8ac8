"""What every registry row is made of: names, refs, keys and values, checked and encoded.

A leaf module: the store, bundles and plugins' own tables (``Store.write``) share these, so
a name or a timestamp means the same everywhere. Imports nothing from the rest of the registry.
"""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from zoo_registry.query import KEY_PATTERN

from zoo.errors import NotFoundError, ZooError

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
ALIAS_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]*")
KEY = re.compile(KEY_PATTERN)
_REF = re.compile(r"(?P<name>[^:@]+)(?::(?P<version>[0-9]+)|@(?P<alias>[^:@]+))?")
MAX_NAME = 128
#: Version numbers stay well inside SQLite's 64-bit integers (and every language's int32).
MAX_VERSION = 2**31 - 1
_NAME_RULE = ("letters, digits, '_', '.' and '-', starting with a letter or digit, "
              f"at most {MAX_NAME} characters")


def timestamp() -> str:
    """Now, in UTC, as the ISO text every registry row uses (comparable as strings)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def alias_moved(conn: sqlite3.Connection, model_id: int, alias: str, from_version: int | None,
                 to_version: int | None, now: str) -> None:
    """Record a move of ``alias`` (``None`` on either side: created or removed)."""
    conn.execute(
        """INSERT INTO alias_history (model_id, alias, from_version, to_version, changed_at)
           VALUES (?, ?, ?, ?, ?)""", [model_id, alias, from_version, to_version, now],
    )
    conn.execute("UPDATE models SET updated_at = ? WHERE id = ?", [now, model_id])


def record_audit(conn: sqlite3.Connection, action: str, model: str | None, version: int | None,
                 details: dict[str, Any]) -> None:
    """Append one row to the audit log, inside the caller's write transaction."""
    conn.execute(
        "INSERT INTO audit (at, action, model, version, details) VALUES (?, ?, ?, ?, ?)",
        [timestamp(), action, model, version, json.dumps(details, default=repr)],
    )


def grouped(cursor: sqlite3.Cursor) -> dict[Any, list[tuple]]:
    """Rows keyed by their first column, the rest of each row as a tuple."""
    out: dict[Any, list[tuple]] = {}
    for row in cursor:
        out.setdefault(row[0], []).append(tuple(row[1:]))
    return out


def parse_ref(ref: str) -> tuple[str, int | None, str | None]:
    """``name``, ``name:3`` or ``name@alias`` as (name, version or None, alias or None)."""
    match = _REF.fullmatch(ref) if isinstance(ref, str) else None
    if match is None or not NAME_PATTERN.fullmatch(match["name"]):
        raise ZooError(f"invalid reference {ref!r}: use NAME, NAME:VERSION or NAME@ALIAS, "
                       "e.g. fraud, fraud:3 or fraud@champion")
    digits = match["version"]
    # Length first: int() of a 5,000-digit string is refused by Python itself.
    if digits and (len(digits) > 10 or int(digits) > MAX_VERSION):
        raise NotFoundError(f"{match['name']} has no version {digits[:20]}"
                            f"{'…' if len(digits) > 20 else ''}: versions go up to {MAX_VERSION}")
    return match["name"], int(digits) if digits else None, match["alias"]


def check_name(name: Any, what: str) -> None:
    """A one-line error unless ``name`` is a valid model name (``what`` names it in the error)."""
    if not isinstance(name, str) or len(name) > MAX_NAME or not NAME_PATTERN.fullmatch(name):
        raise ZooError(f"invalid {what} {name!r}: use {_NAME_RULE}")


def check_alias(alias: Any) -> None:
    """A one-line error unless ``alias`` is a valid alias (it starts with a letter)."""
    if not isinstance(alias, str) or len(alias) > MAX_NAME or not ALIAS_PATTERN.fullmatch(alias):
        raise ZooError(f"invalid alias {alias!r}: use letters, digits, '_', '.' and '-', "
                       "starting with a letter (e.g. champion)")


def check_key(key: Any, what: str) -> None:
    """A one-line error unless ``key`` is a valid param, metric, tag or relation name."""
    if not isinstance(key, str) or len(key) > MAX_NAME or not KEY.fullmatch(key):
        raise ZooError(f"invalid {what} {key!r}: use letters, digits, '_', '.' and '-', "
                       "starting with a letter or '_', so that --where can name it")


def checked_keys(values: dict[str, Any] | None, what: str) -> list[tuple[str, Any]]:
    """``values`` as ``(key, value)`` pairs after checking every key; ``None`` gives none."""
    if values is None:
        return []
    if not isinstance(values, dict):
        raise ZooError(f"{what}s must be a dict of name to value, got {type(values).__name__}")
    for key in values:
        check_key(key, f"{what} name")
    return list(values.items())


def version_number(version: Any) -> int:
    """``version`` as a whole number from 1, or a one-line error."""
    if (isinstance(version, bool) or not isinstance(version, int) or version < 1
            or version > MAX_VERSION):
        raise ZooError(f"invalid version {str(version)[:40]!r}: versions are whole numbers "
                       f"from 1 to {MAX_VERSION}")
    return version


def encode_param(value: Any) -> tuple[Any, str]:
    """A param as (SQLite value, type): numbers stay numbers so --where compares them."""
    if hasattr(value, "item") and not isinstance(value, (list, dict, str, bytes)):
        try:
            value = value.item()  # numpy scalar -> Python scalar
        except (TypeError, ValueError):
            pass
    if value is None:
        return None, "null"
    if isinstance(value, bool):
        return int(value), "bool"
    if isinstance(value, int):
        # SQLite integers are 64-bit; keep bigger ones exact as JSON text.
        return (value, "int") if -(2**63) <= value < 2**63 else (str(value), "json")
    if isinstance(value, float):
        return value, "float"  # NaN is stored as NULL and read back as NaN
    if isinstance(value, str):
        return value, "str"
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, default=repr), "json"
    return repr(value), "str"


def decode_param(value: Any, kind: str) -> Any:
    """A stored param back to its Python value (``encode_param`` reversed)."""
    if kind == "bool":
        return bool(value)
    if kind == "json":
        return json.loads(value)
    if kind == "float":
        return float("nan") if value is None else float(value)
    return value


def encode_metric(key: str, value: Any) -> float | None:
    """A metric as a float (NaN as NULL), or a one-line error for a non-number."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ZooError(f"metric {key!r} must be a number, got {value!r}; "
                       "record text as a tag instead") from None
    return None if number != number else number  # NaN as NULL


def encode_data(data: dict[str, Any] | None) -> tuple[str | None, int | None, str | None]:
    """A data fingerprint as its (sha256, rows, schema JSON) columns, or a one-line error."""
    if data is None:
        return None, None, None
    if (not isinstance(data, dict) or not isinstance(data.get("sha256"), str)
            or not isinstance(data.get("rows"), int) or not isinstance(data.get("schema"), dict)):
        raise ZooError("data must be a fingerprint dict with sha256, rows and schema: "
                       "make it with zoo.data.fingerprint(df)")
    return data["sha256"], data["rows"], json.dumps(data["schema"])


def to_json(value: Any, what: str) -> str:
    """``value`` as JSON text (numpy values as plain ones), or a one-line error naming ``what``."""
    def default(obj: Any) -> Any:
        if hasattr(obj, "tolist"):  # numpy arrays and scalars
            return obj.tolist()
        raise TypeError(f"{type(obj).__name__} is not JSON-able")

    try:
        return json.dumps(value, default=default)
    except (TypeError, ValueError) as exc:
        raise ZooError(f"cannot store {what}: {exc}; store plain numbers, strings, lists "
                       "and dicts") from None


def extra_artifact_name(name: Any) -> None:
    """A one-line error unless ``name`` is a valid name for an extra artifact file."""
    if (name == "model" or not isinstance(name, str) or len(name) > MAX_NAME
            or not NAME_PATTERN.fullmatch(name)):
        raise ZooError(f"invalid artifact name {str(name)[:80]!r}: use a file name such as "
                       "roc_curve.png ('model' is the model itself)")


def extra_artifacts(artifacts: dict[str, str | Path] | None) -> dict[str, Path]:
    """Extra artifact files by name, checked: valid names, existing files."""
    out: dict[str, Path] = {}
    for name, path in (artifacts or {}).items():
        extra_artifact_name(name)
        if not Path(path).is_file():
            raise NotFoundError(f"no such file: {path} (artifact {name!r})")
        out[name] = Path(path)
    return out
