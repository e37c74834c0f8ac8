"""Portable bundles: versions with their metadata, lineage and artifacts in one zip file.

``export_bundle`` writes ``manifest.json`` (what each version is, its params, metrics, tags,
aliases, lineage and the sha256 of every artifact) and ``artifacts/<sha256>`` files.
``import_bundle`` refuses anything it did not write: a member outside that layout (no
path can escape the store), an artifact whose bytes do not hash to its name, a manifest
naming an artifact the zip lacks. It checks everything before the first write, stores the
artifacts, then inserts every version in one transaction, keeping version numbers,
timestamps and aliases. Importing the same bundle twice changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from zoo_registry import rows
from zoo_registry.artifacts import CHUNK, hash_file

from zoo.errors import IntegrityError, NotFoundError, ZooError

FORMAT = "zoo-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_ARTIFACT_MEMBER = re.compile(r"^artifacts/([0-9a-f]{64})$")
MAX_MANIFEST_BYTES = 256 << 20
# What a version dict carries into the manifest (its local row id does not travel).
_FIELDS = ("name", "version", "component", "kind", "task", "plugin", "plugin_version",
           "artifact_sha256", "artifact_format", "artifacts", "metadata", "params", "metrics",
           "tags", "aliases", "data", "parents", "description", "created_at")


def export_bundle(registry: Any, refs: list[str], out: str | Path, producer: str = "") -> dict[str, Any]:
    """Write the versions ``refs`` name (a bare model name means all its versions) to ``out``;
    ``producer`` names the software writing it, recorded in the manifest."""

    if not refs:
        raise ZooError("name at least one model or version to export, e.g. zoo export fraud@champion")
    versions: dict[tuple[str, int], dict[str, Any]] = {}
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
    out = Path(out)
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


def import_bundle(registry: Any, path: str | Path) -> dict[str, Any]:
    """Restore a bundle's versions into ``registry``; returns what was imported and skipped."""
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"no such bundle: {path}")
    bundle_sha = hash_file(path)[0]
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise IntegrityError(f"{path} is not a zoo bundle (not a zip file)") from None
    with zf:
        manifest = _read_manifest(zf, path)
        _check_artifacts(zf, manifest, path)
        # Every check passed: store the artifacts first (a crash leaves only orphan files).
        for sha in manifest["artifacts"]:
            with zf.open(f"artifacts/{sha}") as src:
                stored, _ = registry.artifacts.put_stream(src)
            if stored != sha:  # the zip changed under us
                raise IntegrityError(f"{path} changed while it was imported; import it again")
    return registry.write(lambda conn: _insert(registry, conn, manifest, bundle_sha, str(path)))


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
    if zf.getinfo(MANIFEST).file_size > MAX_MANIFEST_BYTES:
        raise IntegrityError(f"{path}: its manifest is implausibly large; refusing it")
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


def _check_artifacts(zf: zipfile.ZipFile, manifest: dict[str, Any], path: Path) -> None:
    declared = manifest["artifacts"]
    members = {m.group(1) for m in map(_ARTIFACT_MEMBER.match, zf.namelist()) if m}
    for v in manifest["versions"]:
        for name, sha in (v.get("artifacts") or {}).items():
            if sha not in declared:
                raise IntegrityError(f"{path}: {v.get('name')}:{v.get('version')} names artifact "
                                     f"{str(sha)[:12]} ({name}) that the bundle does not declare")
    if set(declared) != members:
        missing = sorted(set(declared) - members)
        what = f"lacks artifact {missing[0][:12]}" if missing else "holds undeclared artifacts"
        raise IntegrityError(f"{path} {what}; refusing the whole bundle")
    for sha, size in declared.items():
        digest = hashlib.sha256()
        read = 0
        with zf.open(f"artifacts/{sha}") as src:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                read += len(chunk)
        if digest.hexdigest() != sha or read != size:
            raise IntegrityError(f"{path} was tampered with: artifact {sha[:12]} does not hash to its "
                                 "name; refusing the whole bundle")


