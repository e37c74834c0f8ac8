"""Schema and bounds checks on calibrator JSON and calibrated-model zips before loading.

A calibrator's state is plain JSON, so it cannot run code, but a crafted one can still
exhaust memory (a 10**9-class ``n_classes``, nesting thousands deep), or load into a
calibrator that answers nonsense (an isotonic map whose ``x_`` is unsorted, histogram
edges that do not bracket their values). A calibrated model's zip is bounded in members
and declared sizes before any part is read.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import Any

from zoo import IntegrityError

#: Largest calibrator JSON, and largest calibrated-model zip when uncompressed.
MAX_JSON_BYTES = 64 << 20
MAX_ZIP_BYTES = 8 << 30
#: Most members in a calibrated model's zip, classes, numbers in one array, nesting levels.
MAX_MEMBERS = 64
MAX_CLASSES = 10_000
MAX_ARRAY = 10_000_000
MAX_DEPTH = 24
#: Inclusive bounds of whole-number parameters.
INT_BOUNDS = {"n_bins": (1, 100_000), "grid": (2, 100_000), "n_knots": (1, 100_000),
              "cv": (1, 100), "repeats": (1, 100), "min_group_size": (1, 10**9),
              "seed": (0, 2**32 - 1)}
#: Fitted arrays that pair up: (sorted knots, values, how many more values than knots).
PAIRS = (("x_", "y_", 0), ("edges_", "values_", 1), ("edges", "values", 1))


def crafted(problem: str) -> IntegrityError:
    """The one-line error for an artifact that fails a check."""
    return IntegrityError(f"crafted or corrupted model: {problem}")


def check_json_size(path: str | Path) -> None:
    """Refuse a calibrator file too large to be one."""
    size = Path(path).stat().st_size
    if size > MAX_JSON_BYTES:
        raise crafted(f"calibrator JSON of {size} bytes (at most {MAX_JSON_BYTES})")


def check_calibrator(doc: Any, depth: int = 0) -> None:
    """Refuse calibrator JSON (``to_json``'s output, nested calibrators included) out of schema."""
    if depth > MAX_DEPTH:
        raise crafted(f"calibrators nested deeper than {MAX_DEPTH}")
    if not isinstance(doc, dict) or not isinstance(doc.get("component"), str):
        raise crafted("a calibrator entry has no component name")
    params, state = doc.get("params"), doc.get("state")
    if not isinstance(params, dict) or not isinstance(state, dict):
        raise crafted(f"calibrator {doc['component'][:60]!r} has no params or state object")
    for name, value in params.items():
        if name in INT_BOUNDS and value is not None:
            low, high = INT_BOUNDS[name]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise crafted(f"calibrator parameter {name}={str(value)[:40]} is out of bounds "
                              f"({low}..{high})")
    _check_state(state, depth)


def _check_state(state: dict[str, Any], depth: int) -> None:
    classes = state.get("n_classes")
    if isinstance(classes, bool) or not isinstance(classes, int) or not 2 <= classes <= MAX_CLASSES:
        raise crafted(f"calibrator state has n_classes={str(classes)[:40]} (2..{MAX_CLASSES})")
    per_class = state.get("per_class")
    if per_class is not None and (not isinstance(per_class, list) or len(per_class) != classes):
        raise crafted(f"calibrator state has per_class for other than its {classes} classes")
    for knots, values, extra in PAIRS:
        if state.get(knots) is not None or state.get(values) is not None:
            x, y = _numbers(state.get(knots), knots), _numbers(state.get(values), values)
            if len(x) != len(y) - extra or len(y) < 1:
                raise crafted(f"calibrator state has {len(x)} {knots} for {len(y)} {values}")
            if any(b < a for a, b in zip(x, x[1:], strict=False)):
                raise crafted(f"calibrator state's {knots} are not sorted")
    for value in state.values():
        _nested(value, depth + 1)


def _nested(value: Any, depth: int) -> None:
    """Check every calibrator JSON inside a state value (scalers, members, group nodes)."""
    if depth > MAX_DEPTH:
        raise crafted(f"calibrator state nested deeper than {MAX_DEPTH}")
    if isinstance(value, dict):
        if "component" in value and "state" in value:
            check_calibrator(value, depth)
        elif "shape" in value and "n_classes" in value:
            _check_state(value, depth)
        else:
            for item in value.values():
                _nested(item, depth + 1)
    elif isinstance(value, list):
        if len(value) > MAX_ARRAY:
            raise crafted(f"a calibrator array of {len(value)} entries (at most {MAX_ARRAY})")
        if value and isinstance(value[0], dict | list):
            for item in value:
                _nested(item, depth + 1)


def _numbers(value: Any, name: str) -> list[float]:
    if not isinstance(value, list) or len(value) > MAX_ARRAY or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and not math.isnan(v) for v in value
    ):
        raise crafted(f"calibrator state's {name} is not a list of numbers")
    return value


def check_zip(path: str | Path) -> None:
    """Refuse a calibrated model's zip with too many members or too many declared bytes."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError):
        return  # the loader reports "not a calibrated model's zip"
    if len(infos) > MAX_MEMBERS + 2:
        raise crafted(f"{len(infos)} parts in a calibrated model (at most {MAX_MEMBERS + 2})")
    total = sum(i.file_size for i in infos)
    if total > MAX_ZIP_BYTES:
        raise crafted(f"a calibrated model declaring {total} bytes uncompressed "
                      f"(at most {MAX_ZIP_BYTES})")


def check_manifest(manifest: Any) -> None:
    """Refuse a calibrated model's manifest whose entries are not what ``save`` writes."""
    if not isinstance(manifest, dict) or not isinstance(manifest.get("members"), list):
        raise crafted("a calibrated model's manifest has no member list")
    if not 1 <= len(manifest["members"]) <= MAX_MEMBERS:
        raise crafted(f"a calibrated model with {len(manifest['members'])} members "
                      f"(1..{MAX_MEMBERS})")
    for entry in [*manifest["members"], manifest.get("calibrator")]:
        if not (isinstance(entry, dict) and isinstance(entry.get("file"), str)
                and isinstance(entry.get("component"), str) and isinstance(entry.get("sha256"), str)):
            raise crafted("a calibrated model's manifest entry lacks its file, component or sha256")
        if entry is not manifest.get("calibrator") and not isinstance(entry.get("metadata"), dict):
            raise crafted(f"member {entry['file'][:60]!r} has no metadata object")
