"""The calibrated model: fitting on registered classifiers, and the round trip through a real registry.

Self-contained: the base classifiers are a small numpy model registered by a throwaway
plugin for each test, so these tests need no other zoo plugin.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from zoo_calibrate.model import CalibratedModel

from zoo import BaseMLModel, DataError, IntegrityError, Registry, ZooError
from zoo.testing import parametrize_with_checks, registered

# The tables carry a group column that only the group-wise tests use.
pytestmark = pytest.mark.filterwarnings("ignore::zoo.data.ExtraColumnsWarning")


class OverconfidentLinear(BaseMLModel):
    """Least squares on one-hot labels, then a sharp softmax: a deliberately overconfident classifier."""

    component = "testing.overconfident_linear"
    task = "classification"
    artifact_format = "json"

    def __init__(self, sharpness: float = 6.0):
        self.sharpness = sharpness

    def _fit(self, X, y):
        onehot = (y.to_numpy()[:, None] == self.classes_[None, :]).astype(float)
        design = np.column_stack([X.to_numpy(), np.ones(len(X))])
        self.coef_ = np.linalg.lstsq(design, onehot, rcond=None)[0]

    def _predict_proba(self, X):
        z = self.sharpness * np.column_stack([X.to_numpy(), np.ones(len(X))]) @ self.coef_
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def _predict(self, X):
        return self.classes_[self._predict_proba(X).argmax(axis=1)]

    def save(self, path):
        Path(path).write_text(json.dumps({"coef": self.coef_.tolist(), "sharpness": self.sharpness}))

    @classmethod
    def load(cls, path, metadata=None):
        data = json.loads(Path(path).read_text())
        model = cls(sharpness=data["sharpness"])
        model.coef_ = np.asarray(data["coef"])
        return model


class Regressor(BaseMLModel):
    """A regressor, which cannot be calibrated."""

    component = "testing.regressor"
    task = "regression"

    def _fit(self, X, y):
        self.mean_ = float(y.mean())

    def _predict(self, X):
        return np.full(len(X), self.mean_)


@pytest.fixture(autouse=True)
def testing_plugin():
    """The base classifiers in the catalogue, so that registries can store and load them."""
    with registered(OverconfidentLinear, Regressor):
        yield


def calibrate_a_fresh_base(model, X, y):
    return model.fit(X, y, members=[OverconfidentLinear().fit(X, y)])


@parametrize_with_checks([
    (CalibratedModel, {"params": {"method": "sigmoid"}, "fit": calibrate_a_fresh_base, "id": "sigmoid"}),
    (CalibratedModel, {"params": {"method": "auto", "cv": 3}, "fit": calibrate_a_fresh_base,
                       "multiclass": False, "id": "auto-binary"}),
])
def test_conformance(component, check):
    check(component)


@pytest.fixture
def registry(tmp_path):
    with Registry(tmp_path / "models.db") as reg:
        yield reg


def table(n: int, seed: int, classes=("no", "yes")) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    logits = np.column_stack([X[:, 0] + 0.5 * X[:, 1] * k for k in range(len(classes))])
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    label = np.array([rng.choice(classes, p=row) for row in p])
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    df["campaign"] = rng.choice(["north", "south", "west"], n)
    df["label"] = label
    return df


def registered_base(registry, df, name="base", sharpness=6.0):
    model = OverconfidentLinear(sharpness=sharpness).fit(df[["a", "b", "c"]], df["label"])
    v = registry.register(name, model)
    return registry.load(v["ref"]), v["ref"]


def calibrated(registry, seed, method):
    """A base registered from ``table(500, seed)``, calibrated with ``method`` on the next seed's rows."""
    base, _ = registered_base(registry, table(500, seed))
    cal = table(400, seed + 1)
    return CalibratedModel(method=method).fit(cal.drop(columns="label"), cal["label"], members=[base]), cal


@pytest.mark.parametrize("method, group_columns, classes", [
    ("isotonic", None, ("no", "yes")),
    ("auto", None, ("no", "yes")),
    ("sigmoid", ["campaign"], ("no", "yes")),
    ("temperature", None, ("a", "b", "c")),
    ("auto", ["campaign"], ("a", "b", "c")),
])
def test_calibrated_version_round_trips_through_the_registry_bit_for_bit(registry, method, group_columns,
                                                                          classes):
    train, cal, test = table(800, 1, classes), table(600, 2, classes), table(300, 3, classes)
    base, ref = registered_base(registry, train)
    model = CalibratedModel(method=method, group_columns=group_columns)
    model.fit(cal.drop(columns="label"), cal["label"], members=[base])
    v = registry.register("base", model, parents=[ref], relation="calibrated_from")
    assert v["parents"] == [{"ref": ref, "relation": "calibrated_from"}]
    loaded = registry.load(v["ref"])
    assert isinstance(loaded, CalibratedModel)
    X = test.drop(columns="label")
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.members_[0].model_name == "base" and loaded.members_[0].model_version == 1
    assert list(loaded.classes_) == list(classes)


def test_calibration_improves_the_overconfident_base_on_new_rows(registry):
    from zoo import metrics

    train, cal, test = table(800, 4), table(1500, 5), table(1500, 6)
    base, _ = registered_base(registry, train, sharpness=8.0)
    model = CalibratedModel(method="auto").fit(cal.drop(columns="label"), cal["label"], members=[base])
    X, y = test.drop(columns="label"), test["label"]
    before = metrics.calibration(y, base.predict_proba(X), base.classes_)
    after = metrics.calibration(y, model.predict_proba(X), model.classes_)
    assert after["log_loss"] < before["log_loss"] - 0.05
    assert after["ece"] < before["ece"] / 2


