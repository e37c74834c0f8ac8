"""Fixtures of the built-in plugins' tests: versions trained and registered as `zoo train` does
them (held-out plots, metric intervals and calibration included), and data sets as CSV."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import json  # noqa: E402

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from sklearn.datasets import load_breast_cancer, make_friedman1  # noqa: E402

from zoo import Registry, train_and_register  # noqa: E402


@pytest.fixture
def register(registry_path):
    """``register(name, component, df, target, **params)``: train as `zoo train` does and
    register through the Python API; returns the version."""

    def run(name, component, df, target, **params):
        with Registry(registry_path) as reg:
            return train_and_register(reg, component, df, target, name=name, params=params)[0]

    return run


@pytest.fixture
def trained(registry_path, tmp_path):
    """``trained(component, df, target, params=None, test_size=0.2, seed=0, name="m")``: train
    and register as `zoo train` does; returns the ``TrainResult`` and the version's extra
    artifacts as {name: path of a verified copy}."""

    def run(component, df, target, params=None, test_size=0.2, seed=0, name="m"):
        with Registry(registry_path) as reg:
            version, result = train_and_register(reg, component, df, target, name=name, params=params,
                                                 test_size=test_size, seed=seed)
            folder = tmp_path / f"{name}-{version['version']}"
            folder.mkdir()
            files = {artifact: reg.verified_copy(version, folder / artifact, artifact=artifact)
                     for artifact in version["artifacts"] if artifact != "model"}
        return result, files

    return run


@pytest.fixture
def read_artifact(tmp_path):
    """``read_artifact(registry, version, name)``: a version's JSON artifact, from a verified copy."""

    def read(registry, version, name):
        path = registry.verified_copy(version, tmp_path / f"read-{version['version']}-{name}", artifact=name)
        return json.loads(path.read_text())

    return read


@pytest.fixture
def cancer_csv(tmp_path):
    path = tmp_path / "cancer.csv"
    load_breast_cancer(as_frame=True).frame.to_csv(path, index=False)
    return path


@pytest.fixture
def friedman_csv(tmp_path):
    X, y = make_friedman1(n_samples=600, n_features=6, noise=0.5, random_state=0)
    path = tmp_path / "friedman.csv"
    pd.DataFrame(X, columns=[f"f{i}" for i in range(6)]).assign(y=y).to_csv(path, index=False)
    return path
