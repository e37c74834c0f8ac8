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
        for i, y in enumerate(([0, 1, 1, 1], [0, 0, 1, 1], [0, 0, 0, 1])):  # three priors
            m = BaselineClassifier().fit(frame, pd.Series(y, name="label"))
            reg.register("fraud", m, metrics={"auc": 0.5 + i / 10}, params={"depth": i, "ok": True},
                         tags={"team": "growth"}, parents=[f"fraud:{i}"] if i else None,
                         description=f"v{i + 1}")
        reg.register("other", m)
        reg.set_alias("fraud", "champion", 2)
        reg.tag("fraud", {"owner": "ana"})
        reg.delete("fraud:1", force=True)  # numbers with a gap travel as they are
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


# --- issue 17: bundles are untrusted input, imports race nothing and move no alias ---


def sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def first_version(edit):
    return manifest_edit(lambda m: edit(m["versions"][0]))


def bomb(name, data):
    """A hash-consistent 4 MiB artifact of zeros (a 1,000:1 zip member), declared honestly."""
    zeros = bytes(4 << 20)
    if name == "manifest.json":
        manifest = json.loads(data)
        manifest["artifacts"][sha256(zeros)] = len(zeros)
        manifest["versions"][0]["artifacts"]["notes.bin"] = sha256(zeros)
        data = json.dumps(manifest).encode()
        yield f"artifacts/{sha256(zeros)}", zeros
    yield name, data


def deflated(bundle, out, change):
    """``rewrite`` with every member deflated, as zoo export writes them."""
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            for name, data in change(info.filename, src.read(info.filename)):
                dst.writestr(name, data)
    return out


@pytest.mark.parametrize("change, message", [
    (first_version(lambda v: v.update(version=2**63 - 1)), "versions are whole numbers from 1 to"),
    (first_version(lambda v: v.update(version=2**31)), "versions are whole numbers from 1 to"),
    (first_version(lambda v: v.update(version="3")), "invalid version"),
    (first_version(lambda v: v.update(name="../evil")), "invalid model name"),
    (first_version(lambda v: v.update(tags={"bad key": "x"})), "invalid tag name"),
    (first_version(lambda v: v.update(params={"a b": 1})), "invalid param name"),
    (first_version(lambda v: v.update(metrics={"auc": "high"})), "must be a number"),
    (first_version(lambda v: v.update(aliases=["9lives"])), "invalid alias"),
    (first_version(lambda v: v["artifacts"].update({"../x": v["artifact_sha256"]})),
     "invalid artifact name"),
    (first_version(lambda v: v["parents"].append({"ref": "fraud:1", "relation": "a b"})),
     "invalid lineage relation"),
    (first_version(lambda v: v.update(created_at="yesterday")), "not an ISO timestamp"),
    (first_version(lambda v: v.update(component=None)), "no valid 'component'"),
    (manifest_edit(lambda m: m["models"]["fraud"]["tags"].update({"no spaces": 1})), "invalid tag name"),
    # Pointing at another version's artifact would make that one undeletable.
    (manifest_edit(lambda m: m["versions"][0].update(
        artifact_sha256=m["versions"][1]["artifact_sha256"])), "not its own model artifact"),
    (manifest_edit(lambda m: m["artifacts"].update(
        {sha: 1 << 30 for sha in m["artifacts"]})), "declares 1073741824 bytes"),
    (manifest_edit(lambda m: m["versions"].append(dict(m["versions"][0]))), "appears twice"),
    (manifest_edit(lambda m: [v.update(aliases=["champion"]) for v in m["versions"]]),
     "is on both"),
    (bomb, "likely zip bomb"),
])
def test_a_poisoned_bundle_is_refused_as_register_would_and_nothing_is_written(
        source, tmp_path, dump, change, message):
    good = source.export(["fraud"], tmp_path / "good.zoo")["path"]
    bad = deflated(good, tmp_path / "bad.zoo", change)
    with Registry(tmp_path / "target.db") as target:
        before = dump(target.path)
        with pytest.raises(IntegrityError, match=message):
            target.import_bundle(bad)
        assert dump(target.path) == before
        assert list(target.artifacts.iter_files()) == []
        # The refused number poisons nothing: numbering carries on normally.
        m = BaselineClassifier().fit(pd.DataFrame({"a": [1.0, 2.0]}), pd.Series([0, 1]))
        assert target.register("fraud", m)["version"] == 1


