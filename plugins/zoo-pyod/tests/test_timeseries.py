"""Time-series anomalies against a rolling seasonal baseline, on synthetic ad metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from zoo_pyod.timeseries import detect_series, find_period

from zoo import DataError

DIMENSIONS = ["clicks", "conversions", "ctr"]
WEEK = np.array([1.0, 1.1, 1.15, 1.1, 1.05, 0.7, 0.6])  # weekday traffic, quiet weekends


def ad_metrics(n: int = 400, seed: int = 1, anomalies: int = 24) -> tuple[pd.DataFrame, dict]:
    """Daily clicks and conversions with trend, a weekly pattern and noise proportional to the
    level, ctr around 2%; spikes and dips injected after the first baseline window, each on
    one dimension. Returns the table (rows shuffled) and {row: (dimension, direction)}."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    df = pd.DataFrame({
        "date": pd.date_range("2024-01-01", periods=n).strftime("%Y-%m-%d"),
        "clicks": (1000 + 2 * t) * WEEK[t % 7] * (1 + rng.normal(0, 0.03, n)),
        "conversions": (50 + 0.05 * t) * WEEK[t % 7] * (1 + rng.normal(0, 0.05, n)),
        "ctr": 0.02 + rng.normal(0, 0.001, n),
    })
    truth = {}
    for k, row in enumerate(rng.choice(np.arange(40, n), anomalies, replace=False)):
        dim, sign = DIMENSIONS[k % 3], 1 if k % 2 == 0 else -1
        if dim == "ctr":
            df.loc[row, dim] += sign * 0.008  # 8 standard deviations
        else:
            df.loc[row, dim] *= 1 + sign * (0.3 if dim == "clicks" else 0.5)  # 10 standard deviations
        truth[int(row)] = (dim, "positive" if sign > 0 else "negative")
    return df.sample(frac=1, random_state=0), truth


def test_spikes_and_dips_are_found_with_precision_and_recall_of_at_least_0_9():
    df, truth = ad_metrics()
    result = detect_series(df, "date", DIMENSIONS, window=30)
    out = result.table
    assert list(out["date"]) == sorted(out["date"])  # sorted by time
    flagged = set(out.index[out["anomaly"] == 1])
    hits = flagged & set(truth)
    precision, recall = len(hits) / len(flagged), len(hits) / len(truth)
    assert precision >= 0.9 and recall >= 0.9, (precision, recall)
    for row in hits:  # the dimension that drove it, and the sign
        assert (out.loc[row, "driver"], out.loc[row, "direction"]) == truth[row]
    assert result.periods == {"clicks": 7, "conversions": 7, "ctr": 1}
    # Noise proportional to the level: steadier on the log scale.
    assert result.scales["clicks"] == result.scales["conversions"] == "log"


def test_output_columns_and_the_warm_up_window():
    df, _ = ad_metrics(n=120, anomalies=3)
    out = detect_series(df, "date", DIMENSIONS, window=28).table
    for d in DIMENSIONS:
        assert {f"{d}_expected", f"{d}_score"} <= set(out.columns)
    assert out["anomaly_score"].iloc[:28].isna().all() and out["anomaly"].iloc[:28].eq(0).all()
    assert out["anomaly_score"].iloc[28:].notna().all()
    assert set(out["direction"]) <= {"", "positive", "negative"}
    assert ((out["driver"] == "") == (out["anomaly"] == 0)).all()
    # The expected value is in the metric's own units.
    ratio = out["clicks"].iloc[28:] / out["clicks_expected"].iloc[28:]
    assert ratio.median() == pytest.approx(1.0, abs=0.02)


def test_noise_alone_is_rarely_flagged():
    rng = np.random.default_rng(3)
    n = 3000
    df = pd.DataFrame({"step": np.arange(n), "x": 5 + np.tile([0.0, 1, 2, 1, 0, -2, -2], n)[:n]
                       + rng.normal(0, 0.5, n)})
    result = detect_series(df, "step", ["x"], window=35)
    assert result.scales == {"x": "linear"} and result.periods == {"x": 7}  # additive noise
    assert result.table["anomaly"].mean() < 0.003  # a Gaussian beyond 3.5 sigma: 0.05%


def test_a_past_spike_does_not_drag_the_baseline_of_later_same_weekday_points():
    rng = np.random.default_rng(4)
    n = 120
    y = 100 * WEEK[np.arange(n) % 7] * (1 + rng.normal(0, 0.02, n))
    y[63] *= 3  # a huge spike; 70, 77 and 84 are the same weekday
    out = detect_series(pd.DataFrame({"t": np.arange(n), "y": y}), "t", ["y"], window=28).table
    assert list(np.flatnonzero(out["anomaly"])) == [63]


def test_find_period():
    rng = np.random.default_rng(0)
    weekly = np.tile([0.0, 1, 2, 1, 0, -3, -3], 80) + rng.normal(0, 0.5, 560)
    hourly = 3 * np.sin(np.arange(2000) * 2 * np.pi / 24) + rng.normal(size=2000)
    assert find_period(weekly, 30) == 7
    assert find_period(hourly, 60) == 24
    assert find_period(rng.normal(size=500), 30) == 1  # noise
    assert find_period(np.cumsum(rng.normal(size=500)), 30) == 1  # a random walk
    assert find_period(0.1 * np.arange(500) + rng.normal(size=500), 30) == 1  # a trend


def test_a_flat_series_flags_any_change_without_infinite_scores():
    y = np.full(60, 10.0)
    y[45] = 11.0
    out = detect_series(pd.DataFrame({"t": np.arange(60), "y": y}), "t", ["y"], window=20).table
    assert list(np.flatnonzero(out["anomaly"])) == [45]
    assert np.isfinite(out["anomaly_score"].iloc[20:]).all()


@pytest.mark.parametrize("change, message", [
    (lambda df: df.assign(date="not a date"), "not a date or number"),
    (lambda df: pd.concat([df, df.head(1)]), "repeats"),
    (lambda df: df.assign(clicks=df["clicks"].where(df.index != 5)), "'clicks' has 1 missing value"),
    (lambda df: df.assign(clicks="many"), "not a number"),
])
def test_bad_series_are_one_line_errors(change, message):
    df, _ = ad_metrics(n=80, anomalies=0)
    with pytest.raises(DataError, match=message):
        detect_series(change(df), "date", DIMENSIONS, window=30)


def test_bad_arguments_are_one_line_errors():
    df, _ = ad_metrics(n=80, anomalies=0)
    with pytest.raises(DataError, match="no time column 'day'"):
        detect_series(df, "day", DIMENSIONS)
    with pytest.raises(DataError, match="no column 'views'"):
        detect_series(df, "date", ["views"])
    with pytest.raises(DataError, match="leave nothing to score"):
        detect_series(df, "date", DIMENSIONS, window=80)
    with pytest.raises(DataError, match="--period must be from 1 to half"):
        detect_series(df, "date", DIMENSIONS, window=30, period=20)
    with pytest.raises(DataError, match="at least 4 steps"):
        detect_series(df, "date", DIMENSIONS, window=2)
