"""Sticky routing: the same id gets the same arm in every object and process, traffic splits
as asked on 100,000 ids, and moving the split moves only the units near the boundary."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest
from zoo_ab import routing
from zoo_ab.experiment import Experiment

from zoo import DataError

N = 100_000


def test_routing_is_sticky_across_objects_and_processes(baseline_registry):
    exp = Experiment.start(baseline_registry, "sticky", {"A": "churn@champion", "B": "churn@challenger"})
    ids = [f"user-{i}" for i in range(2000)]
    first = exp.route(ids)
    again = Experiment(baseline_registry, "sticky").route(ids)
    assert (first == again).all()
    assert set(first) == {"A", "B"}
    code = (
        "import json, sys\n"
        "from zoo import Registry\n"
        "from zoo_ab import Experiment\n"
        f"exp = Experiment(Registry({str(baseline_registry.path)!r}), 'sticky')\n"
        f"print(json.dumps(exp.route([f'user-{{i}}' for i in range(2000)]).tolist()))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={"PYTHONHASHSEED": "123", **_env()})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == first.tolist()


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}


@pytest.mark.parametrize("split", [(50, 50), (90, 10)])
def test_split_is_within_two_points_of_the_target_on_100k_ids(baseline_registry, split):
    exp = Experiment.start(baseline_registry, f"split-{split[0]}", ["churn:1", "churn:2"], split=split)
    ids = np.arange(N)
    start = time.perf_counter()
    arms = exp.route(ids)
    seconds = time.perf_counter() - start
    share_a = float(np.mean(arms == "A"))
    print(f"routed {N:,} ids in {seconds:.3f} s; A share {share_a:.4f} (target {split[0] / 100})")
    assert abs(share_a - split[0] / 100) < 0.02
    assert seconds < 2.0  # about 0.1 s here; generous for a loaded 2-core machine


def test_two_salts_route_independently():
    ids = np.arange(N)
    a = routing.assign(routing.unit_numbers(ids, "00" * 16), ["A", "B"], [0.5, 0.5])
    b = routing.assign(routing.unit_numbers(ids, "ff" * 16), ["A", "B"], [0.5, 0.5])
    # Independent experiments must not put the same users in the same arm: about half agree.
    assert abs(float(np.mean(a == b)) - 0.5) < 0.01


def test_unit_numbers_are_uniform():
    u = routing.unit_numbers(np.arange(N), "ab" * 16)
    assert ((u >= 0) & (u < 1)).all()
    counts = np.histogram(u, bins=20, range=(0, 1))[0]
    # chi-square with 19 degrees of freedom: 43.8 is its 0.999 quantile.
    expected = N / 20
    assert float(((counts - expected) ** 2 / expected).sum()) < 43.8


def test_the_same_id_written_differently_is_the_same_unit():
    salt = "12" * 16
    as_int = routing.unit_numbers(np.array([42, 7, 1_000_000]), salt)
    as_text = routing.unit_numbers(["42", "7", "1000000"], salt)
    as_float = routing.unit_numbers(np.array([42.0, 7.0, 1e6]), salt)
    as_objects = routing.unit_numbers([42, "7", 1e6], salt)
    assert (as_int == as_text).all() and (as_int == as_float).all() and (as_int == as_objects).all()


def test_missing_ids_are_an_error_naming_the_row():
    with pytest.raises(DataError, match=r"1 ids are missing \(first at row 2\)"):
        routing.unit_numbers([1.0, float("nan"), 3.0], "00" * 16)


def test_moving_the_split_moves_only_units_near_the_boundary():
    u = routing.unit_numbers(np.arange(N), "34" * 16)
    before = routing.assign(u, ["A", "B"], [0.5, 0.5])
    after = routing.assign(u, ["A", "B"], [0.3, 0.7])
    moved = before != after
    assert abs(float(moved.mean()) - 0.2) < 0.01  # exactly the 20% that changed hands
    assert set(before[moved]) == {"A"} and set(after[moved]) == {"B"}
    assert ((u[moved] >= 0.3) & (u[moved] < 0.5)).all()


def test_a_zero_share_arm_gets_no_one():
    u = routing.unit_numbers(np.arange(10_000), "56" * 16)
    assert set(routing.assign(u, ["A", "B", "C"], [0.5, 0.0, 0.5])) == {"A", "C"}
    assert set(routing.assign(u, ["A", "B"], [1.0, 0.0])) == {"A"}
