"""What each page shows, as plain dicts (the same dict is the page's JSON).

Every function takes a read-only store (``ReadOnlyStore``) and reads through the registry's
public API: ``versions(where=...)`` with the registry's own filter language, ``get``,
``audit``, ``read_verified``, and ``read()`` for the tables plugins own (batches, alerts,
experiments, outcomes). Lists are pages with a cursor ("keyset" pagination expressed in the
``--where`` language), so no page loads every version of a 100,000-version model.
"""

from __future__ import annotations

import json
import math
import re
import shlex
import sqlite3
import time
from pathlib import Path
from typing import Any

from zoo_registry import Store
from zoo_registry.rows import check_key, check_name

from zoo import NotFoundError, ZooError

PAGE = 50
#: Seconds a filtered models page may spend looking for matches before it shows what it has.
SEARCH_BUDGET = 0.1
#: From this many versions on, a page sorted by a metric first finds the value the page ends at
#: (one walk down the metric's index), so the sort only sees the rows of that page.
LARGE_MODEL = 2000
#: Matching versions a filtered models page takes per query.
HARVEST = 300
#: Metrics shown as "the" metric of a model, first found wins.
PRIMARY_METRICS = ("roc_auc", "accuracy", "f1", "r2", "rmse", "mae", "average_precision")
#: Artifact suffixes shown inline as images, with the content type they are served with.
IMAGE_TYPES = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg",
               ".jpeg": "image/jpeg", ".gif": "image/gif"}
TEXT_TYPES = {".json": "application/json", ".txt": "text/plain; charset=utf-8",
              ".csv": "text/csv; charset=utf-8", ".md": "text/markdown; charset=utf-8"}
#: The metric intervals ``zoo train`` stores beside each predictor.
EVALUATION = "evaluation.json"
#: Tags ``zoo card`` reads for a card's intended use section.
CARD_TAGS = ("intended_use", "limitations", "out_of_scope", "ethical_considerations")
_ORDER = re.compile(r"^(-?)(version|created_at|metrics\.(.+))$")


class ReadOnlyStore(Store):
    """A registry opened read-only: SQLite ``mode=ro`` plus ``query_only``, no migrations.

    Everything ``Store`` reads works; every write fails in SQLite itself ("attempt to write a
    readonly database"), so the UI cannot change the registry whatever a page does.
    """

    def _connect(self) -> sqlite3.Connection:
        self.read_only = True  # Store's write paths then refuse in one line before SQLite does
        if not self.path.is_file():
            raise ZooError(f"no registry at {self.path}: train a model first, or point --registry "
                           "or $ZOO_REGISTRY at an existing registry file")
        try:
            conn = sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True, isolation_level=None,
                                   timeout=30, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA query_only = ON")
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.execute("SELECT 1 FROM versions LIMIT 1")
        except sqlite3.DatabaseError as exc:
            raise ZooError(f"{self.path} is not a usable zoo registry ({exc}); point --registry "
                           "or $ZOO_REGISTRY at another file") from None
        return conn


# --- models ---


def models_page(store: Store, q: str = "", where: str = "", after: str = "",
                limit: int = PAGE) -> dict[str, Any]:
    """Models by name (a page of them after ``after``): latest version, aliases, primary metric,
    health and last activity. ``q`` matches names and descriptions; ``where`` keeps models with
    at least one version matching the ``--where`` filter."""
    if after:
        check_name(after, "cursor")
    where = where.strip()
    q = q.strip().lower()
    more = partial = False
    if where:
        names, more, partial = _matching_models(store, where, after, limit + 1)
    else:
        with store.read() as conn:
            names = [r[0] for r in conn.execute(
                "SELECT name FROM models WHERE name > ? ORDER BY name", [after])]
    if q:
        with store.read() as conn:
            descriptions = {r[0]: r[1] or "" for r in conn.execute(
                "SELECT name, description FROM models WHERE description IS NOT NULL")}
        names = [n for n in names if q in n.lower() or q in descriptions.get(n, "").lower()]
    rows: list[dict[str, Any]] = []
    for name in names:
        if len(rows) == limit:
            more = True
            break
        model = _model_summary(store, name)
        if model is not None:
            rows.append(model)
    if len(rows) > limit:
        rows, more = rows[:limit], True
    return {"models": rows, "q": q, "where": where, "after": after, "partial": partial,
            "next": rows[-1]["name"] if more and rows else None,
            "total": _count(store, "models")}


