"""Crafted calibrator JSON and calibrated-model zips are refused with one line: classes,
arrays and nesting out of bounds, unsorted knots, parameters out of range, a zip with too
many parts. A crafted calibrated model registered as a version's own bytes (its inner
sha256s rewritten to match) is refused through the registry's one load path."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from zoo_calibrate.calibrators import (
    BaseCalibrator,
    HistogramCalibrator,
    IsotonicCalibrator,
    SigmoidCalibrator,
)
from zoo_calibrate.model import CalibratedModel
from zoo_calibrate.validate import check_calibrator
from zoo_sklearn.models import LogisticRegressionModel

from zoo import IntegrityError, Registry


def scores() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    p = rng.uniform(size=300)
    return p, (rng.uniform(size=300) < p).astype(int)


def saved(calibrator) -> dict:
    return calibrator.fit(*scores()).to_json()


def nested(depth: int) -> dict:
    doc = saved(SigmoidCalibrator())
    for _ in range(depth):
        doc = {**doc, "state": {**doc["state"], "scaler": doc}}
    return doc


def edited(calibrator, edit) -> dict:
    doc = saved(calibrator)
    edit(doc)
    return doc


CASES = {
    "classes": (lambda: edited(SigmoidCalibrator(), lambda d: d["state"].update(n_classes=10**9)),
                "n_classes=1000000000"),
    "unsorted": (lambda: edited(IsotonicCalibrator(), lambda d: d["state"]["x_"].reverse()),
                 "x_ are not sorted"),
    "pairs": (lambda: edited(IsotonicCalibrator(), lambda d: d["state"]["y_"].pop()), "x_ for"),
    "edges": (lambda: edited(HistogramCalibrator(), lambda d: d["state"]["edges_"].pop()),
              "edges_ for"),
    "bins": (lambda: edited(HistogramCalibrator(), lambda d: d["params"].update(n_bins=10**12)),
             "parameter n_bins=1000000000000 is out of bounds"),
    "depth": (lambda: nested(40), "nested deeper than"),
    "per_class": (lambda: edited(SigmoidCalibrator(),
                                 lambda d: d["state"].update(n_classes=3, per_class=[])),
                  "per_class for other than its 3 classes"),
}


@pytest.mark.parametrize("case", CASES)
def test_crafted_calibrator_json_is_refused_in_one_line(tmp_path, case):
    make, problem = CASES[case]
    path = tmp_path / "c.json"
    path.write_text(json.dumps(make()))
    with pytest.raises(IntegrityError) as info:
        BaseCalibrator.load(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith("crafted or corrupted model: ")
    assert problem in message


def test_genuine_calibrators_pass():
    for calibrator in (SigmoidCalibrator(), IsotonicCalibrator(), HistogramCalibrator()):
        check_calibrator(saved(calibrator))


def frame(n: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=list("abc"))
    return X, pd.Series(np.where(X["a"] + rng.normal(size=n) > 0, "yes", "no"), name="label")


def calibrated_zip(model: CalibratedModel, tmp: Path, edit) -> bytes:
    """``model``'s zip with its calibrator JSON edited and the manifest's sha256 made to match."""
    type(model).save(model, tmp / "m.zip")
    with zipfile.ZipFile(tmp / "m.zip") as zf:
        parts = {name: zf.read(name) for name in zf.namelist()}
    manifest = json.loads(parts["manifest.json"])
    doc = json.loads(parts["calibrator"])
    edit(doc)
    parts["calibrator"] = json.dumps(doc).encode()
    manifest["calibrator"]["sha256"] = hashlib.sha256(parts["calibrator"]).hexdigest()
    parts["manifest.json"] = json.dumps(manifest).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return out.getvalue()


def test_a_crafted_calibrated_model_is_refused_through_the_registry(registry_path, tmp_path):
    X, y = frame(300, 0)
    member = LogisticRegressionModel().fit(X, y)
    X2, y2 = frame(300, 1)
    model = CalibratedModel(method="isotonic").fit(X2, y2, members=[member])
    data = calibrated_zip(model, tmp_path, lambda d: d["state"]["x_"].reverse())
    model.save = lambda path: Path(path).write_bytes(data)
    with Registry(registry_path) as registry:
        ref = registry.register("cal", model)["ref"]
        with pytest.raises(IntegrityError) as info:
            registry.load(ref)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{ref}: crafted or corrupted model: calibrator state's x_ are not sorted")


def test_a_zip_with_too_many_parts_is_refused(tmp_path):
    path = tmp_path / "m.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(100):
            zf.writestr(f"members/{i}", b"")
        zf.writestr("manifest.json", b"{}")
    with pytest.raises(IntegrityError, match="100|101 parts"):
        CalibratedModel.load(path, {"feature_names": ["a"]})
