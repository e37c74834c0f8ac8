"""Registry speed: registrations per second, alias lookup and filtered search at N versions,
and `zoo --help` start-up against bare Python, all measured in the same run.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/registry.py [--versions 10000]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from timing import median_time, wall

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=10_000, help="versions in the registry")
    parser.add_argument("--models", type=int, default=100, help="models they are spread over")
    args = parser.parse_args()

    import pandas as pd

    from zoo import Registry
    from zoo.default_plugins.baselines import BaselineClassifier

    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]})
    small = BaselineClassifier().fit(X, pd.Series([0, 1, 0, 1]))
    rng = random.Random(0)
    teams = ["growth", "risk", "search", "ads"]

    with tempfile.TemporaryDirectory() as tmp:
        reg = Registry(Path(tmp) / "bench.db")
        start = time.perf_counter()
        for i in range(args.versions):
            reg.register(
                f"model_{i % args.models}",
                small,
                metrics={"auc": rng.random(), "accuracy": rng.random()},
                params={"depth": rng.randint(1, 12)},
                tags={"team": rng.choice(teams)},
            )
        elapsed = time.perf_counter() - start
        rate = args.versions / elapsed
        for m in range(args.models):
            reg.set_alias(f"model_{m}", "champion", 1 + m % 3)

        alias = median_time(lambda: reg.get("model_42@champion"), 2000)
        where = "metrics.auc > 0.9 and tags.team = 'growth'"
        search = median_time(
            lambda: reg.versions(where=where, order_by="-metrics.auc", limit=20), 50
        )
        load = median_time(lambda: reg.load("model_7@champion"), 200)
        reg.close()

    exe = sys.executable
    zoo_help = wall([exe, "-m", "zoo", "--help"], 15)
    bare = wall([exe, "-c", "pass"], 15)
    click_rich = wall([exe, "-c", "import click, rich.console, rich.table"], 15)

    print(f"registry benchmark: {args.versions} versions over {args.models} models "
          f"(BaselineClassifier, JSON artifact)")
    print(f"  register:        {rate:8.0f} versions/s   ({elapsed:.1f} s for {args.versions})")
    print(f"  alias lookup:    {alias * 1e3:8.3f} ms       get('model_42@champion'), median of 2000")
    print(f"  filtered search: {search * 1e3:8.3f} ms       versions(where={where!r}, "
          "order_by='-metrics.auc', limit=20), median of 50")
    print(f"  load:            {load * 1e3:8.3f} ms       load('model_7@champion') incl. sha256 check")
    print(f"  zoo --help:      {zoo_help * 1e3:8.1f} ms       median of 15")
    print(f"  python -c pass:  {bare * 1e3:8.1f} ms       ratio zoo --help / python -c pass = "
          f"{zoo_help / bare:.2f}x")
    print(f"  python -c 'import click, rich': {click_rich * 1e3:.1f} ms   "
          f"ratio zoo --help / that = {zoo_help / click_rich:.2f}x")


if __name__ == "__main__":
    main()
