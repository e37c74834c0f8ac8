"""Real servers for zoo-serve's tests: ``zoo serve`` started as a subprocess on a free loopback
port against a registry of two small scikit-learn versions, called over real HTTP."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

FEATURES = ["x0", "x1", "x2", "x3"]


def frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Rows of four features and a 0/1 label that depends on two of them."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.7, size=n) > 0).astype(int)
    df = pd.DataFrame(X, columns=FEATURES)
    df["label"] = y
    return df


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry file with ``churn:1`` (strongly regularised, alias champion) and ``churn:2``;
    tests copy it (``registry_copy``) so none sees another's changes."""
    from zoo import Registry, train_and_register

    path = tmp_path_factory.mktemp("trained") / "trained.db"
    with Registry(path) as registry:
        df = frame()
        for c in (0.01, 10.0):
            train_and_register(registry, "sklearn.logistic_regression", df, "label", name="churn",
                               params={"C": c})
        registry.set_alias("churn", "champion", 1)
    return path


@pytest.fixture
def registry_copy(trained: Path, tmp_path: Path) -> Path:
    """A private copy of the trained registry (file and artifacts)."""
    return copy_registry(trained, tmp_path / "reg")


def copy_registry(source: Path, directory: Path) -> Path:
    from zoo import Registry

    directory.mkdir(parents=True, exist_ok=True)
    dest = directory / source.name
    with Registry(source) as registry:
        registry.backup(dest)
    artifacts = source.parent / f"{source.stem}-artifacts"
    if not (directory / artifacts.name).exists():
        shutil.copytree(artifacts, directory / artifacts.name)
    return dest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """A running ``zoo serve`` process: ``url``, ``call(...)`` and ``stop()``."""

    def __init__(self, registry: Path, *args: str, token: str | None = None,
                 env: dict[str, str] | None = None, prefix: list[str] | None = None) -> None:
        self.port = free_port()
        self.registry = registry
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = token
        full_env = {**os.environ, "ZOO_REGISTRY": str(registry), "OMP_WAIT_POLICY": "PASSIVE",
                    **(env or {})}
        if token:
            full_env["ZOO_SERVE_TOKEN"] = token
        self.log = registry.parent.parent / f"serve-{self.port}.log"
        command = [sys.executable, "-m", "zoo", "serve", *args, "--port", str(self.port)]
        self.proc = subprocess.Popen([*(prefix or []), *command], env=full_env,
                                     stdout=subprocess.DEVNULL, stderr=self.log.open("w"))
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"zoo serve exited {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                if self.call("GET", "/health")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError(f"zoo serve did not start:\n{self.log.read_text()}")

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
             raw: bytes | None = None, content_type: str = "application/json",
             token: bool = True) -> tuple[int, Any]:
        """``(status, parsed JSON or text)`` of one request."""
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", content_type)
        if token and self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, text = response.status, response.read()
                kind = response.headers.get("content-type", "")
        except urllib.error.HTTPError as exc:
            status, text, kind = exc.code, exc.read(), exc.headers.get("content-type", "")
        return status, json.loads(text) if "json" in kind else text.decode()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, trained: Path) -> Served:
    """One server for the tests that only read: churn@champion and churn:2, with a token."""
    registry = copy_registry(trained, tmp_path_factory.mktemp("served"))
    served = Served(registry, "churn@champion", "churn:2", token="s3cret")
    yield served
    served.stop()


@pytest.fixture(scope="session")
def make_frame():
    """``make_frame(n, seed)``: rows of the four features and the label."""
    return frame


@pytest.fixture(scope="session")
def copy_of():
    """``copy_of(registry, directory)``: a copy of a registry file and its artifacts."""
    return copy_registry


@pytest.fixture
def start(registry_copy: Path):
    """``start(*args, registry=None, **options)``: a server of its own for one test."""
    running: list[Served] = []

    def run(*args: str, registry: Path | None = None, **options: Any) -> Served:
        served = Served(registry or registry_copy, *args, **options)
        running.append(served)
        return served

    yield run
    for served in running:
        served.stop(signal.SIGKILL)
