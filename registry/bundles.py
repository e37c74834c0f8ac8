"""Portable bundles: versions with their metadata, lineage and artifacts in one zip file.

``export_bundle`` writes ``manifest.json`` (what each version is, its params, metrics, tags,
aliases, lineage and the sha256 of every artifact) and ``artifacts/<sha256>`` files.
``import_bundle`` treats a bundle as untrusted input and refuses anything it did not write:
a member outside that layout (no path can escape the store), an artifact whose bytes do not
hash to its name or whose size is not the one declared, a compression ratio no model file
has, a manifest field ``Store.add_version`` would refuse (names, keys, version bounds, a
version pointing at another version's artifact). It checks everything before the first
write, stores the artifacts, then inserts every version in one transaction that re-checks
what it depends on (the rows, and the stored files a concurrent gc or delete may have
removed). Version numbers and timestamps are kept; an existing alias moves only when asked.
Importing the same bundle twice changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from zoo_registry import rows
from zoo_registry.artifacts import CHUNK, hash_file

from zoo.errors import IntegrityError, NotFoundError, ZooError

FORMAT = "zoo-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_ARTIFACT_MEMBER = re.compile(r"^artifacts/([0-9a-f]{64})$")
_SHA = re.compile(r"^[0-9a-f]{64}$")
MAX_MANIFEST_BYTES = 256 << 20
MAX_VERSIONS = 100_000
#: Model files compress a few times at most; a member expanding more than this is refused
#: once it is bigger than RATIO_FLOOR (small files may be all zeros and harmless).
MAX_RATIO = 200
RATIO_FLOOR = 1 << 20
EXPORT_ATTEMPTS = 3
# zipfile bounds what deflate yields by the member's declared size; bzip2 and lzma members
# would decompress a whole read at once, unbounded.
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
T = TypeVar("T")
#: ``check(version, model_path)``: raise to refuse a version (see ``import_bundle``).
Check = Callable[[dict[str, Any], Path], None]
# What a version dict carries into the manifest (its local row id does not travel).
_FIELDS = ("name", "version", "component", "kind", "task", "plugin", "plugin_version",
           "artifact_sha256", "artifact_format", "artifacts", "metadata", "params", "metrics",
           "tags", "aliases", "data", "parents", "description", "created_at")


def export_bundle(registry: Any, refs: list[str], out: str | Path, producer: str = "") -> dict[str, Any]:
    """Write the versions ``refs`` name (a bare model name means all its versions) to ``out``;
    ``producer`` names the software writing it, recorded in the manifest.

    The versions are read in one snapshot; a file a concurrent delete unlinks meanwhile
    starts the export again from a fresh snapshot, and the last attempt holds the write
    lock (as ``zoo backup`` does), so only a file really missing from the store fails it.
    """
    if not refs:
        raise ZooError("name at least one model or version to export, e.g. zoo export fraud@champion")
    out = registry.check_outside(out, "the bundle")  # before any work
    for attempt in range(1, EXPORT_ATTEMPTS + 1):
        try:
            if attempt == EXPORT_ATTEMPTS and not registry.read_only:
                return registry.write(lambda conn: _export(registry, refs, out, producer))
            return _export(registry, refs, out, producer)
        except _Vanished as gone:
            missing = str(gone)
    raise NotFoundError(f"artifact {missing[:12]} vanished while it was exported; export again")


class _Vanished(Exception):
    """An artifact went with a version deleted after the export's snapshot."""


