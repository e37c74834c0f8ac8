"""zoo serve against `mlflow models serve --env-manager local`, in one run, interleaved.

The same two models (a scikit-learn logistic-regression pipeline and a 200-tree XGBoost
classifier, 20 features) are served by zoo (micro-batching off and on, monitoring on, and
batching off with monitoring off) and by MLflow (one server per model: FastAPI/uvicorn, one
worker). ``hey``, a compiled load generator, sends a fixed number of one-row JSON requests
at concurrency 1, 16 and 64; every configuration is measured in turn, round after round,
and the medians of the rounds are compared. Then the in-process single-row cost of a model
from ``Registry.load`` (monitoring on) against the raw library call.

MLflow lives in its own virtualenv so it never changes zoo's: $ZOO_BENCH_MLFLOW (the
``mlflow`` executable) or ``.venv-bench/bin/mlflow`` (make it with
``python -m venv .venv-bench && .venv-bench/bin/pip install mlflow scikit-learn xgboost``,
the versions of .venv); without it the MLflow rows are skipped and said to be.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/serve.py [--rounds 3] [--requests 2000] \\
        [--mlflow-requests 200]

On a shared 2-core machine the server and hey compete for the same cores: absolute numbers
move with the neighbours' load, ratios measured in the same run are what counts.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from timing import paired

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parents[1]
FEATURES = [f"f{i:02d}" for i in range(20)]
CONCURRENCY = (1, 16, 64)
#: zoo configurations: name -> extra `zoo serve` options.
ZOO = {"zoo": ["--max-batch", "1"], "zoo+batch": ["--max-batch", "64", "--max-wait-ms", "2"],
       "zoo-monitor": ["--max-batch", "1", "--no-monitor"]}

MLFLOW_SAVE = """
import pickle, sys
import mlflow, pandas as pd, xgboost as xgb
from mlflow.models import infer_signature
out, lr_pickle, xgb_file, sample = sys.argv[1:5]
X = pd.read_csv(sample)
with open(lr_pickle, "rb") as f:
    lr = pickle.load(f)  # this benchmark's own freshly trained pipeline
mlflow.sklearn.save_model(lr, f"{out}/lr", signature=infer_signature(X, lr.predict(X)),
                          skops_trusted_types=["numpy.dtype"])
booster = xgb.Booster(model_file=xgb_file)
booster.feature_names = list(X.columns)
preds = booster.inplace_predict(X.to_numpy())
mlflow.xgboost.save_model(booster, f"{out}/xgb", signature=infer_signature(X, preds))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians reported)")
    parser.add_argument("--requests", type=int, default=2000, help="requests per zoo run (hey -n)")
    parser.add_argument("--mlflow-requests", type=int, default=256, help="requests per MLflow run")
    parser.add_argument("--skip-http", action="store_true", help="only the in-process measurement")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    hey = shutil.which("hey")
    if hey is None and not args.skip_http:
        sys.exit("hey is not installed (Debian package 'hey'); scripts/system-deps installs it")

    with tempfile.TemporaryDirectory(prefix="zoo-bench-serve-") as tmp:
        work = Path(tmp)
        registry_path, raw = build(work)
        print("== in-process, one row per call (monitoring on: a model from Registry.load) ==")
        in_process = single_row(registry_path, raw)
        if args.skip_http:
            return
        servers: dict[str, tuple[subprocess.Popen, dict[str, str]]] = {}
        try:
            start_servers(work, registry_path, servers)
            results = measure(servers, args, hey)
        finally:  # every server started, also when one of them failed to start
            for proc, _ in servers.values():
                proc.terminate()
            for proc, _ in servers.values():
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        report(results, in_process, servers)


# --- models ---


