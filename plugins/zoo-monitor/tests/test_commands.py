"""`zoo monitor`, `zoo alerts` and `zoo batches`, run as the real commands on a real registry."""

import json

import numpy as np
import pandas as pd
import pytest
from zoo_monitor import store

from zoo import Registry, build_catalogue

DRIFTED = ["mean radius", "mean texture", "worst smoothness"]


@pytest.fixture
def files(register, cancer, shifted, tmp_path):
    """cancer:1 registered; CSV files of clean, drifted, badly drifted and mislabelled rows."""
    train_rows, clean = cancer
    register("cancer", "sklearn.logistic_regression", train_rows, "target")
    features = [c for c in clean.columns if c != "target"]
    rng = np.random.default_rng(1)
    noisy = clean.copy()
    flip = rng.random(len(noisy)) < 0.25
    noisy.loc[flip, "target"] = 1 - noisy.loc[flip, "target"]
    tables = {"clean": clean.iloc[:135], "fresh": clean.iloc[135:],
              "drifted": shifted(clean.iloc[:135], DRIFTED), "worse": shifted(clean, features[:12]),
              "noisy": noisy, "no_radius": clean.drop(columns="mean radius")}
    paths = {}
    for name, df in tables.items():
        paths[name] = tmp_path / f"{name}.csv"
        df.to_csv(paths[name], index=False)
    return paths


def monitor(zoo, *args, code=0):
    result = zoo("monitor", *args, "--json", ok=False)
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def test_health_falls_when_drift_is_injected_and_recovers_on_clean_data(zoo, files):
    clean = monitor(zoo, "cancer:1", files["clean"], "--target", "target")
    drifted = monitor(zoo, "cancer:1", files["drifted"], "--target", "target", "--threshold", 80, code=3)
    fresh = monitor(zoo, "cancer:1", files["fresh"], "--target", "target", "--threshold", 80)
    assert clean["health"] >= 90 and fresh["health"] >= 90 and clean["healthy"] and fresh["healthy"]
    assert set(drifted["drift"]["drifted"]) == set(DRIFTED)
    assert drifted["health"] <= clean["health"] - 25 and not drifted["healthy"]
    assert clean["alerts"] == [] and fresh["alerts"] == []
    assert [a["check"] for a in drifted["alerts"]] == ["health"]


def test_alert_cooldown(zoo, files, registry_path):
    first = monitor(zoo, "cancer:1", files["drifted"])["alerts"]
    assert [(a["check"], a["severity"], a["raised"]) for a in first] == [("health", "LOW", True)]
    # The same alert again within the cooldown is suppressed, and says by which alert.
    again = monitor(zoo, "cancer:1", files["drifted"])["alerts"]
    assert not again[0]["raised"] and again[0]["suppressed_by"]["id"] == first[0]["id"]
    result = zoo("monitor", "cancer:1", files["drifted"])
    assert "suppressed" in result.output and "Alerts" in result.output
    # A more severe alert of the same check goes through.
    worse = monitor(zoo, "cancer:1", files["worse"], code=3)["alerts"]
    health = next(a for a in worse if a["check"] == "health")
    assert health["severity"] in ("MEDIUM", "HIGH", "CRITICAL") and health["raised"]
    # With a cooldown of 0 a repeat is kept.
    repeat = monitor(zoo, "cancer:1", files["drifted"], "--cooldown", 0)["alerts"]
    assert repeat[0]["raised"] and repeat[0]["id"] > health["id"]
    with Registry(registry_path) as reg:
        stored = store.alerts(reg, "cancer:1", limit=100)
    assert [a["severity"] for a in stored if a["check"] == "health"] == ["LOW", health["severity"], "LOW"]


