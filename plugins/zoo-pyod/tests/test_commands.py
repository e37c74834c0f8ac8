"""``zoo detect`` (zoo_pyod/commands.py) and ``zoo train`` of detectors through the real CLI, on
real registry files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from zootest import one_line_error as error_line
from zootest import version_count, zoo

FEATURES = ["amount", "age", "n_tx", "hour"]


@pytest.fixture
def transactions(tmp_path):
    """400 ordinary rows; rows 0-9 have an amount 9 standard deviations out."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(400, 4)), columns=FEATURES)
    df.loc[:9, "amount"] += 9
    path = tmp_path / "tx.csv"
    df.to_csv(path, index=False)
    return path



def test_component_is_fitted_on_the_data_and_flags_its_contamination_share(transactions, tmp_path,
                                                                          registry_path):
    out = tmp_path / "scores.csv"
    result = zoo("detect", "pyod.iforest", transactions, "--contamination", "0.05", "-o", out,
                 "--explain")
    scores = pd.read_csv(out)
    assert list(scores.columns) == [*FEATURES, "anomaly_score", "anomaly", "driver",
                                    *[f"share_{f}" for f in FEATURES]]
    assert abs(scores["anomaly"].sum() - 20) <= 1
    assert set(range(10)) <= set(np.flatnonzero(scores["anomaly"]))
    assert (scores.loc[:9, "driver"] == "amount").all()
    flagged = scores[scores["anomaly"] == 1]
    np.testing.assert_allclose(flagged[[f"share_{f}" for f in FEATURES]].sum(axis=1), 1.0)
    assert scores.loc[scores["anomaly"] == 0, "share_amount"].isna().all()
    assert "Wrote 400 rows" in result.output
    assert version_count(registry_path) == 0  # detecting never writes to the registry


def test_without_a_detector_pyod_auto_is_used_and_people_get_a_table(transactions):
    result = zoo("detect", transactions, "--explain")
    assert "40 of 400 rows flagged (10.0%) by pyod.auto (fitted on this data)" in result.output
    assert "driver" in result.output and "amount" in result.output


def test_train_a_detector_then_detect_with_the_registered_version(transactions, tmp_path):
    trained = json.loads(zoo("train", "pyod.iforest", transactions, "--name", "fraud",
                             "--param", "contamination=0.05", "--json").stdout)
    assert trained["ref"] == "fraud:1" and trained["kind"] == "detector"
    assert trained["artifact_format"] == "npz" and trained["metadata"]["feature_names"] == FEATURES
    new = pd.read_csv(transactions).assign(customer="c")  # an extra column is ignored with a warning
    new_path = tmp_path / "new.csv"
    new.to_csv(new_path, index=False)
    report = json.loads(zoo("detect", "fraud", new_path, "--json").stdout)
    assert report["detector"] == "fraud:1" and report["fitted_on_data"] is False
    assert report["flagged"] == 20 and report["contamination"] == 0.05  # the training rows again
    assert {a["row"] for a in report["anomalies"]} >= set(range(1, 11))
    assert all(a["customer"] == "c" for a in report["anomalies"])
    # --contamination moves the threshold on the training scores kept with the model.
    moved = json.loads(zoo("detect", "fraud:1", transactions, "--contamination", "0.02",
                           "--json").stdout)
    assert moved["flagged"] == 8 and moved["threshold"] > report["threshold"]


def test_zoo_predict_scores_with_a_registered_detector_too(transactions):
    zoo("train", "pyod.ecod", transactions, "--name", "ecod")
    output = zoo("predict", "ecod", transactions).output
    scored = pd.read_csv(pd.io.common.StringIO(output))
    assert {"anomaly_score", "anomaly"} <= set(scored.columns) and scored["anomaly"].sum() == 40


def test_missing_values_are_one_line_errors_naming_the_column_and_the_fix(transactions, tmp_path,
                                                                         registry_path):
    df = pd.read_csv(transactions)
    df.loc[[4, 9], "age"] = np.nan
    path = tmp_path / "gaps.csv"
    df.to_csv(path, index=False)
    line = error_line(zoo("detect", "pyod.knn", path, ok=False))
    assert "column 'age' has 2 missing values" in line and "impute=median" in line
    error_line(zoo("train", "pyod.knn", path, "--name", "gaps", ok=False))
    assert version_count(registry_path) == 0
    result = zoo("detect", "pyod.knn", path, "--param", "impute=median", "--json")
    assert json.loads(result.stdout)["flagged"] == 40


