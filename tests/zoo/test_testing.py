"""The conformance kit (zoo.testing): it passes on correct components of every kind, and fails,
with a message naming the component, the check and what broke, on components that break one
rule each."""

from __future__ import annotations

import json
import math
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from zoo import Calibrator, DataError, Detector, DriftTest, Monitor, NotFoundError, ZooError, build_catalogue
from zoo.default_plugins.baselines import BaselineClassifier, BaselineRegressor
from zoo.drift import as_table, check_columns, check_correction, verdict
from zoo.testing import (
    CHECKS,
    check_component,
    check_plugin,
    checks_for,
    parametrize_with_checks,
    registered,
    run_check,
)

# --- correct components of every kind, numpy only, saved as JSON ---


class Centroid(Detector):
    """Scaled distance to the training mean (a test detector)."""

    component = "t.centroid"
    artifact_format = "json"

    def __init__(self, contamination=0.1):
        self.store_params(locals())

    def _fit(self, X):
        values = X.to_numpy()
        self.mean_, self.scale_ = values.mean(axis=0), values.std(axis=0) + 1e-12

    def _decision_function(self, X):
        z = np.ascontiguousarray((X.to_numpy() - self.mean_) / self.scale_)
        return np.sqrt((z * z).sum(axis=1))

    def save(self, path):
        self.check_fitted()
        Path(path).write_text(json.dumps({"mean": self.mean_.tolist(), "scale": self.scale_.tolist(),
                                          "scores": self.decision_scores_.tolist()}))

    @classmethod
    def load(cls, path, metadata=None):
        data = json.loads(Path(path).read_text())
        model = cls()
        model.mean_, model.scale_ = np.asarray(data["mean"]), np.asarray(data["scale"])
        model.decision_scores_ = np.asarray(data["scores"])
        return model


class Shrink(Calibrator):
    """Pulls probabilities toward the class frequencies (a test calibrator)."""

    component = "t.shrink"
    artifact_format = "json"

    def __init__(self, weight=0.2):
        self.store_params(locals())

    def fit(self, scores, y):
        p, y = np.asarray(scores, dtype=float), np.asarray(y)
        if not np.isfinite(p).all():
            raise DataError("scores contain NaN")
        if len(y) != len(p):
            raise DataError(f"{len(y)} labels for {len(p)} scores")
        self.prior_ = np.bincount(y, minlength=2 if p.ndim == 1 else p.shape[1]) / len(y)
        return self

    def transform(self, scores):
        self.check_fitted()
        p = np.asarray(scores, dtype=float)
        return (1 - self.weight) * p + self.weight * (self.prior_[1] if p.ndim == 1 else self.prior_)

    def save(self, path):
        self.check_fitted()
        Path(path).write_text(json.dumps({"prior": self.prior_.tolist()}))

    @classmethod
    def load(cls, path, metadata=None):
        model = cls()
        model.prior_ = np.asarray(json.loads(Path(path).read_text())["prior"])
        return model


class MeanShift(DriftTest):
    """Welch's z-test of each column's mean (a test drift test)."""

    component = "t.mean_shift"
    artifact_format = "json"

    def __init__(self, alpha=0.05, correction="bh"):
        self.store_params(locals())

    def fit(self, reference):
        check_correction(self.correction)
        if not 0 < self.alpha < 1:
            raise ZooError(f"alpha must be between 0 and 1, got {self.alpha!r}")
        frame = as_table(reference, "reference").astype(float)
        self.columns_, self.n_ = list(frame.columns), len(frame)
        self.mean_, self.var_ = frame.mean().tolist(), frame.var().tolist()
        return self

    def test(self, current):
        self.check_fitted()
        frame = as_table(current, "current")
        check_columns(self.columns_, list(frame.columns))
        rows = []
        for name, mean, var in zip(self.columns_, self.mean_, self.var_, strict=True):
            x = frame[name].astype(float)
            se = math.sqrt(var / self.n_ + x.var() / len(x))
            z = float((x.mean() - mean) / se) if se > 0 else 0.0
            rows.append({"feature": name, "test": "welch-z", "statistic": z,
                         "p_value": math.erfc(abs(z) / math.sqrt(2))})
        return verdict(rows, float(self.alpha), self.correction)

    def save(self, path):
        self.check_fitted()
        Path(path).write_text(json.dumps({k: getattr(self, k) for k in ("columns_", "n_", "mean_", "var_")}))

    @classmethod
    def load(cls, path, metadata=None):
        model = cls()
        for key, value in json.loads(Path(path).read_text()).items():
            setattr(model, key, value)
        return model