def _matching_models(store: Store, where: str, after: str, want: int) -> tuple[list[str], bool, bool]:
    """Names (after ``after``, in order) of models with a version matching ``where``: up to
    ``want`` of them, whether more may follow, and whether the search stopped on its time
    budget. Each query takes the next matching versions in name order and jumps past the
    last model seen, so a model with many matches costs one query, not one per match."""
    store.versions(where=where, limit=0)  # a bad filter fails here, naming the problem
    names: list[str] = []
    last = after
    deadline = time.perf_counter() + SEARCH_BUDGET
    while len(names) < want:
        if names and time.perf_counter() > deadline:
            return names, True, True
        scope = f"({where}) and name > '{last.replace(chr(39), chr(39) * 2)}'" if last else where
        hits = store.versions(where=scope, limit=HARVEST)
        for v in hits:
            if not names or names[-1] != v["name"]:
                names.append(v["name"])
        if len(hits) < HARVEST:
            return names, False, False
        last = hits[-1]["name"]
    return names, True, False


def _model_summary(store: Store, name: str) -> dict[str, Any] | None:
    with store.read() as conn:
        row = conn.execute("SELECT * FROM models WHERE name = ?", [name]).fetchone()
        if row is None:
            return None
        latest = conn.execute("SELECT MAX(version), COUNT(*) FROM versions WHERE model_id = ?",
                              [row["id"]]).fetchone()
        aliases = {r[0]: r[1] for r in conn.execute(
            "SELECT a.alias, v.version FROM aliases a JOIN versions v ON v.id = a.version_id "
            "WHERE a.model_id = ? ORDER BY a.alias", [row["id"]])}
        alerts = newest(conn, "alerts", 't.at, t."check", t.severity, t.message, t.details',
                        row["id"], latest[1], 20)
        batches = newest(conn, "batches", "t.at", row["id"], latest[1], 1)
        metric = None
        if latest[0] is not None:
            shown = aliases.get("champion", latest[0])
            # Two indexed lookups: a whole hydrated version would cost ten queries per row.
            metrics = {r[0]: r[1] for r in conn.execute(
                "SELECT m.key, m.value FROM versions v JOIN metrics m ON m.version_id = v.id "
                "WHERE v.model_id = ? AND v.version = ?", [row["id"], shown])}
            metric = primary_metric(metrics)
            if metric:
                metric["version"] = int(shown)
    # The monitor's own health verdict if it gave one lately, else the latest alert.
    alert = next((a for a in alerts if a["check"] == "health"), alerts[0] if alerts else None)
    batch = batches[0]["at"] if batches else None
    health = None
    if alert is not None:
        details = _loads(alert["details"])
        health = {"severity": alert["severity"], "check": alert["check"], "at": alert["at"],
                  "message": alert["message"],
                  "score": details.get("health") if isinstance(details, dict) else None}
    return {"name": name, "description": row["description"], "versions": latest[1],
            "latest": latest[0], "aliases": aliases, "metric": metric, "health": health,
            "last_activity": max(filter(None, [row["updated_at"], batch])),
            "created_at": row["created_at"]}


def primary_metric(metrics: dict[str, float]) -> dict[str, Any] | None:
    """The metric that stands for a version in listings: the first of ``PRIMARY_METRICS`` it has."""
    for key in (*PRIMARY_METRICS, *sorted(metrics)):
        if key in metrics:
            return {"key": key, "value": metrics[key]}
    return None


# --- one model ---


