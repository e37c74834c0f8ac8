"""registry/query.py: the --where / --order-by language, compiled to parameterised SQL."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zoo_registry.query import compile_order_by, compile_where

from zoo.errors import FilterError


@pytest.fixture
def populated(reg, fitted, other_fitted):
    """fraud:1-3 and churn:1-2 with metrics, typed params and tags."""
    reg.register("fraud", fitted, metrics={"auc": 0.80}, tags={"team": "growth"},
                 params={"n_estimators": 100, "criterion": "gini", "lr": 0.1})
    reg.register("fraud", fitted, metrics={"auc": 0.93}, tags={"team": "risk", "stage": "prod"},
                 params={"n_estimators": 300, "criterion": "entropy", "lr": 0.05})
    reg.register("fraud", other_fitted, metrics={"auc": 0.91, "f1": 0.5},
                 tags={"team": "o'brien"},
                 params={"n_estimators": 50, "criterion": "gini", "warm": True})
    reg.register("churn", fitted, metrics={"auc": 0.88}, params={"n_estimators": "100"})
    reg.register("churn", fitted, metrics={"accuracy": 0.7}, params={"n_estimators": None})
    reg.tag("churn", {"owner": "ana"})
    return reg


def refs(reg, where=None, order_by=None, **kwargs) -> list[str]:
    return [v["ref"] for v in reg.versions(where=where, order_by=order_by, **kwargs)]


@pytest.mark.parametrize("where, expected", [
    ("metrics.auc > 0.9", ["fraud:2", "fraud:3"]),
    ("metrics.auc >= 0.8 and tags.team = 'growth'", ["fraud:1"]),
    ("metrics.f1 == 0.5", ["fraud:3"]),
    ("metrics.auc != 0.93", ["churn:1", "fraud:1", "fraud:3"]),
    ("metrics.auc <> 0.93 and metrics.auc < 0.85", ["fraud:1"]),
    ("metrics.auc > 9e-1", ["fraud:2", "fraud:3"]),
    ("metrics.auc > -1", ["churn:1", "fraud:1", "fraud:2", "fraud:3"]),
    ("tags.stage = 'prod'", ["fraud:2"]),
    ("tags.team like 'GRO%'", ["fraud:1"]),  # like is case-insensitive for ASCII
    ("model_tags.owner = 'ana'", ["churn:1", "churn:2"]),
    ("name = 'churn' and version = 2", ["churn:2"]),
    ("name like 'fr%' and version >= 3", ["fraud:3"]),
    ("component = 'zoo.baseline_classifier' and kind = 'predictor' and task = "
     "'classification' and plugin = 'zoo.baselines' and version = 1", ["churn:1", "fraud:1"]),
    ("created_at > '2000-01-01' and version = 2", ["churn:2", "fraud:2"]),
])
def test_filters_on_metrics_tags_and_columns(populated, where, expected):
    assert refs(populated, where) == expected


@pytest.mark.parametrize("where, expected", [
    # numbers compare as numbers ...
    ("params.n_estimators > 60", ["fraud:1", "fraud:2"]),
    ("params.n_estimators = 100", ["fraud:1"]),
    ("params.n_estimators = 100.0", ["fraud:1"]),
    ("params.lr < 0.08", ["fraud:2"]),
    # ... strings as strings: churn:1's "100" is text, never a number
    ("params.n_estimators = '100'", ["churn:1"]),
    ("params.n_estimators > 1000", []),
    ("params.criterion = 'gini'", ["fraud:1", "fraud:3"]),
    ("params.warm = true", ["fraud:3"]),
    ("params.warm = false", []),
    # a missing key and a None value are both null
    ("params.lr is not null", ["fraud:1", "fraud:2"]),
    ("params.n_estimators is null", ["churn:2"]),
    ("metrics.auc is null", ["churn:2"]),
    ("metrics.auc is not null and name = 'churn'", ["churn:1"]),
])
def test_filters_on_typed_params_and_nulls(populated, where, expected):
    assert refs(populated, where) == expected


@pytest.mark.parametrize("where, expected", [
    # and binds tighter than or: A or (B and C)
    ("tags.team = 'growth' or tags.team = 'risk' and metrics.auc > 0.92",
     ["fraud:1", "fraud:2"]),
    ("(tags.team = 'growth' or tags.team = 'risk') and metrics.auc > 0.92", ["fraud:2"]),
    # not binds tighter than and: (not A) and C
    ("not tags.team = 'growth' and metrics.auc > 0.85", ["churn:1", "fraud:2", "fraud:3"]),
    ("not (tags.team = 'growth' and metrics.auc > 0.85)",
     ["churn:1", "churn:2", "fraud:1", "fraud:2", "fraud:3"]),
    ("not not metrics.auc > 0.9", ["fraud:2", "fraud:3"]),
    ("((metrics.auc > 0.9)) AND NOT (params.warm = true OR tags.team = 'x')", ["fraud:2"]),
])
def test_and_or_not_and_parentheses(populated, where, expected):
    assert refs(populated, where) == expected


def test_filter_within_one_model(populated):
    assert refs(populated, "metrics.auc > 0.85", name="fraud") == ["fraud:2", "fraud:3"]


def test_order_by_a_metric_descending_with_a_limit(populated):
    assert refs(populated, order_by="-metrics.auc", limit=2) == ["fraud:2", "fraud:3"]


def test_versions_lacking_the_key_sort_last_both_ways(populated):
    assert refs(populated, order_by="-metrics.auc") == [
        "fraud:2", "fraud:3", "churn:1", "fraud:1", "churn:2"]
    assert refs(populated, order_by="metrics.auc") == [
        "fraud:1", "churn:1", "fraud:3", "fraud:2", "churn:2"]


def test_order_by_several_fields(populated):
    assert refs(populated, order_by="name, -version") == [
        "churn:2", "churn:1", "fraud:3", "fraud:2", "fraud:1"]
    assert refs(populated, order_by="-tags.team,version") == [
        "fraud:2", "fraud:3", "fraud:1", "churn:1", "churn:2"]


def test_default_order_is_name_then_version(populated):
    assert refs(populated) == ["churn:1", "churn:2", "fraud:1", "fraud:2", "fraud:3"]


@pytest.mark.parametrize("where", [
    "tags.team = 'o''brien'",
    'tags.team = "o\'brien"',
    "tags.team = 'o\\'brien'",
])
def test_a_quote_inside_a_value_is_matched_literally(populated, where):
    assert refs(populated, where) == ["fraud:3"]


def test_keys_and_values_are_bound_never_pasted():
    sql, params = compile_where("metrics.weird_key-1.x > 0.123 or tags.t = 'DROP TABLE x'")
    assert "weird" not in sql and "0.123" not in sql and "DROP" not in sql
    assert params == ["weird_key-1.x", 0.123, "t", "DROP TABLE x"]
    terms, params = compile_order_by("-params.evil_key")
    assert "evil" not in " ".join(terms)
    assert params == ["evil_key", "evil_key"]


INJECTIONS = [
    "metrics.auc > 0.9; DROP TABLE versions",
    "tags.team = 'a' OR 1=1 --",
    "tags.team = 'a' --",
    "metrics.auc) > 0 or (1",
    '"x" = "x"',
    "1 = 1",
    "name = 'x' or 'a' = 'a'",
    "unknown.key = 1",
    "versions.id = 1",
    "sqlite_master.name = 'x'",
    "id = 1",
    "metrics.auc > (SELECT 1)",
    "metrics.auc > 0.9 UNION SELECT * FROM audit",
    "tags.team = 'unterminated",
    "tags.team = \"unterminated",
    "metrics.auc > 0.9 /* comment */",
    "name = x'41'",
    "metrics.auc > 0.9)",
    "((metrics.auc > 0.9)",
    "metrics.auc in (1, 2)",
    "metrics.auc between 0 and 1",
    "tags.team = 'a' || 'b'",
    "metrics.auc > 0.9 and",
    "not",
    "metrics.auc = null",
    "metrics.auc > 'high'",
    "version = '1 or 1=1'",
    "metrics.auc like 0.9",
    "metrics.auc > 1.2.3",
    "metrics.auc > 12abc",
    "metrics.",
    "metrics",
]


@pytest.mark.parametrize("where", INJECTIONS)
def test_hostile_filters_are_rejected_and_change_nothing(populated, dump, where):
    before = dump(populated.path)
    with pytest.raises(FilterError, match=r"^cannot parse --where at character \d+: "):
        populated.versions(where=where)
    assert dump(populated.path) == before
    assert len(populated.versions()) == 5


@pytest.mark.parametrize("order_by", [
    "-metrics.auc; DROP TABLE versions", "version desc", "random()", "1", "-", "version,,name",
    "unknown", "metrics.auc --", "(version)", "version,",
])
def test_hostile_orderings_are_rejected(populated, order_by):
    with pytest.raises(FilterError, match=r"^cannot parse --order-by at character \d+: "):
        populated.versions(order_by=order_by)


@pytest.mark.parametrize("where, message", [
    ("metrics.auc_roc >", "cannot parse --where at character 18: expected a value after '>'"),
    ("metrics.auc > 0.9; DROP TABLE versions",
     "cannot parse --where at character 18: unexpected ';': a filter is a single expression"),
    ("foo = 1", "cannot parse --where at character 1: unknown field 'foo': use metrics.KEY, "
     "params.KEY, tags.KEY, model_tags.KEY or one of component, created_at, kind, name, "
     "plugin, task, version"),
    ("tags.team = 'a", "cannot parse --where at character 13: unterminated string: add the "
     "closing '"),
    ("metrics.auc > 0.9 tags.a = 'b'", "cannot parse --where at character 19: expected "
     "'and', 'or' or the end of the filter after '0.9', got 'tags.a'"),
    ("(metrics.auc > 0.9", "cannot parse --where at character 19: expected ')' to close the "
     "'(' at character 1 after '0.9'"),
    ("metrics.auc > 0.9)", "cannot parse --where at character 18: unmatched ')'"),
    ("tags.x is 1", "cannot parse --where at character 11: expected 'null' after 'is', got '1'"),
])
def test_errors_name_the_position_and_what_was_expected(where, message):
    with pytest.raises(FilterError) as err:
        compile_where(where)
    assert str(err.value) == message


def test_blank_filters_mean_no_filter(populated):
    assert len(populated.versions(where="  ", order_by="")) == 5


def test_deep_nesting_and_long_filters_are_refused_cleanly(populated):
    with pytest.raises(FilterError, match="nested deeper"):
        populated.versions(where="(" * 200 + "version = 1" + ")" * 200)
    with pytest.raises(FilterError, match="more than 100 conditions"):
        populated.versions(where=" or ".join(["version = 1"] * 150))
    assert refs(populated, " or ".join(["version = 3"] * 100)) == ["fraud:3"]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_either_parses_or_raises_filter_error(text):
    try:
        compile_where(text)
    except FilterError:
        pass
    try:
        compile_order_by(text)
    except FilterError:
        pass


PIECES = ["metrics.auc", "params.n_estimators", "params.criterion", "tags.team",
          "model_tags.owner", "version", "name", "created_at", "and", "or", "not", "(", ")",
          "=", "!=", "<", ">=", "like", "is", "null", "0.9", "-1", "3", "1e5", "'gini'",
          '"o\'brien"', "'%a%'", "true", "false", ";", "--", "'", '"', "drop", "table", ",",
          "-", "*", "/*", "\\", "\x00", "é"]


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.lists(st.sampled_from(PIECES), max_size=12).map(" ".join),
       order_by=st.lists(st.sampled_from(PIECES), max_size=4).map(",".join))
def test_fuzzed_filters_never_reach_sqlite_as_errors(populated, where, order_by):
    # Whatever parses must also run: no sqlite3 error ever escapes.
    for kwargs in ({"where": where}, {"order_by": order_by}):
        try:
            result = populated.versions(**kwargs)
        except FilterError:
            continue
        assert isinstance(result, list)


# --- issue 17: inputs sized to break Python's int parser, SQLite's limits or its LIKE ---


@pytest.mark.parametrize("where, order_by, message", [
    ("metrics.auc > " + "9" * 5000, None, "a number of 5000 characters; write at most 40"),
    ("version = " + "9" * 5000, None, "a number of 5000 characters"),
    ("metrics.auc > 0." + "9" * 5000, None, "a number of 5002 characters"),
    ("tags.team like '" + "%a" * 25600 + "'", None, "a 'like' pattern may hold at most 1000"),
    ("tags.team like '" + "%a" * 11 + "'", None, "and 10 '%'"),
    (None, ",".join(["metrics.auc"] * 3000), "more than 100 fields"),
    (None, ",".join(f"metrics.k{i}" for i in range(101)), "more than 100 fields"),
])
def test_oversized_filters_are_one_filter_error(populated, dump, where, order_by, message):
    before = dump(populated.path)
    with pytest.raises(FilterError, match=r"^cannot parse --(where|order-by) at character \d+: ") as err:
        populated.versions(where=where, order_by=order_by)
    assert message in str(err.value) and len(str(err.value)) < 300
    assert dump(populated.path) == before


def test_the_largest_allowed_inputs_still_work(populated):
    assert refs(populated, "metrics.auc < " + "9" * 40) == ["churn:1", "fraud:1", "fraud:2", "fraud:3"]
    assert refs(populated, "tags.team like '" + "%" * 9 + "gro%'") == ["fraud:1"]  # ten '%'
    assert len(populated.versions(order_by=",".join(["-metrics.auc"] * 100))) == 5
    assert len(populated.versions(limit=10**30)) == 5
