"""Anomaly detectors on ADBench data: every zoo-pyod detector's ROC-AUC, and ``pyod.auto``'s
leave-one-dataset-out ROC-AUC beside them on the same splits.

    nice -n 10 .venv/bin/python benchmarks/anomaly.py [--data ../shared/data/adbench] [--quick]
        [--raw] [--cache DIR] [--fresh] [--out runs.csv]

ADBench protocol, for every ``.npz`` in DIR (each holds ``X`` and ``y``, 1 = anomaly):
a data set under 1,000 rows is bootstrapped to 1,000, one over 10,000 subsampled to
10,000; stratified 70/30 split; MinMax scaling fit on the training part; each detector
is fitted on the training part (labels unused) and scores the test part; ROC-AUC on the
test part, mean of seeds 1, 2, 3. Defaults everywhere, the same for every data set.

``pyod.auto`` combines some of the single detectors (see ``zoo_pyod/auto.py``). A
design is a member set, a normalisation and a combination rule. Every design is scored
from the single detectors' cached scores (train and test, per data set, seed and
detector, in ``--cache``; ``--fresh`` recomputes them). Leave-one-dataset-out: for each
data set, the design with the best mean ROC-AUC on the *other* data sets is chosen and
its ROC-AUC on the held-out set is reported, so auto's figure is an estimate for data
it was not designed on. The design the same rule picks on every data set is the one
``pyod.auto`` should ship; the script says whether it does, and checks on one seed that
the real ``pyod.auto`` component scores exactly as the cached design.

``--quick``: seed 1 only, and no raw PyOD. ``--raw``: also run raw PyOD's classes for a
same-run comparison (doubles the time). When DIR holds ``published_auc.csv`` the
published figures are printed beside ours. Without DIR (the shared copy lives in
../shared/data/adbench, outside the repository) the script says so and exits with 2.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # KMeans uses OpenMP

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "adbench"
SEEDS = (1, 2, 3)
SINGLE = ("iforest", "ecod", "copod", "hbos", "knn", "lof", "cblof", "pca", "ocsvm", "loda")
TARGET = 0.857
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


def cache_dir(base: Path | None) -> Path:
    """A cache folder named by the library versions and detector defaults its scores depend on."""
    import numpy
    import scipy
    import sklearn
    from pyod import __version__ as pyod_version

    from zoo.catalogue import build_catalogue

    catalogue = build_catalogue()
    key = {"versions": [pyod_version, sklearn.__version__, numpy.__version__, scipy.__version__],
           "params": {d: catalogue.get(f"pyod.{d}").cls.param_defaults() for d in SINGLE}}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return (base or Path(tempfile.gettempdir()) / "zoo-anomaly-cache") / digest


def member_scores(name: str, X_train, X_test) -> tuple:
    """A zoo detector's training and test scores (both from ``decision_function``) and its seconds."""
    from zoo.catalogue import build_catalogue

    start = time.perf_counter()
    model = build_catalogue().get(f"pyod.{name}").create().fit(X_train)
    test = model.decision_function(X_test)
    return model.decision_scores_, test, time.perf_counter() - start


def cached_scores(folder: Path, file: str, seed: int, name: str, X_train, X_test, fresh: bool) -> dict:
    import numpy as np

    path = folder / f"{Path(file).stem}-seed{seed}-{name}.npz"
    if path.exists() and not fresh:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    train, test, seconds = member_scores(name, X_train, X_test)
    folder.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        np.savez(f, train=train, test=test, seconds=np.array(seconds))
    return {"train": train, "test": test, "seconds": np.array(seconds)}


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


