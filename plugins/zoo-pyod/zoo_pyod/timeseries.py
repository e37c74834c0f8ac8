"""Anomalies in metric time series: each point against a rolling, seasonality-aware baseline.

For every dimension (a metric column such as clicks or ctr) and every time step ``t``,
the baseline comes from the ``window`` steps before ``t`` only, so it works the same on
history and on the latest day:

- **trend**: a Theil-Sen slope, the median of the slopes between window points of the
  same seasonal phase (so the season cancels out);
- **expected value**: the median of the window's same-phase points, each carried forward
  to ``t`` along that slope (with period 1, every window point);
- **spread**: the noise level from the window's same-phase differences after the
  trend (a winsorised RMS: nearly as precise as a standard deviation, and like the MAD
  blind to spikes; the median of the last ``window`` such levels), times a factor for
  the error of the expected value itself, measured once per (window, period) on
  simulated noise so that scores have a standard normal's tails;
- **score**: (value - expected) / spread, a robust z-score. ``|score| > threshold``
  (3.5 by default, the usual cut for robust z-scores) flags the point; its sign says
  whether it is a positive (spike) or negative (dip) anomaly.

A dimension whose values are all positive is modelled on the log scale when its noise
is steadier there (noise proportional to the level, as with counts, becomes additive);
expected values are reported in the original units. A point already flagged is replaced by its
expected value in the history later points are compared with. A row is flagged when any
dimension is; its ``driver`` is the dimension with the largest ``|score|``.

The seasonal period is found per dimension unless given (``find_period``: a weekly
pattern in daily data gives 7). A window of at least four seasons gives
well-calibrated scores; the first ``window`` rows have no baseline and are never flagged.

``zoo detect --time-column`` runs it. It uses no PyOD detector: only numpy and pandas,
imported inside functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zoo import DataError

#: Robust z-score above which a point is an anomaly (Iglewicz and Hoaglin's cut).
DEFAULT_THRESHOLD = 3.5
#: A lag is a season when its differences spread at most this share of the median lag's.
SEASONAL_RATIO = 0.5
MAD_TO_SIGMA = 1.4826


@dataclass
class SeriesResult:
    """The scored table (sorted by time) and what the baseline used per dimension."""

    table: Any
    periods: dict[str, int] = field(default_factory=dict)
    scales: dict[str, str] = field(default_factory=dict)
    window: int = 0


def detect_series(
    df: Any,
    time_column: str,
    dimensions: list[str],
    window: int = 30,
    period: int | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> SeriesResult:
    """Score each dimension of ``df`` against its rolling seasonal baseline; see the module doc.

    Adds, per dimension ``d``, ``d_expected`` and ``d_score``, then ``anomaly_score``
    (largest ``|score|``), ``anomaly`` (0/1), ``direction`` (``positive``/``negative``)
    and ``driver`` (the dimension behind the flag). ``period=None`` finds it per
    dimension; 1 means no seasonality.
    """
    import numpy as np

    from zoo.data import as_frame

    table = _sorted_by_time(df, time_column)
    if not dimensions:
        raise DataError("name the metric columns to watch with --dimensions, e.g. clicks,ctr")
    missing = [d for d in dimensions if d not in table.columns]
    if missing:
        raise DataError(f"no column {missing[0]!r} in the data; columns are: "
                        f"{', '.join(map(str, table.columns[:20]))}")
    if time_column in dimensions:
        raise DataError(f"{time_column!r} is the time column; it cannot also be a dimension")
    if not (isinstance(window, int) and window >= 4):
        raise DataError(f"--baseline-window must be a whole number of at least 4 steps, got {window!r}")
    if len(table) <= window:
        raise DataError(f"{len(table)} time steps leave nothing to score after a baseline window of "
                        f"{window}; use a shorter --baseline-window or more history")
    if period is not None and not (isinstance(period, int) and 1 <= period <= window // 2):
        raise DataError(f"--period must be from 1 to half the baseline window ({window // 2}), got "
                        f"{period!r}; a baseline needs two seasons of history")
    if not threshold > 0:
        raise DataError(f"--threshold must be above 0, got {threshold!r}")
    values = as_frame(table[list(dimensions)])
    for name in dimensions:
        bad = int(values[name].isna().sum())
        if bad:
            raise DataError(f"column {name!r} has {bad} missing value{'s' if bad > 1 else ''}; "
                            "fill the gaps (e.g. with 0 for counts) or drop those rows")

    out = table.copy()
    scores, periods, scales = {}, {}, {}
    for name in dimensions:
        y = values[name].to_numpy(dtype=float)
        log = bool((y > 0).all()) and _log_is_steadier(y, window, period)
        work = np.log(y) if log else y
        p = period if period is not None else find_period(work, window)
        expected, score = _baseline(work, window, p, threshold)
        out[f"{name}_expected"] = np.exp(expected) if log else expected
        out[f"{name}_score"] = score
        scores[name], periods[str(name)], scales[str(name)] = score, p, "log" if log else "linear"
    z = np.column_stack([scores[d] for d in dimensions])
    strongest = np.abs(np.nan_to_num(z, nan=0.0))
    top = strongest.argmax(axis=1)
    top_score = z[np.arange(len(z)), top]
    flagged = strongest.max(axis=1) > threshold
    out["anomaly_score"] = np.where(np.isnan(z).all(axis=1), np.nan, strongest.max(axis=1))
    out["anomaly"] = flagged.astype(int)
    out["direction"] = np.where(flagged, np.where(top_score > 0, "positive", "negative"), "")
    out["driver"] = np.where(flagged, np.asarray(dimensions, dtype=object)[top], "")
    return SeriesResult(table=out, periods=periods, scales=scales, window=window)


def find_period(y: Any, window: int) -> int:
    """The seasonal period of ``y`` (1 for none), from the spread of its lagged differences.

    The robust spread (MAD) of lag-``p`` differences, for ``p`` from 1 to ``window // 2``,
    is about the same at every lag for noise around a trend, grows with the lag for a
    random walk, and dips at the period and its multiples for a seasonal series. The
    candidates are the lags where it dips (a local minimum); the best one
    is a season when its spread is at most ``SEASONAL_RATIO`` of the median lag's and no
    more than 25% above one step's. The period is then the shortest dip within 50% of the
    best (a multiple of the period can win by chance).
    """
    import numpy as np

    def spread(lag: int) -> float:
        d = y[lag:] - y[:-lag]
        return float(np.median(np.abs(d - np.median(d))))

    lags = np.arange(1, max(1, min(window // 2, len(y) // 3)) + 1)
    spreads = np.array([spread(int(p)) for p in lags])
    dips = [i for i in range(1, len(lags))
            if spreads[i] < spreads[i - 1] and (i + 1 == len(lags) or spreads[i] <= spreads[i + 1])]
    if not dips:
        return 1
    best = min(spreads[i] for i in dips)
    if not (best <= SEASONAL_RATIO * np.median(spreads) and best <= 1.25 * spreads[0]):
        return 1
    return int(lags[next(i for i in dips if spreads[i] <= 1.5 * best)])


def _log_is_steadier(y: Any, window: int, period: int | None) -> bool:
    """Whether noise is steadier on the log scale: noise proportional to the level (counts:
    a weekend at 60% of a weekday traffic has 60% of its noise) becomes additive there.

    Compares, on each scale, how much the spread of seasonal differences varies between
    phases of the season (or, without one, between eight stretches of the series).
    """
    import numpy as np

    def unevenness(series: Any) -> float:
        p = period if period is not None else find_period(series, window)
        d = series[p:] - series[:-p]
        groups = ([d[k::p] for k in range(p)] if p > 1 else np.array_split(d, 8))
        mads = np.array([np.median(np.abs(g - np.median(g))) for g in groups if len(g) > 2])
        mads = mads[mads > 0]
        return float(np.std(np.log(mads))) if len(mads) > 1 else 0.0

    return unevenness(np.log(y)) < unevenness(y)


def _baseline(y: Any, window: int, period: int, threshold: float) -> tuple[Any, Any]:
    """Expected value and robust z-score of every point from the ``window`` points before it.

    A point flagged as anomalous is replaced by its expected value in the history later
    points are compared with (re-scoring until no flag changes, at most 5 passes): with
    few same-phase points a past spike would otherwise drag the baseline.
    """
    import numpy as np

    factor = _error_factor(window, period)
    history = y
    for _ in range(5):
        expected, sigma = _expected_and_sigma(history, window, period)
        floor = 1e-9 * np.maximum(1.0, np.abs(expected))  # a flat series: any change is anomalous
        score = (y[window:] - expected) / np.maximum(sigma * factor, floor)
        cleaned = y.copy()
        flagged = np.abs(score) > threshold
        cleaned[window:][flagged] = expected[flagged]
        if np.array_equal(cleaned, history):
            break
        history = cleaned
    pad = np.full(window, np.nan)
    return np.concatenate([pad, expected]), np.concatenate([pad, score])


def _expected_and_sigma(y: Any, window: int, period: int) -> tuple[Any, Any]:
    """For each t >= window: the expected value at t from y[t-window:t], and the noise level."""
    import numpy as np
    import pandas as pd
    from numpy.lib.stride_tricks import sliding_window_view

    past = sliding_window_view(y, window)[:-1]  # past[i] = y[i : i + window], before t = i + window
    # Same-phase pairs, whose differences cancel the season; at most 16 lags bound the work.
    lags = list(range(period, window, period))
    lags = sorted({lags[int(i)] for i in np.linspace(0, len(lags) - 1, min(len(lags), 16))})
    rows = max(1, 1_000_000 // sum(window - lag for lag in lags))  # bound the memory per chunk
    offsets = np.arange(window, 0, -1)  # steps from each window point to t
    same_phase = offsets % period == 0
    expected, sigma = [], []
    for start in range(0, len(past), rows):
        chunk = past[start:start + rows]
        steps = np.concatenate([np.full(window - lag, lag) for lag in lags])
        rises = np.concatenate([chunk[:, lag:] - chunk[:, :-lag] for lag in lags], axis=1)
        slope = np.median(rises / steps, axis=1)  # Theil-Sen
        carried = chunk + slope[:, None] * offsets[None, :]
        expected.append(np.median(carried[:, same_phase], axis=1))
        # Each detrended pair difference has variance 2 sigma^2; a winsorised RMS is nearly as
        # precise as the standard deviation and, like the MAD, ignores spikes in the window.
        resid = rises - slope[:, None] * steps
        resid -= np.median(resid, axis=1, keepdims=True)
        mad = MAD_TO_SIGMA * np.median(np.abs(resid), axis=1, keepdims=True)
        clipped = np.clip(resid, -3 * mad, 3 * mad)
        sigma.append(np.sqrt(np.mean(clipped**2, axis=1) / 2))
    # The noise level changes slowly; the median of the last `window` estimates (2 windows
    # of history) is far less noisy than one window's, which keeps the score's tails thin.
    sigma = pd.Series(np.concatenate(sigma)).rolling(window, min_periods=1).median().to_numpy()
    return np.concatenate(expected), sigma


_FACTORS: dict[tuple[int, int], float] = {}


def _error_factor(window: int, period: int) -> float:
    """How much wider the prediction error is than the noise level, for this window and period.

    The expected value is a median of few points carried along an estimated slope, and the
    noise level is itself estimated; both add error, and make large errors likelier than
    for a normal variable. Every estimate here is equivariant to level, trend, season and
    scale, so the factor depends on (window, period) alone: it is measured once on
    simulated Gaussian noise (fixed seed) so that |score| exceeds 2.81 as often as a
    standard normal does (0.5%), so a threshold keeps its usual false-alarm meaning.
    """
    import numpy as np

    key = (window, period)
    if key not in _FACTORS:
        y = np.random.default_rng(0).standard_normal(window + 20_000)
        expected, sigma = _expected_and_sigma(y, window, period)
        ratio = np.abs(y[window:] - expected) / sigma
        _FACTORS[key] = float(np.quantile(ratio, 0.995) / 2.807)
    return _FACTORS[key]


def _sorted_by_time(df: Any, time_column: str) -> Any:
    """``df`` sorted by ``time_column`` (dates or numbers), one row per time step."""
    import pandas as pd

    if time_column not in df.columns:
        raise DataError(f"no time column {time_column!r} in the data; columns are: "
                        f"{', '.join(map(str, df.columns[:20]))}")
    raw = df[time_column]
    if pd.api.types.is_numeric_dtype(raw) or pd.api.types.is_datetime64_any_dtype(raw):
        keys = raw
    else:
        keys = pd.to_datetime(raw, errors="coerce", format="mixed")
        bad = keys.isna() & raw.notna()
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0])
            raise DataError(f"time column {time_column!r} has a value that is not a date or number "
                            f"({raw.iloc[row]!r} in row {row + 1}); use ISO dates like 2024-05-31")
    if keys.isna().any():
        raise DataError(f"time column {time_column!r} has missing values; drop those rows")
    dupes = keys.duplicated()
    if dupes.any():
        raise DataError(f"time column {time_column!r} repeats {raw[dupes].iloc[0]!r}; the series needs "
                        "one row per time step: aggregate (e.g. sum per day) or filter to one segment")
    return df.iloc[keys.argsort(kind="stable")]
