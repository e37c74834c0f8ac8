"""Bounds on a drift test's ``.npz`` artifact before ``engine.load`` reads it.

A fitted drift test is a registered version like any model, so its bytes may come from a
bundle: an array header may declare far more bytes than the file holds (numpy allocates
the declared shape), and ``n_permutations`` / ``max_rows`` size every later check.
"""

from __future__ import annotations

import math
import zipfile
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
    import numpy as np
    from numpy.lib import format as npy

    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        return  # np.load reports it as not a drift test file
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS or sum(i.file_size for i in infos) > MAX_TOTAL_BYTES:
            raise crafted(f"its npz holds {len(infos)} arrays declaring "
                          f"{sum(i.file_size for i in infos)} bytes")
        for info in infos:
            try:
                with zf.open(info) as f:
                    read = {(1, 0): npy.read_array_header_1_0,
                            (2, 0): npy.read_array_header_2_0}.get(npy.read_magic(f))
                    if read is None:
                        raise ValueError("unknown npy version")
                    shape, _order, dtype = read(f)
            except (ValueError, OSError, zipfile.BadZipFile, EOFError):
                raise crafted(f"{info.filename[:60]} in its npz is not a numpy array") from None
            size = math.prod(shape) * np.dtype(dtype).itemsize
            if size > MAX_ARRAY_BYTES or size > info.file_size:
                raise crafted(f"{info.filename[:60]} declares shape {shape} ({size} bytes) in "
                              f"{info.file_size} bytes")


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
