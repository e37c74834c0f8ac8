"""Checks on a zoo-pyod ``.npz`` artifact before ``load`` refits a detector from it.

A detector is refitted on load, so its header's parameters decide how long loading takes
and how much memory it needs: ``n_estimators=10**7`` refits for minutes, a huge
``n_neighbors`` or ``n_bins`` allocates without bound. ``check_archive`` bounds the
arrays' declared shapes before numpy allocates them; ``check_detector`` bounds every
parameter that sizes the refit and checks the arrays agree with the header.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from zoo import IntegrityError

#: Largest array (bytes) and training matrix (cells) an artifact may hold.
MAX_ARRAY_BYTES = 2 << 30
MAX_CELLS = 200_000_000
#: Inclusive bounds of the whole-number parameters that size a refit.
INT_BOUNDS = {
    "n_estimators": (1, 10_000),
    "n_neighbors": (1, 10_000),
    "n_bins": (2, 10_000),
    "n_random_cuts": (1, 10_000),
    "n_clusters": (1, 10_000),
    "n_components": (1, 100_000),
    "n_selected_components": (1, 100_000),
    "degree": (0, 20),
    "max_iter": (-1, 10_000_000),
    "p": (1, 1_000),
    "random_state": (0, 2**32 - 1),
}
#: Most ensemble members.
MAX_MEMBERS = 32


def crafted(problem: str) -> IntegrityError:
    """The one-line error for an artifact that fails a check."""
    return IntegrityError(f"crafted or corrupted model: {problem}")


def check_archive(path: str | Path) -> None:
    """Refuse an npz whose arrays declare shapes larger than their bytes or the bounds (a
    detector saves 3 arrays)."""
    from zoo.data import check_npz

    check_npz(path, 16, MAX_ARRAY_BYTES)


def check_detector(component: str, header: dict[str, Any], X_train: Any, scores: Any) -> None:
    """Refuse a header whose parameters or arrays would make the refit unbounded or wrong."""
    import numpy as np

    if not isinstance(header, dict) or not isinstance(header.get("params"), dict):
        raise crafted("its header has no parameters")
    if not (isinstance(X_train, np.ndarray) and X_train.ndim == 2 and X_train.dtype.kind == "f"):
        raise crafted("its training rows are not a 2-D float array")
    rows, columns = X_train.shape
    if rows < 1 or columns < 1 or rows * columns > MAX_CELLS:
        raise crafted(f"its training rows have shape {X_train.shape}")
    if not (isinstance(scores, np.ndarray) and scores.shape == (rows,) and scores.dtype.kind == "f"):
        raise crafted(f"its training scores do not match its {rows} training rows")
    names = header.get("feature_names")
    if not isinstance(names, list) or len(names) != columns:
        raise crafted(f"its header names {len(names) if isinstance(names, list) else 0} features "
                      f"for {columns} columns")
    for key in ("threshold", "contamination"):
        if not _finite(header.get(key)):
            raise crafted(f"its header's {key} is {str(header.get(key))[:40]!r}")
    check_params(component, header["params"], rows, columns)


def check_params(component: str, params: dict[str, Any], rows: int, columns: int) -> None:
    """Refuse parameters out of the bounds a refit on ``rows`` x ``columns`` can honour."""
    for name, value in params.items():
        if name in INT_BOUNDS and value is not None:
            low, high = INT_BOUNDS[name]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise crafted(f"{component} parameter {name}={str(value)[:40]} is out of bounds "
                              f"({low}..{high})")
    if params.get("n_neighbors") is not None and params["n_neighbors"] >= rows:
        raise crafted(f"{component} parameter n_neighbors={params['n_neighbors']} needs more than "
                      f"its {rows} training rows")
    contamination = params.get("contamination", 0.1)
    if not (_finite(contamination) and 0 < contamination <= 0.5):
        raise crafted(f"{component} parameter contamination={str(contamination)[:40]} is out of "
                      "bounds (0..0.5)")
    for name in ("max_samples", "max_features"):
        value = params.get(name)
        if value is None or value == "auto":
            continue
        limit = rows if name == "max_samples" else columns
        if isinstance(value, bool) or not (
            (isinstance(value, int) and 1 <= value <= limit)
            or (isinstance(value, float) and 0 < value <= 1)
        ):
            raise crafted(f"{component} parameter {name}={str(value)[:40]} is out of bounds")
    members = params.get("members")
    if members is not None:
        if not isinstance(members, list | tuple) or not 1 <= len(members) <= MAX_MEMBERS:
            raise crafted(f"{component} parameter members is not a list of 1..{MAX_MEMBERS} names")
    for name, value in params.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise crafted(f"{component} parameter {name}={value} is not finite")


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
