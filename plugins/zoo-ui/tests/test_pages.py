"""Every zoo page and its JSON twin, served by a real `zoo ui` on a registry made by the real
commands; pagination; artifacts; errors; and the registry left untouched."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from zoo_ui.pages import ReadOnlyStore, model_page, models_page
from zootest import one_line_error, zoo

from zoo import ZooError


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_models_page(ui_server, get, get_json):
    status, kind, body = get(ui_server + "/zoo")
    assert status == 200 and kind.startswith("text/html")
    html = body.decode()
    assert 'href="/zoo/models/churn"' in html and "champion → " in html
    status, data = get_json(ui_server + "/zoo")
    churn = next(m for m in data["models"] if m["name"] == "churn")
    assert churn["versions"] == 3 and churn["latest"] == 3 and churn["aliases"] == {"champion": 2}
    assert churn["metric"]["key"] == "roc_auc" and churn["metric"]["version"] == 2
    assert churn["health"]["severity"] in ("LOW", "MEDIUM", "HIGH", "CRITICAL")  # zoo monitor's alert
    assert {m["name"] for m in data["models"]} == {"churn", "hostile"}


def test_models_filter_uses_the_where_language(ui_server, get, get_json):
    _, data = get_json(ui_server + "/zoo?where=tags.team+%3D+%27growth%27")
    assert [m["name"] for m in data["models"]] == ["churn"]
    _, data = get_json(ui_server + "/zoo?q=HOST")
    assert [m["name"] for m in data["models"]] == ["hostile"]
    status, kind, body = get(ui_server + "/zoo?where=metrics.auc+%3E%3E+1")
    assert status == 400 and b"where" in body


def test_model_page(ui_server, get, get_json):
    status, _, body = get(ui_server + "/zoo/models/churn?order=-metrics.roc_auc")
    assert status == 200
    html = body.decode()
    assert "Alias timeline" in html and "Audit log" in html and "roc_auc ▼" in html
    _, data = get_json(ui_server + "/zoo/models/churn")
    assert [v["version"] for v in data["versions"]] == [3, 2, 1]
    assert data["alias_timeline"][0] == {**data["alias_timeline"][0], "alias": "champion",
                                         "from_version": None, "to_version": 2}
    assert [a["action"] for a in data["audit"]][-1] == "register"
    assert "roc_auc" in data["metric_keys"]


def test_version_page(ui_server, get, get_json):
    status, _, body = get(ui_server + "/zoo/models/churn/2")
    html = body.decode()
    assert status == 200
    assert "zoo predict churn:2 DATA.csv -o predictions.csv" in html
    assert 'src="/zoo/models/churn/2/files/roc_curve.png"' in html
    assert 'href="/zoo/models/churn/3"' in html  # the calibrated child
    _, data = get_json(ui_server + "/zoo/models/churn/2")
    roc = next(m for m in data["metrics"] if m["key"] == "roc_auc")
    assert roc["low"] <= roc["value"] <= roc["high"]  # from evaluation.json
    assert data["interval_level"] == 0.95
    assert data["schema"]["features"] == ["x0", "x1", "x2"] and data["schema"]["target"] == "label"
    assert {"roc_curve.png", "confusion_matrix.png"} <= set(data["plots"])
    assert data["children"][0]["ref"] == "churn:3"
    _, child = get_json(ui_server + "/zoo/models/churn/3")
    assert child["parents"][0]["ref"] == "churn:2"
    # An alias link follows the alias to the version it names now.
    _, follow = get_json(ui_server + "/zoo/models/churn@champion")
    assert follow["ref"] == "churn:2"


def test_artifacts_are_served_verified_with_their_type(ui_server, ui_registry, get):
    status, kind, body = get(ui_server + "/zoo/models/churn/2/files/roc_curve.png")
    assert status == 200 and kind == "image/png" and body[:8] == b"\x89PNG\r\n\x1a\n"
    with ReadOnlyStore(ui_registry) as store:
        assert hashlib.sha256(body).hexdigest() == store.get("churn:2")["artifacts"]["roc_curve.png"]
    status, kind, body = get(ui_server + "/zoo/models/churn/2/files/evaluation.json")
    assert kind == "application/json" and "metrics" in json.loads(body)
    status, _, _ = get(ui_server + "/zoo/models/churn/2/files/missing.png")
    assert status == 404


def test_compare_page(ui_server, get, get_json):
    status, _, body = get(ui_server + "/zoo/compare?a=churn:1&b=churn:2")
    assert status == 200 and b"difference" in body
    _, data = get_json(ui_server + "/zoo/compare?a=churn:1&b=churn@champion")
    assert data["b"]["ref"] == "churn:2"
    roc = next(m for m in data["metrics"] if m["key"] == "roc_auc")
    assert roc["diff"] == pytest.approx(roc["b"] - roc["a"])
    assert roc["low"] < roc["diff"] < roc["high"]
    assert {"name": "roc_curve.png", "a": True, "b": True} in data["plots"]
    status, _, body = get(ui_server + "/zoo/compare?a=churn:1")
    assert status == 400


def test_monitoring_page(ui_server, get, get_json):
    status, _, body = get(ui_server + "/zoo/models/churn/monitoring")
    assert status == 200 and b"zoo-spec" in body  # charts
    _, data = get_json(ui_server + "/zoo/models/churn/monitoring")
    # Two zoo predict runs on the champion, plus the batches zoo monitor and zoo ab scored.
    assert sum(1 for b in data["batches"] if b["source"] == "zoo predict") >= 2
    assert data["alerts"] and data["health"] and 0 <= data["health"][0]["health"] <= 100
    assert data["drift"]


def test_ab_pages(ui_server, get, get_json):
    status, _, body = get(ui_server + "/zoo/ab")
    assert status == 200 and b'href="/zoo/ab/trial"' in body
    status, _, body = get(ui_server + "/zoo/ab/trial")
    assert status == 200 and b"Recommendation" in body
    _, data = get_json(ui_server + "/zoo/ab/trial")
    assert [a["arm"] for a in data["arms"]] == ["A", "B"] and data["control"] == "A"
    assert sum(a["n"] for a in data["arms"]) == 200 and data["outcome"] == "binary"
    for arm in data["arms"]:
        assert 0 <= arm["low"] <= arm["mean"] <= arm["high"] <= 1
    assert data["comparisons"][0]["low"] < data["comparisons"][0]["diff"] < data["comparisons"][0]["high"]
    assert data["recommendation"].split()[0] in ("promote", "keep")


@pytest.mark.parametrize("path, status", [
    ("/zoo/models/nope", 404), ("/zoo/models/churn/99", 404), ("/zoo/ab/nope", 404),
    ("/zoo/models/churn?order=params.C", 400), ("/zoo/models/churn?cursor=%5B1", 400),
    ("/zoo/compare?a=churn:1&b=churn:77", 404), ("/zoo/models/churn@nope", 404),
])
def test_errors_are_one_line_pages(ui_server, get, get_json, path, status):
    got, kind, body = get(ui_server + path)
    assert got == status and kind.startswith("text/html") and b"Traceback" not in body
    got, data = get_json(ui_server + path)
    assert got == status and data["ok"] is False and "\n" not in data["error"]


@pytest.mark.parametrize("large_model", [10_000, 0], ids=["sorted-plainly", "index-walk"])
def test_pages_walk_every_version_a_page_at_a_time(ui_registry, monkeypatch, large_model):
    """Keyset pages, one version each, give exactly the registry's own order for each sort,
    whether a metric sort walks the metric's index first (large models) or not."""
    from zoo_ui import pages

    monkeypatch.setattr(pages, "LARGE_MODEL", large_model)
    with ReadOnlyStore(ui_registry) as store:
        for order in ("-version", "version", "-metrics.roc_auc", "metrics.brier", "-created_at"):
            expected = [v["version"] for v in store.versions("churn", order_by=order)]
            seen, cursor = [], ""
            for _ in range(10):
                page = model_page(store, "churn", order=order, cursor=cursor, limit=1)
                seen += [v["version"] for v in page["versions"]]
                cursor = page["next"]
                if not cursor:
                    break
            assert seen == expected, order
        first = models_page(store, limit=1)
        assert [m["name"] for m in first["models"]] == ["churn"] and first["next"] == "churn"
        assert [m["name"] for m in models_page(store, after="churn", limit=1)["models"]] == ["hostile"]


