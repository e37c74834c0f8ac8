"""The report's statistics: intervals, the tests against the control, sample sizes, and
Thompson sampling's probability that each arm is best."""

from __future__ import annotations

import math

import numpy as np
import pytest
from zoo_ab import stats


def _totals(values) -> dict[str, float]:
    values = np.asarray(values, dtype=float)
    return {"n": len(values), "sum": float(values.sum()), "sum_sq": float((values ** 2).sum())}


def test_wilson_interval_matches_the_textbook_value():
    # 81 successes out of 263 (Wilson 1927, as worked by Newcombe 1998): 0.2553 to 0.3662.
    low, high = stats.wilson(81, 263)
    assert low == pytest.approx(0.2553, abs=1e-4) and high == pytest.approx(0.3662, abs=1e-4)


def test_newcombe_difference_interval_matches_the_textbook_value():
    # Newcombe (1998), example (a): 56/70 against 48/80 -> 0.0524 to 0.3339 (method 10).
    result = stats.compare(_totals([1] * 48 + [0] * 32), _totals([1] * 56 + [0] * 14), binary=True)
    assert result["ci_low"] == pytest.approx(0.0524, abs=1e-4)
    assert result["ci_high"] == pytest.approx(0.3339, abs=1e-4)


def test_welch_matches_scipy():
    from scipy import stats as scipy_stats

    rng = np.random.default_rng(3)
    a, b = rng.normal(10, 2, 80), rng.normal(11, 4, 120)
    result = stats.compare(_totals(a), _totals(b), binary=False)
    reference = scipy_stats.ttest_ind(b, a, equal_var=False)
    assert result["test"] == "Welch t"
    assert result["statistic"] == pytest.approx(reference.statistic, rel=1e-9)
    assert result["p_value"] == pytest.approx(reference.pvalue, rel=1e-9)


def test_the_test_detects_a_real_difference_and_not_a_null_one():
    rng = np.random.default_rng(11)
    control = rng.random(4000) < 0.10
    better = rng.random(4000) < 0.13
    same = rng.random(4000) < 0.10
    real = stats.compare(_totals(control), _totals(better), binary=True)
    null = stats.compare(_totals(control), _totals(same), binary=True)
    assert real["test"] == "two-proportion z" and real["p_value"] < 0.001
    assert real["ci_low"] > 0
    assert null["p_value"] > 0.05 and null["ci_low"] < 0 < null["ci_high"]


def test_false_positive_rate_of_the_z_test_is_near_alpha():
    rng = np.random.default_rng(5)
    rejections = 0
    for _ in range(400):
        a, b = rng.random(1000) < 0.2, rng.random(1000) < 0.2
        rejections += stats.compare(_totals(a), _totals(b), binary=True)["p_value"] < 0.05
    assert rejections / 400 < 0.08


def test_small_samples_use_a_permutation_test_and_say_there_is_not_enough_data():
    a, b = [0.0, 1, 0, 0, 1, 0, 0, 0], [1.0, 1, 1, 0, 1, 1, 1, 1]
    result = stats.compare(_totals(a), _totals(b), binary=True, values_a=a, values_b=b)
    assert result["test"] == "permutation" and not result["enough_data"]
    # Fisher's exact test gives 0.041 on this table; the permutation test agrees closely.
    assert 0.02 < result["p_value"] < 0.07
    same = stats.compare(_totals(a), _totals(a), binary=True, values_a=a, values_b=a)
    assert same["p_value"] == 1.0


def test_needed_per_arm_is_the_usual_formula():
    # 10% -> 12%: (1.95996 + 0.84162)^2 * (0.09 + 0.1056) / 0.02^2 = 3,838.1, so 3,839 per arm.
    assert stats.needed_per_arm(0.02, 0.09, 0.1056) == 3839
    assert stats.needed_per_arm(0.0, 0.09, 0.09) is None


def test_probability_best_favours_the_better_arm_and_is_seeded():
    totals = {"A": _totals([1] * 80 + [0] * 920), "B": _totals([1] * 120 + [0] * 880)}
    p = stats.probability_best(totals, ["A", "B"], binary=True, seed=1)
    assert p["B"] > 0.99 and math.isclose(p["A"] + p["B"], 1.0)
    assert p == stats.probability_best(totals, ["A", "B"], binary=True, seed=1)
    lower = stats.probability_best(totals, ["A", "B"], binary=True, higher_is_better=False, seed=1)
    assert lower["A"] > 0.99


def test_probability_best_for_continuous_outcomes():
    rng = np.random.default_rng(2)
    totals = {"A": _totals(rng.normal(5.0, 3, 400)), "B": _totals(rng.normal(5.8, 3, 400))}
    assert stats.probability_best(totals, ["A", "B"], binary=False, seed=0)["B"] > 0.95
    # With no outcomes at all, neither arm is favoured.
    empty = {"A": _totals([]), "B": _totals([])}
    p = stats.probability_best(empty, ["A", "B"], binary=False, seed=0)
    assert abs(p["A"] - 0.5) < 0.02


def test_floored_split_keeps_every_arm_measured():
    split = stats.floored_split({"A": 0.0, "B": 1.0}, 0.05)
    assert split == pytest.approx({"A": 0.05, "B": 0.95})
    split = stats.floored_split({"A": 0.2, "B": 0.3, "C": 0.5}, 0.1)
    assert sum(split.values()) == pytest.approx(1.0) and min(split.values()) >= 0.1
