"""registry/artifacts.py: content-addressed, verified artifact files."""

from __future__ import annotations

import hashlib
import os
import time

import pytest
from zoo_registry.artifacts import CHUNK, ArtifactStore

from zoo.errors import IntegrityError, NotFoundError


@pytest.fixture
def store(tmp_path):
    return ArtifactStore(tmp_path / "artifacts")


def flip_a_byte(path, at: int = 0) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def test_files_are_named_by_their_sha256(store):
    sha, size = store.put_bytes(b"hello")
    assert sha == hashlib.sha256(b"hello").hexdigest()
    assert size == 5
    assert store.path(sha) == store.root / sha[:2] / sha
    assert store.path(sha).read_bytes() == b"hello"


def test_identical_content_is_stored_once(store, tmp_path):
    source = tmp_path / "model.json"
    source.write_bytes(b'{"a": 1}')
    first = store.put_file(source)
    second = store.put_bytes(b'{"a": 1}')
    assert first == second
    assert list(store.iter_files()) == [store.path(first[0])]


def test_large_files_are_hashed_while_streaming(store, tmp_path):
    data = os.urandom(3 * CHUNK + 17)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    sha, size = store.put_file(source)
    assert (sha, size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert store.verify(sha)


def test_no_temp_file_is_left_behind(store):
    store.put_bytes(b"x")
    assert [p.name for p in store.root.rglob("*") if p.is_file() and p.name.startswith(".")] == []


def test_a_flipped_byte_is_detected(store, tmp_path):
    sha, _ = store.put_bytes(b"some model bytes")
    copy = store.copy_verified(sha, tmp_path / "copy", "fraud:3")
    assert copy.read_bytes() == b"some model bytes"
    flip_a_byte(store.path(sha), 3)
    assert not store.verify(sha)
    with pytest.raises(IntegrityError) as err:
        store.copy_verified(sha, tmp_path / "copy2", "fraud:3")
    assert not (tmp_path / "copy2").exists()  # tampered bytes never reach a loader
    assert str(err.value) == (
        f"artifact {sha[:12]} of fraud:3 is corrupted: its sha256 no longer matches the "
        "registry; restore it from a backup or delete the version")


def test_putting_the_same_bytes_again_repairs_a_corrupted_copy(store):
    sha, _ = store.put_bytes(b"precious")
    flip_a_byte(store.path(sha))
    store.put_bytes(b"precious")
    assert store.verify(sha)


def test_a_missing_file_is_not_found(store, tmp_path):
    sha, _ = store.put_bytes(b"gone soon")
    store.path(sha).unlink()
    assert not store.verify(sha)
    assert not store.exists(sha)
    with pytest.raises(NotFoundError, match=f"artifact {sha[:12]} of fraud:1 is missing"):
        store.copy_verified(sha, tmp_path / "copy", "fraud:1")


@pytest.mark.parametrize("bad", [
    "../../etc/passwd",
    "ab/../../x",
    "A" * 64,  # upper case
    "a" * 63,
    "a" * 65,
    "g" * 64,
    "/" + "a" * 63,
    "",
])
def test_anything_but_a_sha256_is_rejected(store, bad, tmp_path):
    for call in (store.path, store.verify, store.remove,
                 lambda sha: store.copy_verified(sha, tmp_path / "copy")):
        with pytest.raises(NotFoundError, match="expected 64 lowercase hex digits"):
            call(bad)


def test_iter_files_lists_strays_but_not_writes_in_progress(store):
    sha, _ = store.put_bytes(b"artifact")
    stray = store.root / "zz" / "notes.txt"
    stray.parent.mkdir()
    stray.write_text("left here by hand")
    fresh_tmp = store.root / ".tmp-inflight"
    fresh_tmp.write_bytes(b"partial")
    stale_tmp = store.root / ".tmp-crashed"
    stale_tmp.write_bytes(b"partial")
    old = time.time() - 2 * 3600
    os.utime(stale_tmp, (old, old))
    assert set(store.iter_files()) == {store.path(sha), stray, stale_tmp}
    assert store.sha_of(store.path(sha)) == sha
    assert store.sha_of(stray) is None
    assert store.sha_of(stale_tmp) is None


def test_remove_unlinks_once(store):
    sha, _ = store.put_bytes(b"bye")
    assert store.remove(sha) is True
    assert store.remove(sha) is False


def test_an_empty_store_has_no_files(tmp_path):
    assert list(ArtifactStore(tmp_path / "nowhere").iter_files()) == []


@pytest.mark.parametrize("method", ["is_file", "stat"])
def test_a_copy_unlinked_while_it_is_checked_is_stored_again(store, monkeypatch, method):
    """Another process's delete may unlink the very file being looked at, right after the
    look: storing the same bytes then writes it again instead of raising FileNotFoundError."""
    from pathlib import Path

    sha, _ = store.put_bytes(b"shared bytes")
    target = store.path(sha)
    real = getattr(Path, method)

    def look_then_lose_it(path, *args, **kwargs):
        answer = real(path, *args, **kwargs)
        if path == target and os.path.exists(target):
            os.unlink(target)
        return answer

    monkeypatch.setattr(Path, method, look_then_lose_it)
    assert store.put_bytes(b"shared bytes") == (sha, 12)
    monkeypatch.undo()
    assert store.verify(sha)