def build(work: Path) -> tuple[Path, dict[str, object]]:
    """A registry with `lr` and `xgb` versions trained on the same rows; the raw estimators."""
    import numpy as np
    import pandas as pd

    from zoo import Registry, train_and_register

    rng = np.random.default_rng(0)
    X = rng.normal(size=(5000, len(FEATURES)))
    y = (X[:, :5].sum(axis=1) + rng.normal(scale=1.0, size=len(X)) > 0).astype(int)
    df = pd.DataFrame(X, columns=FEATURES)
    df["label"] = y
    path = work / "registry.db"
    raw: dict[str, object] = {}
    with Registry(path) as registry:
        for name, component, params in (("lr", "sklearn.logistic_regression", {}),
                                        ("xgb", "xgboost.classifier", {"n_estimators": 200})):
            _, result = train_and_register(registry, component, df, "label", name=name, params=params)
            raw[name] = result.model
    df[FEATURES].iloc[:1].to_csv(work / "row.csv", index=False)
    return path, raw


def single_row(registry_path: Path, raw: dict[str, object]) -> dict[str, dict[str, float]]:
    """Per call: the raw library, zoo observed (monitoring on) and zoo unobserved."""
    import pandas as pd

    from zoo import Registry

    row = pd.read_csv(registry_path.parent / "row.csv")
    array = row.to_numpy()
    out: dict[str, dict[str, float]] = {}
    loops = 30
    with Registry(registry_path) as registry:
        for name, fitted in raw.items():
            observed = registry.load(name)
            plain = registry.load(name, observed=False)
            if name == "lr":
                estimator = fitted.estimator_

                def library(e=estimator) -> None:
                    for _ in range(loops):
                        e.predict_proba(row)
            else:
                booster = fitted.booster_

                def library(b=booster) -> None:
                    for _ in range(loops):
                        b.inplace_predict(array)

            def zoo_on(m=observed) -> None:
                for _ in range(loops):
                    m.predict_proba(row)

            def zoo_off(m=plain) -> None:
                for _ in range(loops):
                    m.predict_proba(row)

            raw_s, on_s = paired(library, zoo_on, 7)
            raw2_s, off_s = paired(library, zoo_off, 7)
            raw_us, on_us, off_us = (1e6 * s / loops for s in (statistics.mean([raw_s, raw2_s]), on_s, off_s))
            out[name] = {"raw_us": raw_us, "zoo_us": on_us, "zoo_unobserved_us": off_us}
            print(f"{name:4} raw {raw_us:8.1f} µs | zoo (monitoring on) {on_us:8.1f} µs "
                  f"= {on_us / raw_us:.2f}x raw, +{on_us - raw_us:.1f} µs | unobserved {off_us:8.1f} µs")
    return out


# --- servers ---


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mlflow_executable() -> Path | None:
    given = os.environ.get("ZOO_BENCH_MLFLOW")
    path = Path(given) if given else ROOT / ".venv-bench" / "bin" / "mlflow"
    return path if path.exists() else None


def start_servers(work: Path, registry_path: Path,
                  servers: dict[str, tuple[subprocess.Popen, dict[str, str]]]) -> None:
    """Fill ``servers``: name -> (process, {model: predict URL})."""
    for kind in ("zoo", "mlflow"):
        _BODY_FILES[kind] = work / f"{kind}.json"
        _BODY_FILES[kind].write_bytes(body_for(kind, work))
    env = {**os.environ, "ZOO_REGISTRY": str(registry_path), "OMP_WAIT_POLICY": "PASSIVE"}
    for name, options in ZOO.items():
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "zoo", "serve", "lr", "xgb", "--port", str(port),
                                 *options], env=env, stdout=subprocess.DEVNULL,
                                stderr=(work / f"{name}.log").open("w"))
        servers[name] = (proc, {m: f"http://127.0.0.1:{port}/v1/models/{m}/predict" for m in ("lr", "xgb")})
    mlflow = mlflow_executable()
    if mlflow is None:
        print("MLflow is absent (no $ZOO_BENCH_MLFLOW, no .venv-bench/bin/mlflow): MLflow rows skipped")
    else:
        export_for_mlflow(work, registry_path, mlflow)
        for model in ("lr", "xgb"):
            port = free_port()
            proc = subprocess.Popen([str(mlflow), "models", "serve", "-m", str(work / "mlflow" / model),
                                     "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port),
                                     "-w", "1"],
                                    # mlflow runs `uvicorn` from PATH: its own virtualenv's.
                                    env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE",
                                         "PATH": f"{mlflow.parent}{os.pathsep}{os.environ['PATH']}"},
                                    stdout=subprocess.DEVNULL,
                                    stderr=(work / f"mlflow-{model}.log").open("w"))
            servers[f"mlflow-{model}"] = (proc, {model: f"http://127.0.0.1:{port}/invocations"})
    for name, (proc, urls) in servers.items():
        wait_until_up(name, proc, urls, work)


