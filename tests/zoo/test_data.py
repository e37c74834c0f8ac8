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


def test_align_passes_a_float_frame_in_model_order_through_and_converts_anything_else():
    names = ["a", "b"]
    floats = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    assert align(floats, names) is floats  # nothing to select or convert: no copy
    for other in (floats[["b", "a"]], floats.assign(b=[3, 4]), floats.assign(c=[0.0, 0.0]),
                  floats.astype("float32")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExtraColumnsWarning)
            out = align(other, names)
        assert list(out.columns) == names and all(out.dtypes == np.float64)
        pd.testing.assert_frame_equal(out, floats, check_dtype=True)


def test_check_values_fast_path_still_finds_inf_and_nan():
    from zoo.data import check_values

    ok = pd.DataFrame({"a": [1.0, 2.0]})
    assert check_values(ok, False, "m") is ok
    with pytest.raises(DataError, match="infinite value"):
        check_values(pd.DataFrame({"a": [1.0, np.inf]}), True, "m")
    with pytest.raises(DataError, match="missing value"):
        check_values(pd.DataFrame({"a": [1.0, np.nan]}), False, "m")
    holes = pd.DataFrame({"a": [1.0, np.nan]})
    assert check_values(holes, True, "m") is holes
    huge = pd.DataFrame({"a": [1e308, 1e308]})  # the sum overflows; the values are finite
    assert check_values(huge, False, "m") is huge


def test_align_keeps_key_columns_as_labels():
    df = pd.DataFrame({"campaign": ["north", "south"], "x": ["1", "2"], "ad": [3, 4], "extra": [0, 0]})
    with pytest.warns(ExtraColumnsWarning, match="extra"):
        out = align(df, ["x", "campaign", "ad"], keys=["campaign", "ad"])
    assert list(out.columns) == ["x", "campaign", "ad"]
    assert out["x"].dtype == float  # features still become numbers
    assert out["campaign"].tolist() == ["north", "south"] and out["ad"].tolist() == [3, 4]
    with pytest.raises(DataError, match="'campaign'"):
        align(df.drop(columns="campaign"), ["x", "campaign"], keys=["campaign"])
    with pytest.raises(DataError, match="not a number"):
        align(df[["x", "campaign"]], ["x", "campaign"])  # without keys a label column is refused
