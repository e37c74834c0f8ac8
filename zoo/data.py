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
            import pyarrow.parquet as pq

            _check_parquet_columns(path, pq.read_schema(path))
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
            _check_parquet_columns(path, parquet.schema_arrow)
            chunks: Iterator[Any] = _numbered(batch.to_pandas() for batch in
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


def _numbered(frames: Iterator[Any]) -> Iterator[Any]:
    """Each frame indexed by its rows' place in the file (as pandas' CSV chunks are), so an
    error in a later chunk names the file's row, not the chunk's."""
    import pandas as pd

    start = 0
    for frame in frames:
        frame.index = pd.RangeIndex(start, start + len(frame))
        start += len(frame)
        yield frame


class TableWriter:
    """Appends DataFrames to one CSV or Parquet file (by suffix), chunk after chunk.

    Parquet chunks after the first are cast to the first chunk's schema, so the file has
    one schema; a chunk that cannot be cast is a one-line error naming the column. The
    chunks go to a hidden temporary file beside ``path``, renamed onto it by ``close()``:
    a command that fails (or is interrupted) half-way leaves no partial output, and an
    existing file at ``path`` is untouched until the new one is complete.
    """

    def __init__(self, path: str | Path) -> None:
        import os

        self.path = Path(path)
        self.suffix = self.path.suffix.lower()
        if self.suffix not in CSV_SUFFIXES | PARQUET_SUFFIXES:
            raise DataError(f"cannot write {self.path.name}: use a .csv, .tsv or .parquet file name")
        self.rows = 0
        self._parquet: Any = None
        self._tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.partial")

    def write(self, df: Any) -> None:
        if self.suffix in PARQUET_SUFFIXES:
            import pyarrow as pa
            import pyarrow.parquet as pq

            if self._parquet is None:
                table = pa.Table.from_pandas(df, preserve_index=False)
                self._parquet = pq.ParquetWriter(self._tmp, table.schema)
            else:
                try:
                    table = pa.Table.from_pandas(df, schema=self._parquet.schema, preserve_index=False)
                except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                    raise DataError(f"rows {self.rows + 1}-{self.rows + len(df)} do not fit the "
                                    f"types of the first rows ({_first_line(exc)})") from None
            self._parquet.write_table(table)
        else:
            df.to_csv(self._tmp, mode="a" if self.rows else "w", header=not self.rows, index=False,
                      sep=_separator(self.suffix))
        self.rows += len(df)

    def close(self, complete: bool = True) -> None:
        """Finish the file: rename it onto ``path`` when ``complete``, else delete it."""
        import os

        try:
            if self._parquet is not None:
                self._parquet.close()
                self._parquet = None
        finally:
            if complete and self._tmp.exists():
                os.replace(self._tmp, self.path)
            else:
                self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, exc_type: Any, *exc_info: Any) -> None:
        self.close(complete=exc_type is None)


def write_table(df: Any, path: str | Path) -> None:
    """Write a DataFrame as CSV or Parquet, chosen by the file suffix."""
    with TableWriter(path) as writer:
        writer.write(df)


class IdLikeColumnWarning(UserWarning):
    """A feature column holds a different value on every row, like an ID; it rarely helps."""


