"""Registry at scale, against MLflow's registry measured in the same run.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/scale.py [--versions 100000 --models 1000]

Prints, for a registry the script generates (N versions over M models, each with metrics,
params and a tag): alias lookup, a filtered and sorted search, `zoo models` and
`zoo --help` wall time, registrations per second in one process (identical and distinct
model bytes), peak memory while registering a 1 GB artifact, and the same registration,
alias lookup and load with MLflow's registry (SQLite backend) when `mlflow-skinny` is
installed (`pip install -e '.[bench]'`; a benchmark-only dependency, telemetry off).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import median_time, wall

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

TEAMS = ["growth", "risk", "search", "ads", "fraud", "pricing", "ops", "core", "ml", "data"]
WHERE = "metrics.auc > 0.9 and tags.team = 'growth'"


def small_model(prior: float):
    import numpy as np

    from zoo.default_plugins.baselines import BaselineClassifier

    m = BaselineClassifier()
    m.feature_names_in_ = np.array(["a", "b"], dtype=object)
    m.classes_ = np.array([0, 1])
    m.class_prior_ = np.array([prior, 1 - prior])
    return m


def generate(reg, n_versions: int, n_models: int) -> float:
    """Fill the registry; returns seconds taken."""
    rng = random.Random(0)
    model = small_model(0.5)
    start = time.perf_counter()
    for i in range(n_versions):
        reg.register(f"model_{i % n_models:04d}", model,
                     metrics={"auc": rng.random(), "accuracy": rng.random()},
                     params={"depth": rng.randint(1, 12)}, tags={"team": rng.choice(TEAMS)})
        if i and i % 10_000 == 0:
            print(f"  ... {i} versions ({i / (time.perf_counter() - start):.0f}/s)", flush=True)
    for m in range(n_models):
        reg.set_alias(f"model_{m:04d}", "champion", 1 + m % 5)
    return time.perf_counter() - start


def register_rate(reg, distinct: bool, n: int = 1000) -> float:
    model = small_model(0.5)
    start = time.perf_counter()
    for i in range(n):
        if distinct:
            model.class_prior_ = model.class_prior_ * 0 + [i / n, 1 - i / n]
        reg.register("rate", model, metrics={"auc": 0.5}, params={"depth": 3}, tags={"team": "ml"})
    return n / (time.perf_counter() - start)


def big_artifact_peak_mb(tmp: Path, gigabytes: float = 1.0) -> tuple[float, float]:
    """Peak RSS growth (MB) while registering a model whose artifact is ``gigabytes`` GB."""
    from zoo import BaseMLModel, Registry, hookimpl
    from zoo.plugins import get_plugins

    size = int(gigabytes * (1 << 30))

    class Huge(BaseMLModel):
        """A model with a very large artifact, written in chunks."""

        component = "bench.huge"

        def save(self, path):
            chunk = os.urandom(1 << 20)
            with open(path, "wb") as f:
                for _ in range(size >> 20):
                    f.write(chunk)

    class Plugin:
        @hookimpl
        def register_predictors(self, register):
            register(Huge)

    get_plugins().register(Plugin(), name="bench-huge")
    model = Huge()
    model.feature_names_in_ = ["a"]
    with Registry(tmp / "huge.db") as reg:
        reg.register("warm", small_model(0.5))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        start = time.perf_counter()
        reg.register("huge", model)
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    get_plugins().unregister("bench-huge")
    return after - before, seconds


def mlflow_figures(tmp: Path, n: int = 200) -> dict[str, float] | None:
    try:
        import mlflow
        from mlflow import MlflowClient
    except ImportError:
        return None
    import logging

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    from zoo.default_plugins.baselines import BaselineClassifier

    uri = f"sqlite:///{tmp}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient()
    # Artifacts in the temp folder too (MLflow's default is ./mlruns in the working directory).
    experiment = client.create_experiment("bench", artifact_location=(tmp / "mlruns").as_uri())
    mlflow.set_experiment(experiment_id=experiment)
    model_file = tmp / "model.json"
    small_model(0.5).save(model_file)
    client.create_registered_model("m")

    def register():
        with mlflow.start_run() as run:
            mlflow.log_artifact(str(model_file), artifact_path="model")
        return client.create_model_version("m", source=f"{run.info.artifact_uri}/model",
                                           run_id=run.info.run_id)

    register()
    start = time.perf_counter()
    for _ in range(n):
        mv = register()
    rate = n / (time.perf_counter() - start)
    client.set_registered_model_alias("m", "champion", mv.version)
    alias = median_time(lambda: client.get_model_version_by_alias("m", "champion"), 200, warm=True)
    counter = iter(range(10**6))

    def load():
        path = mlflow.artifacts.download_artifacts("models:/m@champion",
                                                   dst_path=str(tmp / f"dl{next(counter)}"))
        return BaselineClassifier.load(Path(path) / "model.json", {"classes": [0, 1]})

    return {"register": rate, "alias": alias, "load": median_time(load, 50, warm=True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=100_000)
    parser.add_argument("--models", type=int, default=1_000)
    parser.add_argument("--artifact-gb", type=float, default=1.0)
    parser.add_argument("--artifact-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tmp", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.artifact_only:
        print(*big_artifact_peak_mb(Path(args.tmp), args.artifact_gb))
        return
    from zoo import Registry

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        db = tmp / "scale.db"
        print(f"generating {args.versions} versions over {args.models} models ...", flush=True)
        with Registry(db) as reg:
            gen_seconds = generate(reg, args.versions, args.models)
            alias = median_time(lambda: reg.get(f"model_{args.models * 42 // 100:04d}@champion"), 2000,
                                warm=True)
            search = median_time(lambda: reg.versions(where=WHERE, order_by="-metrics.auc", limit=20), 50,
                                 warm=True)
            load = median_time(lambda: reg.load("model_0007@champion"), 200, warm=True)
            with Registry(tmp / "rate.db") as fresh:
                identical = register_rate(fresh, distinct=False)
                distinct = register_rate(fresh, distinct=True)
            plan = reg._conn.execute(
                "EXPLAIN QUERY PLAN SELECT v.id FROM versions v JOIN aliases a ON a.version_id = v.id "
                "WHERE a.model_id = ? AND a.alias = ?", [1, "champion"]).fetchall()
        env = {**os.environ, "ZOO_REGISTRY": str(db)}
        exe = sys.executable
        # As an installed package would be (scripts/setup does this too): without bytecode,
        # and with PYTHONDONTWRITEBYTECODE set, each run would compile zoo's modules again.
        root = Path(__file__).resolve().parent.parent
        packages = [str(root / d) for d in ("zoo", "registry", "plugins")]
        subprocess.run([exe, "-m", "compileall", "-q", *packages], check=True, capture_output=True)
        models_cmd = wall([exe, "-m", "zoo", "models"], 11, env)
        models_json = wall([exe, "-m", "zoo", "models", "--json"], 11, env)
        zoo_help = wall([exe, "-m", "zoo", "--help"], 11, env)
        click_rich = wall([exe, "-c", "import click, rich"], 11)
        # In a fresh process: ru_maxrss is a lifetime peak, and this one's is already high.
        proc = subprocess.run([exe, __file__, "--artifact-only", "--artifact-gb", str(args.artifact_gb),
                               "--tmp", str(tmp)], capture_output=True, text=True, check=True)
        peak_mb, big_seconds = map(float, proc.stdout.split())
        ml = mlflow_figures(tmp)

    print(f"\nregistry: {args.versions} versions, {args.models} models "
          f"(generated in {gen_seconds:.0f} s, {args.versions / gen_seconds:.0f} versions/s)")
    rows = [
        ("alias lookup get(model_..@champion)", f"{alias * 1e3:.3f} ms", "goal < 1 ms"),
        (f"versions(where={WHERE!r}, order_by='-metrics.auc', limit=20)", f"{search * 1e3:.2f} ms",
         "goal < 50 ms"),
        ("zoo models (whole command, rich table)", f"{models_cmd * 1e3:.0f} ms", "goal < 200 ms"),
        ("zoo models --json (whole command)", f"{models_json * 1e3:.0f} ms", ""),
        ("load('model_0007@champion') incl. sha256", f"{load * 1e3:.3f} ms", ""),
        ("register, identical bytes (1 process)", f"{identical:.0f} /s", "goal >= 200/s"),
        ("register, distinct bytes (1 process)", f"{distinct:.0f} /s", "goal >= 200/s"),
        (f"register a {args.artifact_gb:g} GB artifact: peak RSS growth", f"{peak_mb:.0f} MB",
         f"goal < 100 MB ({big_seconds:.1f} s)"),
        ("zoo --help", f"{zoo_help * 1e3:.0f} ms",
         f"{zoo_help / click_rich:.2f}x python -c 'import click, rich' "
         f"({click_rich * 1e3:.0f} ms); goal <= 2x"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value, goal in rows:
        print(f"  {name:<{width}}  {value:>10}  {goal}")
    print(f"  alias lookup plan: {'; '.join(r[3] for r in plan)}")
    if ml is None:
        print("\nMLflow: not installed (pip install -e '.[bench]') - no ratios printed")
        return
    print("\nagainst MLflow's registry (SQLite backend, same model file, same machine, same run):")
    print(f"  register: MLflow {ml['register']:.1f}/s; zoo {distinct:.0f}/s distinct bytes -> "
          f"{distinct / ml['register']:.0f}x, {identical:.0f}/s identical -> "
          f"{identical / ml['register']:.0f}x (goal 100x)")
    print(f"  alias lookup: MLflow {ml['alias'] * 1e3:.2f} ms; zoo {alias * 1e3:.3f} ms -> "
          f"{ml['alias'] / alias:.0f}x (goal 10x)")
    print(f"  load: MLflow {ml['load'] * 1e3:.2f} ms; zoo {load * 1e3:.3f} ms -> "
          f"{ml['load'] / load:.0f}x (goal 10x)")
    print(json.dumps({"alias_ms": alias * 1e3, "search_ms": search * 1e3,
                      "models_ms": models_cmd * 1e3}))


if __name__ == "__main__":
    main()