def auc_columns(scores, y):
    """ROC-AUC of every column of ``scores`` against labels ``y`` (ties count half, as sklearn's)."""
    from scipy.stats import rankdata

    ranks = rankdata(scores, axis=0)
    pos = y == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    return (ranks[pos].sum(axis=0) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def designs(n_members: int) -> list[tuple[tuple[int, ...], str, str]]:
    """Every (member subset of at least MIN_MEMBERS, normalisation, combination), smallest first."""
    from itertools import combinations

    from zoo_pyod.auto import COMBINATIONS, MIN_MEMBERS, NORMALISATIONS

    out = []
    for size in range(MIN_MEMBERS, n_members + 1):
        for subset in combinations(range(n_members), size):
            for how in NORMALISATIONS:
                for rule in COMBINATIONS:
                    out.append((subset, how, rule))
    return out


def design_aucs(scores: dict, members: tuple[str, ...], y_test, table: list) -> list[float]:
    """ROC-AUC on one split of every design in ``table``, through zoo_pyod.auto's own functions."""
    import numpy as np
    from zoo_pyod.auto import combine, fit_scale, normalise

    columns = {}
    for how in {d[1] for d in table}:
        columns[how] = np.column_stack([normalise(scores[m]["test"], fit_scale(scores[m]["train"], how))
                                        for m in members])
    combined = np.column_stack([combine(columns[how][:, list(subset)], rule) for subset, how, rule in table])
    return auc_columns(combined, y_test).tolist()


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


def describe(design: tuple[tuple[int, ...], str, str], members: tuple[str, ...]) -> str:
    subset, how, rule = design
    return f"{how}/{rule}: {'+'.join(members[i] for i in subset)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of ADBench .npz files")
    parser.add_argument("--quick", action="store_true", help="seed 1 only, no raw PyOD")
    parser.add_argument("--raw", action="store_true", help="also run raw PyOD for comparison")
    parser.add_argument("--cache", type=Path, help="score cache folder (default: the temp folder)")
    parser.add_argument("--fresh", action="store_true", help="recompute cached detector scores")
    parser.add_argument("--out", type=Path, help="write every single-detector run (long format) to this CSV")
    args = parser.parse_args()

    files = sorted(args.data.glob("*.npz")) if args.data.is_dir() else []
    if not files:
        print(f"No ADBench data: {args.data} is missing or holds no .npz files, so nothing was "
              "measured; pass --data DIR (the shared copy lives in ../shared/data/adbench)", file=sys.stderr)
        sys.exit(2)

    import numpy as np
    from zoo_pyod import auto as shipped

    from zoo.catalogue import build_catalogue

    seeds = SEEDS[:1] if args.quick else SEEDS
    raw = args.raw and not args.quick
    folder = cache_dir(args.cache)
    print(f"score cache: {folder}", file=sys.stderr)
    pub = published(args.data)
    table = designs(len(SINGLE))
    runs = []  # (file, detector, seed, source, auc, seconds)
    per_design = {}  # file -> list over seeds of per-design AUCs
    started = time.perf_counter()
    for path in files:
        with np.load(path, allow_pickle=False) as z:
            X, y = z["X"].astype(np.float64), z["y"].astype(int)
        for seed in seeds:
            X_train, X_test, y_test = split(X, y, seed)
            scores = {d: cached_scores(folder, path.name, seed, d, X_train, X_test, args.fresh)
                      for d in SINGLE}
            for d in SINGLE:
                auc = float(auc_columns(scores[d]["test"][:, None], y_test)[0])
                runs.append((path.name, d, seed, "zoo", auc, float(scores[d]["seconds"])))
                if raw:
                    raw_scores, seconds = run_raw(d, X_train, X_test)
                    auc = (float(auc_columns(raw_scores[:, None], y_test)[0])
                           if raw_scores is not None else None)
                    runs.append((path.name, d, seed, "pyod", auc, seconds))
            per_design.setdefault(path.name, []).append(design_aucs(scores, SINGLE, y_test, table))
            print(f"  {path.name} seed {seed} done ({time.perf_counter() - started:.0f} s)",
                  file=sys.stderr, flush=True)

    names = [p.name for p in files]
    by_set = np.array([np.mean(per_design[f], axis=0) for f in names])  # sets x designs
    # Leave one data set out: choose on the others, score the held-out one.
    held_out, picks = shipped.leave_one_dataset_out(by_set)
    lodo, chosen = dict(zip(names, held_out, strict=True)), dict(zip(names, picks, strict=True))
    final = shipped.choose_design(by_set)

    def cell(file: str, name: str, source: str) -> float | None:
        aucs = [r[4] for r in runs if r[0] == file and r[1] == name and r[3] == source]
        return None if not aucs or None in aucs else mean(aucs)

    seed_text = ",".join(map(str, seeds))
    print(f"\nROC-AUC on the test part, mean of seeds {seed_text}; pyod.auto = leave-one-dataset-out "
          "(design chosen on the other sets); (published)")
    columns = ("auto", *SINGLE)
    header = f"{'dataset':<16}" + "".join(f"{d:>15}" for d in columns)
    print(header)
    print("-" * len(header))
    for file in names:
        line = f"{Path(file).stem:<16}{fmt(lodo[file]):>15}"
        for d in SINGLE:
            ours, theirs = cell(file, d, "zoo"), pub.get((file, d))
            line += f"{fmt(ours):>8} ({fmt(theirs)})" if theirs is not None else f"{fmt(ours):>15}"
        print(line)
    print("-" * len(header))
    means = {d: mean(cell(f, d, "zoo") for f in names) for d in SINGLE}
    means["auto"] = mean(lodo.values())
    pub_means = {d: mean(pub.get((f, d)) for f in names) if pub else None for d in SINGLE}
    line = f"{'MEAN':<16}{fmt(means['auto']):>15}"
    for d in SINGLE:
        line += (f"{fmt(means[d]):>8} ({fmt(pub_means[d])})" if pub_means[d] is not None
                 else f"{fmt(means[d]):>15}")
    print(line)

    print("\nDesign chosen for each held-out set (from the other sets only):")
    for file in names:
        print(f"  {Path(file).stem:<16}{describe(table[chosen[file]], SINGLE)}")

    print(f"\nPer detector: mean ROC-AUC ours{' / raw PyOD in this run' if raw else ''} / published; "
          f"fit+score seconds summed over {len(files) * len(seeds)} runs (from the cache when cached)")
    for d in SINGLE:
        raw_mean = mean(cell(f, d, "pyod") for f in names) if raw else None
        ours_s = sum(r[5] for r in runs if r[1] == d and r[3] == "zoo")
        print(f"  pyod.{d:<9}{fmt(means[d]):>8}{fmt(raw_mean):>8}{fmt(pub_means[d]):>8}{ours_s:>9.1f} s")
    for d, file in sorted({(r[1], Path(r[0]).stem) for r in runs if r[3] == "pyod" and r[4] is None}):
        print(f"raw PyOD {d} gave infinite scores on {file}: its raw mean leaves that data set out")

    best_single = max((means[d], d) for d in SINGLE)
    verdict = "above" if means["auto"] > best_single[0] else "NOT above"
    print(f"\npyod.auto leave-one-dataset-out mean ROC-AUC {means['auto']:.4f} is {verdict} every single "
          f"detector's mean on the same splits (best: pyod.{best_single[1]} {best_single[0]:.4f})")
    verdict = "above" if means["auto"] > TARGET else "NOT above"
    print(f"pyod.auto leave-one-dataset-out mean ROC-AUC {means['auto']:.4f} is {verdict} "
          f"the target {TARGET}")

    subset, how, rule = table[final]
    picked = tuple(f"pyod.{SINGLE[i]}" for i in subset)
    print(f"\nDesign chosen on all {len(names)} sets (mean ROC-AUC {by_set.mean(axis=0)[final]:.4f}, "
          f"in-sample): {describe(table[final], SINGLE)}")
    ships = (set(picked), how, rule) == (set(shipped.AUTO_MEMBERS), shipped.AUTO_NORMALISE,
                                         shipped.AUTO_COMBINE)
    verdict = ("the same design" if ships else "a different design (chosen on seeds 1-3; --quick uses one)"
               if args.quick else "a DIFFERENT design: update zoo_pyod/auto.py")
    print(f"pyod.auto ships {shipped.AUTO_NORMALISE}/{shipped.AUTO_COMBINE}: "
          f"{'+'.join(m.removeprefix('pyod.') for m in shipped.AUTO_MEMBERS)} -> {verdict}")

    # The real component on one split, against the cached scores of its design.
    with np.load(files[0], allow_pickle=False) as z:
        X, y = z["X"].astype(np.float64), z["y"].astype(int)
    X_train, X_test, y_test = split(X, y, seeds[0])
    model = build_catalogue().get("pyod.auto").create().fit(X_train)
    scores = {d: cached_scores(folder, files[0].name, seeds[0], d, X_train, X_test, False) for d in SINGLE}
    members = tuple(m.removeprefix("pyod.") for m in shipped.AUTO_MEMBERS)
    expected = shipped.combine(np.column_stack([
        shipped.normalise(scores[m]["test"], shipped.fit_scale(scores[m]["train"], shipped.AUTO_NORMALISE))
        for m in members]), shipped.AUTO_COMBINE)
    gap = float(np.max(np.abs(model.decision_function(X_test) - expected)))
    print(f"real pyod.auto on {files[0].stem} seed {seeds[0]} scores as its cached design: "
          f"max |difference| {gap:.2g}")
    print(f"\n{len(files)} data sets x {len(seeds)} seeds, {len(table)} designs, "
          f"{time.perf_counter() - started:.0f} s")

    if args.out:
        with open(args.out, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["file", "detector", "seed", "source", "auc_roc", "seconds"])
            writer.writerows(runs)


if __name__ == "__main__":
    main()