def _export(registry: Any, refs: list[str], out: Path, producer: str) -> dict[str, Any]:
    versions: dict[tuple[str, int], dict[str, Any]] = {}
    with registry.read():  # one snapshot: versions and their models agree
        for ref in refs:
            bare = ":" not in ref and "@" not in ref
            for v in registry.versions(ref) if bare else [registry.get(ref)]:
                versions[(v["name"], v["version"])] = {k: v[k] for k in _FIELDS}
        if not versions:
            raise NotFoundError(f"nothing to export: {', '.join(refs)} has no versions")
        model_rows = {m["name"]: m for m in registry.models()}
    models = {name: {"tags": model_rows[name]["tags"], "description": model_rows[name]["description"]}
              for name in sorted({n for n, _ in versions})}
    shas = sorted({sha for v in versions.values() for sha in v["artifacts"].values()})
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "zoo_version": producer,
        "models": models,
        "versions": [versions[key] for key in sorted(versions)],
        "artifacts": {},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".zoo-export-", dir=out.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp_name, "w", zipfile.ZIP_DEFLATED) as zf:
            for sha in shas:
                manifest["artifacts"][sha] = _copy_verified_into(registry, sha, zf)
            zf.writestr(MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))
        os.replace(tmp_name, out)
    finally:
        Path(tmp_name).unlink(missing_ok=True)
    return {"path": str(out), "versions": [f"{n}:{v}" for n, v in sorted(versions)],
            "artifacts": len(shas), "bytes": out.stat().st_size}


def import_bundle(registry: Any, path: str | Path, check: Check | None = None, *,
                  move_aliases: bool = False) -> dict[str, Any]:
    """Restore a bundle's versions into ``registry``; returns what was imported and skipped,
    and which aliases were set, moved or kept (``move_aliases``: move existing ones).

    ``check(version, model_path)`` runs for each version about to be imported, on a private
    verified copy of its model artifact, before any row is written; raising refuses it all.
    """
    registry.check_writable()
    path = Path(path)
    if not path.is_file():
        what = "is not a regular file" if path.exists() else "does not exist"
        raise NotFoundError(f"the bundle {path} {what}: name a .zoo file zoo export wrote")
    bundle_sha = hash_file(path)[0]
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise IntegrityError(f"{path} is not a zoo bundle (not a zip file)") from None
    with zf:
        manifest = _read_manifest(zf, path)
        versions, models = _checked_manifest(manifest, path)
        _check_artifacts(zf, manifest, path)
        with registry.read() as conn:
            todo = _plan(conn, versions)
        checked: set[str] = set()
        run_check = None
        if check is not None:
            def run_check(batch: list[dict[str, Any]]) -> None:
                _run_check(zf, path, [v for v in batch if v["ref"] not in checked], check)
                checked.update(v["ref"] for v in batch)
            run_check(todo)
        _check_space(registry, manifest, todo, path)
        # Every check passed: store the artifacts first (a crash leaves only orphan files).
        for sha in sorted({sha for v in todo for sha in v["artifacts"].values()}):
            _store(registry, zf, sha, path)
        return registry.write(lambda conn: _insert(
            registry, conn, zf, path, versions, models, manifest["artifacts"], bundle_sha,
            run_check, move_aliases))

def _copy_verified_into(registry: Any, sha: str, zf: zipfile.ZipFile) -> int:
    """Stream an artifact into the zip, refusing one whose bytes no longer match its name."""
    digest = hashlib.sha256()
    size = 0
    try:
        with open(registry.artifacts.path(sha), "rb") as src, zf.open(f"artifacts/{sha}", "w") as dst:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                dst.write(chunk)
                size += len(chunk)
    except FileNotFoundError:
        with registry.read() as conn:  # now (or, under the write lock, the export's snapshot)
            known = conn.execute("SELECT 1 FROM artifacts WHERE sha256 = ?", [sha]).fetchone()
        if known is None:
            raise _Vanished(sha) from None
        raise NotFoundError(f"artifact {sha[:12]} is missing from the store; run zoo verify") from None
    if digest.hexdigest() != sha:
        raise IntegrityError(f"artifact {sha[:12]} is corrupted in the store; run zoo verify")
    return size


