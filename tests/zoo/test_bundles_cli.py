"""zoo export / import / backup, and zoo gc, through the real commands."""

from __future__ import annotations

import json

import pandas as pd
from click.testing import CliRunner

from zoo.cli import cli


def run(*args, ok=True):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert (result.exit_code == 0) == ok, result.output
    return result


def test_export_import_backup_round_trip(tmp_path):
    data = tmp_path / "d.csv"
    pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6], "y": [0, 1] * 3}).to_csv(data, index=False)
    src, dst = tmp_path / "src.db", tmp_path / "dst.db"
    for _ in range(2):
        run("--registry", src, "train", "zoo.baseline_classifier", data, "--target", "y", "--name", "m")
    run("--registry", src, "alias", "m", 2, "champion")
    bundle = tmp_path / "m.zoo"
    exported = json.loads(run("--registry", src, "export", "m", "-o", bundle, "--json").output)
    assert exported["versions"] == ["m:1", "m:2"]
    imported = json.loads(run("--registry", dst, "import", bundle, "--json").output)
    assert imported["imported"] == ["m:1", "m:2"]
    assert json.loads(run("--registry", dst, "show", "m@champion", "--json").output)["version"] == 2
    assert "skipped 2 already present" in run("--registry", dst, "import", bundle).output
    backup = tmp_path / "b" / "copy.db"
    run("--registry", dst, "backup", backup)
    assert len(json.loads(run("--registry", backup, "versions", "--json").output)) == 2
    junk = tmp_path / "junk.zoo"
    junk.write_text("nope")
    result = run("--registry", dst, "import", junk, ok=False)
    assert result.output.startswith("Error:") and "not a zoo bundle" in result.output


def test_gc_removes_orphans_that_verify_reports(tmp_path, registry_path):
    data = tmp_path / "d.csv"
    pd.DataFrame({"x": [1.0, 2, 3, 4], "y": [0, 1] * 2}).to_csv(data, index=False)
    run("train", "zoo.baseline_classifier", data, "--target", "y", "--name", "m")
    store = registry_path.parent / f"{registry_path.stem}-artifacts"
    orphan = store / "ab" / ("ab" + "0" * 62)
    orphan.parent.mkdir(exist_ok=True)
    orphan.write_bytes(b"left by a crash")
    assert json.loads(run("verify", "--json", ok=False).output)["orphans"] == [str(orphan)]
    assert json.loads(run("gc", "--dry-run", "--json").output)["removed"] == [str(orphan)]
    assert orphan.exists()
    run("gc")
    assert not orphan.exists()
    assert json.loads(run("verify", "--json").output)["orphans"] == []
