"""One registry made by the real commands (zoo train, calibrate, predict, monitor, ab), built
once per session, and one real `zoo ui` server on it on a free loopback port."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from zootest import zoo

#: Strings that would run or restyle something if a page rendered them as HTML, plus
#: control characters and rich markup.
HOSTILE = {
    "script": "<script>alert('xss')</script>",
    "attribute": '"><img src=x onerror=alert(1)>',
    "markup": "[bold red]rich[/] **md** <b>bold</b> {{ 7*7 }}",
    "control": "bell\x07escape\x1b[31mred\x1b[0m",
}
#: A CSV column name that breaks out of an attribute and opens a tag.
HOSTILE_COLUMN = "x3'\"><svg onload=alert(2)>"
#: A class label that closes the <script> element holding a chart's data.
HOSTILE_LABEL = "</script><script>alert(3)</script>"


def _frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)) + shift
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.7, size=n) > shift * 1.5).astype(int)
    return pd.DataFrame({"customer_id": np.arange(n), "x0": x[:, 0], "x1": x[:, 1], "x2": x[:, 2],
                         "label": y})


@pytest.fixture(scope="session")
def ui_registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``churn`` (3 versions: logistic regression, random forest, a calibrated child; champion
    = 2; batches, alerts), experiment ``trial`` (A=churn:1, B=churn:2, with outcomes) and
    ``hostile`` (tags, description and a CSV column made of HOSTILE strings)."""
    work = tmp_path_factory.mktemp("ui")
    reg = work / "registry.db"
    train, holdout, drifted = work / "train.csv", work / "holdout.csv", work / "drifted.csv"
    _frame(300, 0).to_csv(train, index=False)
    _frame(200, 1).to_csv(holdout, index=False)
    _frame(200, 2, shift=2.5).to_csv(drifted, index=False)
    r = ["--registry", reg]
    zoo(*r, "train", "sklearn.logistic_regression", train, "--target", "label", "--drop", "customer_id",
        "--name", "churn", "--tag", "team=growth")
    zoo(*r, "train", "sklearn.random_forest_classifier", train, "--target", "label", "--drop",
        "customer_id", "--name", "churn", "--param", "n_estimators=20")
    zoo(*r, "alias", "churn", "2", "champion")
    zoo(*r, "predict", "churn@champion", holdout, "-o", work / "scored.csv")
    zoo(*r, "predict", "churn@champion", drifted, "-o", work / "scored2.csv")
    assert zoo(*r, "monitor", "churn@champion", drifted, "--target", "label", ok=False).exit_code in (0, 3)
    zoo(*r, "calibrate", "churn@champion", holdout, "--target", "label", "--force")
    zoo(*r, "ab", "start", "trial", "--arm", "A=churn:1", "--arm", "B=churn:2", "--id-column",
        "customer_id")
    zoo(*r, "ab", "predict", "trial", holdout, "-o", work / "ab.csv")
    outcomes = _frame(200, 1)[["customer_id", "label"]].rename(columns={"label": "converted"})
    outcomes.to_csv(work / "outcomes.csv", index=False)
    zoo(*r, "ab", "record", "trial", work / "outcomes.csv", "--id-column", "customer_id",
        "--value-column", "converted")
    hostile = _frame(120, 3).rename(columns={"x2": HOSTILE_COLUMN})
    hostile["label"] = hostile["label"].map({0: "ok", 1: HOSTILE_LABEL})
    hostile.to_csv(work / "hostile.csv", index=False)
    zoo(*r, "train", "sklearn.logistic_regression", work / "hostile.csv", "--target", "label",
        "--drop", "customer_id", "--name", "hostile", "--description", "\n".join(HOSTILE.values()),
        *[a for k, v in HOSTILE.items() for a in ("--tag", f"{k}={v}")])
    zoo(*r, "tag", "hostile", f"intended_use={HOSTILE['script']}")
    zoo(*r, "predict", "hostile", work / "hostile.csv", "-o", work / "hostile-scored.csv")
    return reg


@pytest.fixture(scope="session")
def ui_server(ui_registry: Path) -> Any:
    """``zoo ui --port 0`` on the session registry; yields its base URL (http://127.0.0.1:N)."""
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    proc = subprocess.Popen([sys.executable, "-m", "zoo", "--registry", str(ui_registry), "ui",
                             "--port", "0"], stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stderr.readline()
        assert line.startswith("zoo ui: http://127.0.0.1:"), line + proc.stderr.read()
        base = line.split()[2].removesuffix("/zoo")
        # Keep reading stderr (a server error's traceback) so the pipe never fills and blocks it.
        log: list[str] = []
        threading.Thread(target=lambda: log.extend(proc.stderr), daemon=True).start()
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(base + "/zoo/ab", timeout=5).read()
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _get(url: str) -> tuple[int, str, bytes]:
    """Status, content type and body of a GET, errors included."""
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read()


def _get_json(url: str) -> Any:
    status, kind, body = _get(url + ("&" if "?" in url else "?") + "_format=json")
    assert kind.startswith("application/json"), (status, kind, body[:300])
    return status, json.loads(body)


@pytest.fixture(scope="session")
def get() -> Any:
    """``get(url)`` -> (status, content type, body bytes), HTTP errors included."""
    return _get


@pytest.fixture(scope="session")
def get_json() -> Any:
    """``get_json(url)`` -> (status, parsed JSON) of the page's ``?_format=json`` twin."""
    return _get_json


@pytest.fixture(scope="session")
def hostile() -> dict[str, str]:
    """The hostile strings the ``hostile`` model carries (and its hostile column under "column")."""
    return {**HOSTILE, "column": HOSTILE_COLUMN, "label": HOSTILE_LABEL}
