"""Tables in and out: reading CSV/Parquet, checking columns against a recorded schema,
and fingerprinting training data. pandas is imported inside each function so that the
CLI starts without it."""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from zoo.errors import DataError, NotFoundError

CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
PARQUET_SUFFIXES = {".parquet", ".pq"}


class ExtraColumnsWarning(UserWarning):
    """Input had columns the model does not use; they were ignored."""


def read_table(path: str | Path) -> Any:
    """Read a CSV or Parquet file into a DataFrame, with one-line errors for bad files."""
    import pandas as pd

    path, suffix = _table_file(path)
    with _read_errors(path):
        if suffix in PARQUET_SUFFIXES:
            df = pd.read_parquet(path)
        else:
            df = pd.read_csv(path, sep=_separator(suffix))
    if len(df) == 0:
        raise DataError(f"{path} has a header but no data rows")
    # pandas renames a repeated CSV header ("a", "a.1"); check the header as written.
    _check_header(path, _csv_header(path, suffix) if suffix in CSV_SUFFIXES else list(df.columns))
    return df


def iter_table(path: str | Path, chunk_rows: int = 100_000) -> Iterator[Any]:
    """Read a CSV or Parquet file as DataFrames of at most ``chunk_rows`` rows.

    Memory stays flat however large the file: Parquet is read a batch at a time from its
    row groups, CSV in chunks. The same checks and one-line errors as ``read_table``.
    """
    import pandas as pd

    path, suffix = _table_file(path)
    with _read_errors(path):
        if suffix in PARQUET_SUFFIXES:
            import pyarrow.parquet as pq

            # pre_buffer (pyarrow's default) reads ahead across row groups and memory grew
            # with the file (0.8 GB at 3M rows); without it a 3M-row read peaked at 0.3 GB.
            parquet = pq.ParquetFile(path, pre_buffer=False)
            header = parquet.schema_arrow.names
            chunks: Iterator[Any] = (batch.to_pandas() for batch in
                                     parquet.iter_batches(batch_size=chunk_rows))
        else:
            header = _csv_header(path, suffix)
            chunks = pd.read_csv(path, sep=_separator(suffix), chunksize=chunk_rows)
        _check_header(path, header)
        rows = 0
        for chunk in chunks:
            rows += len(chunk)
            if len(chunk):
                yield chunk
        if rows == 0:
            raise DataError(f"{path} has a header but no data rows")


