"""``zoo drift`` (zoo_drift/commands.py) through the real CLI: the table, --json, --plot, exit
statuses, errors, and a registered model's reference sample as REFERENCE."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from zootest import one_line_error, version_count, zoo

from zoo import NotFoundError

FEATURES = ["amount", "age", "n_tx", "hour"]


@pytest.fixture
def data(tmp_path):
    """reference.csv, same.csv (another sample of it) and shifted.csv (amount +0.5 sd, a new
    mix of channels)."""
    rng = np.random.default_rng(3)

    def sample(rows, shift=0.0, shares=(0.5, 0.3, 0.2)):
        df = pd.DataFrame(rng.standard_normal((rows, 4)), columns=FEATURES)
        df["amount"] += shift
        df["channel"] = rng.choice(["web", "app", "shop"], rows, p=shares)
        return df

    paths = {}
    for name, df in (("reference", sample(800)), ("same", sample(600)),
                     ("shifted", sample(600, 0.5, (0.3, 0.3, 0.4)))):
        paths[name] = tmp_path / f"{name}.csv"
        df.to_csv(paths[name], index=False)
    return paths



def test_drift_prints_a_table_and_exits_3(data, registry_path):
    result = zoo("drift", data["reference"], data["shifted"], ok=False)
    assert result.exit_code == 3, result.output
    for text in ("feature", "adjusted p", "amount", "channel", "auto: welch t", "auto: chi2"):
        assert text in result.output
    assert "Drift in 2 of 5 features: amount, channel" in result.output
    assert version_count(registry_path) == 0  # testing never writes to the registry


def test_no_drift_exits_0_with_the_verdict(data):
    result = zoo("drift", data["reference"], data["same"])
    assert "No drift in 5 features" in result.output


def test_json_is_the_result_dict(data):
    result = zoo("drift", data["reference"], data["shifted"], "--json", "--correction", "bonferroni",
                 "--alpha", "0.01", ok=False)
    assert result.exit_code == 3
    out = json.loads(result.output)
    assert out["drift"] and out["drifted"] == ["amount", "channel"]
    assert out["correction"] == "bonferroni" and out["alpha"] == 0.01 and out["test"] == "drift.auto"
    assert [r["feature"] for r in out["features"]] == [*FEATURES, "channel"]
    assert {"feature", "test", "statistic", "p_value", "p_adjusted", "drift"} <= set(out["features"][0])
    assert out["rows"] == {"reference": 800, "current": 600}


@pytest.mark.parametrize("name", ["ks", "drift.cvm", "psi"])
def test_other_tests_by_short_or_qualified_name(data, name):
    out = json.loads(zoo("drift", data["reference"], data["shifted"], "--test", name, "--json",
                         ok=False).output)
    assert out["test"] == (name if "." in name else f"drift.{name}")
    assert "amount" in out["drifted"]


def test_columns_and_params_choose_what_is_tested(data):
    out = json.loads(zoo("drift", data["reference"], data["shifted"], "--columns", "age,hour", "--test",
                         "wasserstein", "--param", "n_permutations=200", "--json").output)
    assert [r["feature"] for r in out["features"]] == ["age", "hour"] and not out["drift"]


def test_plot_writes_a_png(data, tmp_path):
    path = tmp_path / "drift.png"
    result = zoo("drift", data["reference"], data["shifted"], "--plot", path, ok=False)
    assert result.exit_code == 3 and f"Wrote {path}" in result.output.replace("\n", "")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000


def test_a_column_missing_from_current_is_one_line_naming_it(data, tmp_path):
    cut = tmp_path / "cut.csv"
    pd.read_csv(data["shifted"]).drop(columns="age").to_csv(cut, index=False)
    result = zoo("drift", data["reference"], cut, ok=False)
    assert result.exit_code == 1
    assert "no column 'age'" in one_line_error(result) and "--columns" in one_line_error(result)


@pytest.mark.parametrize("args, message", [
    (["--test", "nope"], "unknown drift test 'nope'"),
    (["--columns", "zzz"], "the reference has no column 'zzz'"),
    (["--param", "alpha=0.1"], "set alpha with --alpha"),
    (["--alpha", "2"], "alpha must be between 0 and 1"),
])
def test_bad_options_are_one_line_errors(data, args, message):
    result = zoo("drift", data["reference"], data["same"], *args, ok=False)
    assert result.exit_code == 1 and message in one_line_error(result)


def test_usage_errors_exit_2(data):
    assert zoo("drift", data["reference"], data["same"], "--correction", "holm", ok=False).exit_code == 2
    assert zoo("drift", data["reference"], ok=False).exit_code == 2


def test_unknown_reference_is_one_line(data):
    result = zoo("drift", "no-such-model", data["same"], ok=False)
    assert "neither a data file nor a registered model" in one_line_error(result)


def test_a_model_ref_uses_its_reference_sample_and_its_features(data, registry_path, tmp_path):
    from zoo import Registry, build_catalogue

    frame = pd.read_csv(data["reference"])
    frame["label"] = (frame["amount"] > 0).astype(int)
    sample = tmp_path / "reference.parquet"
    frame.to_parquet(sample, index=False)
    model = build_catalogue().get("zoo.baseline_classifier").create().fit(frame[FEATURES], frame["label"])
    with Registry(registry_path) as registry:
        registry.register("fraud", model, artifacts={"reference.parquet": sample})
        registry.register("bare", model)
    # The current file has no label column: only the model's features are tested.
    out = json.loads(zoo("drift", "fraud", data["shifted"], "--json", ok=False).output)
    assert [r["feature"] for r in out["features"]] == FEATURES
    assert out["drifted"] == ["amount"] and out["reference"].startswith("fraud:1")
    assert zoo("drift", "fraud:1", data["same"]).exit_code == 0
    result = zoo("drift", "bare", data["same"], ok=False)
    assert "reference.parquet" in one_line_error(result)


def test_no_drift_test_installed_says_how_to_get_one():
    from zoo_drift.commands import resolve_test

    with pytest.raises(NotFoundError) as caught:
        resolve_test(SimpleNamespace(components={}), "auto")
    assert str(caught.value) == "no drift test installed: run `zoo install zoo-drift`"


def test_zoo_drift_comes_with_this_plugin_and_only_with_it(data):
    def run(plugins):
        args = [sys.executable, "-m", "zoo", "drift", str(data["reference"]), str(data["same"])]
        return subprocess.run(args, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "ZOO_LOAD_PLUGINS": plugins})

    alone = run("drift")
    assert alone.returncode == 0 and "No drift in 5 features" in alone.stdout, alone.stderr
    bare = run("")
    assert bare.returncode == 2 and "No such command 'drift'" in bare.stderr
