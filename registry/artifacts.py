"""Content-addressed artifact files: each stored once, named by its sha256.

A file lives at ``root/ab/abcdef…`` (the first two hex digits shard the directory).
Writes go to a temp file in the target directory, are fsynced and renamed into place,
so a reader never sees a half-written artifact and a crash leaves at most a temp file.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from zoo.errors import IntegrityError, NotFoundError

CHUNK = 1 << 20  # 1 MiB
_SHA = re.compile(r"^[0-9a-f]{64}$")
_TMP_PREFIX = ".tmp-"
#: A temp file older than this is a crashed write, not one in progress.
STALE_TMP_SECONDS = 3600
#: A stored file found again is touched when older than this, well inside gc's grace period.
TOUCH_AFTER_SECONDS = 60


class ArtifactStore:
    """A directory of immutable files named by the sha256 of their bytes."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def put_file(self, path: str | Path) -> tuple[str, int]:
        """Store a copy of the file at ``path``; returns its ``(sha256, size)``."""
        with open(path, "rb") as src:
            return self.put_stream(src)

    def put_written(self, write: Callable[[Path], None]) -> tuple[str, int]:
        """Store the file ``write(path)`` creates at a temp path inside the store.

        For a model's ``save``: no temp directory and no second copy, which are most of
        the cost of registering a small model.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f"{_TMP_PREFIX}{uuid.uuid4().hex}"
        try:
            write(tmp)
            with open(tmp, "rb") as f:
                sha, size = _hash_stream(f)
            if self._present(sha, size):
                tmp.unlink()
                return sha, size
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            self._place(tmp, sha)
            return sha, size
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        """Store ``data``; returns its ``(sha256, size)``."""
        import io

        return self.put_stream(io.BytesIO(data))

    def path(self, sha256: str) -> Path:
        """Where the artifact with this sha256 lives (it may not exist)."""
        _check_sha(sha256)
        return self.root / sha256[:2] / sha256

    def exists(self, sha256: str) -> bool:
        """Whether the artifact's file is present (its content is not checked)."""
        return self.path(sha256).is_file()

    def verify(self, sha256: str) -> bool:
        """True if the file exists and its bytes still hash to ``sha256``."""
        path = self.path(sha256)
        try:
            return hash_file(path)[0] == sha256
        except FileNotFoundError:
            return False

    def copy_verified(self, sha256: str, dest: str | Path, ref: str | None = None) -> Path:
        """Copy the artifact to ``dest``, hashing the bytes as they are copied; returns ``dest``.

        Loaders read the private copy, never the store: a file swapped in the store after
        the check cannot reach a deserialiser. ``ref`` (e.g. ``"fraud:3"``) only names the
        owner in error messages.
        """
        path = self.path(sha256)
        dest = Path(dest)
        owner = f" of {ref}" if ref else ""
        digest = hashlib.sha256()
        try:
            with open(path, "rb") as src, open(dest, "wb") as out:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
        except FileNotFoundError:
            dest.unlink(missing_ok=True)
            raise NotFoundError(
                f"artifact {sha256[:12]}{owner} is missing from {self.root}; "
                "restore it from a backup or delete the version"
            ) from None
        if digest.hexdigest() != sha256:
            dest.unlink(missing_ok=True)
            raise IntegrityError(
                f"artifact {sha256[:12]}{owner} is corrupted: its sha256 no longer matches the "
                "registry; restore it from a backup or delete the version"
            )
        return dest

    def remove(self, sha256: str) -> bool:
        """Unlink the artifact's file; False if it was already gone."""
        try:
            self.path(sha256).unlink()
            return True
        except FileNotFoundError:
            return False

    def age(self, path: Path) -> float:
        """Seconds since ``path`` was last written (0 if it is gone: treat it as in use)."""
        try:
            return max(0.0, time.time() - path.stat().st_mtime)
        except FileNotFoundError:
            return 0.0

    def iter_files(self) -> Iterator[Path]:
        """Every file under the store, except temp files of writes still in progress.

        Includes files that are not artifacts (strays) and temp files left by a crash,
        so that ``Registry.verify`` can report them as orphans.
        """
        if not self.root.is_dir():
            return
        now = time.time()
        for path in sorted(self.root.rglob("*")):
            if not path.is_file():
                continue
            if path.name.startswith(_TMP_PREFIX):
                try:
                    if now - path.stat().st_mtime < STALE_TMP_SECONDS:
                        continue
                except FileNotFoundError:  # renamed into place meanwhile
                    continue
            yield path

    def sha_of(self, path: Path) -> str | None:
        """The sha256 a store path is named by, or None if it is not at an artifact's place."""
        try:
            rel = path.relative_to(self.root)
        except ValueError:
            return None
        parts = rel.parts
        if len(parts) == 2 and _SHA.match(parts[1]) and parts[0] == parts[1][:2]:
            return parts[1]
        return None

    def put_stream(self, src: BinaryIO) -> tuple[str, int]:
        """Store everything read from ``src``; returns its ``(sha256, size)``."""
        # Hash while copying into a temp file in the store (same filesystem), so the final
        # rename is atomic and a reader never sees partial bytes.
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=self.root)
        tmp = Path(tmp_name)
        try:
            digest = hashlib.sha256()
            size = 0
            with os.fdopen(fd, "wb") as out:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                sha = digest.hexdigest()
                if self._present(sha, size):
                    out.close()
                    tmp.unlink()
                    return sha, size
                out.flush()
                os.fsync(out.fileno())
            self._place(tmp, sha)
            return sha, size
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def _present(self, sha: str, size: int) -> bool:
        # Identical content is stored once: a sound copy already there makes the fsync and
        # rename unnecessary (they cost more than the rest of a register).
        dest = self.path(sha)
        try:  # one stat, not is_file() then stat(): a delete may unlink it in between
            stat = dest.stat()
            if stat.st_size != size or not self.verify(sha):
                return False
            # Fresh again: gc's grace period now covers the writer about to commit a row
            # for it (that writer re-checks the file under the write lock anyway).
            if time.time() - stat.st_mtime > TOUCH_AFTER_SECONDS:
                os.utime(dest)
        except FileNotFoundError:
            return False
        except PermissionError:  # a store we may read but not touch: the copy is still sound
            pass
        return True

    def _place(self, tmp: Path, sha: str) -> None:
        """Move a fsynced temp file to its content address, durably."""
        dest = self.path(sha)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide artifacts from a shared group
        dest.parent.mkdir(exist_ok=True)
        # Replacing a corrupted copy with the right bytes repairs it.
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)


def hash_file(path: str | Path) -> tuple[str, int]:
    """sha256 and size of a file, read in 1 MiB chunks."""
    with open(path, "rb") as f:
        return _hash_stream(f)


def _hash_stream(f: BinaryIO) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    while chunk := f.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _check_sha(sha256: str) -> None:
    # The sha becomes a path: anything but 64 lowercase hex digits could escape the store.
    if not isinstance(sha256, str) or not _SHA.match(sha256):
        raise NotFoundError(
            f"invalid artifact id {str(sha256)[:80]!r}: expected 64 lowercase hex digits (a sha256)"
        )


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not possible (nor needed) on Windows.
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
