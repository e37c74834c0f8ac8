"""``zoo ab`` run for real with click's CliRunner on a registry holding two trained versions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from zootest import one_line_error

from zoo.cli import cli


@pytest.fixture
def zoo(trained_registry_path: Path):
    """``zoo(*args)`` runs the real command against the trained registry copy."""
    runner = CliRunner()

    def run(*args: str, ok: bool = True):
        result = runner.invoke(cli, ["--registry", str(trained_registry_path), *args])
        if ok:
            assert result.exit_code == 0, (args, result.output, result.stderr)
        return result

    return run


@pytest.fixture
def files(tmp_path: Path, new_rows: pd.DataFrame) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    data = tmp_path / "today.csv"
    new_rows.to_csv(data, index=False)
    return {"data": data, "rng": rng}


def _start(zoo, name: str = "exp", *extra: str):
    return zoo("ab", "start", name, "--arm", "A=churn@champion", "--arm", "B=churn@challenger",
               "--id-column", "customer_id", *extra)


def test_start_predict_record_report_list_stop(zoo, files, tmp_path):
    result = _start(zoo, "exp", "--split", "70,30", "--metric", "conversion")
    assert "Started exp (split): A=churn:1 (churn@champion), B=churn:2" in result.output
    out = tmp_path / "scored.csv"
    result = zoo("ab", "predict", "exp", str(files["data"]), "-o", str(out))
    scored = pd.read_csv(out)
    assert {"customer_id", "prediction", "proba_1", "arm"} <= set(scored.columns)
    assert 0.55 < (scored["arm"] == "A").mean() < 0.85 and len(scored) == 300
    assert "Wrote 300 rows" in result.stderr
    stdout = zoo("ab", "predict", "exp", str(files["data"])).stdout
    assert stdout.splitlines()[0].endswith(",arm") and len(stdout.splitlines()) == 301
    as_json = json.loads(zoo("ab", "predict", "exp", str(files["data"]), "--json").stdout)
    assert [r["arm"] for r in as_json] == scored["arm"].tolist()

    # Outcomes arrive later, attributed by the arm column predict wrote.
    outcomes = tmp_path / "outcomes.csv"
    converted = (files["rng"].random(len(scored)) < np.where(scored["arm"] == "B", 0.5, 0.2)).astype(int)
    pd.DataFrame({"customer_id": scored["customer_id"], "converted": converted,
                  "arm": scored["arm"]}).to_csv(outcomes, index=False)
    result = zoo("ab", "record", "exp", str(outcomes), "--value-column", "converted", "--arm-column", "arm")
    assert "Recorded 300 outcomes" in result.output
    # The same file again counts nothing twice (it used to double n and tip the verdict).
    result = zoo("ab", "record", "exp", str(outcomes), "--value-column", "converted", "--arm-column", "arm")
    assert "Recorded 0 outcomes for exp, 300 already recorded unchanged" in result.output
    flipped = pd.DataFrame({"customer_id": scored["customer_id"][:1], "converted": 1 - converted[:1],
                            "arm": scored["arm"][:1]})
    flipped.to_csv(tmp_path / "flipped.csv", index=False)
    args = ("ab", "record", "exp", str(tmp_path / "flipped.csv"), "--value-column", "converted",
            "--arm-column", "arm")
    assert "pass --update to replace them" in one_line_error(zoo(*args, ok=False))
    assert "Recorded or updated 1 outcomes" in zoo(*args, "--update").output
    flipped["converted"] = converted[:1]
    flipped.to_csv(tmp_path / "flipped.csv", index=False)
    zoo(*args, "--update")

    report = json.loads(zoo("ab", "report", "exp", "--json").stdout)
    assert [a["n"] for a in report["arms"]] == [(scored["arm"] == a).sum() for a in ("A", "B")]
    assert report["comparisons"][0]["test"] == "two-proportion z"
    assert report["recommendation"]["text"] == "promote B"
    plot = tmp_path / "report.png"
    result = zoo("ab", "report", "exp", "--plot", str(plot))
    assert "Recommendation: promote B" in result.output and "two-proportion" in result.output
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    listing = json.loads(zoo("ab", "list", "--json").stdout)
    assert listing[0]["name"] == "exp" and listing[0]["split"] == {"A": 0.7, "B": 0.3}
    assert listing[0]["outcomes"] == {"A": report["arms"][0]["n"], "B": report["arms"][1]["n"]}
    assert "exp" in zoo("ab", "list").output
    assert "Stopped exp" in zoo("ab", "stop", "exp").output
    result = zoo("ab", "predict", "exp", str(files["data"]), ok=False)
    assert result.exit_code == 1 and "'exp' is stopped" in result.stderr
    assert "Deleted experiment exp" in zoo("ab", "delete", "exp", "--yes").output
    assert json.loads(zoo("ab", "list", "--json").stdout) == []


def test_bandit_update_and_shadow_from_the_cli(zoo, files, tmp_path):
    _start(zoo, "bandit", "--mode", "bandit", "--floor", "10")
    outcomes = tmp_path / "outcomes.csv"
    ids = np.arange(4000)
    pd.DataFrame({"customer_id": ids, "converted": (ids % 4 == 0).astype(int)}).to_csv(outcomes, index=False)
    zoo("ab", "record", "bandit", str(outcomes), "--value-column", "converted")
    step = json.loads(zoo("ab", "update", "bandit", "--json").stdout)
    assert sum(step["split"].values()) == pytest.approx(1.0) and min(step["split"].values()) >= 0.1
    assert "traffic now" in zoo("ab", "update", "bandit").output
    bandit_plot = tmp_path / "bandit.png"
    zoo("ab", "report", "bandit", "--plot", str(bandit_plot))
    assert bandit_plot.stat().st_size > 10_000

    _start(zoo, "shadow", "--mode", "shadow")
    scored = tmp_path / "shadow.csv"
    result = zoo("ab", "predict", "shadow", str(files["data"]), "-o", str(scored))
    assert "B logged only" in result.stderr and set(pd.read_csv(scored)["arm"]) == {"A"}
    report = json.loads(zoo("ab", "report", "shadow", "--json").stdout)
    assert report["shadow"]["B"]["rows"] == 300 and 0 <= report["shadow"]["B"]["agreement"] <= 1
    assert "agreement" in zoo("ab", "report", "shadow").output


@pytest.mark.parametrize(("args", "message"), [
    (["report", "ghost"], "no experiment named 'ghost'"),
    (["start", "x", "--arm", "A=churn:1", "--arm", "B=churn:7"], "churn has no version 7"),
    (["start", "x", "--arm", "A=churn:1", "--arm", "B"], "'B' is not NAME=REF"),
    (["start", "x", "--arm", "A=churn:1", "--arm", "A=churn:2"], "arm 'A' is given twice"),
    (["start", "x", "--arm", "A=churn:1", "--arm", "B=churn:2", "--split", "50,40"], "must sum to 100"),
    (["start", "x", "--arm", "A=churn:1", "--arm", "B=churn:2", "--split", "a,b"], "is not numbers"),
    (["update", "exp"], "is in split mode"),
    (["report", "exp", "--plot", "out.svg"], "ending in .png"),
    (["record", "exp", "{outcomes}", "--value-column", "nope"], "has no column 'nope' (--value-column)"),
    (["record", "exp", "{outcomes}", "--value-column", "converted", "--arm-column", "bad_arm"],
     "has no arm 'C'"),
    (["predict", "exp", "{no_id}"], "no id column 'customer_id'"),
])
def test_bad_input_is_one_line_and_writes_nothing(zoo, tmp_path, args, message):
    _start(zoo, "exp")
    outcomes, no_id = tmp_path / "outcomes.csv", tmp_path / "no_id.csv"
    pd.DataFrame({"customer_id": [1, 2], "converted": [0, 1],
                  "bad_arm": ["A", "C"]}).to_csv(outcomes, index=False)
    pd.DataFrame({"x0": [0.1], "x1": [0.2], "x2": [0.3]}).to_csv(no_id, index=False)
    args = [a.format(outcomes=outcomes, no_id=no_id) for a in args]
    result = zoo("ab", *args, ok=False)
    assert result.exit_code == 1
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    listing = json.loads(zoo("ab", "list", "--json").stdout)
    assert [e["name"] for e in listing] == ["exp"] and listing[0]["outcomes"] == {"A": 0, "B": 0}


def test_every_command_and_option_has_help(zoo):
    from zoo_ab.cli import ab

    for name, command in ab.commands.items():
        assert command.help, name
        for param in command.params:
            if param.param_type_name == "option":
                assert param.help, (name, param.name)
        assert zoo("ab", name, "--help").exit_code == 0
