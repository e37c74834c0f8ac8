"""Sticky routing: each unit id hashes, with the experiment's salt, to a number in [0, 1) that
never changes, and the cumulative traffic split maps that number to an arm.

The hash is BLAKE2b keyed with the salt (hashlib, so the same in every process and Python
version; Python's ``hash()`` is randomised per process). Because a unit's number is fixed
and the arms hold consecutive intervals of [0, 1), moving the split only moves the units
between the old and the new boundary: with two arms, a bandit that shifts 10% of traffic
reassigns exactly the 10% of units nearest the boundary and no one else.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from zoo import DataError

#: 2**-53: the top 53 bits of a 64-bit hash, scaled by this, are a double in [0, 1) exactly.
_UNIT = 1.0 / (1 << 53)


def id_strings(ids: Any, what: str = "id") -> list[str]:
    """Each id as the text that is hashed: ``42``, ``42.0`` and ``"42"`` are the same unit.

    CSV readers turn an id column into integers, or floats when a value is missing, or
    strings; the id a person means is the same in each, so integral numbers are written
    without a decimal point. A missing id is an error: such a row cannot be routed.
    """
    series = ids if isinstance(ids, pd.Series) else pd.Series(ids if hasattr(ids, "dtype") else list(ids))
    missing = series.isna().to_numpy()
    if missing.any():
        first = int(np.flatnonzero(missing)[0])
        raise DataError(f"{int(missing.sum())} {what}s are missing (first at row {first + 1}): every "
                        f"row needs an {what} to be routed; drop or fill those rows")
    kind = series.dtype.kind
    if kind in "iu":
        return series.astype(str).tolist()
    if kind == "f":
        values = series.to_numpy(dtype=float)
        if np.all(np.isfinite(values)) and np.all(values == np.round(values)) \
                and np.all(np.abs(values) < 2**53):
            return values.astype(np.int64).astype(str).tolist()
        return [_text(v) for v in values]
    return [_text(v) for v in series.tolist()]


def _text(value: Any) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return str(value)


def unit_numbers(ids: Any, salt: str) -> np.ndarray:
    """Each id's fixed number in [0, 1), uniform over ids, from BLAKE2b keyed with ``salt``."""
    key = bytes.fromhex(salt)
    texts = id_strings(ids)
    # One 8-byte digest per id, joined and read as little-endian uint64s in one step.
    digests = b"".join([hashlib.blake2b(t.encode("utf-8", "surrogatepass"), key=key,
                                        digest_size=8).digest() for t in texts])
    words = np.frombuffer(digests, dtype="<u8")
    return (words >> np.uint64(11)).astype(np.float64) * _UNIT


def assign(numbers: np.ndarray, arms: Sequence[str], shares: Sequence[float]) -> np.ndarray:
    """The arm of each unit number: arm ``i`` holds [sum of earlier shares, + share ``i``)."""
    bounds = np.cumsum(np.asarray(shares, dtype=float))
    bounds[-1] = 1.0  # rounding must not leave a sliver of [0, 1) without an arm
    index = np.searchsorted(bounds, numbers, side="right")
    # A zero-share arm at the end has an empty interval; searchsorted can still land past it.
    index = np.minimum(index, len(arms) - 1)
    return np.asarray(arms, dtype=object)[index]
