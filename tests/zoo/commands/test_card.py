"""`zoo card`: a Markdown model card from registry data, with metric intervals."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.datasets import load_breast_cancer

from registry import Registry
from zoo.catalogue import build_catalogue
from zoo.cli import cli
from zoo.training import train


def zoo(*args, ok=True):
    """The real `zoo` command in-process; stdout and stderr are both in ``.output``."""
    result = CliRunner().invoke(cli, list(map(str, args)))
    if ok:
        assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def one_line_error(result) -> str:
    """The single `Error:` line of a failed command: non-zero exit, no traceback."""
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = [ln for ln in result.output.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1, result.output
    return lines[0]


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


def test_card_from_stored_evaluation_and_tags(register, cancer_csv, tmp_path):
    register("cancer", "xgboost.classifier", pd.read_csv(cancer_csv), "target", n_estimators=10, n_jobs=1)
    zoo("tag", "cancer", "intended_use=Research triage only")
    zoo("tag", "cancer:1", "limitations=One hospital, 1990s data")
    out = tmp_path / "card.md"
    zoo("card", "cancer:1", "-o", out)
    text = out.read_text()
    assert text.startswith("# Model card: cancer:1")
    assert "## Intended use\n\nResearch triage only" in text
    assert "## Limitations\n\nOne hospital, 1990s data" in text
    assert "On 113 rows (held out at training); 95% bootstrap confidence intervals" in text
    assert "| roc_auc | " in text and "## Uncertainty" in text and "- `roc_curve.png`" in text


def test_card_with_data_computes_intervals_and_flags_training_data(register, cancer_csv):
    register("cancer", "lightgbm.classifier", pd.read_csv(cancer_csv), "target", n_estimators=10, n_jobs=1)
    text = zoo("card", "cancer", cancer_csv, "--target", "target", "--bootstrap", "200").stdout
    assert "On 569 rows (`cancer.csv`, given to `zoo card`; this is the training data" in text
    assert "from 200 resamples" in text


def test_card_errors_are_one_line(register, cancer_csv):
    register("cancer", "zoo.baseline_classifier", pd.read_csv(cancer_csv), "target")
    assert "needs --target" in one_line_error(zoo("card", "cancer", cancer_csv, ok=False))
    assert "no version 9" in one_line_error(zoo("card", "cancer:9", ok=False))