def choose_columns(df: Any, target: str | None = None, features: Any = None, drop: Any = None,
                   drop_missing_target: bool = False) -> Any:
    """``df`` cut to the columns a model should learn from, plus the target column.

    ``features`` keeps only those columns, ``drop`` removes these (both lists of names, or
    comma-separated text as ``--features a,b`` gives); the target is never a feature. A
    feature column unique on every row (an ID) is warned about. ``drop_missing_target``
    drops the rows without a target, warning how many.
    """
    features, drop = _names(features), _names(drop)
    columns = [str(c) for c in df.columns]
    for option, names in (("--features", features), ("--drop", drop)):
        unknown = [n for n in names if n not in columns]
        if unknown:
            raise DataError(f"{option} names {', '.join(map(repr, unknown))}, not in the data; "
                            f"columns are: {', '.join(columns[:20])}")
        if target is not None and target in names:
            raise DataError(f"{option} names the target {target!r}: the target is never a feature, "
                            "leave it out")
    if target is not None and target not in columns:
        raise DataError(f"no column {target!r} in the data; columns are: {', '.join(columns[:20])}")
    keep = [c for c in (features or columns) if c not in set(drop) and c != target]
    if not keep:
        raise DataError("no feature columns left: --features/--drop removed them all")
    df = df[[c for c in df.columns if str(c) in set(keep) or c == target]]
    if target is not None and drop_missing_target:
        missing = df[target].isna()
        if missing.any():
            warnings.warn(f"dropped {int(missing.sum())} of {len(df)} rows whose target {target!r} "
                          "is missing", UserWarning, stacklevel=2)
            df = df[~missing]
            if len(df) == 0:
                raise DataError(f"every row's target {target!r} is missing")
    for name in keep:
        col = df[name]
        if (len(col) >= 20 and not _is_float_like(col) and col.nunique(dropna=False) == len(col)
                and _column_schema(col, name)["type"] in ("category", "number")):
            warnings.warn(f"column {name!r} has a different value on every row, like an ID; drop it "
                          f"with --drop {name} unless it means something", IdLikeColumnWarning,
                          stacklevel=2)
    return df


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else [n for v in value for n in str(v).split(",")]
    return [n.strip() for n in items if n.strip()]


def _is_float_like(col: Any) -> bool:
    import pandas as pd

    return pd.api.types.is_float_dtype(col) or pd.api.types.is_bool_dtype(col)


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


#: Column types of an input schema (``infer_schema``). Every type becomes float features:
#: booleans 0/1, datetimes days since 1970-01-01 UTC, categories the index of their level
#: (NaN when missing or unseen), so the float fast paths and the libraries' own missing-value
#: handling apply to all of them. A fifth type, "raw", marks the columns of a model fitted
#: outside zoo (``adopt_model``): they reach it as given, its own preprocessing reads them.
COLUMN_TYPES = ("number", "boolean", "category", "datetime")
#: Most levels kept per category column (the most frequent ones); rarer values count as unseen.
MAX_LEVELS = 2000
#: Date formats tried, in order, on a text column; the first that parses every value wins.
DATE_FORMATS = ("ISO8601", "%m/%d/%Y", "%d/%m/%Y", "%d.%m.%Y", "%Y/%m/%d")


def infer_schema(X: Any) -> list[dict[str, Any]]:
    """Each column's name and type, with a category's levels and a date column's format.

    A text column becomes a number when every value is one, a date when every value parses
    with one of ``DATE_FORMATS``, else a category. The schema is JSON: the registry stores it
    in a version's metadata and ``encode`` applies it the same way at predict time.
    """
    X = _two_d_frame(X, "expected a 2-D table of features", "the table has no feature columns")
    return [_column_schema(X.iloc[:, i], name) for i, name in enumerate(X.columns)]


def typed_frame(X: Any) -> tuple[Any, list[dict[str, Any]] | None]:
    """``X`` as float features plus the schema learned from it (what ``fit`` does).

    The schema is None for a table of numbers without missing values: its feature names
    say all there is, and such models keep the float fast path and metadata they always had.
    """
    X = _two_d_frame(X, "expected a 2-D table of features", "the table has no feature columns")
    schema = infer_schema(X)
    if all(c["type"] == "number" and not c["missing"] for c in schema):
        return as_frame(X), None
    return encode(X, schema), schema


def encode(X: Any, schema: list[dict[str, Any]] | None) -> Any:
    """``X`` (columns already in the schema's order) as float features, by each column's type.

    A value that does not fit its column's type (a word in a number column, a bad date) is a
    one-line ``DataError`` naming the column and the file row; an unseen category or a
    missing value becomes NaN (``input_issues`` counts them).
    """
    import pandas as pd

    if not schema or all(c["type"] == "number" for c in schema):
        return X if _is_float_frame(X, list(X.columns)) else as_frame(X)
    columns = {}
    for i, (name, spec) in enumerate(zip(X.columns, schema, strict=True)):
        columns[name] = _encode_column(X.iloc[:, i], name, spec)
    return pd.DataFrame(columns, index=X.index)


