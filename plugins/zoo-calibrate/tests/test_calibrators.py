"""The calibrators on synthetic scores whose true probabilities are known, and zoo's contract
for each (the conformance kit: shapes, bad input, the JSON round trip bit for bit, ...)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from zoo_calibrate.calibrators import (
    AUTO_BINS,
    AUTO_METHODS,
    BINS_NATS,
    CALIBRATORS,
    EPS,
    AutoCalibrator,
    BaseCalibrator,
    EnsembleCalibrator,
    GroupwiseCalibrator,
    IsotonicCalibrator,
    ScalingBinningCalibrator,
    TemperatureCalibrator,
    ece,
    log_loss,
    make_calibrator,
)

from zoo import DataError, IntegrityError, ZooError
from zoo.testing import check_plugin, parametrize_with_checks

#: Calibrators that map one model's scores (not group-wise or ensembles).
SINGLE = [c.component for c in CALIBRATORS if c not in (GroupwiseCalibrator, EnsembleCalibrator)]
#: Fast settings where the defaults cross-validate many methods many times.
QUICK = {"methods": ["identity", "sigmoid", "isotonic"], "repeats": 1}


@parametrize_with_checks([
    *[(c, {"params": QUICK} if c is AutoCalibrator else {}) for c in CALIBRATORS
      if c not in (GroupwiseCalibrator, EnsembleCalibrator)],
    (GroupwiseCalibrator, {"params": {"columns": ["campaign", "ad"], "method": "sigmoid"},
                           "groups": ["campaign", "ad"]}),
    (EnsembleCalibrator, {"params": {"method": "isotonic", "columns": ["campaign"]}, "groups": ["campaign"],
                          "members": 2}),
])
def test_conformance(component, check):
    check(component)


def test_plugin_registers_every_calibrator_and_the_calibrated_model():
    from zoo_calibrate.model import CalibratedModel

    entries = check_plugin("calibrate", [*CALIBRATORS, CalibratedModel])
    assert {e["kind"] for e in entries} == {"calibrator", "predictor"}


def expit(z):
    return 1 / (1 + np.exp(-z))


def binary_data(n: int, seed: int = 0, power: float = 2.5, shift: float = 0.0):
    """Overconfident scores: the truth is sigmoid(z), the model says sigmoid(power * z + shift)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1.5, n)
    y = (rng.random(n) < expit(z)).astype(int)
    return expit(power * z + shift), y


