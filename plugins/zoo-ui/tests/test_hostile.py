"""Hostile strings (in tags, a description, a CSV column name and class labels, all put there
by the real commands) render as text on every page that shows them, never as HTML."""

from __future__ import annotations

import json
import re

import pytest
from markupsafe import escape

PAGES = ["/zoo", "/zoo/models/hostile", "/zoo/models/hostile/1", "/zoo/compare?a=churn:1&b=hostile:1",
         "/zoo/models/hostile/monitoring"]


def _pictured(text: str) -> str:
    """How a page shows control characters: as their Unicode pictures."""
    return "".join(chr(0x2400 + ord(c)) if ord(c) < 32 and c not in "\t\n" else c for c in text)


@pytest.fixture(scope="module")
def pages(ui_server, get) -> dict[str, str]:
    out = {}
    for path in PAGES:
        status, kind, body = get(ui_server + path)
        assert status == 200 and kind.startswith("text/html"), (path, status, body[:300])
        out[path] = body.decode()
    return out


def test_no_hostile_string_reaches_the_page_as_markup(pages, hostile):
    for path, html in pages.items():
        for name, text in hostile.items():
            if any(c in text for c in "<>\""):
                assert text not in html, (path, name)
        # The only tags that can run anything are ours.
        assert not re.search(r"<img[^>]*onerror", html, re.I), path
        assert not re.search(r"<svg[^>]*onload", html, re.I), path
        scripts = re.findall(r"<script\b[^>]*>", html)
        assert all('type="application/json"' in s or 'src="/zoo/-/' in s for s in scripts), (path, scripts)


def test_hostile_strings_are_shown_as_text(pages, hostile):
    version = pages["/zoo/models/hostile/1"]
    for name in ("script", "attribute", "markup"):
        assert str(escape(hostile[name])) in version, name  # tags and description
    assert str(escape(hostile["column"])) in version  # the CSV column in the schema
    assert "{{ 7*7 }}" in version  # no template ran on it
    # Control characters show as symbols: an escape sequence cannot restyle a terminal
    # that copies the page, nor vanish from view.
    assert str(escape(_pictured(hostile["control"]))) in version
    assert "\x1b" not in version and "\x07" not in version
    assert str(escape(hostile["script"])) in pages["/zoo/models/hostile"]  # the version tags column


def test_chart_data_cannot_close_its_script_element(pages, hostile, ui_server, get_json):
    monitoring = pages["/zoo/models/hostile/monitoring"]
    blocks = re.findall(r'<script type="application/json" class="zoo-spec"[^>]*>(.*?)</script>',
                        monitoring, re.S)
    assert blocks
    labels = set()
    for block in blocks:
        assert "<" not in block  # tojson writes < as \u003c
        spec = json.loads(block)
        labels |= {v.get("label") for v in spec["data"]["values"]}
    assert hostile["label"] in labels  # the class label is in the chart, intact, as data
    _, data = get_json(ui_server + "/zoo/models/hostile/monitoring")
    assert hostile["label"] in data["batches"][0]["prediction"]["labels"]


def test_echoed_input_is_escaped(ui_server, get, hostile):
    from urllib.parse import quote

    status, _, body = get(ui_server + "/zoo?q=" + quote(hostile["attribute"]))
    assert status == 200 and hostile["attribute"].encode() not in body
    assert str(escape(hostile["attribute"])).encode() in body
    status, _, body = get(ui_server + "/zoo?where=" + quote("tags.x = " + hostile["script"]))
    assert status == 400 and hostile["script"].encode() not in body


def test_json_keeps_the_strings_as_they_are(ui_server, get_json, hostile):
    _, data = get_json(ui_server + "/zoo/models/hostile/1")
    assert data["tags"]["control"] == hostile["control"]  # JSON escapes, it does not rewrite
    assert data["tags"]["script"] == hostile["script"]
    assert hostile["column"] in data["schema"]["features"]
