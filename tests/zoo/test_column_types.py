"""Column types end to end (issue 13): numbers, booleans, text categories (few and many
levels), dates and missing values are learnt by every predictor plugin straight from a
table, stored as the version's input schema, applied the same way at predict time, and a
value of the wrong type is one line naming its column and file row."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zootest import needs_plugin, one_line_error, version_count, zoo

from zoo import Registry, build_catalogue
from zoo.data import (
    DataError,
    IdLikeColumnWarning,
    choose_columns,
    encode,
    infer_schema,
    input_issues,
    iter_table,
    typed_frame,
)

PREDICTORS = ["sklearn.hist_gradient_boosting_classifier", "sklearn.logistic_regression",
              "sklearn.random_forest_classifier", "xgboost.classifier", "lightgbm.classifier"]


def churn(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """A churn table as users have them: an ID, text categories (3 and ~150 levels), a date,
    a boolean, missing values; churn depends on the plan, the age and the signup date."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "customer_id": [f"C{i:05d}" for i in range(n)],
        "age": rng.integers(18, 80, n).astype(float),
        "plan": rng.choice(["basic", "pro", "enterprise"], n),
        "signup date": pd.date_range("2020-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
        "autopay": rng.choice([True, False], n),
        "city": [f"city{i}" for i in rng.integers(0, 150, n)],
    })
    df.loc[::7, "age"] = np.nan
    df.loc[::11, "plan"] = np.nan
    late = pd.to_datetime(df["signup date"]) > pd.Timestamp("2020-09-01")
    df["churned"] = ((df["plan"] == "basic") | (df["age"].fillna(50) > 65) | late).astype(int)
    return df


# --- schema and encoding ---


def test_infer_schema_names_each_column_type():
    df = churn().drop(columns="churned")
    df["all missing"] = np.nan
    df["us dates"] = pd.date_range("2021-03-01", periods=len(df)).strftime("%m/%d/%Y")
    df["numbers as text"] = df["age"].map(lambda v: "" if np.isnan(v) else str(v)).replace("", None)
    kinds = {c["name"]: c["type"] for c in infer_schema(df)}
    assert kinds == {"customer_id": "category", "age": "number", "plan": "category",
                     "signup date": "datetime", "autopay": "boolean", "city": "category",
                     "all missing": "number", "us dates": "datetime", "numbers as text": "number"}
    plan = next(c for c in infer_schema(df) if c["name"] == "plan")
    assert plan["levels"] == ["basic", "enterprise", "pro"] and plan["missing"] == (len(df) + 10) // 11
    us = next(c for c in infer_schema(df) if c["name"] == "us dates")
    assert us["format"] == "%m/%d/%Y"


def test_encode_maps_unseen_levels_and_missing_values_to_nan_and_counts_them():
    df = churn().drop(columns="churned")
    X, schema = typed_frame(df)
    assert all(dtype == np.float64 for dtype in X.dtypes)
    new = df.head(4).astype({"autopay": object})
    new.loc[0, "plan"] = "platinum"  # never seen
    new.loc[1, "autopay"] = None      # autopay had no missing values in training
    out = encode(new, schema)
    assert np.isnan(out.loc[0, "plan"]) and not np.isnan(out.loc[2, "plan"])
    assert input_issues(new, schema) == {"unseen_categories": 1, "new_missing": 1}
    # A CSV chunk whose category values all look like numbers comes back numeric: 1.0 means "1".
    levels = [{"name": "code", "type": "category", "levels": ["1", "2"], "missing": 0}]
    assert encode(pd.DataFrame({"code": [1.0, 2.0, np.nan]}), levels)["code"].tolist()[:2] == [0.0, 1.0]


