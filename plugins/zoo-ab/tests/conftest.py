"""Registries with real versions for the A/B tests: built-in baselines where only routing
and outcomes matter (fast), two scikit-learn logistic regressions where predictions do."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zoo import Registry


def _frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.8, size=n) > 0).astype(int)
    return pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "x2": x[:, 2], "label": y})


@pytest.fixture
def baseline_registry(tmp_path: Path) -> Registry:
    """A registry with two versions of a built-in baseline classifier, ``churn:1`` and ``churn:2``."""
    from zoo import build_catalogue

    registry = Registry(tmp_path / "baseline.db")
    df = _frame(60)
    info = build_catalogue().get("zoo.baseline_classifier")
    for _ in range(2):
        model = info.create().fit(df[["x0", "x1", "x2"]], df["label"])
        registry.register("churn", model)
    registry.set_alias("churn", "champion", 1)
    registry.set_alias("churn", "challenger", 2)
    yield registry
    registry.close()


@pytest.fixture(scope="session")
def trained_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry file with two logistic regressions that disagree on some rows (strong and
    weak regularisation); tests copy it so none sees another's experiments."""
    from zoo import build_catalogue

    path = tmp_path_factory.mktemp("trained") / "trained.db"
    registry = Registry(path)
    df = _frame(400)
    info = build_catalogue().get("sklearn.logistic_regression")
    for c in (0.002, 10.0):
        model = info.create(C=c).fit(df[["x0", "x1", "x2"]], df["label"])
        registry.register("churn", model)
    registry.set_alias("churn", "champion", 1)
    registry.set_alias("churn", "challenger", 2)
    registry.close()
    return path


@pytest.fixture
def trained_registry_path(trained_path: Path, tmp_path: Path) -> Path:
    """A private copy of the trained registry (database and artifact store)."""
    import shutil

    target = tmp_path / "reg"
    shutil.copytree(trained_path.parent, target)
    return target / trained_path.name


@pytest.fixture
def new_rows() -> pd.DataFrame:
    """Rows to score, with a customer id column the models were not trained on."""
    df = _frame(300, seed=7).drop(columns="label")
    df.insert(0, "customer_id", np.arange(5000, 5300))
    return df