def model_page(store: Store, name: str, order: str = "-version", where: str = "",
               cursor: str = "", limit: int = PAGE) -> dict[str, Any]:
    """A model: one page of its versions (sorted by ``order``: ``[-]version``,
    ``[-]created_at`` or ``[-]metrics.KEY``; filtered by ``where``), its aliases, the alias
    timeline and the audit log."""
    check_name(name, "model name")
    order = order or "-version"
    match = _ORDER.match(order)
    if match is None:
        raise ZooError(f"cannot sort by {order!r}: use version, created_at or metrics.KEY, "
                       "with a leading - for descending")
    descending, field = match[1] == "-", match[2]
    if match[3] is not None:
        check_key(match[3], "metric")
    where = where.strip()
    scope = f"({where})" if where else ""
    after = _cursor_filter(field, descending, cursor)
    if after:
        scope = f"{scope} and ({after})" if scope else after
    with store.read() as conn:
        model = store.resolve(conn, name)  # the latest version (or a clear "no model" error)
        row = conn.execute("SELECT * FROM models WHERE id = ?", [model["model_id"]]).fetchone()
        count = conn.execute("SELECT COUNT(*) FROM versions WHERE model_id = ?",
                             [row["id"]]).fetchone()[0]
        page = None
        if match[3] is not None and count > LARGE_MODEL:
            page = _metric_page(store, conn, name, row["id"], match[3], descending, scope, order,
                                cursor, limit)
        if page is None:
            page = store.versions(name, where=scope or None, order_by=order, limit=limit + 1)
        tags = {r[0]: r[1] for r in conn.execute(
            "SELECT key, value FROM model_tags WHERE model_id = ? ORDER BY key", [row["id"]])}
        aliases = {r[0]: r[1] for r in conn.execute(
            "SELECT a.alias, v.version FROM aliases a JOIN versions v ON v.id = a.version_id "
            "WHERE a.model_id = ? ORDER BY a.alias", [row["id"]])}
        timeline = [dict(r) for r in conn.execute(
            "SELECT alias, from_version, to_version, changed_at FROM alias_history "
            "WHERE model_id = ? ORDER BY id DESC LIMIT 100", [row["id"]])]
    more = len(page) > limit
    page = page[:limit]
    keys = sorted({k for v in page for k in v["metrics"]})
    last = page[-1] if page else None
    next_cursor = None
    if more and last is not None:
        value = last["metrics"].get(match[3]) if match[3] else last[field]
        next_cursor = json.dumps([_finite(value), last["version"]])
    return {
        "name": name, "description": row["description"], "tags": tags, "aliases": aliases,
        "versions_count": count, "latest": model["version"],
        "order": order, "where": where, "cursor": cursor, "next": next_cursor,
        "metric_keys": keys,
        "versions": [_version_row(v) for v in page],
        "alias_timeline": timeline,
        "audit": store.audit(name, limit=50),
    }


def _metric_page(store: Store, conn: sqlite3.Connection, name: str, model_id: int, key: str,
                 descending: bool, scope: str, order: str, cursor: str,
                 limit: int) -> list[dict[str, Any]] | None:
    """The page of a large model sorted by metric ``key``, or None to sort the plain way.

    Walks the metrics (key, value) index from the cursor to the value the page ends at, and
    adds ``metrics.KEY >= that value`` to the filter: the registry then sorts about one page
    of rows, not every version. None when the page reaches the versions lacking the metric or
    the user's filter leaves fewer rows than a page (the plain query is right there)."""
    bound, args = "", []
    if cursor:
        value = json.loads(cursor)[0]
        if value is None:
            return None
        bound, args = f" AND m.value {'<=' if descending else '>='} ?", [value]
    row = conn.execute(
        "SELECT m.value FROM metrics m JOIN versions v ON v.id = m.version_id "
        f"WHERE m.key = ? AND v.model_id = ? AND m.value IS NOT NULL{bound} "
        f"ORDER BY m.value {'DESC' if descending else 'ASC'} LIMIT 1 OFFSET ?",
        [key, model_id, *args, limit]).fetchone()
    if row is None:
        return None
    edge = f"metrics.{key} {'>=' if descending else '<='} {float(row[0])!r}"
    page = store.versions(name, where=f"{scope} and ({edge})" if scope else edge, order_by=order,
                          limit=limit + 1)
    return page if len(page) > limit else None


def _cursor_filter(field: str, descending: bool, cursor: str) -> str:
    """The ``--where`` condition selecting the rows after ``cursor`` (``[value, version]`` of the
    last row shown) in the registry's order: ``field`` (missing values last), then version."""
    if not cursor:
        return ""
    try:
        value, version = json.loads(cursor)
        version = int(version)
    except (ValueError, TypeError):
        raise ZooError("the page cursor is damaged: go back to the first page") from None
    if field == "version":
        return f"version {'<' if descending else '>'} {version}"
    if field == "created_at":
        if not isinstance(value, str) or not re.fullmatch(r"[0-9T:.+\- ]+", value):
            raise ZooError("the page cursor is damaged: go back to the first page")
        literal = f"'{value}'"
    elif value is None:
        return f"{field} is null and version > {version}"
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        literal = repr(float(value))
    else:
        raise ZooError("the page cursor is damaged: go back to the first page")
    beyond = "<" if descending else ">"
    tail = f" or {field} is null" if field.startswith("metrics.") else ""
    return f"{field} {beyond} {literal} or ({field} = {literal} and version > {version}){tail}"