def _insert(registry: Any, conn: sqlite3.Connection, manifest: dict[str, Any], bundle_sha: str,
            source: str) -> dict[str, Any]:
    now = rows.timestamp()
    import_id = None  # recorded with the first version imported: a re-import writes nothing
    imported, skipped, placed = [], [], {}
    versions = sorted(manifest["versions"], key=lambda v: (str(v.get("name")), v.get("version", 0)))
    for v in versions:
        try:
            name, number = v["name"], rows.version_number(v["version"])
            rows.check_name(name, "model name")
        except (KeyError, TypeError):
            raise IntegrityError("a version in the bundle's manifest lacks its name or number") from None
        ref = f"{name}:{number}"
        model = conn.execute("SELECT id, last_version FROM models WHERE name = ?", [name]).fetchone()
        if model is None:
            info = manifest.get("models", {}).get(name, {})
            model_id = conn.execute(
                "INSERT INTO models (name, description, created_at, updated_at) VALUES (?, ?, ?, ?)",
                [name, info.get("description"), v["created_at"], now]).lastrowid
            for key, value in (info.get("tags") or {}).items():
                conn.execute("INSERT INTO model_tags (model_id, key, value) VALUES (?, ?, ?)",
                             [model_id, key, str(value)])
        else:
            model_id = model["id"]
        existing = conn.execute("SELECT id, artifact_sha256, created_at FROM versions "
                                "WHERE model_id = ? AND version = ?", [model_id, number]).fetchone()
        if existing is not None:
            same = (existing["artifact_sha256"], existing["created_at"])
            if same == (v["artifact_sha256"], v["created_at"]):
                skipped.append(ref)  # imported before: same bytes, same birth
                placed[ref] = existing["id"]
                continue
            raise ZooError(f"{ref} in the bundle clashes with {ref} in this registry (different "
                           "artifact); import into another registry or delete that version first")
        version_id = _insert_version(conn, model_id, number, v, manifest["artifacts"], now)
        placed[ref] = version_id
        conn.execute("UPDATE models SET last_version = MAX(last_version, ?), updated_at = ? WHERE id = ?",
                     [number, now, model_id])
        if import_id is None:
            import_id = conn.execute(
                "INSERT INTO bundle_imports (bundle_sha256, source, imported_at) VALUES (?, ?, ?)",
                [bundle_sha, source, now]).lastrowid
        conn.execute("INSERT INTO version_origins (version_id, import_id) VALUES (?, ?)",
                     [version_id, import_id])
        for alias in v.get("aliases") or []:
            rows.check_alias(alias)
            current = conn.execute("SELECT v.version FROM aliases a JOIN versions v ON v.id = a.version_id "
                                   "WHERE a.model_id = ? AND a.alias = ?", [model_id, alias]).fetchone()
            conn.execute("""INSERT INTO aliases (model_id, alias, version_id, updated_at) VALUES (?, ?, ?, ?)
                            ON CONFLICT (model_id, alias) DO UPDATE
                            SET version_id = excluded.version_id, updated_at = excluded.updated_at""",
                         [model_id, alias, version_id, now])
            rows.alias_moved(conn, model_id, alias, current["version"] if current else None, number, now)
        rows.record_audit(conn, "import", name, number, {"bundle_sha256": bundle_sha, "source": source})
        imported.append(ref)
    # Lineage last: a parent may come later in the bundle, or already live in this registry.
    for v in versions:
        ref = f"{v['name']}:{v['version']}"
        if ref not in imported:
            continue
        for parent in v.get("parents") or []:
            pref, relation = parent.get("ref"), parent.get("relation", "parent")
            rows.check_key(relation, "lineage relation")
            pid = placed.get(pref)
            if pid is None:
                try:
                    pid = registry.resolve(conn, pref)["id"]
                except (NotFoundError, ZooError):
                    pid = None  # kept by ref, like a deleted parent
            conn.execute("INSERT INTO lineage (version_id, parent_version_id, parent_ref, relation) "
                         "VALUES (?, ?, ?, ?)", [placed[ref], pid, pref, relation])
    return {"imported": imported, "skipped": skipped, "bundle_sha256": bundle_sha}


def _insert_version(conn: sqlite3.Connection, model_id: int, number: int, v: dict[str, Any],
                    sizes: dict[str, int], now: str) -> int:
    try:
        files = dict(v["artifacts"])
        data_sha, data_rows, data_schema = rows.encode_data(v.get("data"))
        conn.executemany("INSERT OR IGNORE INTO artifacts (sha256, size, created_at) VALUES (?, ?, ?)",
                         [(sha, sizes[sha], now) for sha in set(files.values())])
        version_id = conn.execute(
            """INSERT INTO versions (model_id, version, component, kind, task, plugin, plugin_version,
                   artifact_sha256, artifact_format, metadata, data_sha256, data_rows, data_schema,
                   description, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [model_id, number, v["component"], v["kind"], v["task"], v["plugin"], v["plugin_version"],
             v["artifact_sha256"], v["artifact_format"], json.dumps(v.get("metadata") or {}),
             data_sha, data_rows, data_schema, v.get("description"), v["created_at"]],
        ).lastrowid
    except (KeyError, TypeError, sqlite3.IntegrityError) as exc:
        raise IntegrityError(
            f"the bundle's manifest entry for version {number} is malformed ({exc})") from None
    params = rows.checked_keys(v.get("params"), "param")
    conn.executemany("INSERT INTO params (version_id, key, value, type) VALUES (?, ?, ?, ?)",
                     [(version_id, k, *rows.encode_param(val)) for k, val in params])
    conn.executemany("INSERT INTO metrics (version_id, key, value) VALUES (?, ?, ?)",
                     [(version_id, k, rows.encode_metric(k, val))
                      for k, val in rows.checked_keys(v.get("metrics"), "metric")])
    conn.executemany("INSERT INTO version_tags (version_id, key, value) VALUES (?, ?, ?)",
                     [(version_id, k, str(val)) for k, val in rows.checked_keys(v.get("tags"), "tag")])
    conn.executemany("INSERT INTO version_artifacts (version_id, name, sha256) VALUES (?, ?, ?)",
                     [(version_id, name, sha) for name, sha in files.items()])
    return version_id

