"""The real ``zoo`` commands through click's CliRunner, on a real registry file."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from zootest import needs_plugin

from zoo.cli import cli


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 3))
    df = pd.DataFrame(x, columns=["a", "b", "c"])
    df["label"] = np.where(x[:, 0] + 0.5 * x[:, 1] > 0, "yes", "no")
    path = tmp_path / "train.csv"
    df.to_csv(path, index=False)
    return path


def zoo(runner, *args, ok=True):
    result = runner.invoke(cli, list(map(str, args)))
    if ok:
        assert result.exit_code == 0, result.output + str(result.exception or "")
    return result


def error_line(result) -> str:
    """The one-line error: non-zero exit, no traceback."""
    assert result.exit_code != 0
    text = result.output.strip()
    assert "Traceback" not in text
    lines = [ln for ln in text.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1, text
    return lines[0]


def train(runner, data, *extra):
    return json.loads(zoo(runner, "train", "zoo.baseline_classifier", data, "--target", "label",
                          "--name", "m", "--json", *extra).output)


def test_train_registers_a_version_with_metrics_params_and_fingerprint(runner, data):
    v = train(runner, data, "--tag", "team=growth", "--description", "first")
    assert v["ref"] == "m:1" and v["component"] == "zoo.baseline_classifier"
    assert set(v["metrics"]) == {"accuracy", "roc_auc", "f1", "log_loss"}
    assert v["tags"] == {"team": "growth"} and v["description"] == "first"
    assert v["data"]["rows"] == 120 and set(v["data"]["schema"]) == {"a", "b", "c", "label"}
    assert v["metadata"]["feature_names"] == ["a", "b", "c"]
    assert train(runner, data)["version"] == 2


def test_train_with_sklearn_plugin_and_params(runner, data):
    needs_plugin("sklearn")
    v = json.loads(zoo(runner, "train", "sklearn.random_forest_classifier", data, "--target", "label",
                       "--name", "rf", "--param", "n_estimators=20", "--param", "max_depth=3",
                       "--json").output)
    assert v["params"]["n_estimators"] == 20 and v["params"]["max_depth"] == 3
    assert v["metrics"]["accuracy"] > 0.8
    assert v["artifact_format"] == "skops"


def test_predict_writes_rows_prediction_and_probabilities(runner, data, tmp_path):
    train(runner, data)
    out = tmp_path / "out.parquet"
    zoo(runner, "predict", "m", data, "-o", out)
    scored = pd.read_parquet(out)
    assert len(scored) == 120
    assert {"a", "label", "prediction", "proba_no", "proba_yes"} <= set(scored.columns)
    assert np.allclose(scored["proba_no"] + scored["proba_yes"], 1.0)


def test_predict_matches_columns_by_name(runner, data, tmp_path):
    train(runner, data)
    df = pd.read_csv(data)
    shuffled = tmp_path / "shuffled.csv"
    df[["c", "label", "a", "b"]].assign(extra=1).to_csv(shuffled, index=False)
    result = zoo(runner, "predict", "m", shuffled)
    assert "ignoring column" in result.output and "extra" in result.output
    missing = tmp_path / "missing.csv"
    df.drop(columns=["b"]).to_csv(missing, index=False)
    assert "missing column 'b'" in error_line(zoo(runner, "predict", "m", missing, ok=False))
    wrong = tmp_path / "wrong.csv"
    df.assign(c=["x"] * len(df)).to_csv(wrong, index=False)
    assert "column 'c'" in error_line(zoo(runner, "predict", "m", wrong, ok=False))


def test_listings_take_json(runner, data):
    train(runner, data)
    for args in (["models"], ["versions", "m"], ["versions"], ["show", "m:1"], ["lineage", "m"],
                 ["components"], ["plugins", "--all"], ["audit"], ["verify"], ["alias", "m"]):
        json.loads(zoo(runner, *args, "--json").output)


def test_human_listings_render(runner, data):
    train(runner, data, "--tag", "team=growth")
    assert "m" in zoo(runner, "models").output
    assert "m:1" in zoo(runner, "versions", "m").output
    assert "zoo.baseline_classifier" in zoo(runner, "show", "m:1").output
    assert "m:1" in zoo(runner, "lineage", "m:1").output
    assert "zoo.baselines" in zoo(runner, "plugins", "--all").output


def test_alias_moves_and_history(runner, data):
    train(runner, data)
    train(runner, data)
    zoo(runner, "alias", "m", 1, "champion")
    zoo(runner, "alias", "m", 2, "champion")
    assert json.loads(zoo(runner, "show", "m@champion", "--json").output)["version"] == 2
    history = json.loads(zoo(runner, "alias", "m", "--json").output)
    assert [(h["from_version"], h["to_version"]) for h in history] == [(None, 1), (1, 2)]
    assert "no version 7" in error_line(zoo(runner, "alias", "m", 7, "champion", ok=False))


def test_tag_model_and_version_then_filter(runner, data):
    train(runner, data)
    train(runner, data)
    zoo(runner, "tag", "m:2", "stage=prod")
    zoo(runner, "tag", "m", "owner=ana")
    rows = json.loads(zoo(runner, "versions", "m", "--where", "tags.stage = 'prod'", "--json").output)
    assert [r["version"] for r in rows] == [2]
    assert json.loads(zoo(runner, "models", "--json").output)[0]["tags"] == {"owner": "ana"}
    bad = zoo(runner, "versions", "--where", "tags.stage = 'prod'; DROP TABLE versions", ok=False)
    assert "--where" in error_line(bad)
    assert len(json.loads(zoo(runner, "versions", "--json").output)) == 2


def test_verify_reports_a_corrupted_artifact_and_load_refuses_it(runner, data, registry_path):
    v = train(runner, data)
    assert zoo(runner, "verify").exit_code == 0
    store = registry_path.parent / f"{registry_path.stem}-artifacts"
    artifact = store / v["artifact_sha256"][:2] / v["artifact_sha256"]
    artifact.write_bytes(artifact.read_bytes()[:-1] + b"X")
    result = zoo(runner, "verify", "--json", ok=False)
    assert result.exit_code == 1
    assert json.loads(result.output)["corrupted"][0]["sha256"] == v["artifact_sha256"]
    assert "corrupted" in error_line(zoo(runner, "predict", "m", data, ok=False))


def test_delete_version_and_model(runner, data):
    train(runner, data)
    train(runner, data)
    zoo(runner, "delete", "m:1", "--yes")
    assert [r["version"] for r in json.loads(zoo(runner, "versions", "m", "--json").output)] == [2]
    zoo(runner, "delete", "m", "--yes")
    assert json.loads(zoo(runner, "models", "--json").output) == []
    assert "m" in error_line(zoo(runner, "show", "m", ok=False))


@pytest.mark.parametrize(
    "args, expected",
    [
        (["show", "nope"], "nope"),
        (["train", "zoo.baseline_clasifier", "DATA", "--target", "label", "--name", "x"], "did you mean"),
        (["train", "zoo.baseline_classifier", "DATA", "--target", "nolabel", "--name", "x"], "nolabel"),
        (["train", "zoo.baseline_classifier", "DATA", "--target", "label", "--name", "x",
          "--param", "depth=3"], "depth"),
        (["train", "zoo.baseline_classifier", "DATA", "--name", "x"], "--target"),
        (["train", "zoo.baseline_classifier", "missing.csv", "--target", "label", "--name", "x"],
         "no such file"),
        (["predict", "ghost", "DATA"], "ghost"),
        (["tag", "m", "novalue"], "key=value"),
        (["components", "sklearn.nope"], "unknown component"),
    ],
)
def test_bad_input_is_one_line_error(runner, data, args, expected):
    args = [str(data) if a == "DATA" else a for a in args]
    assert expected in error_line(zoo(runner, *args, ok=False))


def test_train_save_reload_predict_reproduces_predictions_exactly(registry_path, data):
    """Fit in Python, register, load back: identical predictions and probabilities."""
    needs_plugin("sklearn")
    from zoo import Registry
    from zoo.catalogue import build_catalogue

    df = pd.read_csv(data)
    X, y = df.drop(columns="label"), df["label"]
    for name in ("sklearn.hist_gradient_boosting_classifier", "sklearn.logistic_regression"):
        model = build_catalogue().get(name).create().fit(X, y)
        with Registry(registry_path) as reg:
            ref = reg.register("exact", model)["ref"]
            loaded = reg.load(ref)
        assert (loaded.model_name, loaded.model_version) == ("exact", int(ref.split(":")[1]))
        assert np.array_equal(loaded.predict(X), model.predict(X))
        assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))


@pytest.mark.slow
def test_install_and_uninstall_a_plugin_for_real(tmp_path, run_zoo):
    """`zoo install PATH` pip-installs into zoo's own interpreter; `zoo uninstall` removes it."""
    src = tmp_path / "zoo-install-probe"
    src.mkdir()
    (src / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "zoo-install-probe"\nversion = "1.2.3"\n'
        '[project.entry-points.zoo]\nprobe = "zoo_install_probe"\n'
        '[tool.setuptools]\npy-modules = ["zoo_install_probe"]\n'
    )
    (src / "zoo_install_probe.py").write_text("")
    env = {"ZOO_STRICT_PLUGINS": ""}
    try:
        run_zoo("install", str(src), env=env, check=True)
        plugins = json.loads(run_zoo("plugins", "--json", env=env, check=True).stdout)["plugins"]
        assert {"name": "probe", "version": "1.2.3", "status": "ok"}.items() <= next(
            p for p in plugins if p["name"] == "probe").items()
        reqs = run_zoo("plugins", "--requirements", env=env, check=True).stdout
        assert "zoo-install-probe==1.2.3" in reqs
    finally:
        run_zoo("uninstall", "-y", "zoo-install-probe", env=env)
    plugins = json.loads(run_zoo("plugins", "--json", env=env, check=True).stdout)["plugins"]
    assert "probe" not in {p["name"] for p in plugins}


