"""Timing helpers every benchmark script shares.

The scripts run as ``python benchmarks/NAME.py``: this folder is then ``sys.path[0]``, so they
import this module as ``timing``.
"""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable
from typing import Any


def median_time(fn: Callable[[], object], repeat: int, *, warm: bool = False) -> float:
    """Median seconds of ``repeat`` calls of ``fn()``; with ``warm``, after one untimed call."""
    if warm:
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def wall(cmd: list[str], repeat: int, env: dict[str, str] | None = None) -> float:
    """Median wall seconds of running ``cmd`` ``repeat`` times, after one run that warms the file
    cache."""
    return median_time(lambda: subprocess.run(cmd, capture_output=True, check=True, env=env), repeat,
                       warm=True)


def paired(a: Callable[[], object], b: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median seconds of ``a()`` and of ``b()`` after one untimed call of each; the calls
    alternate, so a neighbour's load burst on a shared machine hits both alike."""
    a(), b()
    times_a, times_b = [], []
    for _ in range(repeat):
        for fn, times in ((a, times_a), (b, times_b)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return statistics.median(times_a), statistics.median(times_b)


def timed_call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """What ``fn(*args, **kwargs)`` returns, and the seconds it took."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start