class ZShift(Monitor):
    """Health falls as the batch's column means move from the reference's (a test monitor)."""

    component = "t.z_shift"

    def __init__(self, scale=1.0):
        self.store_params(locals())

    def fit(self, reference, predictions=None):
        frame = reference.select_dtypes("number")
        self.mean_, self.sd_ = frame.mean(), frame.std()
        self.columns_ = list(reference.columns)
        return self

    def observe(self, X, predictions=None, y=None):
        self.check_fitted()
        missing = [c for c in self.columns_ if c not in X.columns]
        if missing:
            raise DataError(f"the data has no column {missing[0]!r}")
        shift = float(((X[self.mean_.index].mean() - self.mean_).abs() / self.sd_).mean())
        return {"health": round(100 * math.exp(-shift / self.scale), 3)}


CORRECT = [BaselineClassifier, BaselineRegressor, Centroid, Shrink, MeanShift, ZShift,
           (MeanShift, {"columns": "binary", "id": "t.mean_shift-binary"})]


@parametrize_with_checks(CORRECT)
def test_the_kit_passes_correct_components_of_every_kind(component, check):
    check(component)


def test_check_component_runs_every_check_of_the_kind():
    check_component(BaselineClassifier)
    check_component(Centroid(contamination=0.2))  # an instance: its parameters are used
    assert checks_for(Centroid) == [
        "declared", "init_stores_params", "params_round_trip", "clone", "fit_returns_self",
        "fit_is_reproducible", "not_fitted", "metadata_json", "save_load_round_trip", "registry_round_trip",
        "missing_column", "non_numeric_column", "missing_values", "column_order", "predicts_without_warnings",
        "detector_scores", "scores_do_not_depend_on_the_batch", "bad_contamination"]
    assert set(checks_for(Centroid)) < set(CHECKS)
    # learns runs only for a predictor given floors: the baselines learn nothing on purpose.
    assert "learns" not in checks_for(BaselineRegressor)
    assert "learns" in checks_for(BaselineRegressor, floors={"r2": 0.5})
    # Monitors need not persist: no save or registry checks for one without save().
    assert "save_load_round_trip" not in checks_for(ZShift) and "monitor_health" in checks_for(ZShift)


# --- components that break one rule each ---


class Tuned(BaselineRegressor):
    """The training mean shrunk toward zero (a test regressor with a parameter)."""

    component = "t.tuned"

    def __init__(self, shrink=0.0):
        self.store_params(locals())

    def _predict(self, X):
        return np.full(len(X), self.mean_ * (1 - self.shrink))


class WrongShape(Tuned):
    """Predicts a column, not a vector."""

    component = "t.wrong_shape"

    def _predict(self, X):
        return np.full((len(X), 1), self.mean_)


class ChangesOnLoad(Tuned):
    """Loads a mean a hair away from the one it saved."""

    component = "t.changes_on_load"

    @classmethod
    def load(cls, path, metadata=None):
        model = super().load(path, metadata)
        model.mean_ += 1e-9
        return model


class IgnoresAParam(Tuned):
    """set_params drops shrink."""

    component = "t.ignores_a_param"

    def set_params(self, **params):
        params.pop("shrink", None)
        return super().set_params(**params)


class CoercingInit(Tuned):
    """__init__ turns the default 0.0 into None."""

    component = "t.coercing_init"

    def __init__(self, shrink=0.0):
        self.shrink = None if shrink == 0.0 else shrink


