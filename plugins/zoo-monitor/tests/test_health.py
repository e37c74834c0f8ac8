"""monitor.health: the score falls with injected drift and worse metrics, recovers on clean
data, and its checks raise alerts of the right severity."""

import numpy as np
import pytest
from zoo_monitor.health import HEALTH_BANDS, _drop, baseline_of, severity_of

from zoo import DataError, Registry, ZooError, build_catalogue, predict_table
from zoo.drift import load_reference

DRIFTED = ["mean radius", "mean texture", "worst smoothness"]


@pytest.fixture
def watch(register, cancer, registry_path):
    """(fitted monitor, model, clean rows): monitor.health fitted on the version's reference sample."""
    train_rows, clean = cancer
    version = register("cancer", "sklearn.logistic_regression", train_rows, "target")
    with Registry(registry_path) as reg:
        reference = load_reference(reg, version)
        model = reg.load("cancer:1", observed=False)
    features = list(model.feature_names_in_)
    monitor = build_catalogue().get("monitor.health").create()
    monitor.fit(reference, predict_table(model, reference[features]), baseline_of(version))

    def observe(df, labels=True, outputs=True):
        predictions = predict_table(model, df[features]) if outputs else None
        return monitor.observe(df, predictions, df["target"] if labels else None)

    return observe, clean


def test_health_falls_when_drift_is_injected_and_recovers_on_clean_data(watch, shifted):
    observe, clean = watch
    first, fresh = clean.iloc[:135], clean.iloc[135:]
    before = observe(first)
    drifted = observe(shifted(first, DRIFTED, 1.0))
    after = observe(fresh)  # a fresh clean sample the monitor has not seen
    assert before["health"] >= 90 and after["health"] >= 90
    assert before["alerts"] == [] and after["alerts"] == []
    assert set(drifted["drift"]["drifted"]) == set(DRIFTED)
    assert drifted["health"] <= before["health"] - 25
    alerts = [(a["check"], a["severity"]) for a in drifted["alerts"]]
    assert alerts == [("health", severity_of(drifted["health"]))]
    assert "3 of 30 features drifted (mean radius" in drifted["alerts"][0]["message"]
    # Each drifted feature counts by its effect size: a 1 sd shift is past the full-weight PSI.
    weights = {f["feature"]: f["weight"] for f in drifted["drift"]["features"]}
    assert all(weights[f] == 1.0 for f in DRIFTED) and sum(weights.values()) == 3.0


def test_more_drift_never_scores_healthier(watch, shifted):
    observe, clean = watch
    features = [c for c in clean.columns if c != "target"]
    by_count = [observe(shifted(clean, features[:k]), labels=False)["health"] for k in (0, 1, 3, 10, 30)]
    assert by_count == sorted(by_count, reverse=True) and by_count[0] - by_count[-1] >= 60
    by_size = [observe(shifted(clean, DRIFTED, sd), labels=False)["health"] for sd in (0.0, 0.5, 1.0, 2.0)]
    assert by_size == sorted(by_size, reverse=True) and by_size[0] > by_size[-1]


def test_flipped_labels_lower_health_through_performance(watch):
    observe, clean = watch
    rng = np.random.default_rng(1)
    results = []
    for share in (0.0, 0.1, 0.25):
        noisy = clean.copy()
        flip = rng.random(len(noisy)) < share
        noisy.loc[flip, "target"] = 1 - noisy.loc[flip, "target"]
        results.append(observe(noisy))
    health = [r["health"] for r in results]
    assert health == sorted(health, reverse=True) and health[0] >= 90 and health[-1] < 50
    assert all(r["drift"]["drifted"] == [] for r in results)  # the features did not move
    worst = results[-1]
    assert worst["performance"]["drops"]["accuracy"] > 0.15
    checks = {a["check"]: a["severity"] for a in worst["alerts"]}
    assert checks["performance"] in ("HIGH", "CRITICAL") and "roc_auc" in worst["alerts"][1]["message"]
    assert checks["health"] == severity_of(worst["health"])


def test_outputs_that_move_raise_a_prediction_shift_alert(watch, shifted):
    observe, clean = watch
    features = [c for c in clean.columns if c != "target"]
    result = observe(shifted(clean, features, 2.0), labels=False)
    shift = result["prediction_shift"]
    assert shift["drift"] and shift["outputs"] == ["proba_1"] and shift["psi"] > 0.5
    assert ("prediction_shift", "HIGH") in [(a["check"], a["severity"]) for a in result["alerts"]]
    assert not observe(clean, labels=False)["prediction_shift"]["drift"]


def test_a_joint_drift_test_spreads_its_verdict_over_features_by_effect_size(register, cancer, shifted,
                                                                             registry_path):
    train_rows, clean = cancer
    version = register("cancer", "sklearn.logistic_regression", train_rows, "target")
    with Registry(registry_path) as reg:
        reference = load_reference(reg, version)
    monitor = build_catalogue().get("monitor.health").create(drift_test="drift.mmd")
    monitor.fit(reference, baseline=baseline_of(version))
    calm, moved = monitor.observe(clean), monitor.observe(shifted(clean, DRIFTED))
    assert calm["health"] == 100.0 and calm["drift"]["drifted"] == []
    assert moved["drift"]["test"] == "drift.mmd" and moved["drift"]["joint"][0]["drift"]
    weights = {f["feature"]: f["weight"] for f in moved["drift"]["features"]}
    assert all(weights[f] == 1.0 for f in DRIFTED) and len(moved["drift"]["drifted"]) == 30
    assert moved["health"] < 80


