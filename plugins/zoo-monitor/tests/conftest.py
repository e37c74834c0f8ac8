"""Fixtures of zoo-monitor's tests: breast-cancer data split into the rows a model trains on
and clean rows it never saw, and versions trained as `zoo train` trains them (reference sample
included). Each test's fresh registry (``registry_path``) comes from the repository's
conftest.py."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from sklearn.datasets import load_breast_cancer  # noqa: E402

import zoo.cli as zoo_cli  # noqa: E402 - the CLI under test (defined, plugin commands added, before tests run)
from zoo import Registry, register_trained, train_and_register  # noqa: E402
from zoo.data import fingerprint  # noqa: E402


@pytest.fixture(scope="session")
def cancer():
    """(training rows, clean rows the model never sees), both with the `target` column."""
    frame = load_breast_cancer(as_frame=True).frame
    order = np.random.default_rng(0).permutation(len(frame))
    return frame.iloc[order[:300]].reset_index(drop=True), frame.iloc[order[300:]].reset_index(drop=True)


_TRAINED: dict = {}


@pytest.fixture
def register(registry_path):
    """``register(name, component, df, target, **params)``: train and register as `zoo train`
    does, through the Python API (each distinct training run once per session, registered
    again with ``zoo.register_trained``); returns the version."""

    def run(name, component, df, target=None, **params):
        key = (component, fingerprint(df)["sha256"], target, tuple(sorted(params.items())))
        with Registry(registry_path) as reg:
            if key in _TRAINED:
                return register_trained(reg, name, _TRAINED[key])
            version, _TRAINED[key] = train_and_register(reg, component, df, target, name=name,
                                                        params=params)
            return version

    return run


@pytest.fixture(scope="session")
def shifted():
    """``shifted(df, columns, sds=1.0)``: ``df`` with each column moved by ``sds`` standard deviations."""

    def shift(df: pd.DataFrame, columns: list[str], sds: float = 1.0) -> pd.DataFrame:
        out = df.copy()
        for c in columns:
            out[c] = out[c] + sds * df[c].std()
        return out

    return shift


@pytest.fixture(scope="session")
def zoo():
    """``zoo(*args, ok=True)``: the real `zoo` command in-process (stdout and stderr in ``.output``)."""
    from click.testing import CliRunner

    def run(*args, ok=True):
        result = CliRunner().invoke(zoo_cli.cli, [str(a) for a in args])
        if ok:
            assert result.exit_code == 0, result.output + repr(result.exception)
        return result

    return run


@pytest.fixture(scope="session")
def one_line_error():
    """``one_line_error(result)``: the single `Error:` line of a failed command, no traceback."""

    def check(result):
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        lines = [ln for ln in result.output.splitlines() if ln.startswith("Error:")]
        assert len(lines) == 1, result.output
        return lines[0]

    return check