class FitsInInit(Tuned):
    """__init__ sets fitted state."""

    component = "t.fits_in_init"

    def __init__(self, shrink=0.0):
        self.shrink = shrink
        self.mean_ = 0.0


class FitReturnsNone(Tuned):
    """fit forgets to return self."""

    component = "t.fit_returns_none"

    def fit(self, X, y):
        super().fit(X, y)


class KeyErrorOnMissingColumn(Tuned):
    """Selects its columns with plain indexing."""

    component = "t.key_error"

    def _check(self, X):
        return X[list(self.feature_names_in_)]


class AcceptsNaN(Tuned):
    """Skips the missing-value check though allow_missing is False."""

    component = "t.accepts_nan"

    def _check(self, X):
        from zoo.data import align

        return align(X, list(self.feature_names_in_))


class Unseeded(Tuned):
    """Adds noise from an unseeded generator."""

    component = "t.unseeded"

    def _fit(self, X, y):
        super()._fit(X, y)
        self.mean_ += np.random.default_rng().normal()


class Unnormalised(BaselineClassifier):
    """Probabilities that sum to one half."""

    component = "t.unnormalised"

    def _predict_proba(self, X):
        return super()._predict_proba(X) / 2


class ArrayMetadata(Tuned):
    """Metadata holding a numpy array."""

    component = "t.array_metadata"

    @property
    def metadata(self):
        return {**super().metadata, "mean": np.array([getattr(self, "mean_", 0.0)])}


class Pickled(Tuned):
    """Saves with pickle."""

    component = "t.pickled"

    def save(self, path):
        Path(path).write_bytes(pickle.dumps({"mean": self.mean_}))

    @classmethod
    def load(cls, path, metadata=None):
        model = cls()
        model.mean_ = pickle.loads(Path(path).read_bytes())["mean"]
        return model


class SavesUnfitted(Tuned):
    """save before fit crashes on a missing attribute instead of saying to fit."""

    component = "t.saves_unfitted"

    def save(self, path):
        Path(path).write_text(json.dumps({"mean": self.mean_}))


class BadName(Tuned):
    """A component name the catalogue refuses."""

    component = "Bad Name"


class Warns(Tuned):
    """Warns on every prediction."""

    component = "t.warns"

    def _predict(self, X):
        warnings.warn("X does not have valid feature names", UserWarning, stacklevel=2)
        return super()._predict(X)


class Positional(Tuned):
    """Takes columns by position, not by name."""

    component = "t.positional"

    def _check(self, X):
        from zoo.data import as_frame

        X = as_frame(X).iloc[:, : len(self.feature_names_in_)]
        X.columns = list(self.feature_names_in_)
        return X

    def _predict(self, X):
        return X.iloc[:, 0].to_numpy() + self.mean_


class CrossedBand(Tuned):
    """A quantile band whose lower edge is above its upper one."""

    component = "t.crossed_band"

    def predict_quantiles(self, X):
        centre = self.predict(X)
        return np.column_stack([centre + 1, centre - 1])


class StraySpace(Tuned):
    """Proposes a tuning range for a parameter it does not have."""

    component = "t.stray_space"

    @classmethod
    def search_space(cls):
        return {"depth": {"type": "int", "low": 1, "high": 8}}


class ScoresElsewhere(Centroid):
    """Keeps training scores that are not decision_function of the training rows."""

    component = "t.scores_elsewhere"

    def fit(self, X, y=None):
        super().fit(X)
        self.decision_scores_ = self.decision_scores_ + 1.0
        return self


class BatchDependent(Centroid):
    """Standardises each batch by its own mean: a row's score depends on its batch."""

    component = "t.batch_dependent"

    def _decision_function(self, X):
        values = X.to_numpy()
        return np.abs(values - values.mean(axis=0)).sum(axis=1)


