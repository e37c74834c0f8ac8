"""Bounds on the artifact ``zoo monitor`` reads besides the model: a version's reference
sample (``reference.parquet``), which may come from an imported bundle.

Its bytes hash right, but a few kilobytes of Parquet can declare millions of rows or
gigabytes of run-length-encoded values that reading would allocate. The footer is read
first (cheap, bounded) and the declared rows, columns, uncompressed bytes and column types
checked before pandas reads the data.
"""

from __future__ import annotations

import io
from typing import Any

from zoo import IntegrityError

#: Most rows, columns and uncompressed bytes a reference sample may declare (zoo writes
#: at most ``zoo.drift.REFERENCE_ROWS`` rows).
MAX_ROWS = 10_000_000
MAX_COLUMNS = 10_000
MAX_BYTES = 2 << 30


def check_reference(registry: Any, version: dict[str, Any]) -> None:
    """Refuse a version's reference sample whose Parquet footer declares more than the bounds
    or nested columns (``load_reference`` reports a missing one itself)."""
    from zoo.drift import REFERENCE_ARTIFACT

    if REFERENCE_ARTIFACT not in (version.get("artifacts") or {}):
        return
    check_parquet(registry.read_verified(version, REFERENCE_ARTIFACT), version["ref"])


def check_parquet(data: bytes, ref: str) -> None:
    """Refuse Parquet bytes whose footer declares too much or nested columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    where = f"{ref}: crafted or corrupted reference sample"
    try:
        meta = pq.ParquetFile(io.BytesIO(data)).metadata
        schema = meta.schema.to_arrow_schema()
    except (pa.ArrowException, OSError, ValueError):
        raise IntegrityError(f"{where}: it is not a Parquet file") from None
    if meta.num_rows > MAX_ROWS or meta.num_columns > MAX_COLUMNS:
        raise IntegrityError(f"{where}: it declares {meta.num_rows} rows of {meta.num_columns} "
                             f"columns (at most {MAX_ROWS} of {MAX_COLUMNS})")
    declared = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if declared > MAX_BYTES:
        raise IntegrityError(f"{where}: it declares {declared} bytes uncompressed (at most {MAX_BYTES})")
    nested = [f.name for f in schema if pa.types.is_nested(f.type)]
    if nested:
        raise IntegrityError(f"{where}: column {nested[0][:60]!r} is nested")