def test_an_import_never_moves_an_existing_alias_unless_asked(source, tmp_path, frame):
    out = source.export(["fraud"], tmp_path / "fraud.zoo")["path"]  # fraud@champion on 2
    with Registry(tmp_path / "target.db") as target:
        target.import_bundle(source.export(["fraud:3"], tmp_path / "three.zoo")["path"])
        target.set_alias("fraud", "champion", 3)  # production's champion
        result = target.import_bundle(out)
        assert result["imported"] == ["fraud:2"]
        assert result["aliases"] == {"set": [], "moved": [], "kept": [
            "fraud@champion stays on fraud:3 (the bundle has it on 2)"]}
        assert target.get("fraud@champion")["version"] == 3

    with Registry(tmp_path / "moved.db") as target:
        target.import_bundle(source.export(["fraud:3"], tmp_path / "three.zoo")["path"])
        target.set_alias("fraud", "champion", 3)
        result = target.import_bundle(out, move_aliases=True)
        assert result["aliases"]["moved"] == ["fraud@champion moved from fraud:3 to fraud:2"]
        assert target.get("fraud@champion")["version"] == 2


@pytest.mark.parametrize("meddler", ["gc", "delete"])
def test_an_import_restores_files_a_gc_or_delete_removed_before_it_committed(
        source, tmp_path, frame, monkeypatch, meddler):
    """import stores files, then inserts rows: another process's gc (no grace period) or its
    delete of a version sharing the bytes may unlink them in between; the import's
    transaction re-checks them and stores them again."""
    out = source.export(["fraud:2"], tmp_path / "fraud.zoo")["path"]
    with Registry(tmp_path / "target.db") as target, Registry(tmp_path / "target.db") as other:
        model = source.load("fraud:2")
        if meddler == "delete":
            other.register("shares", model)  # the same bytes as fraud:2
        real_write = target.write
        removed = []

        def write_after_meddling(fn):
            if not removed:  # the moment between storing the files and the transaction
                removed.append(other.gc(grace_seconds=0)["removed"] if meddler == "gc" else
                               other.delete("shares:1")["artifacts_removed"])
            return real_write(fn)

        monkeypatch.setattr(target, "write", write_after_meddling)
        assert target.import_bundle(out)["imported"] == ["fraud:2"]
        assert removed[0]  # the file really went
        report = target.verify()
        assert (report["missing"], report["corrupted"], report["orphans"]) == ([], [], [])
        assert target.load("fraud:2").predict_proba(frame).tolist() == \
            model.predict_proba(frame).tolist()


def test_check_sees_every_imported_version_before_any_row(source, tmp_path, dump):
    out = source.export(["fraud"], tmp_path / "fraud.zoo")["path"]
    with Registry(tmp_path / "target.db") as target:
        seen = []

        def check(version, path):
            assert path.read_bytes() and sha256(path.read_bytes()) == version["artifact_sha256"]
            assert target.models() == []  # nothing written yet
            seen.append((version["ref"], version["component"]))

        target.import_bundle(out, check)
        assert seen == [("fraud:2", "zoo.baseline_classifier"), ("fraud:3", "zoo.baseline_classifier")]
        seen.clear()
        target.import_bundle(out, check)
        assert seen == []  # nothing left to import, nothing to check

    with Registry(tmp_path / "refused.db") as target:
        before = dump(target.path)

        def refuse(version, path):
            raise IntegrityError(f"{version['ref']}: crafted model")

        with pytest.raises(IntegrityError, match="fraud:2: crafted model"):
            target.import_bundle(out, refuse)
        assert dump(target.path) == before and list(target.artifacts.iter_files()) == []