class NoAdjustedPValue(MeanShift):
    """Leaves p_adjusted out of its rows."""

    component = "t.no_adjusted"

    def test(self, current):
        result = super().test(current)
        for row in result["features"]:
            del row["p_adjusted"]
        return result


class AnyCorrection(MeanShift):
    """Takes any correction and any alpha."""

    component = "t.any_correction"

    def fit(self, reference):
        self.correction, alpha = "bh", self.alpha
        self.alpha = 0.05
        super().fit(reference)
        self.alpha = alpha
        return self


class FlatCalibrator(Shrink):
    """Answers a column for 1-D scores."""

    component = "t.flat_calibrator"

    def transform(self, scores):
        return super().transform(scores).reshape(len(scores), -1)


class Overjoyed(ZShift):
    """Health above 100."""

    component = "t.overjoyed"

    def observe(self, X, predictions=None, y=None):
        return {"health": 150.0 + super().observe(X)["health"]}


BROKEN = [
    (WrongShape, "predict_shapes", r"predict gave shape \(60, 1\) for 60 rows"),
    (ChangesOnLoad, "save_load_round_trip", r"the loaded copy \(regression data\): predict differs"),
    (ChangesOnLoad, "registry_round_trip", "the version loaded from the registry: predict differs"),
    (IgnoresAParam, "params_round_trip", r"set_params\(shrink=...\) did not set it"),
    (CoercingInit, "init_stores_params", r"does not keep the defaults of \['shrink'\]"),
    (CoercingInit, "clone", "t.coercing_init fails clone"),
    (FitsInInit, "init_stores_params", r"__init__ sets fitted attributes \['mean_'\]"),
    (FitReturnsNone, "fit_returns_self", "fit returned NoneType"),
    (KeyErrorOnMissingColumn, "missing_column", "expected DataError, got KeyError"),
    (AcceptsNaN, "missing_values", "predict with NaN in column 'a': expected DataError, nothing was raised"),
    (Unseeded, "fit_is_reproducible", "a second fit on the same data: predict differs"),
    (Unnormalised, "predict_shapes", "predict_proba's rows must sum to 1"),
    (ArrayMetadata, "metadata_json", "metadata is not JSON"),
    (Pickled, "save_load_round_trip", "the artifact is a pickle"),
    (SavesUnfitted, "not_fitted", "save before fit: expected RuntimeError or ZooError or ValueError, "
                                  "got AttributeError"),
    (BadName, "declared", "must be a dotted lower-case name"),
    (Warns, "predicts_without_warnings", "UserWarning: X does not have valid feature names"),
    (Positional, "column_order", "t.positional fails column_order"),
    (CrossedBand, "capabilities", "lower <= upper"),
    (StraySpace, "capabilities", r"search_space names \['depth'\], which are not __init__ parameters"),
    (ScoresElsewhere, "detector_scores", "decision_scores_ are not decision_function of the training rows"),
    (BatchDependent, "scores_do_not_depend_on_the_batch", "one at a time differ"),
    (NoAdjustedPValue, "drift_result", r"lacks \['p_adjusted'\]"),
    (AnyCorrection, "drift_params", r"fit with \{'correction': 'holm'\}: expected ZooError, nothing was "
                                    "raised"),
    (FlatCalibrator, "calibrator_shapes", r"transform gave shape \(60, 1\) for scores of shape \(60,\)"),
    (Overjoyed, "monitor_health", "health must be a number from 0 to 100"),
]


@pytest.mark.parametrize(("component", "check", "message"),
                         [pytest.param(*case, id=f"{case[0].__name__}-{case[1]}") for case in BROKEN])
def test_the_kit_fails_a_component_that_breaks_its_rule(component, check, message):
    with pytest.raises(AssertionError, match=message) as caught:
        run_check(check, component)
    assert str(caught.value).startswith(f"{component.component} fails {check}: ")


def test_the_same_rules_pass_on_the_component_they_were_broken_from():
    for check in {"predict_shapes", "save_load_round_trip", "params_round_trip", "init_stores_params",
                  "missing_column", "missing_values", "fit_is_reproducible", "column_order"}:
        run_check(check, Tuned)


