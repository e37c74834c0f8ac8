"""Work on a ``dask.distributed`` cluster: scoring partitioned data sets
(``zoo predict --engine dask``) and tuning trials (``zoo tune --engine dask``).

Without a scheduler address a ``LocalCluster`` is started (one single-threaded worker
process per core). Workers need zoo and the plugins of the models they load installed,
like any process that loads a version. A version's artifact travels as the bytes the
registry verified; each worker checks their sha256 again and loads the model once, through
``zoo.load_version`` like every other load.
"""

from __future__ import annotations

import glob
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from zoo import DataError, IntegrityError, ZooError

#: Models already loaded in this (worker) process, by artifact sha256.
_LOADED: dict[str, Any] = {}


@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """A connected ``dask.distributed.Client``; a ``LocalCluster`` when ``scheduler`` is None."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ZooError("--engine dask needs dask.distributed: pip install 'dask[distributed]'") from None
    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as exc:
            raise ZooError(f"cannot reach the Dask scheduler at {scheduler} ({exc}); check the address "
                           "or leave out --scheduler to start a local cluster") from None
        with client:
            yield client
        return
    with LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                      processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


def partitions(pattern: str) -> list[Path]:
    """The files a glob pattern (or one path) names, sorted; an error when there are none."""
    files = sorted(Path(p) for p in glob.glob(pattern)) if any(c in pattern for c in "*?[") \
        else [Path(pattern)]
    files = [f for f in files if f.is_file()]
    if not files:
        raise DataError(f"no files match {pattern!r}; quote the pattern so the shell does not expand it")
    return files


# --- zoo predict --engine dask ---


def predict_on_dask(registry: Any, version: dict[str, Any], data: str, output: str | None,
                    options: dict[str, Any]) -> list[dict[str, Any]]:
    """``zoo predict --engine dask``: each file ``data`` names scored on the cluster into the
    ``output`` directory; prints what it did (a summary, or JSON with ``options["as_json"]``)
    and returns one summary per file."""
    from zoo.clitools import err_console, print_json

    if not output:
        raise ZooError("--engine dask writes one output file per input file: give -o DIRECTORY")
    files = partitions(data)
    intervals = options.get("intervals")
    with dask_client(options.get("scheduler")) as client:
        parts = predict_partitions(client, registry, version, files, Path(output),
                                   options.get("chunk_rows") or 100_000, intervals)
    if options.get("as_json"):
        print_json(parts)
        return parts
    rows = sum(p["rows"] for p in parts)
    workers = len({p["worker_pid"] for p in parts})
    err_console.print(f"Scored {rows} rows in {len(parts)} files on {workers} Dask workers "
                      f"into {output}/ ({version['ref']})")
    return parts


def predict_partitions(client: Any, registry: Any, version: dict[str, Any], files: list[Path],
                       out_dir: Path, chunk_rows: int = 100_000,
                       intervals: Callable[[Any, Any, Any], Any] | None = None) -> list[dict[str, Any]]:
    """Score each file on the cluster into ``out_dir/<name>``; returns one summary per file.

    ``intervals(model, chunk, scored)`` (picklable) adds interval columns to each scored
    chunk, exactly as ``zoo predict --interval`` does in one process.
    """
    payload = registry.read_verified(version)
    out_dir.mkdir(parents=True, exist_ok=True)
    [artifact] = client.scatter([payload], broadcast=True)
    futures = [client.submit(_score_file, str(f), str(out_dir / f.name), artifact, version, chunk_rows,
                             intervals, pure=False)
               for f in files]
    return client.gather(futures)


def _score_file(source: str, dest: str, artifact: bytes, version: dict[str, Any], chunk_rows: int,
                intervals: Callable[[Any, Any, Any], Any] | None = None) -> dict[str, Any]:
    """On a worker: load the model once per process, then stream one file through it."""
    import time

    from zoo import load_version, predict_table
    from zoo.data import TableWriter, iter_table

    sha256 = version["artifact_sha256"]
    model = _LOADED.get(sha256)
    if model is None:
        if hashlib.sha256(artifact).hexdigest() != sha256:
            raise IntegrityError(f"the artifact {sha256[:12]} changed on its way to the worker")
        with tempfile.TemporaryDirectory(prefix="zoo-worker-") as tmp:
            path = Path(tmp) / "model"
            path.write_bytes(artifact)
            model = load_version(version, path)
        _LOADED[sha256] = model
    start, rows = time.perf_counter(), 0
    with TableWriter(dest) as writer:
        for chunk in iter_table(source, chunk_rows):
            out = predict_table(model, chunk)
            if intervals is not None:
                out = intervals(model, chunk, out)
            writer.write(out)
            rows += len(chunk)
    return {"input": source, "output": dest, "rows": rows, "seconds": time.perf_counter() - start,
            "worker_pid": os.getpid()}


# --- zoo tune --engine dask ---


class DaskEngine:
    """Evaluates tuning trials on a Dask cluster, as many at once as it has worker threads."""

    name = "dask"

    def __init__(self, client: Any) -> None:
        self.client = client
        self.batch_size = max(1, sum(client.nthreads().values()))
        self._fn: Any = None
        self._fn_future: Any = None

    def map(self, fn: Callable[[dict[str, Any]], list[float]],
            batch: list[dict[str, Any]]) -> list[list[float] | BaseException]:
        """``fn`` of each parameter dict on the cluster; an exception in place of a failure."""
        if fn is not self._fn:  # ship the objective (and the data it holds) once
            [self._fn_future] = self.client.scatter([fn], broadcast=True)
            self._fn = fn
        futures = [self.client.submit(_call, self._fn_future, params, pure=False) for params in batch]
        out: list[list[float] | BaseException] = []
        for future in futures:
            try:
                out.append(future.result())
            except Exception as exc:  # a bad corner of the space fails that trial, not the run
                if isinstance(exc, ZooError) and not isinstance(exc, DataError):
                    raise
                out.append(exc)
        return out


def _call(fn: Callable[[dict[str, Any]], Any], params: dict[str, Any]) -> Any:
    return fn(params)