def input_issues(X: Any, schema: list[dict[str, Any]] | None) -> dict[str, int]:
    """Counts for a batch summary: values of category columns not seen at training
    (``unseen_categories``) and missing values in columns that had none (``new_missing``)."""
    unseen = new_missing = 0
    if not hasattr(X, "columns"):
        return {"unseen_categories": 0, "new_missing": 0}
    # Without a schema the model was trained on numbers with no missing values.
    for spec in schema or [{"name": c, "type": "number", "missing": 0} for c in X.columns]:
        if spec["name"] not in X.columns:
            continue
        col = X[spec["name"]]
        if not spec.get("missing"):
            new_missing += int(col.isna().sum())
        if spec["type"] == "category":
            labels = _labels(col)
            unseen += int((~labels.isin(spec["levels"]) & labels.notna()).sum())
    return {"unseen_categories": unseen, "new_missing": new_missing}


def output_schema(metadata: dict[str, Any]) -> list[dict[str, Any]]:
    """The columns ``zoo predict`` adds for a model with this ``metadata``: a classifier's
    ``prediction`` and one ``proba_<class>`` each, a regressor's ``prediction``, a
    detector's ``anomaly_score`` and ``anomaly``."""
    task = metadata.get("task")
    if task == "anomaly":
        return [{"name": "anomaly_score", "type": "number"}, {"name": "anomaly", "type": "boolean"}]
    if task == "classification" and metadata.get("classes") is not None:
        classes = metadata["classes"]
        label = "number" if all(isinstance(c, int | float) for c in classes) else "category"
        return [{"name": "prediction", "type": label, "levels": classes},
                *({"name": f"proba_{c}", "type": "number"} for c in classes)]
    return [{"name": "prediction", "type": "number"}] if task == "regression" else []


def by_type(df: Any, schema: list[dict[str, Any]] | None) -> Any:
    """``df`` with the date and boolean columns of ``schema`` as numbers (days since 1970, 0/1)
    and its category columns as text, so a drift test treats each column by its type: a date
    is a quantity that moves, not a category of its own per day. Other columns are unchanged."""
    if not schema:
        return df
    df = df.copy()
    for spec in schema:
        name = spec["name"]
        if name not in df.columns or spec["type"] in ("number", "raw"):
            continue
        if spec["type"] == "category":
            df[name] = _labels(df[name])
        else:
            df[name] = _encode_column(df[name], name, spec)
    return df


def categorical_columns(schema: list[dict[str, Any]] | None) -> list[int]:
    """Positions of the category columns of ``schema`` (for libraries with native categories)."""
    return [i for i, c in enumerate(schema or []) if c["type"] == "category"]


def _column_schema(col: Any, name: Any) -> dict[str, Any]:
    import pandas as pd

    spec: dict[str, Any] = {"name": str(name), "type": "number", "missing": int(col.isna().sum())}
    types = pd.api.types
    if types.is_bool_dtype(col):
        spec["type"] = "boolean"
    elif types.is_datetime64_any_dtype(col):
        spec["type"] = "datetime"
    elif types.is_numeric_dtype(col) and not isinstance(col.dtype, pd.CategoricalDtype):
        pass
    else:
        values = col.dropna()
        if len(values) and all(isinstance(v, bool) for v in values.iloc[:1000]) and _booleans(values):
            spec["type"] = "boolean"
        elif len(values) == 0 or (not isinstance(col.dtype, pd.CategoricalDtype)
                                  and pd.to_numeric(values, errors="coerce").notna().all()):
            pass
        else:
            fmt = None if isinstance(col.dtype, pd.CategoricalDtype) else _date_format(values)
            if fmt is not None:
                spec.update(type="datetime", format=fmt)
            else:
                counts = _labels(values).value_counts(sort=True)
                spec.update(type="category", levels=sorted(counts.index[:MAX_LEVELS].tolist()),
                            distinct=int(len(counts)))
    return spec


def _booleans(values: Any) -> bool:
    return bool(values.map(lambda v: isinstance(v, bool)).all())


def _date_format(values: Any) -> str | None:
    """The first of ``DATE_FORMATS`` that parses every value of a text column, or None."""
    import pandas as pd

    if not all(isinstance(v, str) for v in values.iloc[:1000]):
        return None
    sample = values.iloc[:1000]
    for fmt in DATE_FORMATS:
        try:
            pd.to_datetime(sample, format=fmt, utc=True)
            pd.to_datetime(values, format=fmt, utc=True)
        except (ValueError, TypeError, OverflowError):
            continue
        return fmt
    return None