def test_the_registry_is_never_written(ui_server, ui_registry, get):
    """Serving every page (and Datasette's own SQL) leaves the file as it was; Datasette's
    write connection is read-only too."""
    before = _digest(ui_registry)
    for path in ("/zoo", "/zoo/models/churn", "/zoo/models/churn/2", "/zoo/models/churn/monitoring",
                 "/zoo/compare?a=churn:1&b=churn:2", "/zoo/ab", "/zoo/ab/trial", "/registry/models",
                 "/registry.json?sql=insert+into+audit+(at,action)+values+(1,2)"):
        get(ui_server + path)
    status, _, body = get(ui_server + "/registry.json?sql=delete+from+models")
    assert status >= 400 or b'"ok": false' in body
    assert _digest(ui_registry) == before
    with sqlite3.connect(ui_registry) as conn:
        assert conn.execute("SELECT COUNT(*) FROM models").fetchone()[0] == 2


def test_datasette_write_connection_is_read_only(ui_registry):
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from zoo_ui.app import DATABASE, make_app

    ds = make_app(ui_registry)
    db = ds.get_database(DATABASE)

    async def write() -> None:
        await db.execute_write("DELETE FROM models")

    # mode=ro itself, not only query_only (which any connection can switch off).
    conn = db.connect(write=True)
    conn.execute("PRAGMA query_only = OFF")
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        conn.execute("DELETE FROM models")
    conn.close()
    # In a thread of its own: Playwright's sync API (the browser test) keeps a loop running here.
    with ThreadPoolExecutor(1) as pool, pytest.raises(sqlite3.OperationalError, match="readonly"):
        pool.submit(asyncio.run, write()).result()
    with ReadOnlyStore(ui_registry) as store:
        with pytest.raises((ZooError, sqlite3.OperationalError), match="read-?only"):
            store.write(lambda conn: conn.execute("DELETE FROM models"))
        with pytest.raises(sqlite3.OperationalError, match="readonly"), store.read() as conn:
            conn.execute("DELETE FROM models")