def test_metric_drops_by_kind():
    assert _drop("roc_auc", 0.9, 0.81) == pytest.approx(0.1)  # relative drop
    assert _drop("accuracy", 0.9, 0.95) < 0  # better
    assert _drop("rmse", 2.0, 3.0) == pytest.approx(0.5)  # relative rise of a loss
    assert _drop("log_loss", 0.1, 5.0) == 1.0  # capped
    assert _drop("r2", 0.05, -0.05) == pytest.approx(0.1)  # absolute, r2 may sit near 0
    assert _drop("rmse", 0.0, 1.0) is None and _drop("unknown", 1.0, 0.5) is None


def test_severity_bands():
    assert [severity_of(h) for h in (100, 80, 79.9, 60, 59, 40, 39, 20, 19.9, 0)] == [
        None, None, "LOW", "LOW", "MEDIUM", "MEDIUM", "HIGH", "HIGH", "CRITICAL", "CRITICAL"]
    assert [b for b, _ in HEALTH_BANDS] == sorted(b for b, _ in HEALTH_BANDS)


def test_latency_check_compares_recent_batches_with_older_ones():
    monitor = build_catalogue().get("monitor.health").create(latency_factor=3.0)

    def batches(recent_seconds, older_seconds, n_recent=5, n_older=5):
        return ([{"rows": 1000, "seconds": recent_seconds}] * n_recent
                + [{"rows": 1000, "seconds": older_seconds}] * n_older)

    assert monitor.check_latency(batches(0.01, 0.01)) is None
    slow = monitor.check_latency(batches(0.05, 0.01))
    assert slow["check"] == "latency" and slow["severity"] == "LOW"
    assert slow["details"]["ratio"] == pytest.approx(5)
    assert monitor.check_latency(batches(0.2, 0.01))["severity"] == "MEDIUM"
    assert monitor.check_latency(batches(0.05, 0.01, n_older=4)) is None  # too few to compare with


def test_bad_input_is_one_clear_error(watch):
    observe, clean = watch
    with pytest.raises(DataError, match="no column 'mean radius'"):
        observe(clean.drop(columns="mean radius"), labels=False, outputs=False)
    bad = clean.assign(target=clean["target"].replace({1: 7}))
    with pytest.raises(DataError, match="label 7 was not seen"):
        observe(bad)
    monitor = build_catalogue().get("monitor.health").create(drift_scale=0)
    with pytest.raises(ZooError, match="drift_scale must be a number above 0"):
        monitor.fit(clean)
    with pytest.raises(ZooError, match="not fitted"):
        build_catalogue().get("monitor.health").create().observe(clean)


def test_labels_that_show_no_metric_worse_weigh_above_drift(register, cancer, registry_path, shifted):
    """Issue 18: one drifted feature scored HIGH while labelled performance beat validation."""
    train_rows, clean = cancer
    version = register("cancer", "sklearn.logistic_regression", train_rows, "target")
    with Registry(registry_path) as reg:
        reference = load_reference(reg, version)
        model = reg.load("cancer:1", observed=False)
    features = list(model.feature_names_in_)
    baseline = baseline_of(version)
    # Stored validation metrics the new rows beat: every metric better now.
    baseline["metrics"] = {"accuracy": 0.5, "roc_auc": 0.5, "f1": 0.5, "log_loss": 5.0}
    monitor = build_catalogue().get("monitor.health").create()
    monitor.fit(reference, predict_table(model, reference[features]), baseline)
    rows = shifted(clean.iloc[:135], DRIFTED, 1.0)
    predictions = predict_table(model, rows[features])
    unlabelled = monitor.observe(rows, predictions)
    labelled = monitor.observe(rows, predictions, rows["target"])
    assert labelled["drift"]["drifted"] == unlabelled["drift"]["drifted"] and unlabelled["drift"]["drifted"]
    assert all(v < 0 for v in labelled["performance"]["drops"].values())
    assert labelled["drivers"]["drift"] == pytest.approx(unlabelled["drivers"]["drift"] * 0.25, abs=0.1)
    assert labelled["health"] >= 90 > unlabelled["health"] + 15
    assert "as good as or better than at validation" in labelled["explanation"]
    assert "driven by drift" in unlabelled["explanation"] and "3 of 30 features" in unlabelled["explanation"]
    # A metric worse than at validation: drift counts fully again, beside the performance penalty.
    baseline["metrics"] = {"accuracy": 0.999, "roc_auc": 0.9999, "f1": 0.999}
    monitor.fit(reference, predict_table(model, reference[features]), baseline)
    worse = monitor.observe(rows, predictions, rows["target"])
    assert worse["drivers"]["drift"] == pytest.approx(unlabelled["drivers"]["drift"], abs=0.1)
    assert worse["health"] <= unlabelled["health"] and "labelled performance cost" in worse["explanation"]