def test_alerts_lists_by_model_version_and_severity(zoo, files, register, cancer, registry_path):
    monitor(zoo, "cancer:1", files["drifted"])
    monitor(zoo, "cancer:1", files["noisy"], "--target", "target", code=3)
    register("cancer", "sklearn.logistic_regression", cancer[0], "target")  # cancer:2
    monitor(zoo, "cancer:2", files["drifted"])
    every = json.loads(zoo("alerts", "--json").stdout)
    by_model = json.loads(zoo("alerts", "cancer", "--json").stdout)
    first = json.loads(zoo("alerts", "cancer:1", "--json").stdout)
    assert every == by_model and len(every) == len(first) + 1
    assert {a["ref"] for a in first} == {"cancer:1"} and every[0]["ref"] == "cancer:2"
    assert [a["id"] for a in every] == sorted((a["id"] for a in every), reverse=True)  # newest first
    high = json.loads(zoo("alerts", "cancer", "--severity", "high", "--json").stdout)
    assert high and all(a["severity"] in ("HIGH", "CRITICAL") for a in high)
    assert len(json.loads(zoo("alerts", "--limit", 1, "--json").stdout)) == 1
    assert set(every[0]) >= {"id", "ref", "at", "check", "severity", "message", "details"}
    table = zoo("alerts", "cancer:1").output
    assert "health" in table and "LOW" in table


def test_retrain_registers_a_challenger_with_lineage_and_alias(zoo, files, registry_path):
    report = monitor(zoo, "cancer:1", files["noisy"], "--target", "target", "--retrain", code=3)
    assert report["health"] < 60 and report["challenger"]["ref"] == "cancer:2"
    assert {a["check"] for a in report["alerts"]} == {"health", "performance"}
    with Registry(registry_path) as reg:
        champion, challenger = reg.get("cancer:1"), reg.get("cancer@challenger")
        lineage = reg.lineage("cancer@challenger")
    assert challenger["version"] == 2 and challenger["aliases"] == ["challenger"]
    assert [(p["ref"], p["relation"]) for p in lineage["parents"]] == [("cancer:1", "retrained")]
    assert challenger["component"] == champion["component"] and challenger["params"] == champion["params"]
    assert challenger["data"]["rows"] == 269 and set(challenger["metrics"]) == set(champion["metrics"])
    assert "reference.parquet" in challenger["artifacts"]  # the challenger can be monitored in turn
    # Healthy: no challenger.
    healthy = monitor(zoo, "cancer:1", files["clean"], "--target", "target", "--retrain")
    assert healthy["challenger"] is None
    with Registry(registry_path) as reg:
        assert reg.get("cancer")["version"] == 2
    text = zoo("monitor", "cancer:1", files["clean"], "--target", "target", "--retrain").output
    assert "no challenger trained" in text


def test_retrain_trains_on_the_versions_own_columns_only(zoo, files, tmp_path, registry_path):
    noisy = pd.read_csv(files["noisy"])
    extra = tmp_path / "extra.csv"
    noisy.assign(customer_id=np.arange(len(noisy)), region="north").to_csv(extra, index=False)
    report = monitor(zoo, "cancer:1", extra, "--target", "target", "--retrain", code=3)
    with Registry(registry_path) as reg:
        champion, challenger = reg.get("cancer:1"), reg.get(report["challenger"]["ref"])
    assert challenger["metadata"]["feature_names"] == champion["metadata"]["feature_names"]
    assert challenger["data"]["schema"] == champion["data"]["schema"]  # features and target, nothing else


def test_batches_recorded_by_zoo_predict_show_in_monitor_and_batches(zoo, files, tmp_path):
    zoo("predict", "cancer:1", files["clean"], "--chunk-rows", 50, "-o", tmp_path / "out.csv")
    report = monitor(zoo, "cancer:1", files["clean"], "--batches", 2)
    assert [b["rows"] for b in report["batches"]] == [35, 50]
    assert all(b["prediction_shift"]["kind"] == "tvd" and b["prediction_shift"]["value"] < 0.2
               for b in report["batches"])
    listed = json.loads(zoo("batches", "cancer", "--json").stdout)
    assert [b["rows"] for b in listed] == [35, 50, 50]
    assert listed[0]["summary"]["proba_mean"].keys() == {"0", "1"}
    assert "predict" in zoo("batches", "cancer:1").output