def test_artifact_is_a_zip_of_json_and_the_members_own_files(registry, tmp_path):
    model, _ = calibrated(registry, 7, "isotonic")
    first, second = tmp_path / "one.zip", tmp_path / "two.zip"
    model.save(first)
    model.save(second)
    assert first.read_bytes() == second.read_bytes()  # fixed timestamps: same content, same sha256
    with zipfile.ZipFile(first) as zf:
        assert sorted(zf.namelist()) == ["calibrator", "manifest.json", "members/0"]
        manifest = json.loads(zf.read("manifest.json"))
        assert manifest["members"][0]["component"] == "testing.overconfident_linear"
        assert manifest["members"][0]["ref"] == "base:1"
        assert json.loads(zf.read("calibrator"))["component"] == "calibrate.isotonic"


def test_load_refuses_a_tampered_member(registry, tmp_path):
    model, _ = calibrated(registry, 9, "sigmoid")
    good, bad = tmp_path / "good.zip", tmp_path / "bad.zip"
    model.save(good)
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            dst.writestr(name, data.replace(b"sharpness", b"sharpnesz") if name == "members/0" else data)
    with pytest.raises(IntegrityError, match="members/0"):
        CalibratedModel.load(bad, model.metadata)
    bad.write_bytes(b"not a zip")
    with pytest.raises(IntegrityError, match="not a calibrated model"):
        CalibratedModel.load(bad, model.metadata)


def test_group_columns_are_inputs_kept_as_labels(registry):
    train, cal = table(500, 11), table(600, 12)
    base, _ = registered_base(registry, train)
    model = CalibratedModel(method="sigmoid", group_columns=["campaign"], min_group_size=20)
    model.fit(cal.drop(columns="label"), cal["label"], members=[base])
    assert model.feature_names == ["a", "b", "c", "campaign"]
    assert model.key_columns == ("campaign",)
    assert model.metadata["group_columns"] == ["campaign"]
    X = cal.drop(columns=["label"])
    with pytest.raises(DataError, match="'campaign'"):
        model.predict_proba(X.drop(columns="campaign"))
    # A campaign never seen at fit gets the top level's calibration, not an error.
    unseen = X.assign(campaign="east")
    assert np.all(np.isfinite(model.predict_proba(unseen)))


def test_ensemble_weights_members_and_names_each(registry):
    train, cal, test = table(800, 13), table(900, 14), table(300, 15)
    sharp, ref1 = registered_base(registry, train, name="sharp", sharpness=8.0)
    soft, ref2 = registered_base(registry, train.iloc[:200], name="soft", sharpness=1.0)
    model = CalibratedModel(method="sigmoid").fit(cal.drop(columns="label"), cal["label"],
                                                  members=[sharp, soft])
    assert model.calibrator_.component == "calibrate.ensemble"
    assert model.summary()["weights"] == pytest.approx(list(model.calibrator_.weights_), abs=1e-6)
    assert sum(model.calibrator_.weights_) == pytest.approx(1.0)
    assert model.metadata["members"] == ["sharp:1", "soft:1"]
    v = registry.register("ensemble", model, parents=[ref1, ref2], relation="calibrated_from")
    assert [p["ref"] for p in registry.lineage(v["ref"])["parents"]] == ["sharp:1", "soft:1"]
    X = test.drop(columns="label")
    np.testing.assert_array_equal(registry.load(v["ref"]).predict_proba(X), model.predict_proba(X))


def test_cross_validated_probabilities_are_out_of_fold(registry):
    model, cal = calibrated(registry, 16, "isotonic")
    X, y = cal.drop(columns="label"), cal["label"]
    oof = model.cross_validated_proba(X, y)
    np.testing.assert_allclose(oof.sum(axis=1), 1.0)
    # In-sample isotonic looks better than it is; out of fold it does not.
    from zoo import metrics

    assert (metrics.calibration(y, oof, model.classes_)["log_loss"]
            > metrics.calibration(y, model.predict_proba(X), model.classes_)["log_loss"])


def test_bad_members_and_labels_are_refused(registry):
    train, cal = table(500, 18), table(300, 19)
    base, _ = registered_base(registry, train)
    X, y = cal.drop(columns="label"), cal["label"]
    with pytest.raises(ZooError, match="zoo calibrate REF DATA"):
        CalibratedModel().fit(X, y)
    with pytest.raises(DataError, match="'maybe'"):
        CalibratedModel(method="sigmoid").fit(X, y.where(y != "yes", "maybe"), members=[base])
    regressor = Regressor().fit(train[["a", "b"]], train["a"])
    with pytest.raises(ZooError, match="not a fitted classifier"):
        CalibratedModel().fit(X, y, members=[regressor])
    three = OverconfidentLinear().fit(table(300, 20, ("x", "y", "z"))[["a", "b", "c"]],
                                      table(300, 20, ("x", "y", "z"))["label"])
    with pytest.raises(ZooError, match="same classes"):
        CalibratedModel().fit(X, y, members=[base, three])
    with pytest.raises(ZooError, match="unknown calibration method"):
        CalibratedModel(method="platt").fit(X, y, members=[base])