def test_learns_holds_a_predictor_to_the_floors_it_is_given():
    run_check("learns", Tuned, floors={"r2": -1.0})
    with pytest.raises(AssertionError, match=r"on held-out regression rows it scores \{'r2': -?0\.0[0-9]*\}, "
                                             r"below the floors \{'r2': 0.5\}"):
        run_check("learns", Tuned, floors={"r2": 0.5})  # the training mean explains nothing
    with pytest.raises(AssertionError, match=r"floors name metrics validate never gives: \['auc'\]"):
        run_check("learns", Tuned, floors={"auc": 0.5})


def test_check_component_lists_every_failing_check_at_once():
    with pytest.raises(AssertionError) as caught:
        check_component(ChangesOnLoad)
    message = str(caught.value)
    assert message.startswith("2 conformance check(s) failed:")
    assert "t.changes_on_load fails save_load_round_trip" in message
    assert "t.changes_on_load fails registry_round_trip" in message
    check_component(ChangesOnLoad, skip=["save_load_round_trip", "registry_round_trip"])


def test_an_exception_inside_a_check_is_reported_as_a_failure_of_that_check():
    class Crashes(Tuned):
        """Its fit crashes."""

        component = "t.crashes"

        def _fit(self, X, y):
            raise TypeError("boom")

    with pytest.raises(AssertionError, match="t.crashes fails fit_returns_self: it raised TypeError: boom"):
        run_check("fit_returns_self", Crashes)


# --- the kit's own API ---


def test_parametrize_with_checks_gives_one_test_per_check_with_readable_ids():
    mark = parametrize_with_checks([Centroid, (Tuned, {"params": {"shrink": 0.5}, "id": "t.tuned-half"})])
    names, params = mark.args
    assert names == ("component", "check")
    ids = [p.id for p in params]
    assert ids[:2] == ["t.centroid-declared", "t.centroid-init_stores_params"]
    assert "t.tuned-half-save_load_round_trip" in ids and len(ids) == len(set(ids))
    component, check = params[-1].values
    assert component is Tuned and check.keywords == {"params": {"shrink": 0.5}}
    check(component)


def test_bad_options_and_names_are_refused():
    with pytest.raises(TypeError, match="unknown option nope"):
        check_component(Tuned, nope=1)
    with pytest.raises(TypeError, match="check a zoo component class"):
        check_component(dict)
    with pytest.raises(ValueError, match="skip names no check nope"):
        checks_for(Tuned, skip=["nope"])
    with pytest.raises(ValueError, match="no check is called 'nope'"):
        run_check("nope", Tuned)


def test_registered_puts_classes_in_the_catalogue_for_the_block_only():
    with registered(Centroid, ZShift):
        assert build_catalogue().get("t.centroid").cls is Centroid
        assert build_catalogue().get("t.z_shift").kind == "monitor"
    with pytest.raises(NotFoundError):
        build_catalogue().get("t.centroid")


def test_registered_refuses_a_name_another_class_has():
    class Impostor(Centroid):
        """Takes the name of a class registered first."""

    with registered(Centroid):
        with pytest.raises(AssertionError, match="Centroid of plugin 'zoo-testing-[0-9]+' has that name"):
            with registered(Impostor):
                pass
        assert build_catalogue().get("t.centroid").cls is Centroid


def test_check_plugin_names_a_plugin_that_is_not_installed():
    with pytest.raises(AssertionError, match="no installed plugin is called 'no-such-plugin'"):
        check_plugin("no-such-plugin")


def test_the_kit_imports_without_pytest():
    code = ("import sys; sys.modules['pytest'] = None\n"
            "import zoo.testing as t\n"
            "from zoo.default_plugins.baselines import BaselineRegressor\n"
            "t.check_component(BaselineRegressor, skip=['clone', 'registry_round_trip'])\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