def test_zoo_ui_without_a_registry_is_one_line_error(tmp_path):
    missing = tmp_path / "nothing.db"
    line = one_line_error(zoo("--registry", missing, "ui", "--port", "0", ok=False))
    assert "no registry at" in line and "--registry" in line
    assert not missing.exists()
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    line = one_line_error(zoo("--registry", tmp_path / "junk.db", "ui", "--port", "0", ok=False))
    assert "not a usable zoo registry" in line


def test_zoo_ui_on_a_busy_port_is_one_line_error(ui_registry):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = one_line_error(zoo("--registry", ui_registry, "ui", "--port", port, ok=False))
    assert f"127.0.0.1:{port}" in line and "--port" in line


def test_plain_datasette_gets_the_zoo_pages(ui_registry):
    """The plugin's `datasette` entry point: `datasette registry.db` serves /zoo as well, and
    Datasette's write actions are refused there too."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from datasette.app import Datasette

    async def visit() -> tuple:
        ds = Datasette(files=[str(ui_registry)])
        page = await ds.client.get("/zoo/models/churn?_format=json")
        html = await ds.client.get("/zoo/models/churn/2")
        plugins = await ds.client.get("/-/plugins.json")
        allowed = await ds.permission_allowed(None, "insert-row", default=True)
        return page.status_code, len(page.json()["versions"]), html, allowed, plugins.json()

    with ThreadPoolExecutor(1) as pool:
        status, versions, html, allowed, plugins = pool.submit(asyncio.run, visit()).result()
    assert (status, versions, allowed) == (200, 3, False)
    assert html.status_code == 200 and "zoo predict churn:2" in html.text
    assert "zoo-ui" in {p["name"] for p in plugins}


def test_a_live_registry_shows_new_versions(tmp_path):
    """Not Datasette's immutable mode: a version registered while the app runs shows up on
    the next request (each page reads in a fresh transaction of the WAL file)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    import pandas as pd
    from zoo_ui.app import make_app

    from zoo import Registry, build_catalogue

    X, y = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]}), pd.Series([0, 1, 0, 1])
    info = build_catalogue().get("zoo.baseline_classifier")
    registry = Registry(tmp_path / "live.db")
    registry.register("live", info.create().fit(X, y))
    ds = make_app(registry.path)

    async def versions() -> list[int]:
        response = await ds.client.get("/zoo/models/live?_format=json")
        return [v["version"] for v in response.json()["versions"]]

    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(asyncio.run, versions()).result() == [1]
        registry.register("live", info.create().fit(X, y), metrics={"accuracy": 0.5})
        assert pool.submit(asyncio.run, versions()).result() == [2, 1]
    registry.close()