def _version_row(v: dict[str, Any]) -> dict[str, Any]:
    return {"version": v["version"], "ref": v["ref"], "component": v["component"],
            "aliases": v["aliases"], "metrics": v["metrics"], "tags": v["tags"],
            "created_at": v["created_at"], "description": v["description"]}


# --- one version ---


def version_page(store: Store, name: str, number: int) -> dict[str, Any]:
    """A version: params, metrics with intervals, tags, schema, parents and children, plots,
    the model card's sections and the command that predicts with it."""
    check_name(name, "model name")
    version = store.get(f"{name}:{int(number)}")
    with store.read() as conn:
        children = [{"ref": f"{r['name']}:{r['version']}", "name": r["name"], "version": r["version"],
                     "relation": r["relation"]} for r in conn.execute(
            "SELECT mo.name, v.version, l.relation FROM lineage l JOIN versions v ON v.id = l.version_id "
            "JOIN models mo ON mo.id = v.model_id WHERE l.parent_version_id = ? "
            "ORDER BY mo.name, v.version LIMIT 100", [version["id"]])]
        model_tags = {r[0]: r[1] for r in conn.execute(
            "SELECT key, value FROM model_tags WHERE model_id = ? ORDER BY key",
            [version_model_id(conn, version)])}
    intervals = metric_intervals(store, version)
    data = version["data"] or {}
    parents = []
    for p in version["parents"]:
        pname, _, pnum = p["ref"].rpartition(":")
        parents.append({**p, "name": pname, "version": int(pnum) if pnum.isdigit() else None})
    card = {key: version["tags"].get(key) or model_tags.get(key) for key in CARD_TAGS}
    return {
        **{k: version[k] for k in ("name", "version", "ref", "component", "kind", "task", "plugin",
                                   "plugin_version", "artifact_sha256", "artifact_format", "aliases",
                                   "tags", "description", "created_at", "params")},
        "metrics": [{"key": k, "value": v, "low": None, "high": None, **intervals.get(k, {})}
                    for k, v in version["metrics"].items()],
        "interval_level": intervals.get("_level"),
        "schema": {"features": version["metadata"].get("feature_names") or [],
                   "target": version["metadata"].get("target"),
                   "classes": version["metadata"].get("classes"),
                   "columns": data.get("schema") or {}},
        "data": {"sha256": data.get("sha256"), "rows": data.get("rows")},
        "parents": parents, "children": children,
        "plots": [n for n in version["artifacts"] if Path(n).suffix.lower() in IMAGE_TYPES],
        "files": [{"name": n, "sha256": s} for n, s in version["artifacts"].items()],
        "card": {k: v for k, v in card.items() if v},
        "model_tags": model_tags,
        "predict": f"zoo predict {shlex.quote(version['ref'])} DATA.csv -o predictions.csv",
        "card_command": f"zoo card {shlex.quote(version['ref'])} -o card.md",
    }


def version_model_id(conn: sqlite3.Connection, version: dict[str, Any]) -> int:
    """The models.id of a version dict."""
    return conn.execute("SELECT model_id FROM versions WHERE id = ?", [version["id"]]).fetchone()[0]


def metric_intervals(store: Store, version: dict[str, Any]) -> dict[str, Any]:
    """``{metric: {"low", "high"}}`` from the version's stored ``evaluation.json`` (plus
    ``_level``); empty when it has none."""
    sha = version["artifacts"].get(EVALUATION)
    if sha is None:
        return {}
    return _evaluation(store, version["ref"], sha)


_EVALUATIONS: dict[str, dict[str, Any]] = {}


def _evaluation(store: Store, ref: str, sha: str) -> dict[str, Any]:
    # Artifacts are content-addressed and immutable: a sha read once is cached for good.
    if sha not in _EVALUATIONS:
        try:
            record = json.loads(store.read_verified(store.get(ref), EVALUATION))
        except (ZooError, ValueError):
            record = {}
        out: dict[str, Any] = {"_level": record.get("level")}
        for key, m in (record.get("metrics") or {}).items():
            if isinstance(m, dict) and "low" in m and "high" in m:
                out[key] = {"low": m["low"], "high": m["high"]}
        if len(_EVALUATIONS) > 1024:
            _EVALUATIONS.clear()
        _EVALUATIONS[sha] = out
    return _EVALUATIONS[sha]