def _labels(col: Any) -> Any:
    """Category labels as text, NaN kept: whole floats read back as 1.0 mean the label "1"
    (a chunk of a CSV column whose values all look like numbers comes back numeric)."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_float_dtype(col):
        values = col.to_numpy(dtype=float)
        whole = np.isfinite(values) & (values == np.round(values))
        out = col.astype(object)
        out[whole] = values[whole].astype(np.int64).astype(str)
        rest = ~whole & ~np.isnan(values)
        out[rest] = col[rest].astype(str)
        return out.where(~np.isnan(values), None)
    if pd.api.types.is_bool_dtype(col):
        return col.astype(str)
    return col.where(col.isna(), col.astype(str)).astype(object).where(col.notna(), None)


def _encode_column(col: Any, name: Any, spec: dict[str, Any]) -> Any:
    import numpy as np
    import pandas as pd

    kind = spec["type"]
    if kind == "number":
        return _numeric_column(col, name)
    if kind == "raw":  # a model fitted outside zoo reads this column itself
        return col
    if kind == "category":
        # -1 for a level training never saw (and for missing): NaN, counted as unseen
        codes = pd.Index(spec["levels"]).get_indexer(_labels(col)).astype(float)
        codes[codes < 0] = np.nan
        return pd.Series(codes, index=col.index)
    if kind == "boolean":
        if pd.api.types.is_bool_dtype(col):
            return col.astype(float)
        mapped = col.map(_BOOLEANS.get, na_action="ignore")
        if pd.api.types.is_numeric_dtype(col):
            mapped = col.where(col.isin([0, 1]))
        _type_changed(col, mapped, name, "true/false")
        return mapped.astype(float)
    # datetime
    if pd.api.types.is_datetime64_any_dtype(col):
        stamps = col.dt.tz_localize("UTC") if col.dt.tz is None else col.dt.tz_convert("UTC")
    else:
        fmt = spec.get("format", "ISO8601")
        text = col.where(col.isna(), col.astype(str))
        stamps = pd.to_datetime(text, format=fmt, utc=True, errors="coerce")
        _type_changed(col, stamps, name, f"a date ({fmt})")
    days = (stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(days=1)
    return days.astype(float)


_BOOLEANS = {True: 1.0, False: 0.0, "True": 1.0, "False": 0.0, "true": 1.0, "false": 0.0,
             "TRUE": 1.0, "FALSE": 0.0, "1": 1.0, "0": 0.0}


def _type_changed(col: Any, converted: Any, name: Any, expected: str) -> None:
    """A one-line error for the first value of ``col`` that did not convert."""
    import numpy as np

    bad = converted.isna().to_numpy() & col.notna().to_numpy()
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise DataError(f"column {name!r} held {expected} at training but has "
                        f"{_shown(col.iloc[pos])} in row {_row_number(col, pos)}; fix the value or "
                        "retrain on data of the new type")


def _shown(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _row_number(frame: Any, pos: int) -> int:
    """The 1-based row of position ``pos`` in the file it was read from: chunks keep a running
    integer index (``iter_table``), so errors name file rows, not chunk rows."""
    import pandas as pd

    index = frame.index
    if isinstance(index, pd.RangeIndex):
        return int(index[pos]) + 1
    return pos + 1


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
            raise DataError(f"column {name!r} has an infinite value (row {_row_number(X, row)}); "
                            "replace or drop it")
        count = int(np.isnan(values[:, col]).sum())
        raise DataError(f"column {name!r} has {count} missing value{'s' if count > 1 else ''} "
                        f"(first in row {_row_number(X, row)}); {who or 'this model'} cannot use "
                        "them: fill or "
                        "drop them, or use a component that handles missing values")
    return X


def align(X: Any, feature_names: list[str], keys: Any = (), schema: Any = None) -> Any:
    """Select and order ``X``'s columns as the model saw them at fit, converting to numbers.

    A missing column is an error naming it; extra columns are dropped with an
    ``ExtraColumnsWarning``; column order does not matter. Columns named in ``keys``
    (labels such as the group columns of a group-wise calibrated model) are kept as they
    are instead of being converted to numbers, and so are the category, date and boolean
    columns of the model's input ``schema`` (``infer_schema``): the model encodes those.
    """
    import pandas as pd

    if schema:
        keys = [*keys, *(c["name"] for c in schema if c["type"] != "number")]

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


def check_npz(path: str | Path, max_arrays: int, max_array_bytes: int,
              max_total_bytes: int | None = None) -> None:
    """Refuse (``IntegrityError``) an ``.npz`` artifact with more than ``max_arrays`` arrays,
    more than ``max_total_bytes`` in all, or an array header declaring more bytes than its
    member holds or than ``max_array_bytes``: numpy allocates the declared shape before it
    reads. A file that is no zip passes, for the format's own loader to report."""
    import math
    import zipfile

    import numpy as np
    from numpy.lib import format as npy

    from zoo.errors import IntegrityError

    def crafted(problem: str) -> IntegrityError:
        return IntegrityError(f"crafted or corrupted model: {problem}")

    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        return
    with zf:
        infos = zf.infolist()
        total = sum(i.file_size for i in infos)
        if len(infos) > max_arrays or (max_total_bytes is not None and total > max_total_bytes):
            raise crafted(f"its npz holds {len(infos)} arrays declaring {total} bytes")
        for info in infos:
            try:
                with zf.open(info) as f:
                    read = {(1, 0): npy.read_array_header_1_0,
                            (2, 0): npy.read_array_header_2_0}.get(npy.read_magic(f))
                    if read is None:
                        raise ValueError("unknown npy version")
                    shape, _order, dtype = read(f)
            except (ValueError, OSError, zipfile.BadZipFile, EOFError):
                raise crafted(f"{info.filename[:60]} in its npz is not a numpy array") from None
            size = math.prod(shape) * np.dtype(dtype).itemsize
            if size > max_array_bytes or size > info.file_size:
                raise crafted(f"{info.filename[:60]} declares shape {shape} ({size} bytes) in "
                              f"{info.file_size} bytes")


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
        raise DataError(
            f"column {name!r} has a value that is not a number ({_shown(col.iloc[row])} in row "
            f"{_row_number(col, row)}); encode it as numbers or drop the column"
        )
    return converted.astype(float)


def _table_file(path: str | Path) -> tuple[Path, str]:
    """``path`` and its lower-case suffix, once it is known to be a regular file of a type we
    read: a FIFO would hang the read, a device (``data.csv`` linked to /dev/zero) never ends."""
    import stat

    path = Path(path)
    try:
        mode = path.stat().st_mode  # follows symlinks: the file that would be read
    except FileNotFoundError:
        raise NotFoundError(f"no such file: {path}") from None
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        what = ("a directory" if stat.S_ISDIR(mode) else "a pipe (FIFO)" if stat.S_ISFIFO(mode)
                else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file")
        raise DataError(f"cannot read {path}: it is {what}, not a regular file; give a CSV or "
                        "Parquet file")
    suffix = path.suffix.lower()
    if suffix not in CSV_SUFFIXES | PARQUET_SUFFIXES:
        raise DataError(f"cannot read {path.name}: unknown file type {suffix or '(none)'}; "
                        "use .csv, .tsv or .parquet")
    return path, suffix


@contextmanager
def _read_errors(path: Path) -> Iterator[None]:
    """pandas' and the file system's errors while reading ``path``, as one-line DataErrors."""
    import csv

    import pandas as pd

    try:
        yield
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty: it needs a header row and at least one data row") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError, csv.Error) as exc:
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
    """The header row as written. utf-8-sig: a byte-order mark is not part of the first name
    (pandas drops it too, so "\ufeffa,a" is a duplicated "a"). A field longer than the csv
    module's limit (128 KiB) is a one-line error, not a crash."""
    import csv

    with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
        try:
            return next(csv.reader(f, delimiter=_separator(suffix)), [])
        except csv.Error as exc:
            raise DataError(f"cannot parse {path}: its header row is not valid CSV ({exc})") from None


def _check_parquet_columns(path: Path, schema: Any) -> None:
    """Nested Parquet columns (structs, lists, maps) are not table cells: name the first one."""
    import pyarrow as pa

    for field in schema:
        if pa.types.is_nested(field.type):
            raise DataError(f"cannot read {path}: column {field.name!r} is nested "
                            f"({field.type}); flatten it into plain columns first")


def _separator(suffix: str) -> str:
    return "\t" if suffix == ".tsv" else ","


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
