"""zoo export / import / backup, and zoo gc, through the real commands."""

from __future__ import annotations

import json
import os
import time

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
    os.utime(orphan, (time.time() - 86400, time.time() - 86400))  # older than gc's grace period
    assert json.loads(run("verify", "--json", ok=False).output)["orphans"] == [str(orphan)]
    assert json.loads(run("gc", "--dry-run", "--json").output)["removed"] == [str(orphan)]
    assert orphan.exists()
    run("gc")
    assert not orphan.exists()
    assert json.loads(run("verify", "--json").output)["orphans"] == []


# --- issue 17: what import, export, delete and refs do with hostile or careless input ---


def one_line_error(result):
    assert result.exit_code != 0 and "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "ZOO_DEBUG" not in errors[0], result.output  # not the catch-all
    return errors[0]


def trained(tmp_path, registry, name="m", times=2):
    data = tmp_path / "d.csv"
    if not data.exists():
        pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6], "y": [0, 1] * 3}).to_csv(data, index=False)
    for _ in range(times):
        run("--registry", registry, "train", "zoo.baseline_classifier", data, "--target", "y",
            "--name", name, "--test-size", "0")
    return data


def test_import_keeps_aliases_and_says_so_unless_told_to_move_them(tmp_path):
    src, dst = tmp_path / "src.db", tmp_path / "dst.db"
    trained(tmp_path, src)
    run("--registry", src, "alias", "m", 2, "champion")
    bundle = tmp_path / "m.zoo"
    run("--registry", src, "export", "m:2", "-o", bundle)
    trained(tmp_path, dst, times=1)  # dst's own m:1
    run("--registry", dst, "delete", "m:1", "--yes")
    run("--registry", dst, "import", bundle)  # m:2 and its champion come over
    run("--registry", dst, "alias", "m", 2, "staging")
    run("--registry", src, "alias", "m", 1, "staging")
    run("--registry", src, "export", "m", "-o", bundle)
    out = run("--registry", dst, "import", bundle).output
    assert "kept alias m@staging stays on m:2 (the bundle has it on 1)" in out
    assert "--move-aliases" in out
    assert json.loads(run("--registry", dst, "show", "m@staging", "--json").output)["version"] == 2


def test_export_onto_the_registry_itself_is_refused(tmp_path, registry_path):
    trained(tmp_path, registry_path, times=1)
    before = registry_path.read_bytes()
    store = registry_path.parent / f"{registry_path.stem}-artifacts"
    for target in (registry_path, store / "m.zoo"):
        error = one_line_error(run("export", "m", "-o", target, ok=False))
        assert "this registry's own database or artifact store" in error
    assert registry_path.read_bytes() == before
    assert json.loads(run("verify", "--json").output)["orphans"] == []


def test_delete_refuses_a_version_in_use_and_force_says_what_it_cut(tmp_path, registry_path):
    from zoo import Registry

    trained(tmp_path, registry_path, times=1)
    with Registry(registry_path) as reg:  # as zoo tune and zoo calibrate record their parents
        reg.register("child", reg.load("m:1"), parents=["m:1"])
    run("alias", "m", 1, "champion")
    error = one_line_error(run("delete", "m@champion", "--yes", ok=False))
    assert "m:1 is still in use (alias m@champion; lineage parent of child:1)" in error
    assert "--force" in error
    out = run("delete", "m:1", "--yes", "--force").output
    assert "unlinked alias m@champion" in out and "unlinked lineage parent of child:1" in out
    assert "m:1 (deleted)" in run("lineage", "child:1").output


def test_a_deleted_model_never_gets_its_numbers_back(tmp_path, registry_path):
    data = trained(tmp_path, registry_path)
    run("delete", "m", "--yes")
    run("train", "zoo.baseline_classifier", data, "--target", "y", "--name", "m", "--test-size", "0")
    assert json.loads(run("show", "m", "--json").output)["version"] == 3


def test_oversized_refs_and_filters_are_one_clear_line(tmp_path, registry_path):
    trained(tmp_path, registry_path, times=1)
    assert "m has no version 99999999999999999999" in one_line_error(
        run("show", "m:99999999999999999999", ok=False))
    assert "a number of 5000 characters" in one_line_error(
        run("versions", "--where", "metrics.accuracy > " + "9" * 5000, ok=False))
    assert "'like' pattern" in one_line_error(
        run("versions", "--where", "tags.x like '" + "%a" * 25600 + "'", ok=False))
    assert "more than 100 fields" in one_line_error(
        run("versions", "--order-by", ",".join(["version"] * 3000), ok=False))