class TableWriter:
    """Appends DataFrames to one CSV or Parquet file (by suffix), chunk after chunk.

    Parquet chunks after the first are cast to the first chunk's schema, so the file has
    one schema; a chunk that cannot be cast is a one-line error naming the column.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.suffix = self.path.suffix.lower()
        if self.suffix not in CSV_SUFFIXES | PARQUET_SUFFIXES:
            raise DataError(f"cannot write {self.path.name}: use a .csv, .tsv or .parquet file name")
        self.rows = 0
        self._parquet: Any = None

    def write(self, df: Any) -> None:
        if self.suffix in PARQUET_SUFFIXES:
            import pyarrow as pa
            import pyarrow.parquet as pq

            if self._parquet is None:
                table = pa.Table.from_pandas(df, preserve_index=False)
                self._parquet = pq.ParquetWriter(self.path, table.schema)
            else:
                try:
                    table = pa.Table.from_pandas(df, schema=self._parquet.schema, preserve_index=False)
                except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                    raise DataError(f"rows {self.rows + 1}-{self.rows + len(df)} do not fit the "
                                    f"types of the first rows ({_first_line(exc)})") from None
            self._parquet.write_table(table)
        else:
            df.to_csv(self.path, mode="a" if self.rows else "w", header=not self.rows, index=False,
                      sep=_separator(self.suffix))
        self.rows += len(df)

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def write_table(df: Any, path: str | Path) -> None:
    """Write a DataFrame as CSV or Parquet, chosen by the file suffix."""
    with TableWriter(path) as writer:
        writer.write(df)


def as_frame(X: Any) -> Any:
    """A numeric float DataFrame from a DataFrame or 2-D array; names non-numeric columns."""
    import pandas as pd

    X = _two_d_frame(X, "expected a 2-D table of features", "the table has no feature columns")
    columns = {}
    for name in X.columns:
        columns[name] = _numeric_column(X[name], name)
    return pd.DataFrame(columns, index=X.index)


def as_target(y: Any, n_rows: int, numeric: bool = False) -> Any:
    """A target Series of length ``n_rows`` with no missing values.

    ``numeric`` (regression) converts it to float, naming a value that is not a number;
    otherwise labels of mixed types become strings so they can be sorted.
    """
    import pandas as pd

    y = y if isinstance(y, pd.Series) else pd.Series(y)
    if len(y) != n_rows:
        raise DataError(f"target has {len(y)} values but the features have {n_rows} rows")
    if y.isna().any():
        raise DataError(f"target column {y.name!r} has {int(y.isna().sum())} missing values; drop those rows")
    if numeric:
        return _numeric_column(y, y.name if y.name is not None else "target")
    if y.dtype == object and len({type(v) for v in y}) > 1:
        y = y.astype(str)
    return y


def check_values(X: Any, allow_missing: bool, who: str) -> Any:
    """``X`` unchanged if it has no infinite values, and no missing ones unless allowed."""
    import numpy as np

    values = X.to_numpy(dtype=float)
    # One pass settles the usual case: a finite sum means no NaN and no inf anywhere.
    with np.errstate(all="ignore"):  # an overflowing sum just falls through to the full check
        if np.isfinite(values.sum()):
            return X
    bad = np.isinf(values)
    if not allow_missing:
        bad |= np.isnan(values)
    if bad.any():
        row, col = (int(i[0]) for i in np.nonzero(bad))
        name, value = X.columns[col], values[row, col]
        if np.isinf(value):
            raise DataError(f"column {name!r} has an infinite value (row {row + 1}); "
                            "replace or drop it")
        count = int(np.isnan(values[:, col]).sum())
        raise DataError(f"column {name!r} has {count} missing value{'s' if count > 1 else ''} "
                        f"(first in row {row + 1}); {who or 'this model'} cannot use them: fill or "
                        "drop them, or use a component that handles missing values")
    return X


def align(X: Any, feature_names: list[str], keys: Any = ()) -> Any:
    """Select and order ``X``'s columns as the model saw them at fit, converting to numbers.

    A missing column is an error naming it; extra columns are dropped with an
    ``ExtraColumnsWarning``; column order does not matter. Columns named in ``keys``
    (labels such as the group columns of a group-wise calibrated model) are kept as they
    are instead of being converted to numbers.
    """
    import pandas as pd

    if not isinstance(X, pd.DataFrame):
        X = as_frame(X)
        if X.shape[1] == len(feature_names):
            X.columns = feature_names
    if not keys and _is_float_frame(X, feature_names):
        return X  # already the model's columns, in order, as floats: nothing to select or convert
    missing = [c for c in feature_names if c not in X.columns]
    if missing:
        raise DataError(
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}: "
            "the model was trained with it; add it to the input"
        )
    extra = [c for c in X.columns if c not in set(feature_names)]
    if extra:
        warnings.warn(
            f"ignoring column{'s' if len(extra) > 1 else ''} the model does not use: "
            f"{', '.join(map(str, extra))}",
            ExtraColumnsWarning,
            stacklevel=3,
        )
    keys = [c for c in keys if c in set(feature_names)]
    if not keys:
        selected = X[list(feature_names)]
        return selected if _is_float_frame(selected, feature_names) else as_frame(selected)
    numeric = [c for c in feature_names if c not in set(keys)]
    out = as_frame(X[numeric]) if numeric else pd.DataFrame(index=X.index)
    for name in keys:
        out[name] = X[name]
    return out[list(feature_names)]


def _is_float_frame(X: Any, feature_names: list[str]) -> bool:
    """Whether ``X`` has exactly ``feature_names`` as columns, in order, all of one float dtype.

    Such a frame is what ``as_frame`` would return anyway. Skipping the per-column
    conversion, and answering this question without pandas' per-call overheads, is what
    keeps single-row prediction within tens of microseconds of the raw library call.
    """
    import numpy as np

    if not _columns_are(X.columns, feature_names):
        return False
    homogeneous = getattr(X, "_is_homogeneous_type", None)  # pandas' own flag, cheap
    if homogeneous is None:
        return all(dtype == np.float64 for dtype in X.dtypes)
    # One dtype for every column: the array view's dtype is theirs.
    return bool(homogeneous) and X.to_numpy(copy=False).dtype == np.float64


#: A pandas Index per list of feature names seen, so each call compares two indexes (one
#: vectorised check) instead of building Python lists of column names.
_INDEXES: dict[tuple[Any, ...], Any] = {}


def _columns_are(columns: Any, feature_names: list[str]) -> bool:
    import pandas as pd

    names = tuple(feature_names)
    expected = _INDEXES.get(names)
    if expected is None:
        if len(_INDEXES) >= 64:
            _INDEXES.clear()
        expected = _INDEXES[names] = pd.Index(names)
    return len(columns) == len(expected) and bool(columns.equals(expected))


def fingerprint(df: Any) -> dict[str, Any]:
    """sha256 of a table's schema and values, its row count and its column types."""
    import pandas as pd

    schema = {str(c): str(t) for c, t in df.dtypes.items()}
    digest = hashlib.sha256(json.dumps(schema, sort_keys=False).encode())
    digest.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return {"sha256": digest.hexdigest(), "rows": int(len(df)), "schema": schema}


