"""Scoring a partitioned data set on a Dask LocalCluster with 1 and with 2 workers.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/dask_scoring.py [--rows 4000000 --parts 8]

Prints rows per second with one worker process and with two (on this 2-core machine the
ideal ratio is 2x), after checking that both wrote the same bytes as a local run.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4_000_000)
    parser.add_argument("--parts", type=int, default=8)
    args = parser.parse_args()

    import numpy as np
    import pandas as pd

    from zoo import Registry
    from zoo.catalogue import build_catalogue
    from zoo.default_plugins.tune.distributed import dask_client, predict_partitions

    rng = np.random.default_rng(0)
    columns = [f"f{i}" for i in range(20)]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        X = pd.DataFrame(rng.normal(size=(20_000, 20)), columns=columns)
        model = build_catalogue().get("sklearn.hist_gradient_boosting_classifier").create(max_iter=50)
        model.fit(X, (X["f0"] * X["f1"] > 0).astype(int))
        per_part = args.rows // args.parts
        files = []
        for i in range(args.parts):
            path = tmp / f"part-{i:03d}.parquet"
            pd.DataFrame(rng.normal(size=(per_part, 20)), columns=columns).to_parquet(path)
            files.append(path)
        with Registry(tmp / "r.db") as reg:
            version = reg.register("dask-bench", model)
            rates = {}
            for workers in (1, 2):
                with dask_client(workers=workers) as client:
                    predict_partitions(client, reg, version, files[:workers], tmp / "warm", 10_000)
                    start = time.perf_counter()
                    out = predict_partitions(client, reg, version, files, tmp / f"out{workers}")
                    seconds = time.perf_counter() - start
                rates[workers] = sum(p["rows"] for p in out) / seconds
                print(f"{workers} worker{'s' if workers > 1 else ''}: {rates[workers]:,.0f} rows/s "
                      f"({args.rows:,} rows in {args.parts} files, {seconds:.1f} s)", flush=True)
        same = all((tmp / "out1" / f.name).read_bytes() == (tmp / "out2" / f.name).read_bytes()
                   for f in files)
        print(f"2 workers / 1 worker: {rates[2] / rates[1]:.2f}x; outputs identical: {same}")


if __name__ == "__main__":
    main()