def export_for_mlflow(work: Path, registry_path: Path, mlflow: Path) -> None:
    """The very models zoo serves, saved as MLflow models by MLflow's own virtualenv."""
    from zoo import Registry

    with Registry(registry_path) as registry:
        lr = registry.load("lr", observed=False)
        with open(work / "lr.pkl", "wb") as f:
            pickle.dump(lr.estimator_, f)
        registry.verified_copy(registry.get("xgb"), work / "xgb.ubj")
    script = work / "save_mlflow.py"
    script.write_text(MLFLOW_SAVE)
    proc = subprocess.run([str(mlflow.parent / "python"), str(script), str(work / "mlflow"),
                           str(work / "lr.pkl"), str(work / "xgb.ubj"), str(work / "row.csv")],
                          capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"saving the models for MLflow failed:\n{proc.stderr[-3000:]}")


def wait_until_up(name: str, proc: subprocess.Popen, urls: dict[str, str], work: Path) -> None:
    model, url = next(iter(urls.items()))
    body = body_for(name, work)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = next(work.glob(f"{name}*.log"), None)
            sys.exit(f"{name} exited: {log.read_text()[-2000:] if log else ''}")
        try:
            request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    sys.exit(f"{name} did not start in 180 s")


def body_for(server: str, work: Path) -> bytes:
    import pandas as pd

    record = pd.read_csv(work / "row.csv").iloc[0].to_dict()
    key = "dataframe_records" if server.startswith("mlflow") else "records"
    return json.dumps({key: [record]}).encode()


# --- load ---


def measure(servers: dict, args: argparse.Namespace, hey: str) -> dict[tuple[str, str, int], list[dict]]:
    results: dict[tuple[str, str, int], list[dict]] = {}
    plan = [(name, model, url) for name, (_, urls) in servers.items() for model, url in urls.items()]
    for name, _, url in plan:  # warm up: first calls import and allocate
        run_hey(hey, url, name, 200, 4)
    for round_ in range(args.rounds):
        for c in CONCURRENCY:
            for name, model, url in plan:
                n = args.mlflow_requests if name.startswith("mlflow") else args.requests
                results.setdefault((name, model, c), []).append(run_hey(hey, url, name, max(n, c), c))
        print(f"round {round_ + 1}/{args.rounds} done", flush=True)
    return results


_BODY_FILES: dict[str, Path] = {}


def run_hey(hey: str, url: str, server: str, n: int, c: int) -> dict[str, float]:
    body = _BODY_FILES["mlflow" if server.startswith("mlflow") else "zoo"]
    proc = subprocess.run([hey, "-n", str(n), "-c", str(c), "-m", "POST", "-T", "application/json",
                           "-D", str(body), url], capture_output=True, text=True, timeout=600)
    text = proc.stdout
    codes = {int(k): int(v) for k, v in re.findall(r"\[(\d{3})\]\s+(\d+) responses", text)}

    def number(pattern: str) -> float:
        match = re.search(pattern, text)
        return float(match.group(1)) if match else math.nan

    result = {"rps": number(r"Requests/sec:\s+([\d.]+)"), "p50": number(r"50% in ([\d.]+) secs"),
              "p99": number(r"99% in ([\d.]+) secs"), "ok": codes.get(200, 0), "n": n - n % c}
    if result["ok"] < result["n"]:  # hey sends n // c requests per worker
        print(f"  {server} {url} c{c}: {result['ok']}/{n} answered 200: {text[-600:]!r}")
    return result