@pytest.mark.parametrize("column, value, expected", [
    ("age", "forty", "'age' has a value that is not a number ('forty' in row 3)"),
    ("signup date", "yesterday",
     "'signup date' held a date (ISO8601) at training but has 'yesterday' in row 3"),
    ("autopay", "maybe", "'autopay' held true/false at training but has 'maybe' in row 3"),
])
def test_a_column_whose_type_changed_is_one_line_naming_it_and_the_file_row(column, value, expected):
    df = churn().drop(columns="churned")
    _, schema = typed_frame(df)
    new = df.head(4).astype(object)
    new.loc[2, column] = value
    with pytest.raises(DataError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        encode(new, schema)


def test_rows_of_later_chunks_are_numbered_as_in_the_file(tmp_path):
    df = pd.DataFrame({"x": [1.0] * 25})
    df.loc[21, "x"] = np.inf
    for suffix in ("csv", "parquet"):
        path = tmp_path / f"t.{suffix}"
        df.to_csv(path, index=False) if suffix == "csv" else df.to_parquet(path)
        chunks = list(iter_table(path, chunk_rows=10))
        assert [c.index[0] for c in chunks] == [0, 10, 20]
        from zoo.data import check_values

        with pytest.raises(DataError, match=r"row 22\)"):
            check_values(chunks[2], True, "m")


# --- every predictor plugin, through the registry ---


@pytest.mark.parametrize("component", PREDICTORS)
def test_each_predictor_learns_raw_tables_and_predicts_the_same_after_loading(tmp_path, component):
    needs_plugin(component.split(".")[0])
    df = churn()
    X, y = df.drop(columns=["churned", "customer_id"]), df["churned"]
    model = build_catalogue().get(component).create().fit(X.iloc[::2], y.iloc[::2])
    assert model.validate(X.iloc[1::2], y.iloc[1::2])["roc_auc"] > 0.9
    new = X.iloc[1::2].astype({"autopay": object})
    new.iloc[0, new.columns.get_loc("plan")] = "platinum"  # unseen level: no crash
    new.iloc[1, new.columns.get_loc("autopay")] = None     # new missing value: no crash
    with Registry(tmp_path / "r.db") as registry:
        version = registry.register("churn", model)
        assert [c["type"] for c in version["metadata"]["input_schema"]] == [
            "number", "category", "datetime", "boolean", "category"]
        assert version["metadata"]["output_schema"][0]["name"] == "prediction"
        loaded = registry.load("churn:1", observed=False)
    np.testing.assert_array_equal(model.predict_proba(new), loaded.predict_proba(new))


@pytest.mark.parametrize("component", ["sklearn.hist_gradient_boosting_classifier",
                                       "xgboost.classifier", "lightgbm.classifier"])
def test_tree_libraries_split_on_categories_natively(component):
    """The label is one level of a 40-level column: native category splits find it at once."""
    needs_plugin(component.split(".")[0])
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"shop": [f"s{i}" for i in rng.integers(0, 40, 800)]})
    y = (X["shop"] == "s17").astype(int)
    model = build_catalogue().get(component).create(n_estimators=5) if "hist" not in component \
        else build_catalogue().get(component).create(max_iter=5)
    model.fit(X, y)
    assert model.validate(X, y)["roc_auc"] > 0.99


# --- choosing columns ---


def test_choose_columns_features_drop_target_and_id_warning():
    df = churn()
    with pytest.warns(IdLikeColumnWarning, match="'customer_id'"):
        out = choose_columns(df, "churned")
    assert "churned" in out.columns
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert list(choose_columns(df, "churned", features="age,plan").columns) == ["age", "plan", "churned"]
        assert "customer_id" not in choose_columns(df, "churned", drop=["customer_id"]).columns
    with pytest.raises(DataError, match="--drop names the target 'churned'"):
        choose_columns(df, "churned", drop="customer_id,churned")
    with pytest.raises(DataError, match="--features names 'nope', not in the data"):
        choose_columns(df, "churned", features="age,nope")
    holes = df.astype({"churned": float})
    holes.loc[:9, "churned"] = np.nan
    with pytest.warns(UserWarning, match="dropped 10 of 400 rows whose target 'churned' is missing"):
        assert len(choose_columns(holes, "churned", drop="customer_id", drop_missing_target=True)) == 390