@pytest.mark.parametrize("args, message", [
    (["nosuch", "{data}"], "no detector component or registered model 'nosuch'"),
    (["sklearn.logistic_regression", "{data}"], "is a predictor; zoo detect needs a detector"),
    (["pyod.knn", "{data}", "--param", "n_neighbours=3"], "has no parameter 'n_neighbours'"),
    (["{data}", "--contamination", "0.7"], "contamination must be above 0 and at most 0.5"),
    (["{data}", "--threshold", "3"], "--threshold and --period are for time-series mode"),
    (["pyod.auto", "{data}", "--time-column", "t", "--dimensions", "amount"], "takes no detector"),
    (["{data}", "--time-column", "t"], "needs both --time-column and --dimensions"),
    (["{data}", "--time-column", "t", "--dimensions", "amount", "--explain"], "--explain is for tables"),
    (["pyod.auto", "missing.csv"], "no such file"),
])
def test_bad_input_is_one_line_and_writes_nothing(transactions, registry_path, args, message):
    line = error_line(zoo("detect", *[a.format(data=transactions) for a in args], ok=False))
    assert message in line
    assert version_count(registry_path) == 0


def test_a_registered_predictor_or_a_param_on_a_ref_is_refused(transactions, tmp_path):
    df = pd.read_csv(transactions).assign(label=lambda d: (d["amount"] > 0).astype(int))
    labelled = tmp_path / "labelled.csv"
    df.to_csv(labelled, index=False)
    zoo("train", "zoo.baseline_classifier", labelled, "--target", "label", "--name", "clf")
    assert "clf:1 is a predictor" in error_line(zoo("detect", "clf", transactions, ok=False))
    zoo("train", "pyod.hbos", transactions, "--name", "h")
    line = error_line(zoo("detect", "h", transactions, "--param", "n_bins=5", ok=False))
    assert "h is a trained model" in line


def test_time_series_mode_flags_spikes_and_dips_with_their_driver(tmp_path):
    rng = np.random.default_rng(7)
    n = 240
    t = np.arange(n)
    week = np.array([1.0, 1.1, 1.15, 1.1, 1.05, 0.7, 0.6])
    df = pd.DataFrame({
        "date": pd.date_range("2024-01-01", periods=n).strftime("%Y-%m-%d"),
        "clicks": (2000 + 3 * t) * week[t % 7] * np.exp(rng.normal(0, 0.03, n)),
        "conversions": (80 + 0.1 * t) * week[t % 7] * np.exp(rng.normal(0, 0.05, n)),
        "campaign": "spring",  # not watched: ignored
    })
    truth = {60: ("clicks", "positive"), 97: ("conversions", "negative"), 130: ("clicks", "negative"),
             171: ("conversions", "positive"), 205: ("clicks", "positive"), 222: ("conversions", "negative")}
    for row, (dim, direction) in truth.items():
        df.loc[row, dim] *= 1.6 if direction == "positive" else 0.5
    path, out = tmp_path / "ads.csv", tmp_path / "flags.csv"
    df.to_csv(path, index=False)
    args = ["detect", path, "--time-column", "date", "--dimensions", "clicks,conversions",
            "--baseline-window", "28"]
    report = json.loads(zoo(*args, "--json", "-o", out).stdout)
    found = {a["row"] - 1: (a["driver"], a["direction"]) for a in report["anomalies"]}
    hits = set(found) & set(truth)
    assert len(hits) / len(found) >= 0.9 and len(hits) / len(truth) >= 0.9, found
    assert all(found[r] == truth[r] for r in hits)
    assert report["periods"] == {"clicks": 7, "conversions": 7} and report["scored"] == n - 28
    written = pd.read_csv(out)
    assert {"clicks_expected", "clicks_score", "anomaly_score", "direction", "driver"} <= set(written.columns)
    people = zoo(*args).output
    assert "positive" in people and "negative" in people and "seasonal period clicks 7" in people
