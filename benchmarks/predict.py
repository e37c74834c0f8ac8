"""Prediction overhead of zoo against the raw library call, and conformal intervals
against MAPIE's split conformal, all measured in the same run.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/predict.py [--rows 100000]

For XGBoost and LightGBM regressors on 100,000 rows x 20 features, trained through zoo,
registered and loaded back from a throwaway registry:

- batch throughput: ``model.predict(df)`` (zoo: column matching, checks, conversion) against
  the raw call on the same booster with the same float array (``Booster.inplace_predict``,
  ``lightgbm.Booster.predict``); goal: zoo at least 0.95 of raw;
- single-row latency: the same two calls on one-row inputs; goal: zoo at most
  1.2 x raw + 50 us;
- conformal: coverage and mean width of zoo's 90% split conformal intervals against MAPIE's
  ``SplitConformalRegressor`` (prefit, same model, same calibration and test rows). MAPIE is
  a benchmark-only dependency: ``pip install mapie``; without it that part is skipped.

Timings are medians of repeated runs, interleaved so that load on the shared machine hits
both sides alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path

from timing import median_time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

N_FEATURES = 20


def make_data(rows: int, seed: int = 0):
    """friedman1 with 20 columns (5 informative, 15 noise) and unit noise."""
    import pandas as pd
    from sklearn.datasets import make_friedman1

    X, y = make_friedman1(n_samples=rows, n_features=N_FEATURES, noise=1.0, random_state=seed)
    return pd.DataFrame(X, columns=[f"x{i:02d}" for i in range(N_FEATURES)]), y


def interleaved(a, b, rounds: int, repeats: int) -> tuple[float, float]:
    """Medians of ``a`` and ``b``, measured alternately in ``rounds`` rounds."""
    ta, tb = [], []
    for _ in range(rounds):
        ta.append(median_time(a, repeats))
        tb.append(median_time(b, repeats))
    return statistics.median(ta), statistics.median(tb)


def single_row_latencies(zoo_call, raw_call, frames: list, arrays: list, rounds: int) -> tuple[float, float]:
    """Median seconds per one-row call of zoo and of the raw library, calls alternating row by
    row so that load on the shared machine hits both alike."""
    zoo_times, raw_times = [], []
    for _ in range(rounds):
        for frame, array in zip(frames, arrays, strict=True):
            start = time.perf_counter()
            zoo_call(frame)
            middle = time.perf_counter()
            raw_call(array)
            raw_times.append(time.perf_counter() - middle)
            zoo_times.append(middle - start)
    return statistics.median(zoo_times), statistics.median(raw_times)


def bench_overhead(component: str, raw_call, X, y, registry, params: dict) -> dict:
    """Batch and single-row timings of zoo against the raw booster call."""
    import numpy as np

    from zoo.catalogue import build_catalogue

    model = build_catalogue().get(component).create(**params).fit(X, y)
    ref = registry.register(component.replace(".", "-"), model)["ref"]
    loaded = registry.load(ref)
    array = X.to_numpy()
    raw = raw_call(loaded)
    assert np.array_equal(loaded.predict(X), raw(array)), "zoo and the raw call disagree"

    zoo_batch, raw_batch = interleaved(lambda: loaded.predict(X), lambda: raw(array), rounds=5, repeats=3)
    # One-row inputs as a caller has them: a one-row DataFrame for zoo, a one-row array for raw.
    frames = [X.iloc[[i]] for i in range(500)]
    arrays = [np.ascontiguousarray(array[i:i + 1]) for i in range(500)]
    single_row_latencies(loaded.predict, raw, frames[:50], arrays[:50], rounds=1)  # warm up both
    zoo_one, raw_one = single_row_latencies(loaded.predict, raw, frames, arrays, rounds=4)
    return {"component": component, "rows": len(X), "zoo_batch": zoo_batch, "raw_batch": raw_batch,
            "throughput_ratio": raw_batch / zoo_batch, "zoo_one": zoo_one, "raw_one": raw_one,
            "latency_goal": 1.2 * raw_one + 50e-6}


class _Prefit:
    """A fitted zoo regressor behind the scikit-learn estimator interface, for MAPIE."""

    def __init__(self, model):
        self.model = model

    def fit(self, X, y):  # MAPIE's prefit mode never calls it
        raise NotImplementedError

    def predict(self, X):
        import pandas as pd

        return self.model.predict(pd.DataFrame(X, columns=self.model.feature_names))

    def get_params(self, deep=True):
        return {"model": self.model}

    def set_params(self, **params):
        self.model = params.get("model", self.model)
        return self

    def __sklearn_is_fitted__(self):
        return True


def bench_conformal(X, y, level: float = 0.9) -> dict | None:
    """Coverage and mean width of zoo's split conformal intervals and MAPIE's, same split."""
    import numpy as np

    from zoo.catalogue import build_catalogue
    from zoo.default_plugins import conformal

    n = len(X)
    order = np.random.default_rng(1).permutation(n)
    fit, cal, test = order[: n // 2], order[n // 2: 3 * n // 4], order[3 * n // 4:]
    model = build_catalogue().get("lightgbm.regressor").create(n_estimators=200, n_jobs=2)
    model.fit(X.iloc[fit], y[fit])
    record = conformal.calibrate(model, X.iloc[cal], y[cal])
    ours = conformal.coverage(y[test], conformal.intervals(model, record, X.iloc[test], level))
    result = {"level": level, "n_calibration": len(cal), "n_test": len(test), "zoo": ours,
              "calibration_scores_kept": record["n_scores"]}
    try:
        from mapie.regression import SplitConformalRegressor
    except ImportError:
        result["mapie"] = None
        return result
    mapie = SplitConformalRegressor(_Prefit(model), confidence_level=level, prefit=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mapie.conformalize(X.iloc[cal].to_numpy(), y[cal])
        _, bounds = mapie.predict_interval(X.iloc[test].to_numpy())
    low, high = bounds[:, 0, 0], bounds[:, 1, 0]
    result["mapie"] = {"coverage": float(np.mean((low <= y[test]) & (y[test] <= high))),
                       "mean_width": float(np.mean(high - low))}
    import mapie as mapie_module

    result["mapie_version"] = mapie_module.__version__
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()

    from zoo import Registry

    X, y = make_data(args.rows)
    print(f"{args.rows:,} rows x {N_FEATURES} features (make_friedman1); "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, 2 threads per library")
    print("Data: generated in-process (no ../shared/data needed).\n")
    cases = [
        ("xgboost.regressor", lambda m: (lambda a: m.booster_.inplace_predict(a)),
         {"n_estimators": 100, "max_depth": 6, "n_jobs": 2}),
        ("lightgbm.regressor", lambda m: (lambda a: m.booster_.predict(a, num_threads=2)),
         {"n_estimators": 100, "num_leaves": 31, "n_jobs": 2}),
    ]
    with tempfile.TemporaryDirectory() as tmp, Registry(Path(tmp) / "bench.db") as registry:
        rows = [bench_overhead(c, raw, X, y, registry, p) for c, raw, p in cases]
    print(f"{'model loaded from the registry':<22} {'batch: zoo':>11} {'raw':>9} {'ratio':>7} {'goal':>6}"
          f"   {'1 row: zoo':>11} {'raw':>9} {'limit':>9}")
    for r in rows:
        batch_ok = "ok" if r["throughput_ratio"] >= 0.95 else "MISS"
        one_ok = "ok" if r["zoo_one"] <= r["latency_goal"] else "MISS"
        print(f"{r['component']:<22} {r['zoo_batch'] * 1e3:>9.1f}ms {r['raw_batch'] * 1e3:>7.1f}ms "
              f"{r['throughput_ratio']:>7.3f} {batch_ok:>6}   {r['zoo_one'] * 1e6:>9.0f}us "
              f"{r['raw_one'] * 1e6:>7.0f}us {r['latency_goal'] * 1e6:>7.0f}us {one_ok}")
    print("ratio = raw time / zoo time (zoo's share of raw throughput; goal >= 0.95); "
          "limit = 1.2 x raw + 50 us\n")

    c = bench_conformal(X, y)
    print(f"90% split conformal (lightgbm.regressor, {c['n_calibration']:,} calibration / "
          f"{c['n_test']:,} test rows, same model and split for both):")
    print(f"  zoo:   coverage {c['zoo']['coverage']:.4f}  mean width {c['zoo']['mean_width']:.4f}"
          f"  ({c['calibration_scores_kept']:,} scores kept)")
    if c["mapie"] is None:
        print("  MAPIE: not installed (pip install mapie) - skipped")
    else:
        m = c["mapie"]
        print(f"  MAPIE {c['mapie_version']}: coverage {m['coverage']:.4f}  mean width {m['mean_width']:.4f}")
        print(f"  width ratio zoo / MAPIE: {c['zoo']['mean_width'] / m['mean_width']:.4f}")


if __name__ == "__main__":
    main()
