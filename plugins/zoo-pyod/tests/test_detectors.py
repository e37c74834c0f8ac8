"""The zoo-pyod detectors on small synthetic data: zoo's contract for every detector (the
conformance kit: the contamination threshold, scores that do not depend on the batch, the
round trip through a real registry, ...), input hygiene, explanations, agreement with PyOD."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from zoo_pyod.detectors import DETECTORS, AutoDetector, PCADetector, RefitWarning

from zoo import DataError, IntegrityError, build_catalogue
from zoo.testing import check_plugin, parametrize_with_checks

NAMES = [cls.component for cls in DETECTORS]
FEATURES = ["a", "b", "c", "d", "e"]


def make(name: str, **params):
    return build_catalogue().get(name).create(**params)


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.normal(size=(300, 5)), columns=FEATURES)


@pytest.fixture(scope="module")
def fresh() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(rng.normal(size=(40, 5)), columns=FEATURES)


@parametrize_with_checks(DETECTORS)
def test_conformance(component, check):
    check(component)


def test_every_detector_is_in_the_catalogue_with_a_description_and_npz_format():
    entries = {e["name"]: e for e in check_plugin("pyod", DETECTORS, heavy=("pyod", "numba"))}
    assert {e["artifact_format"] for e in entries.values()} == {"npz"}
    assert {(e["kind"], e["task"]) for e in entries.values()} == {("detector", "anomaly")}
    assert {"pyod.iforest", "pyod.ecod", "pyod.copod", "pyod.hbos", "pyod.knn", "pyod.lof",
            "pyod.cblof", "pyod.pca", "pyod.ocsvm", "pyod.loda", "pyod.auto"} <= set(entries)


@pytest.mark.parametrize("name", NAMES)
def test_integer_input_scores_as_its_float_cast(name):
    rng = np.random.default_rng(2)
    ints = pd.DataFrame(rng.integers(0, 256, size=(200, 4)).astype(np.uint8), columns=list("wxyz"))
    ints.loc[0, "w"] = 0  # negating 0 as uint8 is 0, negating 1 wraps to 255: must not matter
    ints.loc[1, "x"] = 1
    model = make(name).fit(ints)
    as_float = make(name).fit(ints.astype(np.float64))
    np.testing.assert_array_equal(model.decision_function(ints),
                                  as_float.decision_function(ints.astype(np.float64)))


def test_ecod_ranks_a_small_unsigned_value_as_a_low_tail_not_a_wrapped_high_one():
    values = np.full((200, 1), 200, dtype=np.uint8)
    values[:, 0] += np.arange(200, dtype=np.uint8) % 50  # 200..249
    model = make("pyod.ecod").fit(pd.DataFrame(values, columns=["v"]))
    low = model.decision_function(pd.DataFrame({"v": np.array([0, 225], dtype=np.uint8)}))
    assert low[0] > low[1]  # 0 is far below the training values


@pytest.mark.parametrize("name", NAMES)
def test_constant_and_duplicated_columns_give_finite_scores(name, train):
    X = train.copy()
    X["const"] = 3.0
    X["copy"] = X["a"]  # collinear: a zero-variance principal component
    model = make(name).fit(X)
    new = X.head(5).copy()
    new.loc[new.index[0], "const"] = 50.0  # departs along the constant column
    scores = model.decision_function(new)
    assert np.isfinite(scores).all() and np.isfinite(model.threshold_)
    assert np.isfinite(model.explain(new).to_numpy()).all()


def test_pca_keeps_only_components_with_variance(train):
    X = train.assign(const=1.0, copy=train["a"])
    model = PCADetector().fit(X)
    assert model.estimator_.n_components_ == 5


@pytest.mark.parametrize("name", ["pyod.iforest", "pyod.ecod", "pyod.knn", "pyod.auto"])
def test_nan_is_an_error_naming_the_column_unless_imputed(name, train):
    X = train.copy()
    X.loc[[3, 7], "c"] = np.nan
    with pytest.raises(DataError, match=r"column 'c' has 2 missing values.*impute='median'"):
        make(name).fit(X)
    model = make(name, impute="median").fit(X)
    filled = X.fillna({"c": train["c"].drop([3, 7]).median()})
    np.testing.assert_array_equal(model.decision_function(X),
                                  make(name, impute="median").fit(filled).decision_function(filled))
    plain = make(name).fit(train)
    with pytest.raises(DataError, match="column 'c' has 2 missing values"):
        plain.decision_function(X)


def test_impute_must_be_median_or_none(train):
    with pytest.raises(DataError, match="impute must be None or 'median'"):
        make("pyod.hbos", impute="mean").fit(train)


@pytest.mark.parametrize("name", NAMES)
def test_explain_shape_and_it_ranks_an_injected_outlying_feature_first(name, train, fresh):
    model = make(name).fit(train)
    rows = fresh.head(8) * 0.2  # rows near the centre...
    rows["c"] = 6.0  # ...six standard deviations out on feature c only
    shares = model.explain(rows)
    assert shares.shape == (8, 5) and list(shares.columns) == FEATURES
    assert list(shares.index) == list(rows.index)
    assert ((shares.to_numpy() >= 0) & (shares.to_numpy() <= 1)).all()
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    assert (shares.idxmax(axis=1) == "c").all(), shares


def test_per_feature_detectors_split_their_score_exactly(train, fresh):
    for name in ("pyod.ecod", "pyod.copod"):
        model = make(name).fit(train)
        X = fresh.to_numpy()
        np.testing.assert_allclose(model._contributions(X).sum(axis=1), model.decision_function(fresh))


@pytest.mark.slow  # PyOD's HBOS and CBLOF compile numba code first: several seconds
def test_hbos_and_cblof_score_exactly_as_pyod(train, fresh):
    from pyod.models.cblof import CBLOF
    from pyod.models.hbos import HBOS

    X, new = train.to_numpy(), fresh.to_numpy()
    np.testing.assert_allclose(make("pyod.hbos").fit(train).decision_function(fresh),
                               HBOS().fit(X).decision_function(new), rtol=1e-12)
    np.testing.assert_allclose(make("pyod.cblof").fit(train).decision_function(fresh),
                               CBLOF(random_state=0).fit(X).decision_function(new), rtol=1e-12)


def test_knn_scores_training_rows_with_decision_function(train):
    model = make("pyod.knn").fit(train)
    # A training row is its own nearest neighbour: its score is its distance to the 4th other.
    from sklearn.neighbors import NearestNeighbors

    dist, _ = NearestNeighbors(n_neighbors=5).fit(train.to_numpy()).kneighbors(train.to_numpy())
    np.testing.assert_allclose(model.decision_scores_, dist[:, -1])


def test_too_few_rows_and_bad_parameters_are_one_line_errors(train):
    with pytest.raises(DataError, match="n_neighbors=5 needs more than 5 training rows"):
        make("pyod.knn").fit(train.head(4))
    with pytest.raises(DataError, match="members must be some of"):
        make("pyod.auto", members=["pyod.nope"]).fit(train)
    with pytest.raises(DataError, match="contamination must be above 0 and at most 0.5"):
        make("pyod.iforest", contamination=0.8).fit(train)
    with pytest.raises(DataError, match="every column is constant"):
        make("pyod.pca").fit(pd.DataFrame({"a": [1.0] * 10, "b": [2.0] * 10}))


def test_artifact_is_plain_arrays_without_pickle(train, tmp_path):
    path = tmp_path / "model.npz"
    make("pyod.auto").fit(train).save(path)
    with np.load(path, allow_pickle=False) as z:
        assert set(z.files) == {"X_train", "decision_scores", "header"}
        header = json.loads(str(z["header"]))
    assert header["component"] == "pyod.auto" and header["params"]["combine"] == "max"


def test_load_refuses_another_component_and_warns_when_the_refit_differs(train, tmp_path):
    path = tmp_path / "model.npz"
    make("pyod.knn").fit(train).save(path)
    with pytest.raises(IntegrityError, match="holds 'pyod.knn'"):
        AutoDetector.load(path)
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["decision_scores"] = arrays["decision_scores"] + 1e-9
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    with pytest.warns(RefitWarning, match="differently from when it was saved"):
        build_catalogue().get("pyod.knn").cls.load(path)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(IntegrityError, match="not a zoo-pyod detector file"):
        AutoDetector.load(tmp_path / "junk.npz")


def test_auto_flags_what_its_members_find(train):
    X = train.copy()
    X.loc[:4, "b"] += 8  # far out on one feature
    model = make("pyod.auto", contamination=0.02).fit(X)
    assert set(np.flatnonzero(model.predict(X))) >= {0, 1, 2, 3, 4}
    assert model.explain(X.head(5)).idxmax(axis=1).eq("b").all()


@pytest.mark.parametrize("name", ["pyod.ecod", "pyod.copod", "pyod.hbos", "pyod.auto"])
def test_scores_do_not_depend_on_memory_layout_with_many_columns(name, tmp_path):
    # Summing 40 per-feature parts: numpy sums rows of column-major arrays in another order.
    rng = np.random.default_rng(5)
    X = pd.DataFrame(rng.normal(size=(300, 40)), columns=[f"f{i}" for i in range(40)])
    assert X.to_numpy().flags["F_CONTIGUOUS"]
    model = make(name).fit(X)
    row_major = pd.DataFrame(np.ascontiguousarray(X.to_numpy()), columns=X.columns)
    np.testing.assert_array_equal(model.decision_function(row_major), model.decision_scores_)
    model.save(tmp_path / "m.npz")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RefitWarning)
        loaded = type(model).load(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.decision_function(X), model.decision_scores_)


def test_a_file_saved_before_the_rename_to_decision_scores_still_loads(train, fresh, tmp_path):
    path = tmp_path / "old.npz"
    model = make("pyod.knn", contamination=0.07).fit(train)
    model.save(path)
    with np.load(path, allow_pickle=False) as z:
        arrays = {"training_scores" if k == "decision_scores" else k: z[k] for k in z.files}
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RefitWarning)
        loaded = type(model).from_artifact(path, model.metadata)
    np.testing.assert_array_equal(loaded.decision_scores_, model.decision_scores_)
    np.testing.assert_array_equal(loaded.decision_function(fresh), model.decision_function(fresh))
    assert loaded.threshold_ == model.threshold_ and loaded.contamination == 0.07


# --- pyod.auto's design (zoo_pyod/auto.py) ---


def test_leave_one_dataset_out_chooses_without_the_scored_set():
    from zoo_pyod.auto import choose_design, leave_one_dataset_out

    rng = np.random.default_rng(7)
    aucs = rng.uniform(0.6, 0.9, size=(6, 20))  # data sets x designs
    scores, chosen = leave_one_dataset_out(aucs)
    for i in range(len(aucs)):
        others = np.delete(aucs, i, axis=0)
        assert chosen[i] == choose_design(others) and scores[i] == aucs[i, chosen[i]]
        # Whatever the held-out set says, its design stays: make another design perfect on it.
        rigged = aucs.copy()
        rigged[i] = 0.5
        rigged[i, (chosen[i] + 1) % aucs.shape[1]] = 1.0
        assert leave_one_dataset_out(rigged)[1][i] == chosen[i]
    # In-sample, that rigged design would win: the held-out score is not an in-sample one.
    rigged = aucs.copy()
    rigged[:, 3] = 0.0
    rigged[0, 3] = 50.0
    assert choose_design(rigged) == 3 and leave_one_dataset_out(rigged)[1][0] != 3


def test_the_shipped_design_is_in_the_searched_space_and_is_the_default():
    from zoo_pyod import auto

    assert len(auto.AUTO_MEMBERS) >= auto.MIN_MEMBERS
    assert auto.AUTO_NORMALISE in auto.NORMALISATIONS and auto.AUTO_COMBINE in auto.COMBINATIONS
    params = AutoDetector().get_params()
    assert (tuple(params["members"]), params["normalise"], params["combine"]) == (
        auto.AUTO_MEMBERS, auto.AUTO_NORMALISE, auto.AUTO_COMBINE)


@pytest.mark.parametrize("normalise", ["rank", "robust", "zscore", "minmax"])
@pytest.mark.parametrize("rule", ["mean", "max"])
def test_auto_is_its_members_scores_normalised_by_their_training_scores(normalise, rule, train, fresh):
    from zoo_pyod.auto import combine, fit_scale
    from zoo_pyod.auto import normalise as on_scale

    members = ["pyod.iforest", "pyod.hbos", "pyod.copod"]
    model = make("pyod.auto", members=members, normalise=normalise, combine=rule).fit(train)
    columns = []
    for name in members:
        single = make(name).fit(train)
        scale = fit_scale(single.decision_scores_, normalise)
        columns.append(on_scale(single.decision_function(fresh), scale))
    np.testing.assert_allclose(model.decision_function(fresh), combine(np.column_stack(columns), rule))
    # A row scores the same alone as in its batch.
    assert model.decision_function(fresh.head(1))[0] == model.decision_function(fresh)[0]


def test_rank_scale_keeps_ordering_beyond_the_training_range():
    from zoo_pyod.auto import fit_scale, normalise

    scale = fit_scale(np.arange(100.0), "rank")
    out = normalise(np.array([-20.0, -1.0, 0.0, 49.5, 99.0, 100.0, 150.0]), scale)
    assert np.all(np.diff(out) > 0)  # beyond either end still ordered, not tied at 0 or 1
    assert out[3] == pytest.approx(0.5) and 0.0 <= out[2] < out[4] <= 1.0


def test_auto_rejects_an_unknown_scale_or_rule(train):
    with pytest.raises(DataError, match="normalise must be one of rank, robust"):
        make("pyod.auto", normalise="softmax").fit(train)
    with pytest.raises(DataError, match="combine must be one of mean, max"):
        make("pyod.auto", combine="median").fit(train)


def test_an_auto_file_saved_before_normalise_existed_loads_as_it_scored(train, fresh, tmp_path):
    # The earlier design: robust z-scores of six members, their maximum; no normalise parameter.
    old = make("pyod.auto", members=["pyod.iforest", "pyod.knn", "pyod.cblof", "pyod.hbos", "pyod.pca",
                                     "pyod.copod"], normalise="robust", combine="max").fit(train)
    path = tmp_path / "old.npz"
    old.save(path)
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    header = json.loads(str(arrays["header"]))
    del header["params"]["normalise"]
    arrays["header"] = np.array(json.dumps(header))
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RefitWarning)
        loaded = AutoDetector.load(path)
    assert loaded.normalise == "robust"
    np.testing.assert_array_equal(loaded.decision_function(fresh), old.decision_function(fresh))
