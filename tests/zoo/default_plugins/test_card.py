"""`zoo card`: a Markdown model card from registry data, with metric intervals."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pandas as pd
from zootest import one_line_error, zoo


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
