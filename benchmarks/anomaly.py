"""Anomaly detectors on ADBench data: ROC-AUC of every zoo-pyod detector and of raw PyOD in
the same run, beside ADBench's published figures.

    .venv/bin/python benchmarks/anomaly.py --data ../shared/data/adbench [--out results.csv]

ADBench protocol, for every ``.npz`` in DIR (each holds ``X`` and ``y``, 1 = anomaly):
a data set under 1,000 rows is bootstrapped to 1,000, one over 10,000 subsampled to
10,000; stratified 70/30 split; MinMax scaling fit on the training part; each detector
is fitted on the training part (labels unused) and scores the test part; ROC-AUC on the
test part, mean of seeds 1, 2, 3. Defaults everywhere, the same for every data set.
When DIR holds ``published_auc.csv`` (columns ``dataset,file,detector,published_auc_roc``)
the published figure is printed beside ours.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # KMeans uses OpenMP

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "adbench"
SEEDS = (1, 2, 3)
SINGLE = ("iforest", "ecod", "copod", "hbos", "knn", "lof", "cblof", "pca", "ocsvm", "loda")
DETECTORS = ("auto", *SINGLE)
#: Raw PyOD classes for the same-run comparison, with the seeds our wrappers fix.
RAW = {
    "iforest": ("pyod.models.iforest", "IForest", {"random_state": 0}),
    "ecod": ("pyod.models.ecod", "ECOD", {}),
    "copod": ("pyod.models.copod", "COPOD", {}),
    "hbos": ("pyod.models.hbos", "HBOS", {}),
    "knn": ("pyod.models.knn", "KNN", {}),
    "lof": ("pyod.models.lof", "LOF", {}),
    "cblof": ("pyod.models.cblof", "CBLOF", {"random_state": 0}),
    "pca": ("pyod.models.pca", "PCA", {"random_state": 0}),
    "ocsvm": ("pyod.models.ocsvm", "OCSVM", {}),
    "loda": ("pyod.models.loda", "LODA", {"random_state": 0}),
}


def split(X, y, seed: int):
    """ADBench's sampling, stratified 70/30 split and MinMax scaling fit on the training part."""
    import numpy as np
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import MinMaxScaler

    rng = np.random.default_rng(seed)
    if len(X) < 1000:
        rows = rng.choice(len(X), 1000, replace=True)
    elif len(X) > 10_000:
        rows = rng.choice(len(X), 10_000, replace=False)
    else:
        rows = np.arange(len(X))
    X_train, X_test, _, y_test = train_test_split(X[rows], y[rows], test_size=0.3, stratify=y[rows],
                                                  random_state=seed)
    scaler = MinMaxScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_test


def run_zoo(name: str, X_train, X_test) -> tuple:
    from zoo.catalogue import build_catalogue

    start = time.perf_counter()
    model = build_catalogue().get(f"pyod.{name}").create().fit(X_train)
    scores = model.decision_function(X_test)
    return scores, time.perf_counter() - start


def run_raw(name: str, X_train, X_test) -> tuple:
    import importlib

    import numpy as np

    module, cls, params = RAW[name]
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = getattr(importlib.import_module(module), cls)(**params).fit(X_train)
        scores = model.decision_function(X_test)
    seconds = time.perf_counter() - start
    # Raw PCA can score inf (a zero explained variance): such a run counts as failed.
    return (scores if np.isfinite(scores).all() else None), seconds


def published(data: Path) -> dict[tuple[str, str], float]:
    path = data / "published_auc.csv"
    if not path.exists():
        return {}
    with open(path, newline="") as f:
        return {(row["file"], row["detector"].lower()): float(row["published_auc_roc"])
                for row in csv.DictReader(f) if row.get("published_auc_roc")}


def mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def fmt(value: float | None, width: int = 5) -> str:
    return f"{value:.3f}" if value is not None else "-".center(width)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of ADBench .npz files")
    parser.add_argument("--skip-raw", action="store_true", help="do not run raw PyOD for comparison")
    parser.add_argument("--only", help="comma-separated detectors (default: all)")
    parser.add_argument("--out", type=Path, help="write every run (long format) to this CSV")
    args = parser.parse_args()

    files = sorted(args.data.glob("*.npz")) if args.data.is_dir() else []
    if not files:
        print(f"No ADBench data: {args.data} is missing or holds no .npz files; pass --data DIR "
              "(the shared copy lives in ../shared/data/adbench)", file=sys.stderr)
        sys.exit(2)

    import numpy as np
    from sklearn.metrics import roc_auc_score

    detectors = tuple(args.only.split(",")) if args.only else DETECTORS
    pub = published(args.data)
    runs = []  # (file, detector, seed, source, auc, seconds)
    started = time.perf_counter()
    # One warm-up fit each, so the timings leave out imports and numba compiling.
    warm = np.random.default_rng(0).random((60, 3))
    for name in detectors:
        run_zoo(name, warm, warm)
        if not args.skip_raw and name in RAW:
            run_raw(name, warm, warm)
    for path in files:
        with np.load(path, allow_pickle=False) as z:
            X, y = z["X"].astype(np.float64), z["y"].astype(int)
        for seed in SEEDS:
            X_train, X_test, y_test = split(X, y, seed)
            for name in detectors:
                sources = [("zoo", run_zoo)]
                if not args.skip_raw and name in RAW:
                    sources.append(("pyod", run_raw))
                for source, run in sources:
                    scores, seconds = run(name, X_train, X_test)
                    auc = float(roc_auc_score(y_test, scores)) if scores is not None else None
                    runs.append((path.name, name, seed, source, auc, seconds))
            print(f"  {path.name} seed {seed} done ({time.perf_counter() - started:.0f} s)",
                  file=sys.stderr, flush=True)
    total = time.perf_counter() - started

    def cell(file: str, name: str, source: str) -> float | None:
        aucs = [r[4] for r in runs if r[0] == file and r[1] == name and r[3] == source]
        return None if not aucs or None in aucs else mean(aucs)

    names = [p.name for p in files]
    print("\nROC-AUC on the test part, mean of seeds 1-3: ours (published)")
    header = f"{'dataset':<20}" + "".join(f"{d:>15}" for d in detectors)
    print(header)
    print("-" * len(header))
    for file in names:
        line = f"{Path(file).stem:<20}"
        for d in detectors:
            ours, theirs = cell(file, d, "zoo"), pub.get((file, d))
            line += f"{fmt(ours):>8} ({fmt(theirs)})" if theirs is not None else f"{fmt(ours):>15}"
        print(line)
    print("-" * len(header))
    means = {d: mean(cell(f, d, "zoo") for f in names) for d in detectors}
    pub_means = {d: mean(pub.get((f, d)) for f in names) if pub else None for d in detectors}
    line = f"{'MEAN':<20}"
    for d in detectors:
        line += (f"{fmt(means[d]):>8} ({fmt(pub_means[d])})" if pub_means[d] is not None
                 else f"{fmt(means[d]):>15}")
    print(line)

    print("\nPer detector: mean ROC-AUC ours / raw PyOD in this run / published; fit+score seconds "
          f"summed over {len(files) * len(SEEDS)} runs, after one warm-up fit each (imports, numba)")
    print(f"{'detector':<14}{'ours':>8}{'raw pyod':>10}{'published':>11}{'ours s':>9}{'pyod s':>9}"
          f"{'ratio':>7}")
    for d in detectors:
        raw_mean = mean(cell(f, d, "pyod") for f in names) if d in RAW and not args.skip_raw else None
        ours_s = sum(r[5] for r in runs if r[1] == d and r[3] == "zoo")
        raw_s = sum(r[5] for r in runs if r[1] == d and r[3] == "pyod")
        ratio = f"{ours_s / raw_s:>7.2f}" if raw_s else f"{'-':>7}"
        print(f"pyod.{d:<9}{fmt(means[d]):>8}{fmt(raw_mean):>10}{fmt(pub_means[d]):>11}"
              f"{ours_s:>9.1f}{(f'{raw_s:.1f}' if raw_s else '-'):>9}{ratio}")

    failed = sorted({(r[1], Path(r[0]).stem) for r in runs if r[3] == "pyod" and r[4] is None})
    for name, file in failed:
        print(f"raw PyOD {name} gave infinite scores on {file}: its raw mean leaves that data set out")

    if "auto" in detectors:
        singles = [(means[d], d) for d in detectors if d != "auto" and means[d] is not None]
        if singles:
            best_here = max(singles)
            verdict = "beats" if means["auto"] > best_here[0] else "does NOT beat"
            print(f"\npyod.auto mean ROC-AUC {means['auto']:.4f} {verdict} every single detector's mean "
                  f"in this run (best: pyod.{best_here[1]} {best_here[0]:.4f})")
        full = {}
        for (file, d), v in pub.items():
            if file in names:
                full.setdefault(d, []).append(v)
        published_means = [(sum(v) / len(v), d) for d, v in full.items() if len(v) == len(names)]
        if published_means:
            best_pub = max(published_means)
            verdict = "beats" if means["auto"] > best_pub[0] else "does NOT beat"
            print(f"pyod.auto mean ROC-AUC {means['auto']:.4f} {verdict} the best single detector's "
                  f"published mean on these data sets ({best_pub[1]} {best_pub[0]:.4f}, best of "
                  f"{len(published_means)} published with a figure for every data set)")
    print(f"\n{len(files)} data sets x {len(SEEDS)} seeds, {total:.0f} s")

    if args.out:
        with open(args.out, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["file", "detector", "seed", "source", "auc_roc", "seconds"])
            writer.writerows(runs)


if __name__ == "__main__":
    main()