def multiclass_data(n: int, k: int = 4, seed: int = 0, power: float = 1.0):
    """(n, k) scores softmax(power * logits) for labels drawn from softmax(logits)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2.0, (n, k))
    truth = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(k, p=row) for row in truth])
    scaled = np.exp(power * logits)
    return scaled / scaled.sum(axis=1, keepdims=True), y


@pytest.mark.parametrize("name", SINGLE)
def test_every_calibrator_is_monotone_and_bounded(name):
    scores, y = binary_data(3000)
    calibrator = make_calibrator(name).fit(scores, y)
    grid = np.linspace(0, 1, 2001)
    out = calibrator.transform(grid)
    assert out.shape == grid.shape
    assert np.all(np.diff(out) >= -1e-12), f"{name} is not monotone"
    assert out.min() >= EPS and out.max() <= 1 - EPS
    assert out[-1] > out[0] or name == "calibrate.identity" or out[-1] >= out[0]


def test_groupwise_is_monotone_within_each_group_and_ensemble_in_each_member():
    scores, y = binary_data(4000)
    groups = pd.DataFrame({"g": np.where(np.arange(4000) % 2, "a", "b")})
    gw = GroupwiseCalibrator(columns=["g"], method="isotonic", min_group_size=100).fit(scores, y, groups)
    grid = np.linspace(0, 1, 501)
    for g in ("a", "b"):
        out = gw.transform(grid, groups=pd.DataFrame({"g": [g] * len(grid)}))
        assert np.all(np.diff(out) >= -1e-12)
    other, _ = binary_data(4000, seed=0, power=0.7)
    ens = EnsembleCalibrator(method="sigmoid").fit([scores, other], y)
    fixed = np.full(len(grid), 0.3)
    assert np.all(np.diff(ens.transform([grid, fixed])) >= -1e-12)
    assert np.all(np.diff(ens.transform([fixed, grid])) >= -1e-12)


@pytest.mark.parametrize("name", SINGLE)
def test_multiclass_rows_are_probabilities(name):
    scores, y = multiclass_data(1500, power=2.0)
    out = make_calibrator(name).fit(scores, y).transform(scores)
    assert out.shape == scores.shape
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-9)
    assert out.min() >= EPS / scores.shape[1]


def test_temperature_on_calibrated_scores_is_near_one():
    scores, y = binary_data(20000, seed=1, power=1.0)
    assert TemperatureCalibrator().fit(scores, y).temperature_ == pytest.approx(1.0, abs=0.06)
    scores, y = multiclass_data(20000, seed=2, power=1.0)
    assert TemperatureCalibrator().fit(scores, y).temperature_ == pytest.approx(1.0, abs=0.06)


def test_temperature_undoes_overconfidence_and_keeps_the_ranking():
    scores, y = multiclass_data(20000, seed=3, power=2.0)
    calibrator = TemperatureCalibrator().fit(scores, y)
    assert calibrator.temperature_ == pytest.approx(2.0, rel=0.1)
    out = calibrator.transform(scores)
    assert np.array_equal(out.argmax(axis=1), scores.argmax(axis=1))
    assert ece(out, y) < ece(scores, y) / 3


def test_temperature_stays_finite_when_the_rows_are_separated():
    # Every row predicted right: the likelihood alone would send T to 0 (certainty).
    scores = np.r_[np.full(20, 0.2), np.full(20, 0.8)]
    y = np.r_[np.zeros(20, int), np.ones(20, int)]
    calibrator = TemperatureCalibrator().fit(scores, y)
    assert 0.05 < calibrator.temperature_ < 1.0
    assert calibrator.transform(np.array([0.2]))[0] > 1e-4


@pytest.mark.parametrize("name", ["calibrate.sigmoid", "calibrate.isotonic", "calibrate.histogram",
                                  "calibrate.beta", "calibrate.spline", "calibrate.temperature",
                                  "calibrate.scaling_binning", "calibrate.auto"])
def test_each_method_fixes_overconfidence_on_held_out_rows(name):
    scores, y = binary_data(6000, seed=4)
    test_scores, test_y = binary_data(6000, seed=5)
    out = make_calibrator(name).fit(scores, y).transform(test_scores)
    assert log_loss(out, test_y) < log_loss(test_scores, test_y) - 0.02
    assert ece(out, test_y) < ece(test_scores, test_y) / 2


def test_isotonic_never_answers_exactly_0_or_1_on_a_small_holdout():
    from sklearn.isotonic import IsotonicRegression

    scores, y = binary_data(60, seed=6)
    sk = IsotonicRegression(out_of_bounds="clip").fit(scores, y).predict(scores)
    assert sk.min() == 0.0 and sk.max() == 1.0  # the pitfall this guards against
    ours = IsotonicCalibrator().fit(scores, y)
    test_scores, test_y = binary_data(2000, seed=7)
    out = ours.transform(test_scores)
    assert out.min() > 1e-4 and out.max() < 1 - 1e-4
    assert log_loss(out, test_y) < 1.0  # scikit-learn's blows up on the rows mapped to 0 or 1
    sk_test = np.clip(IsotonicRegression(out_of_bounds="clip").fit(scores, y).predict(test_scores),
                      1e-15, 1 - 1e-15)
    assert log_loss(out, test_y) < log_loss(sk_test, test_y)


def test_scaling_binning_answers_at_most_n_bins_values():
    scores, y = binary_data(3000, seed=8)
    calibrator = ScalingBinningCalibrator(scaler="sigmoid", n_bins=10).fit(scores, y)
    assert len(np.unique(calibrator.transform(np.linspace(0, 1, 1000)))) <= 10
    scores, y = multiclass_data(3000, seed=9, power=2.0)
    out = ScalingBinningCalibrator(n_bins=10).fit(scores, y).transform(scores)
    # Top-label confidences are binned, except rows whose top class the binning would change.
    values, counts = np.unique(out.max(axis=1).round(12), return_counts=True)
    assert np.sort(counts)[-10:].sum() >= 0.9 * len(out)
    assert np.array_equal(out.argmax(axis=1), scores.argmax(axis=1))


def test_auto_picks_by_cross_validated_log_loss_and_records_why():
    scores, y = binary_data(3000, seed=10)
    auto = AutoCalibrator(seed=1).fit(scores, y)
    methods = {f"calibrate.{m}" for m in AUTO_METHODS}
    assert methods <= set(auto.cv_scores_)
    # It blends methods whose out-of-fold log loss is within one standard error of the best.
    blend = dict(auto.blend_)
    assert set(blend) <= methods and sum(blend.values()) == pytest.approx(1.0)
    assert all(w > 0 for w in blend.values())
    best = min(auto.cv_scores_[m]["log_loss"] for m in methods)
    for name in blend:
        assert auto.cv_scores_[name]["eligible"]
        assert auto.cv_scores_[name]["log_loss"] < best * 1.05
    assert auto.chosen_.startswith(auto.blend_[0][0])
    # Overconfident scores: leaving them alone is never the choice.
    assert blend != {"calibrate.identity": 1.0}
    # Its output is rounded into the fewest bins that cost no measurable log loss.
    assert auto.bins_ in AUTO_BINS
    assert len(np.unique(auto.transform(np.linspace(0, 1, 1000)))) <= auto.bins_
    # Already calibrated scores: whatever auto picks is about as good as leaving them.
    scores, y = binary_data(3000, seed=11, power=1.0)
    test_scores, test_y = binary_data(3000, seed=12, power=1.0)
    out = AutoCalibrator().fit(scores, y).transform(test_scores)
    assert log_loss(out, test_y) < log_loss(test_scores, test_y) * 1.02


def test_auto_output_is_the_weighted_average_of_its_methods_fit_on_every_row():
    scores, y = multiclass_data(1500, seed=21, power=2.5)
    auto = AutoCalibrator(n_bins=0).fit(scores, y)
    expected = sum(w * make_calibrator(name).fit(scores, y).transform(scores) for name, w in auto.blend_)
    np.testing.assert_allclose(auto.transform(scores), expected / expected.sum(axis=1, keepdims=True),
                               rtol=1e-9, atol=1e-12)
    assert auto.bins_ == 0


def test_auto_blend_gives_way_to_a_method_with_clearly_lower_ece():
    scores, y = binary_data(1000, seed=22)
    # ece_ratio 0: any eligible method's ECE beats the blend's, so one method is used alone.
    auto = AutoCalibrator(ece_ratio=0.0, n_bins=0).fit(scores, y)
    assert len(auto.blend_) == 1 and auto.chosen_ == auto.blend_[0][0]
    eligible = [m for m, s in auto.cv_scores_.items() if s.get("eligible")]
    assert auto.chosen_ == min(eligible, key=lambda m: auto.cv_scores_[m]["ece"])


def test_auto_repeats_the_cross_validation_over_different_splits():
    scores, y = binary_data(400, seed=23)
    once = AutoCalibrator(repeats=1, n_bins=0).fit(scores, y)
    thrice = AutoCalibrator(repeats=3, n_bins=0).fit(scores, y)
    # The first split is shared; the other two change each method's averaged out-of-fold loss.
    iso = "calibrate.isotonic"
    assert once.cv_scores_[iso]["log_loss"] != thrice.cv_scores_[iso]["log_loss"]
    # A wider rounding tolerance never rounds into more bins.
    tight = AutoCalibrator(bins_se=0.5).fit(scores, y).bins_
    loose = AutoCalibrator(bins_se=3.0).fit(scores, y).bins_
    assert loose <= tight or tight == 0


def test_auto_rounding_is_capped_by_what_it_costs_in_out_of_fold_log_loss():
    # Sharp scores on 300 rows: row losses vary so much that a huge bins_se accepts any rounding.
    raw, y = binary_data(300, seed=31, power=1.0)
    scores = expit(3.0 * (2 * raw - 1) * 3)
    loose = AutoCalibrator(bins_se=100, bins_nats=1e6).fit(scores, y)
    tight = AutoCalibrator(bins_se=100, bins_nats=0.0).fit(scores, y)
    unrounded = loose.cv_scores_["rounding"]["unrounded_log_loss"]
    assert loose.bins_ == AUTO_BINS[0] and loose.cv_scores_["+5bins"]["log_loss"] > unrounded
    # With no cost allowed, the 5 bins that raise the log loss are refused.
    assert tight.bins_ != AUTO_BINS[0]
    assert tight.bins_ == 0 or tight.cv_scores_[f"+{tight.bins_}bins"]["log_loss"] <= unrounded
    # The default: rounding adds at most BINS_NATS to the total out-of-fold log loss, and says so.
    auto = AutoCalibrator().fit(scores, y)
    rounding = auto.cv_scores_["rounding"]
    assert rounding["cap"] == pytest.approx(rounding["unrounded_log_loss"] + BINS_NATS / len(y))
    assert rounding["bins"] == auto.bins_
    if auto.bins_:
        assert auto.cv_scores_[f"+{auto.bins_}bins"]["log_loss"] <= rounding["cap"]


def test_auto_saved_before_blending_still_loads(tmp_path):
    # The state an earlier auto wrote: one calibrator (binned inside), no blend.
    scores, y = binary_data(1000, seed=24)
    inner = ScalingBinningCalibrator(scaler="sigmoid", n_bins=10).fit(scores, y)
    old = {"format": 1, "component": "calibrate.auto",
           "params": {"methods": list(AUTO_METHODS), "cv": 5, "ece_ratio": 1.25, "n_bins": None, "seed": 0},
           "state": {"shape": "binary", "n_classes": 2, "chosen": "calibrate.sigmoid", "bins": 10,
                     "calibrator": inner.to_json(), "cv_scores": {}}}
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    loaded = AutoCalibrator.load(path)
    assert loaded.chosen_ == "calibrate.sigmoid" and loaded.bins_ == 10
    np.testing.assert_array_equal(loaded.transform(scores), inner.transform(scores))


def test_auto_with_too_few_rows_of_a_class_still_fits():
    scores = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    y = np.array([0, 0, 0, 0, 1])
    auto = AutoCalibrator().fit(scores, y)
    assert auto.chosen_ == "calibrate.temperature" and auto.cv_scores_ == {}


def make_groups(n: int, seed: int):
    """Scores calibrated overall but not per campaign: each campaign distorts them its own way."""
    rng = np.random.default_rng(seed)
    campaign = rng.choice(["c1", "c2", "c3"], n, p=[0.45, 0.45, 0.10])
    ad = np.array([f"{c}-ad{rng.integers(0, 3)}" for c in campaign], dtype=object)
    tiny = rng.random(n) < 0.004  # an ad group with a handful of rows
    ad[tiny] = "c1-tiny"
    campaign[tiny] = "c1"
    z = rng.normal(0, 1.5, n)
    power = {"c1": 2.5, "c2": 0.5, "c3": 1.0}
    shift = {"c1": 0.8, "c2": -0.8, "c3": 0.0}
    model_z = np.array([power[c] * zi + shift[c] for c, zi in zip(campaign, z, strict=True)])
    y = (rng.random(n) < expit(z)).astype(int)
    return expit(model_z), y, pd.DataFrame({"campaign": campaign, "ad": ad})


def mean_group_ece(scores, y, groups):
    return float(np.mean([ece(scores[(groups["campaign"] == c).to_numpy()],
                              y[(groups["campaign"] == c).to_numpy()])
                          for c in groups["campaign"].unique()]))


def test_groupwise_falls_back_to_the_parent_below_the_minimum_size():
    scores, y, groups = make_groups(6000, seed=13)
    gw = GroupwiseCalibrator(columns=["campaign", "ad"], method="sigmoid", min_group_size=50).fit(
        scores, y, groups)
    tiny_key = '["c1", "c1-tiny"]'
    assert 0 < gw.skipped_[tiny_key] < 50 and tiny_key not in gw.nodes_
    assert '["c1"]' in gw.nodes_ and '["c1", "c1-ad0"]' in gw.nodes_
    # The tiny ad group answers exactly what its campaign (the parent level) answers.
    grid = np.linspace(0.01, 0.99, 50)
    tiny = gw.transform(grid, pd.DataFrame({"campaign": ["c1"] * 50, "ad": ["c1-tiny"] * 50}))
    parent_only = gw.transform(grid, pd.DataFrame({"campaign": ["c1"] * 50, "ad": ["never seen"] * 50}))
    np.testing.assert_array_equal(tiny, parent_only)
    # And a campaign that never appeared gets the root's answer.
    unseen = gw.transform(grid, pd.DataFrame({"campaign": ["c9"] * 50, "ad": ["x"] * 50}))
    np.testing.assert_array_equal(unseen, gw.root_.transform(grid))


def test_groupwise_fixes_group_specific_miscalibration_that_a_global_calibrator_cannot():
    scores, y, groups = make_groups(12000, seed=14)
    test_scores, test_y, test_groups = make_groups(12000, seed=15)
    global_only = make_calibrator("sigmoid").fit(scores, y).transform(test_scores)
    gw = GroupwiseCalibrator(columns=["campaign", "ad"], method="sigmoid").fit(scores, y, groups)
    grouped = gw.transform(test_scores, test_groups)
    assert mean_group_ece(grouped, test_y, test_groups) < mean_group_ece(global_only, test_y, test_groups) / 2
    assert ece(grouped, test_y) < ece(global_only, test_y)
    assert log_loss(grouped, test_y) < log_loss(global_only, test_y) - 0.01


def test_shrinkage_pulls_a_group_toward_its_parent():
    scores, y, groups = make_groups(6000, seed=16)
    loose = GroupwiseCalibrator(columns=["campaign"], method="sigmoid", shrinkage=0.0).fit(scores, y, groups)
    tight = GroupwiseCalibrator(columns=["campaign"], method="sigmoid", shrinkage=1e6).fit(scores, y, groups)
    grid = np.linspace(0.01, 0.99, 50)
    c2 = pd.DataFrame({"campaign": ["c2"] * 50})
    root = loose.root_.transform(grid)
    assert np.abs(tight.transform(grid, c2) - root).max() < 0.01
    assert np.abs(loose.transform(grid, c2) - root).max() > 0.1


def test_ensemble_weights_favour_the_better_member():
    rng = np.random.default_rng(17)
    z = rng.normal(0, 1.5, 6000)
    y = (rng.random(6000) < expit(z)).astype(int)
    good = expit(2 * z + rng.normal(0, 0.3, 6000))
    noisy = expit(2 * z + rng.normal(0, 2.5, 6000))
    ens = EnsembleCalibrator(method="sigmoid").fit([good, noisy], y)
    assert ens.weights_.sum() == pytest.approx(1.0)
    assert ens.weights_[0] > 0.7
    out = ens.transform([good, noisy])
    assert log_loss(out, y) <= log_loss(make_calibrator("sigmoid").fit(good, y).transform(good), y) + 0.01


def test_load_refuses_another_calibrators_file(tmp_path):
    scores, y = binary_data(500)
    path = tmp_path / "c.json"
    make_calibrator("isotonic").fit(scores, y).save(path)
    with pytest.raises(IntegrityError, match="calibrate.isotonic"):
        TemperatureCalibrator.load(path)
    path.write_bytes(b"\x80\x04not json")
    with pytest.raises(IntegrityError):
        BaseCalibrator.load(path)


@pytest.mark.parametrize("scores, y, message", [
    (np.array([0.1, 0.2]), np.array([0, 1, 1]), "3 labels for 2 scores"),
    (np.array([0.1, 1.7]), np.array([0, 1]), "probabilities in"),
    (np.array([0.1, np.nan]), np.array([0, 1]), "NaN"),
    (np.array([0.1, 0.2]), np.array([0, 2]), "class indices from 0 to 1"),
    (np.zeros((2, 2, 2)), np.array([0, 1]), "shape"),
])
def test_bad_input_is_a_data_error(scores, y, message):
    with pytest.raises(DataError, match=message):
        make_calibrator("sigmoid").fit(scores, y)


def test_unknown_method_suggests_a_close_one():
    with pytest.raises(ZooError, match="did you mean isotonic"):
        make_calibrator("isotonc")
    with pytest.raises(ZooError, match="--group-columns"):
        make_calibrator("groupwise")


def test_transform_checks_the_number_of_classes():
    scores, y = multiclass_data(300)
    calibrator = make_calibrator("temperature").fit(scores, y)
    with pytest.raises(DataError, match="fit on 4 classes"):
        calibrator.transform(scores[:, :3] / scores[:, :3].sum(axis=1, keepdims=True))
