"""Fixtures shared by the command tests: registered versions and bundled data sets as CSV."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from sklearn.datasets import load_breast_cancer, make_friedman1  # noqa: E402

from zoo import Registry  # noqa: E402
from zoo.catalogue import build_catalogue  # noqa: E402
from zoo.training import train  # noqa: E402


@pytest.fixture
def register(registry_path, tmp_path):
    """``register(name, component, df, target, **params)``: train as `zoo train` does (held-out
    plots and calibration included) and register through the Python API; returns the version."""

    def run(name, component, df, target, **params):
        result = train(build_catalogue().get(component), df, target, params,
                       artifact_dir=tmp_path / f"artifacts-{name}")
        with Registry(registry_path) as reg:
            return reg.register(name, result.model, metrics=result.metrics, data=result.data,
                                artifacts=result.artifacts)

    return run


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
