"""zoo serve under load: an alias moved (and rolled back) by another process while clients
keep calling, SIGTERM in the middle of a micro-batched load from ``hey``, and a model that
raises on some rows."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import threading
import time

import pytest

from zoo import Registry

FEATURES = ["x0", "x1", "x2", "x3"]
BODY = json.dumps({f: 0.25 for f in FEATURES}).encode()


def hey(url: str, *args: str, token: str | None = None) -> str:
    if shutil.which("hey") is None:
        pytest.skip("hey (the HTTP load generator, Debian package 'hey') is not installed")
    auth = ["-H", f"Authorization: Bearer {token}"] if token else []
    proc = subprocess.run(["hey", *args, *auth, "-m", "POST", "-T", "application/json", "-d",
                           BODY.decode(), url], capture_output=True, text=True, timeout=120)
    return proc.stdout + proc.stderr


def status_counts(report: str) -> dict[int, int]:
    return {int(code): int(n) for code, n in re.findall(r"\[(\d{3})\]\s+(\d+) responses", report)}


@pytest.mark.slow
def test_an_alias_moved_under_load_fails_no_request(start, registry_copy, run_zoo):
    import httpx

    served = start("churn@champion", "--poll", "0.2")
    seen: list[list[int]] = [[] for _ in range(4)]
    failures: list[str] = []
    stop = threading.Event()

    def client(k: int) -> None:
        with httpx.Client(base_url=served.url, timeout=30) as http:
            while not stop.is_set():
                try:
                    response = http.post("/v1/models/churn/predict", content=BODY,
                                         headers={"content-type": "application/json"})
                    if response.status_code != 200:
                        failures.append(f"{response.status_code} {response.text[:200]}")
                    else:
                        seen[k].append(response.json()["version"])
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))

    def total() -> int:
        return sum(len(s) for s in seen)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    try:
        env = {"ZOO_REGISTRY": str(registry_copy)}
        for version, wait_for in (("2", 250), ("1", 600)):  # promote, then roll back
            while total() < wait_for and not failures:
                time.sleep(0.05)
            run_zoo("alias", "churn", version, "champion", env=env, check=True)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not any(s and s[-1] == int(version) for s in seen):
                time.sleep(0.05)
        while total() < 1000 and not failures:
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == []
    assert total() >= 1000
    for versions in seen:
        # Each client saw 1, then 2, then 1 again, never going back mid-way: a clean swap.
        changes = [v for i, v in enumerate(versions) if i == 0 or v != versions[i - 1]]
        assert changes == [1, 2, 1], changes
    status, ready = served.call("GET", "/ready")
    assert ready["models"]["churn@champion"]["serving"] == "churn:1"


@pytest.mark.slow
def test_sigterm_during_load_finishes_in_flight_requests_and_reports_them(start, registry_copy):
    from zoo_monitor.store import batches

    served = start("churn@champion")
    url = f"{served.url}/v1/models/churn/predict"
    result: dict[str, str] = {}
    load = threading.Thread(target=lambda: result.update(out=hey(url, "-n", "100000", "-c", "16")))
    load.start()
    time.sleep(3)
    status, text = served.call("GET", "/metrics")
    scored = re.search(r'zoo_serve_rows_total\{model="churn",version="1"\} (\d+)', text)
    calls = re.search(r'zoo_serve_batches_total\{model="churn",version="1"\} (\d+)', text)
    served.proc.send_signal(signal.SIGTERM)
    code = served.proc.wait(timeout=30)
    load.join(timeout=120)
    report = result["out"]
    assert code == 0, served.log.read_text()
    counts = status_counts(report)
    assert set(counts) == {200}, report  # no 5xx: what was in flight finished
    assert "Stopped on SIGTERM" in served.log.read_text()
    with Registry(registry_copy) as registry:
        reported = sum(b["rows"] for b in batches(registry, "churn:1", limit=10_000))
    assert reported == counts[200]  # the last batches were reported on the way out
    # Micro-batching: 16 concurrent clients shared scoring calls.
    assert int(calls.group(1)) < int(scored.group(1))


@pytest.mark.slow
def test_a_model_that_raises_fails_only_its_requests(start, tmp_path, registry_copy, pip_install_target,
                                                     add_plugin):
    """A real plugin (installed with pip into a folder on the server's path) whose model raises
    on rows with x0 == 13: those requests get a 500 naming the version; others, to the same
    model in the same batch and to another model, are served."""
    plugin = tmp_path / "zoo-flaky"
    (plugin / "zoo_flaky").mkdir(parents=True)
    (plugin / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "zoo-flaky"\nversion = "0.0.1"\n'
        '[project.entry-points.zoo]\nflaky = "zoo_flaky"\n')
    (plugin / "zoo_flaky" / "__init__.py").write_text(FLAKY)
    target = tmp_path / "site"
    pip_install_target(plugin, target)
    import sys

    sys.path.insert(0, str(target))
    try:
        import pandas as pd
        import zoo_flaky

        add_plugin(zoo_flaky, "flaky")
        with Registry(registry_copy) as registry:
            X = pd.DataFrame({f: [0.0, 1.0] for f in FEATURES})
            registry.register("flaky", zoo_flaky.Flaky().fit(X, pd.Series([0.0, 1.0])))
    finally:
        sys.path.remove(str(target))
        sys.modules.pop("zoo_flaky", None)
    served = start("flaky", "churn@champion", env={"PYTHONPATH": str(target)})
    bad = {**{f: 0.0 for f in FEATURES}, "x0": 13.0}
    status, answer = served.call("POST", "/v1/models/flaky/predict", bad)
    assert status == 500 and "flaky:1 failed to score" in answer["error"]["message"]
    assert "Traceback" not in answer["error"]["message"]
    status, answer = served.call("POST", "/v1/models/flaky/predict", {f: 0.0 for f in FEATURES})
    assert status == 200 and answer["predictions"] == [0.0]
    assert served.call("POST", "/v1/models/churn/predict", bad)[0] == 200
    # In one micro-batch: the raising request fails alone.
    import httpx

    async def both() -> list[int]:
        import asyncio

        async with httpx.AsyncClient(base_url=served.url, timeout=30) as http:
            calls = [http.post("/v1/models/flaky/predict", json=body)
                     for body in (bad, {f: 0.0 for f in FEATURES}) * 8]
            return [r.status_code for r in await asyncio.gather(*calls)]

    import asyncio

    assert asyncio.run(both()) == [500, 200] * 8
    assert served.proc.poll() is None


FLAKY = '''
"""A throwaway predictor for zoo-serve's tests: predicts x0, raises on x0 == 13."""
import json
from zoo import BaseMLModel, hookimpl


class Flaky(BaseMLModel):
    component = "flaky.regressor"
    task = "regression"
    artifact_format = "json"

    def _fit(self, X, y):
        self.fitted_ = True

    def _predict(self, X):
        if (X["x0"] == 13).any():
            raise RuntimeError("thirteen is unlucky")
        return X["x0"].to_numpy()

    def save(self, path):
        with open(path, "w") as f:
            json.dump({"flaky": 1}, f)

    @classmethod
    def load(cls, path, metadata=None):
        model = cls()
        model.fitted_ = True
        return model


@hookimpl
def register_predictors(register):
    register(Flaky)
'''