def _read_manifest(zf: zipfile.ZipFile, path: Path) -> dict[str, Any]:
    names = zf.namelist()
    for name in names:
        if name != MANIFEST and not _ARTIFACT_MEMBER.match(name):
            raise IntegrityError(f"{path} has a member {name[:80]!r} that a zoo bundle never holds; "
                                 "refusing the whole bundle")
    if len(names) != len(set(names)):
        raise IntegrityError(f"{path} holds a member twice; refusing the whole bundle")
    if MANIFEST not in names:
        raise IntegrityError(f"{path} has no {MANIFEST}: it is not a zoo bundle")
    info = zf.getinfo(MANIFEST)
    if (info.file_size > MAX_MANIFEST_BYTES or info.compress_type not in _COMPRESSIONS
            or info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1)):
        raise IntegrityError(f"{path}: its manifest is implausibly large or compressed; refusing it")
    try:
        manifest = json.loads(zf.read(MANIFEST))
    except (ValueError, UnicodeDecodeError) as exc:
        raise IntegrityError(f"{path}: its manifest is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IntegrityError(f"{path} is not a zoo bundle (no 'format': '{FORMAT}' in its manifest)")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ZooError(f"{path} is bundle format {manifest.get('format_version')!r}; this zoo reads "
                       f"format {FORMAT_VERSION}: upgrade zoo")
    if not isinstance(manifest.get("versions"), list) or not isinstance(manifest.get("artifacts"), dict):
        raise IntegrityError(f"{path}: its manifest lacks 'versions' or 'artifacts'")
    return manifest


