"""What zoo-monitor's batch_predicted hook adds to a scoring call.

Scores 10,000 rows (breast-cancer features resampled with noise) with a registered
logistic regression and a ridge regressor, loaded observed (the hook summarises the batch
and writes it to the registry) and unobserved, in the same run, in a throwaway registry.
Prints the median time per call of each (calls alternate); the median time spent in the hook
inside the observed calls, and (unobserved + hook) / unobserved; and the hook's two parts timed
alone: making the summary and the registry write. On a loaded machine the observed-unobserved
difference is noisier than the hook's own time.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/monitor_hook.py \
        [--rows N] [--repeat R]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from timing import median_time, paired

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class HookClock:
    """Times zoo-monitor's work inside the real observed call (summary + registry write)."""

    def __init__(self) -> None:
        import zoo_monitor.batches

        self.module = zoo_monitor.batches
        self.record = zoo_monitor.batches.record
        self.runs: list[float] = []

        def timed_record(*args, **kwargs):
            start = time.perf_counter()
            try:
                return self.record(*args, **kwargs)
            finally:
                self.runs.append(time.perf_counter() - start)

        self.module.record = timed_record  # the hook looks it up at each call

    def median(self) -> float:
        value, self.runs = statistics.median(self.runs), []
        return value


def measure(reg, clock, version, plain, watched, method, X, repeat) -> str:
    """One table row: ``method`` of a version, unobserved and observed."""
    from zoo_monitor.batches import summarise
    from zoo_monitor.store import record_batch

    clock.runs = []
    base, seen = paired(lambda: getattr(plain, method)(X), lambda: getattr(watched, method)(X), repeat)
    hook = clock.median()
    out = getattr(plain, method)(X)
    summary = summarise(version, X, out, 0.01)
    making = median_time(lambda: summarise(version, X, out, 0.01), repeat, warm=True)
    writing = median_time(lambda: record_batch(reg, version["ref"], len(X), 0.01, summary), repeat,
                          warm=True)
    return (f"{version['component'] + '.' + method:<42} {base * 1e3:>14.2f} {seen * 1e3:>12.2f} "
            f"{hook * 1e3:>9.2f} {(base + hook) / base:>6.2f} {making * 1e3:>11.2f} {writing * 1e3:>9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    import numpy as np
    import pandas as pd
    from sklearn.datasets import load_breast_cancer

    import zoo

    frame = load_breast_cancer(as_frame=True).frame
    rng = np.random.default_rng(0)
    features = [c for c in frame.columns if c != "target"]
    sample = frame.sample(args.rows, replace=True, random_state=0)
    # One float block, as read_table returns it: a frame of 30 separate blocks scores 3x slower.
    values = sample[features].to_numpy() * rng.normal(1.0, 0.01, (len(sample), len(features)))
    rows = pd.DataFrame(values, columns=features).assign(target=sample["target"].to_numpy())
    print(f"{args.rows} rows x {len(features)} features, median of {args.repeat} calls each\n")
    print(f"{'model / call':<42} {'unobserved ms':>14} {'observed ms':>12} {'hook ms':>9} {'ratio':>6}"
          f" {'summary ms':>11} {'write ms':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        reg = zoo.Registry(Path(tmp) / "registry.db")
        clock = HookClock()
        cases = [("sklearn.logistic_regression", "target", ("predict", "predict_proba")),
                 ("sklearn.ridge", "mean area", ("predict",))]
        for component, target, methods in cases:
            version, _ = zoo.train_and_register(reg, component, frame, target,
                                                name=component.split(".")[1])
            plain = reg.load(version["ref"], observed=False)
            watched = reg.load(version["ref"])
            Xc = rows[list(plain.feature_names_in_)]
            for method in methods:
                print(measure(reg, clock, version, plain, watched, method, Xc, args.repeat))
        reg.close()


if __name__ == "__main__":
    main()
