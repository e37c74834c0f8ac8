"""``skops.io`` without its two-second start: the default trusted-type lists, cached.

Importing ``skops.io`` builds its default trusted-type lists in ``skops.io._trusted_types``
by importing every scikit-learn estimator (``all_estimators``), and pytest and dask with
them: about 2 s of every command that loads a scikit-learn model, when scoring 10 rows
takes milliseconds. Those lists depend only on the installed versions of skops,
scikit-learn, numpy and scipy, so the first load computes them the slow way and keeps them
in a JSON file named after those versions; later processes put an equivalent module in
``sys.modules`` before importing ``skops.io``. What skops trusts is unchanged: the same
names, from the same computation.

A cache file that does not parse, or that names a type outside the modules skops' own
lists come from, is ignored (and rewritten): a damaged or edited cache can slow loading
down, never widen what is trusted.
"""

from __future__ import annotations

import json
import os
import sys
import types
from importlib import metadata
from pathlib import Path
from typing import Any

#: The lists ``skops.io._trusted_types`` defines and the rest of skops imports from it.
LISTS = ("PRIMITIVE_TYPE_NAMES", "CONTAINER_TYPE_NAMES", "SKLEARN_ESTIMATOR_TYPE_NAMES",
         "SKLEARN_INTERNAL_TYPE_NAMES", "SCIPY_UFUNC_TYPE_NAMES", "NUMPY_UFUNC_TYPE_NAMES",
         "NUMPY_RANDOM_BIT_GENERATOR_TYPE_NAMES", "NUMPY_DTYPE_TYPE_NAMES")
#: Every cached name must start with one of these (what skops' lists hold).
PREFIXES = ("builtins.", "sklearn.", "numpy", "scipy.")
_MODULE = "skops.io._trusted_types"


def skops_io() -> Any:
    """The ``skops.io`` module, imported with the cached trusted-type lists when there are some."""
    if "skops.io" in sys.modules:
        return sys.modules["skops.io"]
    cache = cache_file()
    names = _read(cache)
    if names is not None:
        stub = types.ModuleType(_MODULE)
        stub.__dict__.update(names)
        stub.__dict__["PRIMITIVES_TYPES"] = [int, float, str, bool]
        stub.__dict__["CONTAINER_TYPES"] = [list, set, map, tuple]
        sys.modules[_MODULE] = stub
        try:
            import skops.io
        except BaseException:
            sys.modules.pop(_MODULE, None)
            raise
        return skops.io
    import skops.io
    import skops.io._trusted_types as real

    _write(cache, {name: list(getattr(real, name)) for name in LISTS})
    return skops.io


def cache_file() -> Path:
    """Where the lists of these package versions are kept (``$ZOO_CACHE_DIR`` or the user cache)."""
    versions = "-".join(f"{pkg}{_version(pkg)}" for pkg in ("skops", "scikit-learn", "numpy", "scipy"))
    base = os.environ.get("ZOO_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "zoo")
    return Path(base) / f"skops-trusted-{versions}-py{sys.version_info[0]}{sys.version_info[1]}.json"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "none"


def _read(path: Path) -> dict[str, list[str]] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or set(data) != set(LISTS):
        return None
    for values in data.values():
        if not isinstance(values, list) or not all(
            isinstance(v, str) and v.startswith(PREFIXES) for v in values
        ):
            return None
    return data


def _write(path: Path, names: dict[str, list[str]]) -> None:
    """Write atomically (a concurrent reader sees the old file or the whole new one); a cache
    that cannot be written (read-only home) only means the next load is slow too."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(names), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass
