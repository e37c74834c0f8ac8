import warnings

import numpy as np
import pandas as pd
import pytest

from zoo.data import ExtraColumnsWarning, align, as_frame, fingerprint, read_table, write_table
from zoo.errors import DataError, NotFoundError


def test_read_csv_and_parquet_round_trip(tmp_path):
    df = pd.DataFrame({"a": [1.5, 2.0], "b": ["x", "y"]})
    for name in ("t.csv", "t.parquet", "t.tsv"):
        write_table(df, tmp_path / name)
        pd.testing.assert_frame_equal(read_table(tmp_path / name), df)


@pytest.mark.parametrize(
    "content, message",
    [("", "is empty"), ("a,b\n", "no data rows"), ("a,a\n1,2\n", "duplicated column")],
)
def test_bad_files_give_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=message) as info:
        read_table(path)
    assert "\n" not in str(info.value)


def test_missing_file_and_unknown_suffix(tmp_path):
    with pytest.raises(NotFoundError, match="no such file"):
        read_table(tmp_path / "nope.csv")
    (tmp_path / "data.xlsx").write_text("x")
    with pytest.raises(DataError, match="unknown file type .xlsx"):
        read_table(tmp_path / "data.xlsx")


def test_align_names_missing_column_ignores_extra_and_reorders():
    df = pd.DataFrame({"b": [1, 2], "extra": [0, 0], "a": [3, 4]})
    with pytest.warns(ExtraColumnsWarning, match="extra"):
        out = align(df, ["a", "b"])
    assert list(out.columns) == ["a", "b"]
    assert out["a"].tolist() == [3.0, 4.0]
    with pytest.raises(DataError, match="missing column 'c'"):
        align(df, ["a", "c"])


def test_align_without_extra_columns_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        align(pd.DataFrame({"a": [1]}), ["a"])


def test_value_that_is_not_a_number_names_the_column_and_row():
    df = pd.DataFrame({"age": ["3", "4", "old"]})
    with pytest.raises(DataError, match=r"column 'age' .*'old' in row 3"):
        as_frame(df)


def test_as_frame_converts_numeric_strings_and_bools():
    out = as_frame(pd.DataFrame({"a": ["1", "2.5"], "b": [True, False]}))
    assert out.dtypes.tolist() == [np.float64, np.float64]
    assert out["a"].tolist() == [1.0, 2.5]


def test_fingerprint_is_stable_and_sensitive():
    df = pd.DataFrame({"a": [1, 2, 3], "b": [0.1, 0.2, 0.3]})
    fp = fingerprint(df)
    assert fp == fingerprint(df.copy())
    assert fp["rows"] == 3 and fp["schema"] == {"a": "int64", "b": "float64"}
    changed = df.copy()
    changed.loc[1, "b"] = 0.25
    assert fingerprint(changed)["sha256"] != fp["sha256"]
    assert fingerprint(df.rename(columns={"a": "z"}))["sha256"] != fp["sha256"]