def _checked_manifest(manifest: dict[str, Any], path: Path
                      ) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """The manifest's versions (sorted, each with its ``ref``) and models, validated as strictly
    as ``Store.add_version`` validates a registration; one line naming the first problem."""
    declared = manifest["artifacts"]
    for sha, size in declared.items():
        if not isinstance(sha, str) or not _SHA.match(sha):
            raise IntegrityError(f"{path}: its manifest declares an artifact named {str(sha)[:80]!r}, "
                                 "not a sha256; refusing the whole bundle")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise IntegrityError(f"{path}: artifact {sha[:12]} declares size {str(size)[:40]!r}; "
                                 "refusing the whole bundle")
    if len(manifest["versions"]) > MAX_VERSIONS:
        raise IntegrityError(f"{path} holds more than {MAX_VERSIONS} versions; split it")
    models = manifest.get("models") or {}
    if not isinstance(models, dict):
        raise IntegrityError(f"{path}: its manifest's 'models' is not a mapping")
    checked_models = {}
    for name, info in models.items():
        where = f"{path}: model {str(name)[:80]!r}"
        _field(rows.check_name, where, name, "model name")
        info = info or {}
        if not isinstance(info, dict):
            raise IntegrityError(f"{where} is not described by a mapping")
        checked_models[name] = {"description": _text(info.get("description"), where, "description"),
                                "tags": _tags(info.get("tags"), where)}
    out, seen, used = [], set(), set()
    for v in manifest["versions"]:
        if not isinstance(v, dict):
            raise IntegrityError(f"{path}: a version in its manifest is not a mapping")
        name = v.get("name")
        _field(rows.check_name, f"{path}: a version", name, "model name")
        number = _field(rows.version_number, f"{path}: {name}", v.get("version"))
        ref = f"{name}:{number}"
        where = f"{path}: {ref}"
        if ref in seen:
            raise IntegrityError(f"{where} appears twice in the manifest; refusing the whole bundle")
        seen.add(ref)
        record = {"name": name, "version": number, "ref": ref}
        for key in ("component", "kind", "task", "plugin", "plugin_version", "artifact_format"):
            value = v.get(key)
            if not isinstance(value, str) or not value or len(value) > rows.MAX_NAME * 4:
                raise IntegrityError(f"{where} has no valid {key!r}; refusing the whole bundle")
            record[key] = value
        files = v.get("artifacts")
        if not isinstance(files, dict) or "model" not in files:
            raise IntegrityError(f"{where} lists no model artifact; refusing the whole bundle")
        for artifact, sha in files.items():
            if artifact != "model":
                _field(rows.extra_artifact_name, where, artifact)
            if sha not in declared:
                raise IntegrityError(f"{where} names artifact {str(sha)[:12]} ({str(artifact)[:80]}) "
                                     "that the bundle does not declare")
        # A version's model is its own model artifact: pointing at another version's file
        # would make that file undeletable with its owner.
        if v.get("artifact_sha256") != files["model"]:
            raise IntegrityError(f"{where}: artifact_sha256 is not its own model artifact; "
                                 "refusing the whole bundle")
        used.update(files.values())
        record["artifact_sha256"], record["artifacts"] = files["model"], dict(files)
        metadata = v.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise IntegrityError(f"{where}: its metadata is not a mapping")
        record["metadata"] = metadata
        record["metadata_json"] = _field(rows.to_json, where, metadata, "its metadata")
        record["params"] = dict(_field(rows.checked_keys, where, v.get("params"), "param"))
        record["param_rows"] = [(k, *rows.encode_param(val)) for k, val in record["params"].items()]
        record["metrics"] = {k: _field(rows.encode_metric, where, k, val)
                             for k, val in _field(rows.checked_keys, where, v.get("metrics"), "metric")}
        record["tags"] = _tags(v.get("tags"), where)
        aliases = v.get("aliases") or []
        if not isinstance(aliases, list):
            raise IntegrityError(f"{where}: its aliases are not a list")
        for alias in aliases:
            _field(rows.check_alias, where, alias)
        record["aliases"] = list(dict.fromkeys(aliases))
        record["data"] = v.get("data")
        record["data_columns"] = _field(rows.encode_data, where, v.get("data"))
        parents = v.get("parents") or []
        if not isinstance(parents, list):
            raise IntegrityError(f"{where}: its parents are not a list")
        record["parents"] = []
        for parent in parents:
            pref = parent.get("ref") if isinstance(parent, dict) else None
            pname, pnumber, palias = _field(rows.parse_ref, where, pref)
            relation = parent.get("relation", "parent")
            _field(rows.check_key, where, relation, "lineage relation")
            if pnumber is None or palias is not None or pref == ref:
                raise IntegrityError(f"{where}: parent {str(pref)[:80]!r} is not another version "
                                     "(NAME:VERSION)")
            record["parents"].append({"ref": pref, "relation": relation})
        record["description"] = _text(v.get("description"), where, "description")
        created = v.get("created_at")
        try:
            datetime.fromisoformat(created)
        except (TypeError, ValueError):
            raise IntegrityError(f"{where}: created_at {str(created)[:40]!r} is not an ISO "
                                 "timestamp") from None
        record["created_at"] = created
        out.append(record)
    aliases_seen: dict[tuple[str, str], str] = {}
    for record in out:
        for alias in record["aliases"]:
            other = aliases_seen.setdefault((record["name"], alias), record["ref"])
            if other != record["ref"]:
                raise IntegrityError(f"{path}: alias {record['name']}@{alias} is on both {other} and "
                                     f"{record['ref']}; refusing the whole bundle")
    unused = sorted(set(declared) - used)
    if unused:
        raise IntegrityError(f"{path} declares artifact {unused[0][:12]} that no version uses; "
                             "refusing the whole bundle")
    return sorted(out, key=lambda r: (r["name"], r["version"])), checked_models


def _field(fn: Callable[..., T], where: str, *args: Any) -> T:
    """``fn(*args)``, its one-line refusal prefixed with where in the bundle it happened."""
    try:
        return fn(*args)
    except ZooError as exc:
        raise IntegrityError(f"{where}: {exc}; refusing the whole bundle") from None


