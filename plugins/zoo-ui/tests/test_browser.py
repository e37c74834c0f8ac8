"""Every zoo page in a real browser (headless Chromium driven by Playwright): no JavaScript
console error, no broken image, every chart drawn, no hostile string run; a PNG screenshot
of each page is saved under the test's output folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PAGES = {
    "models": "/zoo",
    "models-filtered": "/zoo?where=metrics.roc_auc+%3E+0.5",
    "model": "/zoo/models/churn",
    "model-by-metric": "/zoo/models/churn?order=-metrics.roc_auc",
    "version": "/zoo/models/churn/2",
    "calibrated-version": "/zoo/models/churn/3",
    "compare": "/zoo/compare?a=churn:1&b=churn:2",
    "monitoring": "/zoo/models/churn/monitoring",
    "experiments": "/zoo/ab",
    "experiment": "/zoo/ab/trial",
    "hostile-model": "/zoo/models/hostile",
    "hostile-version": "/zoo/models/hostile/1",
    "hostile-monitoring": "/zoo/models/hostile/monitoring",
    "not-found": "/zoo/models/nope",
}


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the browser test needs the playwright package: pip install playwright")
    if not Path(CHROMIUM).exists():
        pytest.skip("the browser test needs Chromium at /usr/bin/chromium (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


@pytest.mark.slow
def test_every_page_in_a_browser(browser, ui_server, tmp_path, hostile):
    import urllib.request

    # The chart script is built once per machine (seconds; cached after): not the pages' wait.
    assert len(urllib.request.urlopen(ui_server + "/zoo/-/vega.js", timeout=240).read()) > 100_000
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    dialogs: list[str] = []
    page.on("console", lambda m: m.type == "error" and problems.append(f"console error: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    for name, path in PAGES.items():
        problems.clear()
        response = page.goto(ui_server + path)
        assert response is not None and response.status == (404 if name == "not-found" else 200), name
        expected_charts = page.locator("script.zoo-spec").count()
        if expected_charts:
            # Each chart is drawn as an SVG inside its container by vega-embed.
            page.wait_for_function(
                f"document.querySelectorAll('.zoo-chart svg.marks').length >= {expected_charts}",
                timeout=20_000)
        page.wait_for_load_state("networkidle")
        broken = page.evaluate("Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)"
                               ".map(i => i.src)")
        shot = tmp_path / f"{name}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 1000
        if name == "not-found":  # the 404 itself is logged as a failed resource load
            problems = [p for p in problems if "404" not in p]
        assert not problems, (name, problems)
        assert not broken, (name, broken)
    assert not dialogs, dialogs
    page.goto(ui_server + PAGES["hostile-version"])
    for key in ("script", "attribute"):
        assert page.get_by_text(hostile[key], exact=False).count() >= 1, key
    assert page.locator("img[src='x'], svg[onload]").count() == 0
    print(f"screenshots in {tmp_path}")
