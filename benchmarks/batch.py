"""Batch scoring beyond memory: `zoo predict` streams, so its peak memory stays flat as the file
grows, and it scores about as fast as scoring the same rows in one DataFrame.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/batch.py [--sizes 1000000,5000000,20000000]

For each size it writes a Parquet file of N rows x 20 features, runs the real command
`zoo predict REF file.parquet -o out.parquet` and reads its peak RSS, and runs the same
scoring in memory (read the whole file, one predict_table call, write) in a subprocess.
It prints peak memory, rows per second and the ratios: memory at the largest size against
the smallest (goal <= 1.5x) and streaming throughput against in-memory (goal >= 0.9).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

FEATURES = 20
IN_MEMORY = """
import sys, time
from zoo import Registry
from zoo.data import read_table, write_table
from zoo.predicting import predict_table
reg = Registry(sys.argv[1]); model = reg.load("batch")
start = time.perf_counter()
write_table(predict_table(model, read_table(sys.argv[2])), sys.argv[3])
print(time.perf_counter() - start)
"""


def write_parquet(path: Path, rows: int, seed: int = 0) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    names = [f"f{i}" for i in range(FEATURES)]
    writer = None
    for start in range(0, rows, 500_000):
        n = min(500_000, rows - start)
        table = pa.table({name: rng.normal(size=n) for name in names})
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=100_000)
    writer.close()


def run_measured(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB of the child, and its stdout."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    out, err = proc.stdout.read(), proc.stderr.read()
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err}")
    return seconds, usage.ru_maxrss / 1024, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,5000000,20000000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    import numpy as np
    import pandas as pd

    from zoo import Registry
    from zoo.catalogue import build_catalogue

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        db = tmp / "r.db"
        rng = np.random.default_rng(1)
        X = pd.DataFrame(rng.normal(size=(20_000, FEATURES)), columns=[f"f{i}" for i in range(FEATURES)])
        y = (X["f0"] + X["f1"] > 0).astype(int)
        model = build_catalogue().get("sklearn.logistic_regression").create().fit(X, y)
        with Registry(db) as reg:
            reg.register("batch", model)
        env = {**os.environ, "ZOO_REGISTRY": str(db)}
        print(f"{'rows':>10} {'stream peak MB':>15} {'stream rows/s':>14} {'in-memory peak MB':>18} "
              f"{'in-memory rows/s':>17} {'throughput ratio':>17}")
        # Warm the file cache and compiled modules once, so the first size is not penalised.
        warm = tmp / "warm.parquet"
        write_parquet(warm, 10_000)
        run_measured([sys.executable, "-m", "zoo", "predict", "batch", str(warm), "-o",
                      str(tmp / "warm_out.parquet")], env)
        run_measured([sys.executable, "-c", IN_MEMORY, str(db), str(warm), str(tmp / "warm_mem.parquet")],
                     env)
        results = []
        for rows in sizes:
            data = tmp / f"data_{rows}.parquet"
            write_parquet(data, rows)
            stream_s, stream_mb, _ = run_measured(
                [sys.executable, "-m", "zoo", "predict", "batch", str(data), "-o", str(tmp / "out.parquet")],
                env)
            mem_s, mem_mb, inner = run_measured(
                [sys.executable, "-c", IN_MEMORY, str(db), str(data), str(tmp / "out_mem.parquet")], env)
            # Whole-process wall time for both (start-up, model load, read, score, write).
            results.append((rows, stream_mb, rows / stream_s, mem_mb, rows / mem_s))
            print(f"{rows:>10} {stream_mb:>15.0f} {rows / stream_s:>14.0f} {mem_mb:>18.0f} "
                  f"{rows / mem_s:>17.0f} {mem_s / stream_s:>17.2f}", flush=True)
            data.unlink()
        first, last = results[0], results[-1]
        print(f"\npeak memory of zoo predict at {last[0]:,} rows / at {first[0]:,} rows: "
              f"{last[1] / first[1]:.2f}x (goal <= 1.5x)")
        ratios = [r[2] / r[4] for r in results]
        print(f"streaming throughput / in-memory throughput: {', '.join(f'{x:.2f}' for x in ratios)} "
              "(goal >= 0.90)")
        print(f"(this process peaked at {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")


if __name__ == "__main__":
    main()