def artifact(store: Store, name: str, number: int, file: str) -> tuple[bytes, str]:
    """A version's stored file (sha256 checked) and the content type to serve it with."""
    check_name(name, "model name")
    version = store.get(f"{name}:{int(number)}")
    if file not in version["artifacts"]:
        raise NotFoundError(f"{version['ref']} has no stored file {file!r}")
    suffix = Path(file).suffix.lower()
    kind = IMAGE_TYPES.get(suffix) or TEXT_TYPES.get(suffix) or "application/octet-stream"
    return store.read_verified(version, file), kind


# --- compare ---


def compare_page(store: Store, a: str, b: str) -> dict[str, Any]:
    """Two versions side by side: each metric, the difference (b - a) and an approximate
    interval of it, differing params, and the plots both have."""
    va, vb = store.get(a), store.get(b)
    ia, ib = metric_intervals(store, va), metric_intervals(store, vb)
    metrics = []
    for key in sorted(set(va["metrics"]) | set(vb["metrics"])):
        x, y = va["metrics"].get(key), vb["metrics"].get(key)
        row: dict[str, Any] = {"key": key, "a": x, "b": y, "a_interval": ia.get(key),
                               "b_interval": ib.get(key), "diff": None, "low": None, "high": None}
        if _finite(x) is not None and _finite(y) is not None:
            row["diff"] = y - x
            if key in ia and key in ib:
                # Independent intervals combine in quadrature: an approximation (the two
                # versions were scored on different held-out rows); `zoo compare` on shared
                # data gives the paired interval.
                half = math.hypot((ia[key]["high"] - ia[key]["low"]) / 2,
                                  (ib[key]["high"] - ib[key]["low"]) / 2)
                row["low"], row["high"] = row["diff"] - half, row["diff"] + half
        metrics.append(row)
    params = [{"key": k, "a": va["params"].get(k), "b": vb["params"].get(k)}
              for k in sorted(set(va["params"]) | set(vb["params"]))
              if va["params"].get(k) != vb["params"].get(k)]
    plots = [n for n in va["artifacts"] if Path(n).suffix.lower() in IMAGE_TYPES]
    plots += [n for n in vb["artifacts"] if Path(n).suffix.lower() in IMAGE_TYPES and n not in plots]
    return {"a": _side(va), "b": _side(vb), "metrics": metrics, "params": params,
            "plots": [{"name": n, "a": n in va["artifacts"], "b": n in vb["artifacts"]} for n in plots],
            "command": f"zoo compare {shlex.quote(va['ref'])} {shlex.quote(vb['ref'])} DATA.csv "
                       "--target LABEL"}


def _side(v: dict[str, Any]) -> dict[str, Any]:
    return {"ref": v["ref"], "name": v["name"], "version": v["version"], "component": v["component"],
            "aliases": v["aliases"], "created_at": v["created_at"]}


# --- monitoring ---


def monitoring_page(store: Store, name: str, limit: int = 200) -> dict[str, Any]:
    """A model's last ``limit`` batches (rows, latency, predictions, missing rates), its
    health trend and alerts (drift among them), from zoo-monitor's tables."""
    check_name(name, "model name")
    batches: list[dict[str, Any]] = []
    alerts: list[dict[str, Any]] = []
    with store.read() as conn:
        model = store.resolve(conn, name)
        n_versions = conn.execute("SELECT COUNT(*) FROM versions WHERE model_id = ?",
                                  [model["model_id"]]).fetchone()[0]
        for r in newest(conn, "batches", "t.at, t.rows, t.seconds, t.source, t.summary",
                        model["model_id"], n_versions, int(limit)):
            summary = _loads(r["summary"])
            summary = summary if isinstance(summary, dict) else {}
            batches.append({"id": r["id"], "at": r["at"], "rows": r["rows"],
                            "seconds": r["seconds"], "source": r["source"],
                            "ref": f"{name}:{r['version']}",
                            "prediction": summary.get("prediction") or {},
                            "missing": summary.get("missing") or {},
                            "proba_mean": summary.get("proba_mean") or {}})
        for r in newest(conn, "alerts", 't.at, t."check", t.severity, t.message, t.details',
                        model["model_id"], n_versions, int(limit)):
            details = _loads(r["details"])
            alerts.append({"id": r["id"], "at": r["at"], "check": r["check"],
                           "severity": r["severity"], "message": r["message"],
                           "ref": f"{name}:{r['version']}",
                           "details": details if isinstance(details, dict) else {}})
    health = [{"at": a["at"], "ref": a["ref"], "health": a["details"]["health"]}
              for a in alerts if isinstance(a["details"].get("health"), (int, float))]
    drift = [a for a in alerts if a["check"] in ("drift", "prediction_shift")
             or a["details"].get("drifted")]
    return {"name": name, "batches": batches, "alerts": alerts, "health": health[::-1],
            "drift": drift, "monitored": bool(batches or alerts)}


