"""Crafted zoo-pyod artifacts (registered as the version's own bytes, so the sha256 checks
pass) are refused with one line before the refit on load: ``n_estimators=10**7`` (minutes
of refitting without the check), ``n_neighbors`` past the training rows, an array whose
header declares far more bytes than it holds, a header naming the wrong number of columns.
The loads run in a subprocess with a timeout, so a regression fails instead of hanging."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from zoo_pyod.detectors import HBOSDetector, IForestDetector, KNNDetector

from zoo import IntegrityError, Registry
from zoo.testing import load_in_subprocess

#: Rows every loaded detector scores.
ROWS = pd.DataFrame(np.zeros((3, 3)), columns=list("abc"))


def train() -> pd.DataFrame:
    return pd.DataFrame(np.random.default_rng(0).normal(size=(60, 3)), columns=list("abc"))


def saved(detector) -> dict:
    """The arrays and header of a saved detector."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        type(detector).save(detector, Path(tmp) / "d.npz")
        data = (Path(tmp) / "d.npz").read_bytes()
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        return {"header": json.loads(str(z["header"])), "X_train": z["X_train"],
                "decision_scores": z["decision_scores"]}


def npz(parts: dict) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, X_train=parts["X_train"], decision_scores=parts["decision_scores"],
             header=np.array(json.dumps(parts["header"])))
    return buffer.getvalue()


def with_params(detector, **params) -> bytes:
    parts = saved(detector)
    parts["header"]["params"].update(params)
    return npz(parts)


def lying_shape(detector) -> bytes:
    """A valid npz whose X_train header declares 10**6 x 10**6 floats in a few bytes."""
    good = npz(saved(detector))
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "X_train.npy":
                data = data.replace(b"'shape': (60, 3)", b"'shape': (1000000, 1000000)")
            dst.writestr(info.filename, data)
    return out.getvalue()


def register_bytes(registry: Registry, name: str, detector, data: bytes) -> str:
    detector.save = lambda path: Path(path).write_bytes(data)
    return registry.register(name, detector)["ref"]


def test_crafted_detectors_are_refused_in_one_line_before_refitting(registry_path):
    forest = IForestDetector(n_estimators=10).fit(train())
    knn = KNNDetector().fit(train())
    hbos = HBOSDetector().fit(train())
    narrow = saved(forest)
    narrow["header"]["feature_names"] = ["a"]
    cases = {
        "estimators": (forest, with_params(forest, n_estimators=10**7),
                       "pyod.iforest parameter n_estimators=10000000 is out of bounds"),
        "neighbours": (knn, with_params(knn, n_neighbors=5000),
                       "pyod.knn parameter n_neighbors=5000 needs more than its 60 training rows"),
        "bins": (hbos, with_params(hbos, n_bins=10**9), "pyod.hbos parameter n_bins=1000000000"),
        "shape": (forest, lying_shape(forest), "X_train.npy declares shape (1000000, 1000000)"),
        "columns": (forest, npz(narrow), "its header names 1 features for 3 columns"),
    }
    with Registry(registry_path) as registry:
        refs = {name: register_bytes(registry, name, detector, data)
                for name, (detector, data, _) in cases.items()}
        refs["good"] = register_bytes(registry, "good", forest, npz(saved(forest)))
    lines = load_in_subprocess(registry_path, refs.values(), ROWS, timeout=60)
    assert lines[refs["good"]].startswith("LOADED"), lines[refs["good"]]
    for name, (_, _, problem) in cases.items():
        line = lines[refs[name]]
        assert line.startswith("REFUSED") and "<newline>" not in line, line
        assert f"{refs[name]}: crafted or corrupted model: {problem}" in line


@pytest.mark.parametrize("params", [{"contamination": 7}, {"n_estimators": True},
                                    {"max_samples": 10**6}, {"random_state": -1}])
def test_out_of_bounds_parameters_are_refused(tmp_path, params):
    forest = IForestDetector(n_estimators=10).fit(train())
    path = tmp_path / "d.npz"
    path.write_bytes(with_params(forest, **params))
    with pytest.raises(IntegrityError, match="crafted or corrupted model"):
        IForestDetector.load(path)