# --- report ---


def med(results: dict, key: tuple[str, str, int], field: str) -> float | None:
    runs = results.get(key)
    return statistics.median(r[field] for r in runs) if runs else None


def report(results: dict, in_process: dict, servers: dict) -> None:
    mlflow = any(k.startswith("mlflow") for k in servers)
    print("\n== HTTP, one row per request (medians of the rounds) ==")
    heads = [f"{'c' + str(c) + ' req/s':>11} {'p50 ms':>7} {'p99 ms':>7}" for c in CONCURRENCY]
    print(f"{'server':12} {'model':5} " + " ".join(heads))
    names = [*ZOO, *(("mlflow",) if mlflow else ())]
    for name in names:
        for model in ("lr", "xgb"):
            server = f"mlflow-{model}" if name == "mlflow" else name
            cells = []
            for c in CONCURRENCY:
                key = (server, model, c)
                rps, p50, p99 = (med(results, key, f) for f in ("rps", "p50", "p99"))
                cells.append(f"{rps:11.0f} {1000 * p50:7.2f} {1000 * p99:7.2f}" if rps else " " * 27)
            print(f"{name:12} {model:5} " + " ".join(cells))
    bad = [(k, r["ok"], r["n"]) for k, runs in results.items() for r in runs if r["ok"] != r["n"]]
    if bad:
        print(f"non-200 answers in {len(bad)} runs, e.g. {bad[0]}")
    print("\n== done-when checks ==")
    for model in ("lr", "xgb"):
        zoo16 = med(results, ("zoo", model, 16), "rps")
        batch16 = med(results, ("zoo+batch", model, 16), "rps")
        if mlflow:
            ml16 = med(results, (f"mlflow-{model}", model, 16), "rps")
            check(f"{model}: c16 zoo / mlflow (batching off) >= 10x", zoo16 / ml16, 10)
            check(f"{model}: c16 zoo+batch / mlflow >= 50x", batch16 / ml16, 50)
        for name in ("zoo", "zoo+batch"):
            p50, p99 = med(results, (name, model, 16), "p50"), med(results, (name, model, 16), "p99")
            check(f"{model}: c16 {name} p99 / p50 <= 4", p99 / p50, 4, higher=False)
        raw_ms = in_process[model]["raw_us"] / 1000
        for name in ("zoo", "zoo+batch"):
            p50 = 1000 * med(results, (name, model, 1), "p50")
            check(f"{model}: c1 {name} HTTP p50 - raw predict (ms) <= 1", p50 - raw_ms, 1, higher=False)
        check(f"{model}: c64 batching on / off >= 4x",
              med(results, ("zoo+batch", model, 64), "rps") / med(results, ("zoo", model, 64), "rps"), 4)
        check(f"{model}: c1 p50 cost of batching (ms) <= 0.3",
              1000 * (med(results, ("zoo+batch", model, 1), "p50") - med(results, ("zoo", model, 1), "p50")),
              0.3, higher=False)
        check(f"{model}: c16 throughput monitoring on / off >= 0.9",
              zoo16 / med(results, ("zoo-monitor", model, 16), "rps"), 0.9)
        ip = in_process[model]
        check(f"{model}: in-process zoo <= 1.2x raw + 50 µs (µs over that bound)",
              ip["zoo_us"] - (1.2 * ip["raw_us"] + 50), 0, higher=False)


def check(label: str, value: float, target: float, higher: bool = True) -> None:
    ok = value >= target if higher else value <= target
    print(f"{'PASS' if ok else 'MISS'}  {label}: {value:.2f}")


if __name__ == "__main__":
    main()
