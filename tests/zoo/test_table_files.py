"""Input and output files (issue 17, items 9 and 11): a failed `zoo predict` leaves no partial
output and records no batches, and names the file's row; non-regular and malformed input
files are one clear line each."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing

import numpy as np
import pandas as pd
import pytest
from zootest import needs_plugin, one_line_error, zoo

from zoo.data import DataError, read_table


@pytest.fixture
def trained(tmp_path):
    needs_plugin("sklearn")
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    df["y"] = (df["a"] > 0).astype(int)
    df.to_csv(tmp_path / "train.csv", index=False)
    zoo("train", "sklearn.logistic_regression", tmp_path / "train.csv", "--target", "y", "--name", "m")
    return df.drop(columns="y")


def _batches(registry_path) -> int:
    with closing(sqlite3.connect(registry_path)) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        return conn.execute("SELECT count(*) FROM batches").fetchone()[0] if "batches" in names else 0


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_a_bad_row_late_in_the_file_leaves_no_output_records_no_batch_and_names_the_file_row(
        tmp_path, registry_path, trained, suffix):
    rows = pd.concat([trained] * 5, ignore_index=True).astype({"b": object})  # 1000 rows
    rows.loc[900, "b"] = "oops"
    data = tmp_path / "score.csv"
    rows.to_csv(data, index=False)
    out = tmp_path / f"out.{suffix}"
    out.write_text("the previous results")
    before = _batches(registry_path)
    line = one_line_error(zoo("predict", "m", data, "-o", out, "--chunk-rows", "100", ok=False))
    assert "'b'" in line and "row 901" in line, line  # the file's row, not the chunk's (row 1)
    assert out.read_text() == "the previous results"
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []
    assert _batches(registry_path) == before
    # The same file without the bad row: written whole, every chunk recorded.
    rows.loc[900, "b"] = 0.5
    rows.to_csv(data, index=False)
    zoo("predict", "m", data, "-o", out, "--chunk-rows", "100")
    assert len(read_table(out)) == 1000
    if _has_batches_table(registry_path):  # zoo-monitor installed
        assert _batches(registry_path) == before + 10


def _has_batches_table(registry_path) -> bool:
    with closing(sqlite3.connect(registry_path)) as conn:
        return conn.execute("SELECT 1 FROM sqlite_master WHERE name='batches'").fetchone() is not None


def test_input_files_that_are_not_regular_files_are_refused_in_one_line(tmp_path, trained):
    link = tmp_path / "zero.csv"
    link.symlink_to("/dev/zero")
    line = one_line_error(zoo("predict", "m", link, ok=False))
    assert "is a device, not a regular file" in line
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    line = one_line_error(zoo("predict", "m", fifo, ok=False))  # opening it would hang
    assert "is a pipe (FIFO), not a regular file" in line
    folder = tmp_path / "dir.csv"
    folder.mkdir()
    assert "is a directory" in one_line_error(zoo("train", "sklearn.ridge", folder, "--target", "a",
                                                  "--name", "x", ok=False))


def test_malformed_headers_and_nested_parquet_are_one_line_each(tmp_path):
    bom = tmp_path / "bom.csv"
    bom.write_bytes("\ufeffa,a\n1,2\n".encode())  # the BOM must not hide the duplicate
    with pytest.raises(DataError, match="duplicated column names: a"):
        read_table(bom)
    huge = tmp_path / "huge.csv"
    huge.write_text("a," + "h" * (200 * 1024) + "\n1,2\n")
    with pytest.raises(DataError, match="header row is not valid CSV"):
        read_table(huge)
    nested = tmp_path / "nested.parquet"
    pd.DataFrame({"x": [1.0, 2.0], "tags": [[1, 2], [3]]}).to_parquet(nested)
    with pytest.raises(DataError, match="column 'tags' is nested"):
        read_table(nested)
    from zoo.data import iter_table

    with pytest.raises(DataError, match="column 'tags' is nested"):
        list(iter_table(nested))
