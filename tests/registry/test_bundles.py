"""Bundles: export, import into another registry exactly, re-import changes nothing, and a
tampered or malformed bundle is refused before anything is written."""

from __future__ import annotations

import json
import zipfile

import pandas as pd
import pytest

from zoo import Registry
from zoo.default_plugins.baselines import BaselineClassifier
from zoo.errors import IntegrityError, ZooError

LOCAL = ("id",)


@pytest.fixture
def source(tmp_path, frame):
    with Registry(tmp_path / "source.db") as reg:
        for i, y in enumerate(([0, 1, 1, 1], [0, 0, 1, 1], [1, 1, 0, 0])):
            m = BaselineClassifier().fit(frame, pd.Series(y, name="label"))
            reg.register("fraud", m, metrics={"auc": 0.5 + i / 10}, params={"depth": i, "ok": True},
                         tags={"team": "growth"}, parents=[f"fraud:{i}"] if i else None,
                         description=f"v{i + 1}")
        reg.register("other", m)
        reg.set_alias("fraud", "champion", 2)
        reg.tag("fraud", {"owner": "ana"})
        reg.delete("fraud:1")  # numbers with a gap travel as they are
        yield reg


def portable(v: dict) -> dict:
    return {k: val for k, val in v.items() if k not in LOCAL}


def test_export_then_import_restores_versions_exactly(source, tmp_path, frame, dump):
    out = tmp_path / "fraud.zoo"
    result = source.export(["fraud"], out)
    assert result["versions"] == ["fraud:2", "fraud:3"]
    with Registry(tmp_path / "target.db") as target:
        assert target.import_bundle(out)["imported"] == ["fraud:2", "fraud:3"]
        for ref in ("fraud:2", "fraud:3", "fraud@champion"):
            assert portable(target.get(ref)) == portable(source.get(ref))
        assert target.models()[0]["tags"] == {"owner": "ana"}
        assert [p["ref"] for p in target.lineage("fraud:3")["parents"]] == ["fraud:2"]
        assert target.lineage("fraud:2")["parents"] == [{"ref": "fraud:1", "relation": "parent",
                                                        "deleted": True}]
        assert target.load("fraud:3").predict_proba(frame).tolist() == \
            source.load("fraud:3").predict_proba(frame).tolist()
        assert target.verify() == {**target.verify(), "corrupted": [], "missing": [], "orphans": []}
        target.register("fraud", source.load("fraud:3"))
        assert target.get("fraud")["version"] == 4  # numbering carries on after the import
        before = dump(target.path)
        again = target.import_bundle(out)
        assert again["imported"] == [] and again["skipped"] == ["fraud:2", "fraud:3"]
        assert dump(target.path) == before


def rewrite(bundle, out, change):
    """Copy a bundle, passing each (name, bytes) member through ``change``."""
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            for name, data in change(info.filename, src.read(info.filename)):
                dst.writestr(name, data)
    return out


def flip_first_artifact(name, data):
    if name.startswith("artifacts/"):
        data = data[:-1] + bytes([data[-1] ^ 1])
    yield name, data


def add_member(extra):
    def change(name, data):
        yield name, data
        if name == "manifest.json":
            yield extra, b"x"
    return change


def drop_artifacts(name, data):
    if not name.startswith("artifacts/"):
        yield name, data


def manifest_edit(edit):
    def change(name, data):
        if name == "manifest.json":
            manifest = json.loads(data)
            edit(manifest)
            data = json.dumps(manifest).encode()
        yield name, data
    return change


@pytest.mark.parametrize("change, message", [
    (flip_first_artifact, "tampered"),
    (add_member("../../evil.py"), "never holds"),
    (add_member("/etc/cron.d/x"), "never holds"),
    (add_member("artifacts/../x"), "never holds"),
    (drop_artifacts, "lacks artifact"),
    (add_member("artifacts/" + "0" * 64), "undeclared"),
    (manifest_edit(lambda m: m.update(format="other")), "not a zoo bundle"),
    (manifest_edit(lambda m: m["versions"][0]["artifacts"].update(x="f" * 64)), "does not declare"),
])
def test_a_tampered_or_malformed_bundle_is_refused_and_nothing_is_written(
        source, tmp_path, dump, change, message):
    good = source.export(["fraud"], tmp_path / "good.zoo")["path"]
    bad = rewrite(good, tmp_path / "bad.zoo", change)
    with Registry(tmp_path / "target.db") as target:
        before = dump(target.path)
        with pytest.raises(ZooError, match=message):
            target.import_bundle(bad)
        assert dump(target.path) == before
        assert list(target.artifacts.iter_files()) == []


def test_not_a_zip_is_refused(source, tmp_path):
    junk = tmp_path / "junk.zoo"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(IntegrityError, match="not a zoo bundle"):
        source.import_bundle(junk)


def test_a_clashing_version_is_refused_whole(source, tmp_path, frame, dump):
    out = source.export(["fraud:2", "fraud:3"], tmp_path / "b.zoo")["path"]
    with Registry(tmp_path / "target.db") as target:
        m = BaselineClassifier().fit(frame, pd.Series([1, 0, 1, 0]))
        target.register("fraud", m)
        target.register("fraud", m)
        target.register("fraud", m)  # fraud:2 and fraud:3 exist with other bytes
        before = dump(target.path)
        with pytest.raises(ZooError, match="clashes"):
            target.import_bundle(out)
        assert dump(target.path) == before
