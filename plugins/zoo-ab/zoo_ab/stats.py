"""The statistics of an A/B test: each arm's mean and interval, the test of a challenger
against the control, the sample size the observed effect needs, and Thompson sampling.

Everything but the permutation test works from each arm's count, sum and sum of squares,
which the registry keeps per arm, so a report over millions of outcomes reads three numbers
per arm. Outcomes are binary (0/1, e.g. conversion) or continuous (e.g. revenue).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

#: Below this many outcomes in an arm the normal approximations are not trusted: the
#: p-value comes from a permutation test and no recommendation is made.
MIN_N = 30
#: Binary outcomes also need this many successes and failures per arm (the usual np >= 5 rule
#: for the normal approximation of a proportion).
MIN_EVENTS = 5
#: Permutations of the small-sample test (its p-value resolves to 1/10,000).
PERMUTATIONS = 10_000
#: Power at which "need about N more units" is quoted.
POWER = 0.8
#: An observed effect that would take more than this many times the data gathered so far to
#: confirm is too small to chase: the report says keep the control (and still prints the figure).
HOPELESS = 10.0


def arm_summary(n: int, total: float, total_sq: float, binary: bool, level: float = 0.95) -> dict[str, Any]:
    """Mean, standard deviation and a ``level`` interval of one arm from its sums.

    Proportions get the Wilson score interval (right at small n and near 0 or 1, where the
    normal interval runs outside [0, 1]); means get Student's t interval.
    """
    if n == 0:
        return {"n": 0, "mean": None, "sd": None, "ci_low": None, "ci_high": None}
    mean = total / n
    var = variance(n, total, total_sq, binary)
    if binary:
        low, high = wilson(total, n, level)
    elif n >= 2:
        half = stats.t.ppf(0.5 + level / 2, n - 1) * math.sqrt(var / n)
        low, high = mean - half, mean + half
    else:
        low = high = None
    return {"n": int(n), "mean": mean, "sd": math.sqrt(var) if var is not None else None,
            "ci_low": low, "ci_high": high}


def variance(n: int, total: float, total_sq: float, binary: bool) -> float | None:
    """The sample variance from the sums (p(1-p) for proportions); None below two outcomes."""
    if binary:
        p = total / n if n else 0.0
        return p * (1 - p)
    if n < 2:
        return None
    # Sums of squares lose digits to cancellation; a tiny negative is a zero variance.
    return max(0.0, (total_sq - total * total / n) / (n - 1))


def wilson(successes: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion."""
    z = stats.norm.ppf(0.5 + level / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def compare(a: dict[str, float], b: dict[str, float], binary: bool, alpha: float = 0.05,
            values_a: Any = None, values_b: Any = None, seed: int = 0) -> dict[str, Any]:
    """Challenger ``b`` against control ``a`` (each ``{"n", "sum", "sum_sq"}``).

    Returns the difference b - a, its interval at ``1 - alpha``, the relative lift, the test
    (two-proportion z for binary outcomes, Welch's t otherwise, a permutation test on the
    outcomes ``values_a``/``values_b`` when an arm is too small for either), its statistic
    and two-sided p-value, and the units per arm the observed difference needs at 80% power.
    """
    na, nb = int(a["n"]), int(b["n"])
    if na == 0 or nb == 0:
        return {"diff": None, "ci_low": None, "ci_high": None, "lift": None, "test": None,
                "statistic": None, "p_value": None, "needed_per_arm": None, "enough_data": False}
    ma, mb = a["sum"] / na, b["sum"] / nb
    diff = mb - ma
    va = variance(na, a["sum"], a["sum_sq"], binary)
    vb = variance(nb, b["sum"], b["sum_sq"], binary)
    low, high = _diff_interval(a, b, binary, alpha)
    enough = enough_data(a, binary) and enough_data(b, binary)
    if not enough and values_a is not None and values_b is not None:
        test, statistic, p = "permutation", diff, permutation_p(values_a, values_b, seed)
    elif binary:
        test, (statistic, p) = "two-proportion z", _z_test(a, b)
    else:
        test, (statistic, p) = "Welch t", _welch(na, nb, ma, mb, va, vb)
    return {"diff": diff, "ci_low": low, "ci_high": high,
            "lift": diff / ma if ma else None, "test": test, "statistic": statistic, "p_value": p,
            "needed_per_arm": needed_per_arm(diff, va, vb, alpha), "enough_data": enough}


def enough_data(arm: dict[str, float], binary: bool) -> bool:
    """Whether an arm has enough outcomes for the normal approximations (see ``MIN_N``)."""
    n = arm["n"]
    if n < MIN_N:
        return False
    return not binary or min(arm["sum"], n - arm["sum"]) >= MIN_EVENTS


def minimum_note(binary: bool) -> str:
    """What "enough data" means, for messages."""
    events = f" with at least {MIN_EVENTS} successes and {MIN_EVENTS} failures" if binary else ""
    return f"at least {MIN_N} outcomes per arm{events}"


def _diff_interval(a: dict[str, float], b: dict[str, float], binary: bool,
                   alpha: float) -> tuple[float | None, float | None]:
    na, nb = a["n"], b["n"]
    ma, mb = a["sum"] / na, b["sum"] / nb
    if binary:
        # Newcombe's hybrid score interval, from the two Wilson intervals: keeps its coverage
        # at small n and near 0 or 1, where the Wald interval does not.
        la, ua = wilson(a["sum"], na, 1 - alpha)
        lb, ub = wilson(b["sum"], nb, 1 - alpha)
        d = mb - ma
        return (d - math.sqrt((mb - lb) ** 2 + (ua - ma) ** 2),
                d + math.sqrt((ub - mb) ** 2 + (ma - la) ** 2))
    va = variance(na, a["sum"], a["sum_sq"], False)
    vb = variance(nb, b["sum"], b["sum_sq"], False)
    if va is None or vb is None:
        return None, None
    se = math.sqrt(va / na + vb / nb)
    df = _welch_df(na, nb, va, vb)
    half = stats.t.ppf(1 - alpha / 2, df) * se if se > 0 else 0.0
    return mb - ma - half, mb - ma + half


def _z_test(a: dict[str, float], b: dict[str, float]) -> tuple[float, float]:
    na, nb = a["n"], b["n"]
    pooled = (a["sum"] + b["sum"]) / (na + nb)
    se = math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
    if se == 0:  # every outcome 0, or every outcome 1: no evidence of a difference
        return 0.0, 1.0
    z = (b["sum"] / nb - a["sum"] / na) / se
    return z, float(2 * stats.norm.sf(abs(z)))


def _welch_df(na: int, nb: int, va: float, vb: float) -> float:
    num = (va / na + vb / nb) ** 2
    den = (va / na) ** 2 / (na - 1) + (vb / nb) ** 2 / (nb - 1)
    return num / den if den > 0 else float(na + nb - 2)


def _welch(na: int, nb: int, ma: float, mb: float, va: float | None,
           vb: float | None) -> tuple[float | None, float | None]:
    if va is None or vb is None:
        return None, None
    se = math.sqrt(va / na + vb / nb)
    if se == 0:
        # No spread in either arm: any difference is certain (no finite statistic to show).
        return (0.0, 1.0) if ma == mb else (None, 0.0)
    t = (mb - ma) / se
    return t, float(2 * stats.t.sf(abs(t), _welch_df(na, nb, va, vb)))


def permutation_p(values_a: Any, values_b: Any, seed: int = 0, permutations: int = PERMUTATIONS) -> float:
    """Two-sided p-value of the difference in means by reshuffling the arm labels.

    Exact in the sense that matters at small n: it assumes nothing about the distribution.
    The observed split counts as one of the permutations, so p is never 0.
    """
    a = np.asarray(values_a, dtype=float)
    b = np.asarray(values_b, dtype=float)
    pooled = np.concatenate([a, b])
    observed = abs(b.mean() - a.mean())
    rng = np.random.default_rng(seed)
    hits = 0
    # In blocks, so memory stays at a few MB whatever the number of permutations.
    for start in range(0, permutations, 1000):
        size = min(1000, permutations - start)
        shuffled = rng.permuted(np.broadcast_to(pooled, (size, len(pooled))), axis=1)
        diffs = np.abs(shuffled[:, len(a):].mean(axis=1) - shuffled[:, :len(a)].mean(axis=1))
        hits += int(np.count_nonzero(diffs >= observed - 1e-12))
    return (hits + 1) / (permutations + 1)


def needed_per_arm(diff: float, var_a: float | None, var_b: float | None, alpha: float = 0.05,
                   power: float = POWER) -> int | None:
    """Units per arm for a two-sided test at ``alpha`` to detect ``diff`` with ``power``.

    None when it cannot be said: no difference observed, or no variance estimate yet.
    """
    if var_a is None or var_b is None or diff == 0 or not math.isfinite(diff):
        return None
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    spread = var_a + var_b
    if spread == 0:
        return None
    return int(math.ceil(z * z * spread / (diff * diff)))


def probability_best(totals: dict[str, dict[str, float]], arms: list[str], binary: bool,
                     higher_is_better: bool = True, draws: int = 20_000,
                     seed: int = 0) -> dict[str, float]:
    """Thompson sampling: the posterior probability that each arm has the best mean.

    Binary outcomes: Beta(1 + successes, 1 + failures), a uniform prior. Continuous
    outcomes: a normal model with unknown mean and variance (normal-inverse-gamma prior
    worth one observation, centred on the pooled mean and variance so that no arm is
    favoured); its posterior for the mean is a Student t. Monte Carlo with ``draws`` samples
    from a generator seeded with ``seed``, so the same state gives the same answer.
    """
    rng = np.random.default_rng(seed)
    samples = np.empty((draws, len(arms)))
    pooled_n = sum(totals.get(a, {}).get("n", 0) for a in arms)
    pooled_sum = sum(totals.get(a, {}).get("sum", 0.0) for a in arms)
    pooled_sq = sum(totals.get(a, {}).get("sum_sq", 0.0) for a in arms)
    prior_mean = pooled_sum / pooled_n if pooled_n else 0.0
    prior_var = variance(pooled_n, pooled_sum, pooled_sq, False) if pooled_n >= 2 else None
    prior_var = prior_var if prior_var else 1.0
    for j, arm in enumerate(arms):
        t = totals.get(arm, {"n": 0, "sum": 0.0, "sum_sq": 0.0})
        n, s, ss = int(t["n"]), float(t["sum"] or 0.0), float(t["sum_sq"] or 0.0)
        if binary:
            samples[:, j] = rng.beta(1 + s, 1 + n - s, size=draws)
            continue
        # Normal-inverse-gamma update with kappa0 = 1, alpha0 = 1, beta0 = prior variance.
        mean = s / n if n else prior_mean
        sq_dev = max(0.0, ss - s * s / n) if n else 0.0
        kappa = 1 + n
        mu = (prior_mean + n * mean) / kappa
        shape = 1 + n / 2
        rate = prior_var + sq_dev / 2 + n * (mean - prior_mean) ** 2 / (2 * kappa)
        scale = math.sqrt(rate / (shape * kappa))
        samples[:, j] = mu + scale * rng.standard_t(2 * shape, size=draws)
    best = samples.argmax(axis=1) if higher_is_better else samples.argmin(axis=1)
    counts = np.bincount(best, minlength=len(arms))
    return {arm: float(counts[j] / draws) for j, arm in enumerate(arms)}


def floored_split(p_best: dict[str, float], min_share: float) -> dict[str, float]:
    """Traffic shares from the probability each arm is best, each at least ``min_share``.

    ``min_share + (1 - k * min_share) * p``: the floor keeps the losing arm measured, so a
    lucky early streak can be overturned, and the shares still sum to one.
    """
    k = len(p_best)
    room = 1.0 - k * min_share
    return {arm: min_share + room * p for arm, p in p_best.items()}


def posterior_curve(arm: dict[str, float], binary: bool, grid: np.ndarray) -> np.ndarray | None:
    """Posterior density of an arm's mean over ``grid`` (for the report's plot)."""
    n, s, ss = int(arm["n"]), float(arm["sum"]), float(arm["sum_sq"])
    if n == 0:
        return None
    if binary:
        return stats.beta.pdf(grid, 1 + s, 1 + n - s)
    if n < 2:
        return None
    var = variance(n, s, ss, False) or 0.0
    if var == 0:
        return None
    return stats.t.pdf(grid, n - 1, loc=s / n, scale=math.sqrt(var / n))