def test_a_number_once_handed_out_cannot_come_back_with_other_bytes(source, tmp_path, frame):
    out = source.export(["fraud:2"], tmp_path / "two.zoo")["path"]
    with Registry(tmp_path / "target.db") as target:
        for y in ([1, 0, 0, 0], [1, 1, 1, 0]):  # bytes the bundle's fraud:2 does not have
            target.register("fraud", BaselineClassifier().fit(frame, pd.Series(y)))
        target.delete("fraud:2")  # fraud:2 meant these bytes here
        with pytest.raises(ZooError, match="fraud:2 was handed out in this registry before"):
            target.import_bundle(out)
        target.delete("fraud")
        with pytest.raises(ZooError, match="fraud:2 was handed out in this registry before"):
            target.import_bundle(out)
    with Registry(tmp_path / "restore.db") as target:
        target.import_bundle(out)
        target.delete("fraud:2", force=True)  # it carries fraud@champion
        assert target.import_bundle(out)["imported"] == ["fraud:2"]  # the same bytes may return


def test_export_refuses_to_overwrite_the_registry_itself(source, tmp_path, dump):
    before = dump(source.path)
    store = source.artifacts.root
    for target in (source.path, f"{source.path}-wal", store / "x.zoo",
                   next(store.iterdir()) / "x.zoo"):
        with pytest.raises(ZooError, match="this registry's own database or artifact store"):
            source.export(["fraud"], target)
    assert dump(source.path) == before and source.verify()["orphans"] == []


def test_export_survives_a_version_deleted_while_it_copies(source, tmp_path, frame, monkeypatch):
    """A version and its file go between the export's snapshot and its copy: the export starts
    again from a fresh snapshot instead of blaming the store ("run zoo verify")."""
    from zoo_registry import bundles

    for y in ([1, 1, 1, 0], [1, 1, 0, 0]):
        source.register("solo", BaselineClassifier().fit(frame, pd.Series(y)))  # bytes of its own
    real = bundles._copy_verified_into
    deleted = []

    def copy_after_a_delete(registry, sha, zf):
        if not deleted:
            deleted.append(registry.delete("solo:1")["artifacts_removed"])
        return real(registry, sha, zf)

    monkeypatch.setattr(bundles, "_copy_verified_into", copy_after_a_delete)
    assert source.export(["solo"], tmp_path / "solo.zoo")["versions"] == ["solo:2"]
    assert deleted[0]  # its file really went


def test_a_manifest_bomb_or_an_unbounded_compression_is_refused(source, tmp_path, dump):
    good = source.export(["fraud"], tmp_path / "good.zoo")["path"]
    with zipfile.ZipFile(good) as src:
        manifest = json.loads(src.read("manifest.json"))
        members = {n: src.read(n) for n in src.namelist() if n != "manifest.json"}
    manifest["padding"] = " " * (8 << 20)  # 8 MiB of blanks: a 1,000:1 manifest
    bombed, lzma = tmp_path / "bombed.zoo", tmp_path / "lzma.zoo"
    with zipfile.ZipFile(bombed, "w", zipfile.ZIP_DEFLATED) as dst:
        dst.writestr("manifest.json", json.dumps(manifest))
        for name, data in members.items():
            dst.writestr(name, data)
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(lzma, "w", zipfile.ZIP_LZMA) as dst:
        for name in src.namelist():
            dst.writestr(name, src.read(name))
    with Registry(tmp_path / "target.db") as target:
        before = dump(target.path)
        for bundle in (bombed, lzma):
            with pytest.raises(IntegrityError, match="implausibly large or compressed"):
                target.import_bundle(bundle)
        assert dump(target.path) == before