def test_delete_a_model_whose_versions_are_all_deleted(runner, data):
    train(runner, data)
    zoo(runner, "delete", "m:1", "--yes")
    zoo(runner, "delete", "m", "--yes")
    assert json.loads(zoo(runner, "models", "--json").output) == []


def test_models_table_shows_a_page_and_says_how_to_see_the_rest(runner, data):
    for name in ("a", "b", "c"):
        zoo(runner, "train", "zoo.baseline_classifier", data, "--target", "label", "--name", name)
    result = zoo(runner, "models", "--limit", "2")
    assert "2 of 3 models" in result.output and "--limit 0" in result.output
    assert "c " in result.output and "a " not in result.output  # newest first
    assert len(json.loads(zoo(runner, "models", "--json").output)) == 3
    assert [m["name"] for m in json.loads(zoo(runner, "models", "--json", "--limit", "1").output)] == ["c"]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_predict_in_chunks_equals_predict_in_one_go(runner, data, tmp_path, suffix):
    train(runner, data)
    source = tmp_path / f"in{suffix}"
    pd.read_csv(data).assign(extra=1).to_parquet(source) if suffix == ".parquet" else \
        pd.read_csv(data).assign(extra=1).to_csv(source, index=False)
    whole, chunked = tmp_path / f"whole{suffix}", tmp_path / f"chunked{suffix}"
    zoo(runner, "predict", "m", source, "-o", whole)
    result = zoo(runner, "predict", "m", source, "-o", chunked, "--chunk-rows", "7")
    assert result.output.count("ignoring column") == 1  # warned once, not once per chunk
    read = pd.read_parquet if suffix == ".parquet" else pd.read_csv
    pd.testing.assert_frame_equal(read(whole), read(chunked))
    records = json.loads(zoo(runner, "predict", "m", source, "--json", "--chunk-rows", "7").stdout)
    assert len(records) == 120 and records[0].keys() >= {"prediction", "proba_no"}
    csv = pd.read_csv(io.StringIO(zoo(runner, "predict", "m", source, "--chunk-rows", "50").stdout))
    pd.testing.assert_frame_equal(csv, read(whole), check_dtype=False)
