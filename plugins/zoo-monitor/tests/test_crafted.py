"""A version's reference sample is untrusted bytes too (bundles carry it): a Parquet file of
a few kilobytes declaring 12 million rows, or a nested column, is refused by `zoo monitor`
with one line before pandas reads it; a genuine one passes."""

from __future__ import annotations

import os
import resource
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from zoo_monitor.validate import check_parquet, check_reference

from zoo import IntegrityError, Registry
from zoo.default_plugins.baselines import BaselineClassifier
from zoo.drift import REFERENCE_ARTIFACT


def registered(registry_path, tmp_path, table: pa.Table) -> dict:
    path = tmp_path / REFERENCE_ARTIFACT
    pq.write_table(table, path, compression="zstd")
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]})
    with Registry(registry_path) as registry:
        return registry.register("m", BaselineClassifier().fit(X, pd.Series([0, 1, 0, 1])),
                                 artifacts={REFERENCE_ARTIFACT: path})


def test_a_reference_declaring_millions_of_rows_is_refused_in_one_line(registry_path, tmp_path):
    bomb = pa.table({"a": np.zeros(12_000_000, dtype=np.int8)})
    version = registered(registry_path, tmp_path, bomb)
    assert (tmp_path / REFERENCE_ARTIFACT).stat().st_size < 200_000  # tiny on disk
    current = tmp_path / "current.csv"
    pd.DataFrame({"a": [0.0, 1.0]}).to_csv(current, index=False)
    # In a child with a memory cap: without the check, reading this exhausts the machine.
    proc = subprocess.run([sys.executable, "-m", "zoo", "monitor", version["ref"], str(current)],
                          capture_output=True, text=True, timeout=300, preexec_fn=_cap_memory,
                          env={**os.environ, "ZOO_REGISTRY": str(registry_path)})
    assert proc.returncode == 1 and proc.stderr.strip().count("\n") == 0, proc.stderr[-2000:]
    assert "m:1: crafted or corrupted reference sample: it declares 12000000 rows" in proc.stderr


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))


def test_nested_columns_and_foreign_bytes_are_refused():
    buffer = pa.BufferOutputStream()
    pq.write_table(pa.table({"a": [[1, 2], [3]]}), buffer)
    with pytest.raises(IntegrityError, match="column 'a' is nested"):
        check_parquet(buffer.getvalue().to_pybytes(), "m:1")
    with pytest.raises(IntegrityError, match="it is not a Parquet file"):
        check_parquet(b"PAR1 not really", "m:1")


def test_a_genuine_reference_passes(registry_path, tmp_path):
    version = registered(registry_path, tmp_path, pa.table({"a": [0.0, 1.0, 2.0]}))
    with Registry(registry_path) as registry:
        check_reference(registry, registry.get(version["ref"]))