# --- A/B experiments ---


def experiments_page(store: Store) -> dict[str, Any]:
    """Every experiment of zoo-ab, newest first, with its arms and outcome counts."""
    out = []
    with store.read() as conn:
        if has_table(conn, "experiments"):
            for r in conn.execute("SELECT * FROM experiments ORDER BY id DESC LIMIT 200"):
                config = _loads(r["config"])
                config = config if isinstance(config, dict) else {}
                n = conn.execute("SELECT COUNT(*) FROM outcomes WHERE experiment_id = ?",
                                 [r["id"]]).fetchone()[0]
                out.append({"name": r["name"], "status": r["status"], "mode": config.get("mode"),
                            "arms": config.get("arms") or {}, "split": config.get("split") or {},
                            "outcomes": n, "created_at": r["created_at"]})
    return {"experiments": out}


Z95 = 1.959963984540054


def experiment_page(store: Store, name: str) -> dict[str, Any]:
    """One experiment: each arm's outcomes, mean and 95% interval, each arm against the
    control (difference and interval) and what the numbers recommend. ``zoo ab report``
    gives the full report (exact tests, bandit posteriors)."""
    check_name(name, "experiment name")
    with store.read() as conn:
        row = (conn.execute("SELECT * FROM experiments WHERE name = ?", [name]).fetchone()
               if has_table(conn, "experiments") else None)
        if row is None:
            raise NotFoundError(f"no experiment named {name!r}: `zoo ab list` lists them")
        totals = {r["arm"]: dict(r) for r in conn.execute(
            # Each aggregate costs a pass over the values; these three are the whole report.
            "SELECT arm, COUNT(*) AS n, SUM(value) AS total, SUM(value * value) AS total_sq "
            "FROM outcomes WHERE experiment_id = ? GROUP BY arm",
            [row["id"]])}
    config = _loads(row["config"])
    config = config if isinstance(config, dict) else {}
    arms_config = config.get("arms") or {}
    # v - v*v is 0 only at 0 and 1 and negative for every other whole number, so equal sums
    # mean 0/1 outcomes (a mix of fractions cancelling exactly is not a real outcome column).
    binary = all(t["total"] == t["total_sq"] for t in totals.values())
    higher = config.get("higher_is_better", True)
    arms = []
    for arm, ref in arms_config.items():
        t = totals.get(arm) or {"n": 0, "total": 0.0, "total_sq": 0.0}
        arms.append({"arm": arm, "ref": ref, "share": (config.get("split") or {}).get(arm),
                     **_arm_stats(t["n"], t["total"] or 0.0, t["total_sq"] or 0.0, binary)})
    control = config.get("control") or (arms[0]["arm"] if arms else None)
    base = next((a for a in arms if a["arm"] == control), None)
    comparisons = []
    for arm in arms:
        if base is None or arm is base or arm["mean"] is None or base["mean"] is None:
            continue
        diff = arm["mean"] - base["mean"]
        se = math.sqrt((arm["var"] or 0) / max(arm["n"], 1) + (base["var"] or 0) / max(base["n"], 1))
        low, high = diff - Z95 * se, diff + Z95 * se
        better = (low > 0) if higher else (high < 0)
        worse = (high < 0) if higher else (low > 0)
        comparisons.append({"arm": arm["arm"], "against": control, "diff": diff, "low": low, "high": high,
                            "verdict": "better" if better else "worse" if worse else "unclear"})
    return {"name": name, "status": row["status"], "mode": config.get("mode"), "control": control,
            "metric": config.get("metric") or ("conversion" if binary else "mean outcome"),
            "outcome": "binary" if binary else "continuous", "higher_is_better": higher,
            "arms": arms, "comparisons": comparisons,
            "recommendation": _recommend(comparisons, arms, control),
            "history": config.get("history") or [], "created_at": row["created_at"],
            "report_command": f"zoo ab report {shlex.quote(name)}"}