def _text(value: Any, where: str, what: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise IntegrityError(f"{where}: its {what} is not text; refusing the whole bundle")
    return value


def _tags(tags: Any, where: str) -> dict[str, str]:
    pairs = _field(rows.checked_keys, where, tags, "tag")
    for key, value in pairs:
        if not isinstance(value, (str, int, float)):
            raise IntegrityError(f"{where}: tag {key!r} is not text; refusing the whole bundle")
    return {k: str(val) for k, val in pairs}


def _check_artifacts(zf: zipfile.ZipFile, manifest: dict[str, Any], path: Path) -> None:
    declared = manifest["artifacts"]
    members = {m.group(1) for m in map(_ARTIFACT_MEMBER.match, zf.namelist()) if m}
    if set(declared) != members:
        missing = sorted(set(declared) - members)
        what = f"lacks artifact {missing[0][:12]}" if missing else "holds undeclared artifacts"
        raise IntegrityError(f"{path} {what}; refusing the whole bundle")
    for sha, size in declared.items():
        info = zf.getinfo(f"artifacts/{sha}")
        # zipfile never yields more than the header's file_size: checking the header bounds
        # what decompression can write.
        if info.compress_type not in _COMPRESSIONS:
            raise IntegrityError(f"{path}: artifact {sha[:12]} uses a compression zoo never writes")
        if info.file_size != size:
            raise IntegrityError(f"{path}: artifact {sha[:12]} declares {size} bytes but its zip "
                                 f"entry holds {info.file_size}; refusing the whole bundle")
        ratio = size // max(info.compress_size, 1)
        if size > RATIO_FLOOR and ratio > MAX_RATIO:
            raise IntegrityError(f"{path}: artifact {sha[:12]} would expand {ratio} times (more than "
                                 f"{MAX_RATIO}); refusing a likely zip bomb")
        digest = hashlib.sha256()
        read = 0
        try:
            with zf.open(info) as src:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    read += len(chunk)
        except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
            raise IntegrityError(f"{path}: artifact {sha[:12]} is damaged ({exc}); refusing the "
                                 "whole bundle") from None
        if digest.hexdigest() != sha or read != size:
            raise IntegrityError(f"{path} was tampered with: artifact {sha[:12]} does not hash to its "
                                 "name; refusing the whole bundle")


def _check_space(registry: Any, manifest: dict[str, Any], todo: list[dict[str, Any]],
                 path: Path) -> None:
    """Refuse up front an import the disk cannot hold, rather than filling it."""
    shas = {sha for v in todo for sha in v["artifacts"].values()}
    need = sum(manifest["artifacts"][sha] for sha in shas if not registry.artifacts.exists(sha))
    root = registry.artifacts.root
    free = shutil.disk_usage(root if root.is_dir() else root.parent).free
    if need > free:
        raise ZooError(f"{path} needs {need} bytes of artifacts but only {free} are free "
                       f"under {root}; free some space first")


def _store(registry: Any, zf: zipfile.ZipFile, sha: str, path: Path) -> None:
    with zf.open(f"artifacts/{sha}") as src:
        stored, _ = registry.artifacts.put_stream(src)
    if stored != sha:  # the zip changed under us
        raise IntegrityError(f"{path} changed while it was imported; import it again")


def _run_check(zf: zipfile.ZipFile, path: Path, versions: list[dict[str, Any]], check: Check) -> None:
    """Hand each version and a private, hash-checked copy of its model bytes to ``check``."""
    if not versions:
        return
    with tempfile.TemporaryDirectory(prefix="zoo-import-check-") as tmp:
        for v in versions:
            sha = v["artifact_sha256"]
            copy = Path(tmp) / sha
            if not copy.exists():
                digest = hashlib.sha256()
                with zf.open(f"artifacts/{sha}") as src, open(copy, "wb") as out:
                    while chunk := src.read(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                if digest.hexdigest() != sha:
                    raise IntegrityError(f"{path} changed while it was imported; import it again")
            check(_public(v), copy)


def _public(v: dict[str, Any]) -> dict[str, Any]:
    """A version record as a check sees it: the manifest's fields plus ``ref``."""
    return {k: val for k, val in v.items()
            if k not in ("metadata_json", "param_rows", "data_columns")}


def _plan(conn: sqlite3.Connection, versions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The versions still to import; a clash with this registry refuses the whole bundle."""
    todo = []
    for v in versions:
        existing = conn.execute(
            """SELECT v.artifact_sha256, v.created_at FROM versions v JOIN models mo
               ON mo.id = v.model_id WHERE mo.name = ? AND v.version = ?""",
            [v["name"], v["version"]]).fetchone()
        if existing is not None:
            if (existing[0], existing[1]) == (v["artifact_sha256"], v["created_at"]):
                continue  # imported before: same bytes, same birth
            raise ZooError(f"{v['ref']} in the bundle clashes with {v['ref']} in this registry "
                           "(different artifact); import into another registry or delete that "
                           "version first")
        issued = conn.execute("SELECT artifact_sha256 FROM version_numbers WHERE name = ? AND "
                              "version = ?", [v["name"], v["version"]]).fetchone()
        if issued is not None and issued[0] != v["artifact_sha256"]:
            raise ZooError(f"{v['ref']} was handed out in this registry before for other bytes "
                           "(deleted since); version numbers are never reused: import it into "
                           "another registry")
        todo.append(v)
    return todo


def _insert(registry: Any, conn: sqlite3.Connection, zf: zipfile.ZipFile, path: Path,
            versions: list[dict[str, Any]], models: dict[str, dict[str, Any]],
            sizes: dict[str, int], bundle_sha: str, run_check: Callable[[list[dict[str, Any]]], None] | None,
            move_aliases: bool) -> dict[str, Any]:
    # Decide again under the write lock: another process may have imported, registered or
    # deleted since the checks above.
    todo = _plan(conn, versions)
    if run_check is not None:
        run_check(todo)  # only versions that became importable since (a delete meanwhile)
    # gc or a delete may have removed a file stored above (identical bytes another version
    # let go of): they do so holding this lock, so what exists now stays until we commit.
    for sha in sorted({sha for v in todo for sha in v["artifacts"].values()}):
        if not registry.artifacts.exists(sha):
            _store(registry, zf, sha, path)
    now = rows.timestamp()
    source = str(path)
    import_id = None  # recorded with the first version imported: a re-import writes nothing
    new = {v["ref"] for v in todo}
    placed: dict[str, int] = {}
    aliases: dict[str, list[str]] = {"set": [], "moved": [], "kept": []}
    for v in versions:
        name, number = v["name"], v["version"]
        model = conn.execute("SELECT id FROM models WHERE name = ?", [name]).fetchone()
        if v["ref"] not in new:
            placed[v["ref"]] = conn.execute("SELECT id FROM versions WHERE model_id = ? AND version = ?",
                                            [model[0], number]).fetchone()[0]
            continue
        if model is None:
            info = models.get(name, {"description": None, "tags": {}})
            model_id = conn.execute(
                "INSERT INTO models (name, description, created_at, updated_at) VALUES (?, ?, ?, ?)",
                [name, info["description"], v["created_at"], now]).lastrowid
            conn.executemany("INSERT INTO model_tags (model_id, key, value) VALUES (?, ?, ?)",
                             [(model_id, key, value) for key, value in info["tags"].items()])
        else:
            model_id = model[0]
        version_id = _insert_version(conn, model_id, v, sizes, now)
        placed[v["ref"]] = version_id
        conn.execute("UPDATE models SET last_version = MAX(last_version, ?), updated_at = ? WHERE id = ?",
                     [number, now, model_id])
        conn.execute("INSERT OR IGNORE INTO version_numbers (name, version, artifact_sha256, issued_at) "
                     "VALUES (?, ?, ?, ?)", [name, number, v["artifact_sha256"], now])
        if import_id is None:
            import_id = conn.execute(
                "INSERT INTO bundle_imports (bundle_sha256, source, imported_at) VALUES (?, ?, ?)",
                [bundle_sha, source, now]).lastrowid
        conn.execute("INSERT INTO version_origins (version_id, import_id) VALUES (?, ?)",
                     [version_id, import_id])
        done = []
        for alias in v["aliases"]:
            outcome = _place_alias(conn, model_id, name, alias, version_id, number, move_aliases, now)
            if outcome:
                aliases[outcome[0]].append(outcome[1])
                done.append(outcome[1])
        rows.record_audit(conn, "import", name, number, {
            "bundle_sha256": bundle_sha, "source": source, "artifact_sha256": v["artifact_sha256"],
            "aliases": done})
    # Lineage last: a parent may come later in the bundle, or already live in this registry.
    for v in versions:
        if v["ref"] not in new:
            continue
        for parent in v["parents"]:
            pid = placed.get(parent["ref"])
            if pid is None:
                try:
                    pid = registry.resolve(conn, parent["ref"])["id"]
                except ZooError:
                    pid = None  # kept by ref, like a deleted parent
            conn.execute("INSERT INTO lineage (version_id, parent_version_id, parent_ref, relation) "
                         "VALUES (?, ?, ?, ?)", [placed[v["ref"]], pid, parent["ref"], parent["relation"]])
    return {"imported": [v["ref"] for v in todo],
            "skipped": [v["ref"] for v in versions if v["ref"] not in new],
            "aliases": aliases, "bundle_sha256": bundle_sha,
            # Read back under the same lock: what a caller announces is what committed.
            "imported_versions": registry._by_ids(conn, [placed[v["ref"]] for v in todo])}


def _place_alias(conn: sqlite3.Connection, model_id: int, name: str, alias: str, version_id: int,
                 number: int, move: bool, now: str) -> tuple[str, str] | None:
    """Point ``name@alias`` at an imported version unless it already points elsewhere and
    ``move`` is off: an import never silently moves production's champion."""
    current = conn.execute("SELECT v.version FROM aliases a JOIN versions v ON v.id = a.version_id "
                           "WHERE a.model_id = ? AND a.alias = ?", [model_id, alias]).fetchone()
    previous = current[0] if current else None
    if previous == number:
        return None
    if previous is not None and not move:
        return "kept", f"{name}@{alias} stays on {name}:{previous} (the bundle has it on {number})"
    conn.execute("""INSERT INTO aliases (model_id, alias, version_id, updated_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT (model_id, alias) DO UPDATE
                    SET version_id = excluded.version_id, updated_at = excluded.updated_at""",
                 [model_id, alias, version_id, now])
    rows.alias_moved(conn, model_id, alias, previous, number, now)
    if previous is None:
        return "set", f"{name}@{alias} → {name}:{number}"
    return "moved", f"{name}@{alias} moved from {name}:{previous} to {name}:{number}"


def _insert_version(conn: sqlite3.Connection, model_id: int, v: dict[str, Any],
                    sizes: dict[str, int], now: str) -> int:
    files = v["artifacts"]
    data_sha, data_rows, data_schema = v["data_columns"]
    conn.executemany("INSERT OR IGNORE INTO artifacts (sha256, size, created_at) VALUES (?, ?, ?)",
                     [(sha, sizes[sha], now) for sha in sorted(set(files.values()))])
    version_id = conn.execute(
        """INSERT INTO versions (model_id, version, component, kind, task, plugin, plugin_version,
               artifact_sha256, artifact_format, metadata, data_sha256, data_rows, data_schema,
               description, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [model_id, v["version"], v["component"], v["kind"], v["task"], v["plugin"], v["plugin_version"],
         v["artifact_sha256"], v["artifact_format"], v["metadata_json"], data_sha, data_rows,
         data_schema, v["description"], v["created_at"]],
    ).lastrowid
    conn.executemany("INSERT INTO params (version_id, key, value, type) VALUES (?, ?, ?, ?)",
                     [(version_id, *row) for row in v["param_rows"]])
    conn.executemany("INSERT INTO metrics (version_id, key, value) VALUES (?, ?, ?)",
                     [(version_id, k, val) for k, val in v["metrics"].items()])
    conn.executemany("INSERT INTO version_tags (version_id, key, value) VALUES (?, ?, ?)",
                     [(version_id, k, val) for k, val in v["tags"].items()])
    conn.executemany("INSERT INTO version_artifacts (version_id, name, sha256) VALUES (?, ?, ?)",
                     [(version_id, name, sha) for name, sha in files.items()])
    return version_id