def test_a_regressor_is_monitored_on_its_own_metrics(zoo, register, tmp_path):
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True).frame
    register("sugar", "sklearn.ridge", frame.iloc[:300], "target")
    noisy = frame.iloc[300:].copy()
    noisy["target"] = noisy["target"] + np.random.default_rng(0).normal(0, 100, len(noisy))
    noisy.to_csv(tmp_path / "noisy.csv", index=False)
    report = monitor(zoo, "sugar:1", tmp_path / "noisy.csv", "--target", "target", code=3)
    assert report["performance"]["drops"]["rmse"] > 0.3
    assert {"health", "performance"} <= {a["check"] for a in report["alerts"]}


def test_bad_input_is_one_line_and_writes_nothing(zoo, one_line_error, files, registry_path):
    cases = [
        (("monitor", "cancer:1", files["no_radius"]), "has no column 'mean radius'"),
        (("monitor", "nothing:1", files["clean"]), "no model named 'nothing'"),
        (("monitor", "cancer:7", files["clean"]), "no version 7"),
        (("monitor", "cancer:1", files["noisy"], "--retrain"), "--retrain needs --target"),
        (("monitor", "cancer:1", files["clean"], "--target", "label"), "no column 'label'"),
        (("monitor", "cancer:1", files["clean"], "--param", "alpha=2"), "alpha must be between 0 and 1"),
        (("monitor", "cancer:1", files["clean"], "--param", "nope=1"), "has no parameter 'nope'"),
        (("monitor", "cancer:1", files["clean"], "--threshold", 120), "--threshold must be between"),
        (("alerts", "nothing"), "no model named 'nothing'"),
        (("batches", "cancer:3"), "no version 3"),
    ]
    for args, message in cases:
        assert message in one_line_error(zoo(*args, ok=False)), args
    with Registry(registry_path) as reg:
        plain = build_catalogue().get("zoo.baseline_classifier").create().fit(np.zeros((4, 1)), [0, 1, 0, 1])
        reg.register("bare", plain)  # registered from Python: no reference sample
    assert "keeps no reference sample" in one_line_error(zoo("monitor", "bare", files["clean"], ok=False))
    with Registry(registry_path) as reg:
        assert store.alerts(reg) == [] and store.batches(reg) == []
        assert [v["ref"] for v in reg.versions()] == ["bare:1", "cancer:1"]


def test_performance_changes_read_better_or_worse_by_each_metrics_direction(zoo, files):
    from zoo_monitor.commands import change_text
    from zoo_monitor.health import _drop

    # Issue 18 printed "worse by -12.4%" for a ROC-AUC that rose and a log loss that fell.
    assert change_text(_drop("roc_auc", 0.80, 0.90)) == "12.5% better"
    assert change_text(_drop("log_loss", 0.30, 0.15)) == "50.0% better"
    assert change_text(_drop("log_loss", 0.10, 0.16)) == "60.0% worse"
    assert change_text(_drop("rmse", 2.0, 1.0)) == "50.0% better"
    assert change_text(_drop("accuracy", 0.9, 0.9)) == "unchanged" and change_text(None) == ""
    text = zoo("monitor", "cancer:1", files["noisy"], "--target", "target", ok=False).output
    table = text[text.index("Performance"):]
    assert "worse by" not in text and "-%" not in table
    assert "worse" in table  # flipped labels: accuracy and ROC-AUC fell


def test_retrain_columns_are_the_versions_features_not_its_whole_training_table():
    from zoo_monitor.commands import _training_columns

    # Registered from Python with the fingerprint of a wider table (ids, notes): the model
    # uses two of its columns, and a challenger is trained on those and the label only.
    version = {"metadata": {"feature_names": ["a", "b"], "target": "y"},
               "data": {"schema": {"id": "int64", "a": "float64", "b": "float64", "note": "object",
                                   "y": "int64"}}}
    assert _training_columns(version, "label") == ["a", "b", "label"]
    # A version that recorded no feature names falls back to its schema less its label.
    version["metadata"] = {"target": "y"}
    assert _training_columns(version, "y") == ["id", "a", "b", "note", "y"]