def _arm_stats(n: int, total: float, total_sq: float, binary: bool) -> dict[str, Any]:
    if n == 0:
        return {"n": 0, "mean": None, "low": None, "high": None, "var": None}
    mean = total / n
    var = max(total_sq / n - mean * mean, 0.0) * (n / (n - 1) if n > 1 else 1.0)
    if binary:  # Wilson's interval stays inside [0, 1] and behaves at small n
        denom = 1 + Z95**2 / n
        centre = (mean + Z95**2 / (2 * n)) / denom
        half = Z95 * math.sqrt(mean * (1 - mean) / n + Z95**2 / (4 * n * n)) / denom
        low, high = centre - half, centre + half
    else:
        half = Z95 * math.sqrt(var / n)
        low, high = mean - half, mean + half
    return {"n": n, "mean": mean, "low": low, "high": high, "var": var}


def _recommend(comparisons: list[dict[str, Any]], arms: list[dict[str, Any]],
               control: str | None) -> str:
    if not comparisons:
        return "keep collecting: no outcomes to compare yet"
    winners = [c for c in comparisons if c["verdict"] == "better"]
    if winners:
        best = max(winners, key=lambda c: abs(c["diff"]))
        return (f"promote {best['arm']}: better than {control} (95% interval of the difference "
                f"{best['low']:+.4g} to {best['high']:+.4g})")
    if all(c["verdict"] == "worse" for c in comparisons):
        return f"keep {control}: every other arm is worse"
    return "keep collecting: the intervals still include no difference"


# --- helpers ---


def newest(conn: sqlite3.Connection, table: str, columns: str, model_id: int, n_versions: int,
           limit: int) -> list[sqlite3.Row]:
    """The newest ``limit`` rows of a plugin table keyed by ``version_id`` (batches, alerts) for
    one model, plus ``version``; [] when the table does not exist.

    Whichever side is smaller drives the query: a table with fewer rows than the model has
    versions is read newest first (stopping at ``limit`` matches); else each of the model's
    versions is looked up in the table's version_id index. Either way the cost is bounded by
    the smaller of the two, not by the registry.
    """
    if not has_table(conn, table):
        return []
    rows = conn.execute(f"SELECT MAX(id) FROM {table}").fetchone()[0] or 0  # noqa: S608
    if rows < n_versions:
        source = f"{table} t CROSS JOIN versions v ON v.id = t.version_id"  # CROSS JOIN: this order
    else:
        source = f"versions v CROSS JOIN {table} t ON t.version_id = v.id"
    return conn.execute(f"SELECT {columns}, t.id AS id, v.version AS version FROM {source} "  # noqa: S608
                        "WHERE v.model_id = ? ORDER BY t.id DESC LIMIT ?", [model_id, limit]).fetchall()


def has_table(conn: sqlite3.Connection, table: str) -> bool:
    """Whether the registry holds ``table`` (plugin tables exist once their plugin ran)."""
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        [table]).fetchone() is not None


def _count(store: Store, table: str) -> int:
    with store.read() as conn:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608 (fixed name)


def _loads(text: str | None) -> Any:
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return {}


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


#: C0 control characters (but newline and tab) and DEL -> their visible Unicode pictures.
_CONTROL_PICTURES = {i: 0x2400 + i for i in range(32) if i not in (9, 10)} | {0x7F: 0x2421}


def visible(value: Any) -> Any:
    """``value`` with control characters in its strings shown as symbols (an escape sequence in
    a tag shows as ``␛[31m``, not as nothing): for HTML, where the JSON keeps them as they are."""
    if isinstance(value, str):
        return value.translate(_CONTROL_PICTURES)
    if isinstance(value, dict):
        return {visible(k): visible(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [visible(v) for v in value]
    return value


def clean(value: Any) -> Any:
    """``value`` with non-finite floats as None, so the JSON is JSON (no NaN)."""
    if isinstance(value, float):
        return _finite(value)
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value