def test_cli_trains_on_a_raw_churn_csv_and_predicts_with_unseen_levels(tmp_path, registry_path):
    needs_plugin("lightgbm")
    df = churn()
    df.to_csv(tmp_path / "churn.csv", index=False)
    result = zoo("train", "lightgbm.classifier", tmp_path / "churn.csv", "--target", "churned",
                 "--name", "churn", "--drop", "customer_id")
    assert "Registered churn:1" in result.output and "like an ID" not in result.output
    new = df.drop(columns="churned").head(5).copy()
    new.loc[0, "plan"] = "platinum"
    new.to_csv(tmp_path / "new.csv", index=False)
    scored = zoo("predict", "churn", tmp_path / "new.csv", "-o", tmp_path / "out.csv")
    assert scored.exit_code == 0
    assert len(pd.read_csv(tmp_path / "out.csv")) == 5
    shown = zoo("show", "churn:1").output
    assert "Input schema" in shown and "datetime" in shown and "basic, enterprise, pro" in shown
    # Drift treats each column by its type: the date as a quantity, not chi-square categories.
    drift = json.loads(zoo("drift", "churn:1", tmp_path / "new.csv", "--json", ok=False).output)
    tests = {row["feature"]: row["test"] for row in drift["features"]}
    assert "chi" not in tests["signup date"] and "chi" in tests["plan"]
    # A date that is not a date: one line naming the column and the file row; nothing written.
    new.loc[3, "signup date"] = "yesterday"
    new.to_csv(tmp_path / "bad.csv", index=False)
    line = one_line_error(zoo("predict", "churn", tmp_path / "bad.csv", ok=False))
    assert "'signup date'" in line and "row 4" in line
    # --features / --drop-missing-target from the command line
    holes = df.astype({"churned": float})
    holes.loc[:4, "churned"] = np.nan
    holes.to_csv(tmp_path / "holes.csv", index=False)
    out = zoo("train", "lightgbm.classifier", tmp_path / "holes.csv", "--target", "churned", "--name",
              "f", "--features", "age,plan", "--drop-missing-target", "--json").output
    assert "dropped 5 of 400 rows" in out
    line = one_line_error(zoo("train", "lightgbm.classifier", tmp_path / "holes.csv", "--target",
                              "churned", "--name", "f", "--features", "churned", ok=False))
    assert "target is never a feature" in line


# --- hostile column types (property-based) ---

cells = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=False), st.integers(-10, 10),
                  st.booleans(), st.sampled_from(["a", "b", "c", "2024-01-02", "01/02/2024",
                                                  "2024-13-45", "Jan 2 2024", "", "nan", "True"]))


@pytest.mark.slow
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(train=st.lists(st.lists(cells, min_size=3, max_size=3), min_size=12, max_size=30),
       new=st.lists(st.lists(cells, min_size=3, max_size=3), min_size=1, max_size=5))
def test_hostile_column_types_train_or_fail_in_one_line_and_predict_likewise(tmp_path_factory, train,
                                                                              new):
    """Mixed types in a column, all-missing columns, unseen categories, dates in several formats."""
    needs_plugin("lightgbm")
    tmp = tmp_path_factory.mktemp("types")
    registry_path = tmp / "r.db"
    df = pd.DataFrame(train, columns=["a", "b", "c"])
    df["y"] = [0, 1] * (len(df) // 2) + [0] * (len(df) % 2)
    df.to_csv(tmp / "train.csv", index=False)
    result = zoo("--registry", registry_path, "train", "lightgbm.classifier", tmp / "train.csv",
                 "--target", "y", "--name", "h", ok=False)
    if result.exit_code:
        assert "ZOO_DEBUG" not in one_line_error(result)
        assert version_count(registry_path) == 0
        return
    assert version_count(registry_path) == 1
    pd.DataFrame(new, columns=["a", "b", "c"]).to_csv(tmp / "new.csv", index=False)
    scored = zoo("--registry", registry_path, "predict", "h", tmp / "new.csv", ok=False)
    if scored.exit_code:
        assert "ZOO_DEBUG" not in one_line_error(scored)
    assert version_count(registry_path) == 1