def _numeric_column(col: Any, name: Any) -> Any:
    import numpy as np
    import pandas as pd

    if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
        return col.astype(float)
    converted = pd.to_numeric(col, errors="coerce")
    bad = converted.isna() & col.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        shown = repr(col.iloc[row])
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise DataError(
            f"column {name!r} has a value that is not a number ({shown} in row {row + 1}); "
            "encode it as numbers or drop the column"
        )
    return converted.astype(float)


def _table_file(path: str | Path) -> tuple[Path, str]:
    """``path`` and its lower-case suffix, once it is known to exist and to be a type we read."""
    path = Path(path)
    if not path.exists():
        raise NotFoundError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix not in CSV_SUFFIXES | PARQUET_SUFFIXES:
        raise DataError(f"cannot read {path.name}: unknown file type {suffix or '(none)'}; "
                        "use .csv, .tsv or .parquet")
    return path, suffix


@contextmanager
def _read_errors(path: Path) -> Iterator[None]:
    """pandas' and the file system's errors while reading ``path``, as one-line DataErrors."""
    import pandas as pd

    try:
        yield
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty: it needs a header row and at least one data row") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"cannot parse {path}: {_first_line(exc)}") from None


def _check_header(path: Path, header: list[Any]) -> None:
    dupes = sorted({str(c) for c in header if header.count(c) > 1})
    if dupes:
        raise DataError(f"{path} has duplicated column names: {', '.join(dupes)}")


def _two_d_frame(data: Any, not_two_d: str, no_columns: str) -> Any:
    """``data`` as a DataFrame (a 2-D array gets the columns x0, x1, ...) with at least one
    column; else a ``DataError``: ``not_two_d`` (followed by the array's shape) or ``no_columns``."""
    import numpy as np
    import pandas as pd

    if not isinstance(data, pd.DataFrame):
        arr = np.asarray(data)
        if arr.ndim != 2:
            raise DataError(f"{not_two_d}, got an array of shape {arr.shape}")
        data = pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])
    if data.shape[1] == 0:
        raise DataError(no_columns)
    return data


def _csv_header(path: Path, suffix: str) -> list[str]:
    import csv

    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        return next(csv.reader(f, delimiter=_separator(suffix)), [])


def _separator(suffix: str) -> str:
    return "\t" if suffix == ".tsv" else ","


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
