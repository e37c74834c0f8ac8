"""Bounds on a drift test's ``.npz`` artifact before ``engine.load`` reads it.

A fitted drift test is a registered version like any model, so its bytes may come from a
bundle: an array header may declare far more bytes than the file holds (numpy allocates
the declared shape), and ``n_permutations`` / ``max_rows`` size every later check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo import IntegrityError

#: Largest array and total uncompressed bytes an artifact may declare, and most arrays.
MAX_ARRAY_BYTES = 1 << 30
MAX_TOTAL_BYTES = 2 << 30
MAX_MEMBERS = 100_000
#: Inclusive bounds of whole-number parameters.
INT_BOUNDS = {"n_permutations": (1, 100_000), "max_rows": (1, 10_000_000),
              "random_state": (0, 2**32 - 1)}


def crafted(problem: str) -> IntegrityError:
    """The one-line error for an artifact that fails a check."""
    return IntegrityError(f"crafted or corrupted model: {problem}")


def check_archive(path: str | Path) -> None:
    """Refuse an npz with too many arrays or whose array headers declare too many bytes."""
    from zoo.data import check_npz

    check_npz(path, MAX_MEMBERS, MAX_ARRAY_BYTES, MAX_TOTAL_BYTES)


def check_params(component: str, params: Any) -> None:
    """Refuse parameters that would make every later check unbounded."""
    if not isinstance(params, dict):
        raise crafted(f"{component} parameters are not a mapping")
    for name, (low, high) in INT_BOUNDS.items():
        value = params.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or not low <= value <= high):
            raise crafted(f"{component} parameter {name}={str(value)[:40]} is out of bounds "
                          f"({low}..{high})")
