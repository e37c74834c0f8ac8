"""The zoo-pyod detectors on small synthetic data: input hygiene, the contamination
threshold, explanations, agreement with PyOD, and the round trip through a real registry."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from zoo_pyod.detectors import DETECTORS, AutoDetector, PCADetector, RefitWarning

from zoo import Registry
from zoo.catalogue import build_catalogue
from zoo.errors import DataError, IntegrityError

NAMES = [cls.component for cls in DETECTORS]
FEATURES = ["a", "b", "c", "d", "e"]


@pytest.fixture(autouse=True)
def own_registry(tmp_path, monkeypatch):
    """Self-contained: these tests never touch the user's registry, run from anywhere."""
    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "registry.db"))


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


def test_every_detector_is_in_the_catalogue_with_a_description_and_npz_format():
    catalogue = build_catalogue()
    for name in [*NAMES, "pyod.auto"]:
        info = catalogue.get(name)
        assert info.kind == "detector" and info.task == "anomaly"
        assert info.artifact_format == "npz" and info.description
    assert {"pyod.iforest", "pyod.ecod", "pyod.copod", "pyod.hbos", "pyod.knn", "pyod.lof",
            "pyod.cblof", "pyod.pca", "pyod.ocsvm", "pyod.loda", "pyod.auto"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("contamination", [0.05, 0.1, 0.25])
def test_flagged_share_of_training_rows_matches_contamination_within_one_row(name, contamination, train):
    model = make(name, contamination=contamination).fit(train)
    scores = model.score(train)
    flagged = int(model.predict(train).sum())
    if len(np.unique(scores)) == len(scores):
        assert abs(flagged - contamination * len(train)) <= 1, flagged
    else:  # tied scores (HBOS bins): the closest achievable count
        achievable = [(scores > s).sum() for s in np.unique(scores)]
        assert abs(flagged - contamination * len(train)) == min(
            abs(a - contamination * len(train)) for a in achievable)
    np.testing.assert_array_equal(model.training_scores_, scores)


@pytest.mark.parametrize("name", NAMES)
def test_integer_input_scores_as_its_float_cast(name):
    rng = np.random.default_rng(2)
    ints = pd.DataFrame(rng.integers(0, 256, size=(200, 4)).astype(np.uint8), columns=list("wxyz"))
    ints.loc[0, "w"] = 0  # negating 0 as uint8 is 0, negating 1 wraps to 255: must not matter
    ints.loc[1, "x"] = 1
    model = make(name).fit(ints)
    as_float = make(name).fit(ints.astype(np.float64))
    np.testing.assert_array_equal(model.score(ints), as_float.score(ints.astype(np.float64)))


def test_ecod_ranks_a_small_unsigned_value_as_a_low_tail_not_a_wrapped_high_one():
    values = np.full((200, 1), 200, dtype=np.uint8)
    values[:, 0] += np.arange(200, dtype=np.uint8) % 50  # 200..249
    model = make("pyod.ecod").fit(pd.DataFrame(values, columns=["v"]))
    low = model.score(pd.DataFrame({"v": np.array([0, 225], dtype=np.uint8)}))
    assert low[0] > low[1]  # 0 is far below the training values


@pytest.mark.parametrize("name", NAMES)
def test_constant_and_duplicated_columns_give_finite_scores(name, train):
    X = train.copy()
    X["const"] = 3.0
    X["copy"] = X["a"]  # collinear: a zero-variance principal component
    model = make(name).fit(X)
    new = X.head(5).copy()
    new.loc[new.index[0], "const"] = 50.0  # departs along the constant column
    scores = model.score(new)
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
    np.testing.assert_array_equal(model.score(X), make(name, impute="median").fit(filled).score(filled))
    plain = make(name).fit(train)
    with pytest.raises(DataError, match="column 'c' has 2 missing values"):
        plain.score(X)


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
        np.testing.assert_allclose(model._contributions(X).sum(axis=1), model.score(fresh))


@pytest.mark.slow  # PyOD's HBOS and CBLOF compile numba code first: several seconds
def test_hbos_and_cblof_score_exactly_as_pyod(train, fresh):
    from pyod.models.cblof import CBLOF
    from pyod.models.hbos import HBOS

    X, new = train.to_numpy(), fresh.to_numpy()
    np.testing.assert_allclose(make("pyod.hbos").fit(train).score(fresh),
                               HBOS().fit(X).decision_function(new), rtol=1e-12)
    np.testing.assert_allclose(make("pyod.cblof").fit(train).score(fresh),
                               CBLOF(random_state=0).fit(X).decision_function(new), rtol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_a_row_scores_the_same_alone_in_a_batch_or_as_a_training_row(name, train, fresh):
    model = make(name).fit(train)
    batch = model.score(fresh)
    alone = np.array([model.score(fresh.iloc[[i]])[0] for i in range(0, len(fresh), 7)])
    np.testing.assert_array_equal(batch[::7], alone)
    np.testing.assert_array_equal(model.score(train.iloc[::9]), model.training_scores_[::9])


def test_knn_scores_training_rows_with_decision_function(train):
    model = make("pyod.knn").fit(train)
    # A training row is its own nearest neighbour: its score is its distance to the 4th other.
    from sklearn.neighbors import NearestNeighbors

    dist, _ = NearestNeighbors(n_neighbors=5).fit(train.to_numpy()).kneighbors(train.to_numpy())
    np.testing.assert_allclose(model.training_scores_, dist[:, -1])


def test_too_few_rows_and_bad_parameters_are_one_line_errors(train):
    with pytest.raises(DataError, match="n_neighbors=5 needs more than 5 training rows"):
        make("pyod.knn").fit(train.head(4))
    with pytest.raises(DataError, match="members must be some of"):
        make("pyod.auto", members=["pyod.nope"]).fit(train)
    with pytest.raises(DataError, match="contamination must be above 0 and at most 0.5"):
        make("pyod.iforest", contamination=0.8).fit(train)
    with pytest.raises(DataError, match="every column is constant"):
        make("pyod.pca").fit(pd.DataFrame({"a": [1.0] * 10, "b": [2.0] * 10}))


def test_set_contamination_moves_the_threshold_on_training_scores(train):
    model = make("pyod.iforest").fit(train)
    model.set_contamination(0.02)
    assert model.predict(train).sum() == 6 and model.contamination == 0.02


@pytest.mark.parametrize("name", NAMES)
def test_round_trip_through_the_registry_is_bit_identical(name, train, fresh, tmp_path):
    model = make(name, contamination=0.07).fit(train)
    with Registry(tmp_path / "r.db") as reg:
        version = reg.register("det", model)
        assert version["artifact_format"] == "npz"
        assert version["metadata"]["feature_names"] == FEATURES
        with warnings.catch_warnings():
            warnings.simplefilter("error", RefitWarning)
            loaded = reg.load("det")
    assert type(loaded) is type(model) and loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.score(fresh), model.score(fresh))
    np.testing.assert_array_equal(loaded.predict(train), model.predict(train))
    assert loaded.threshold_ == model.threshold_
    pd.testing.assert_frame_equal(loaded.explain(fresh), model.explain(fresh))


def test_artifact_is_plain_arrays_without_pickle(train, tmp_path):
    path = tmp_path / "model.npz"
    make("pyod.auto").fit(train).save(path)
    with np.load(path, allow_pickle=False) as z:
        assert set(z.files) == {"X_train", "training_scores", "header"}
        header = json.loads(str(z["header"]))
    assert header["component"] == "pyod.auto" and header["params"]["combine"] == "max"


def test_load_refuses_another_component_and_warns_when_the_refit_differs(train, tmp_path):
    path = tmp_path / "model.npz"
    make("pyod.knn").fit(train).save(path)
    with pytest.raises(IntegrityError, match="holds 'pyod.knn'"):
        AutoDetector.load(path)
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["training_scores"] = arrays["training_scores"] + 1e-9
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
    np.testing.assert_array_equal(model.score(row_major), model.training_scores_)
    model.save(tmp_path / "m.npz")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RefitWarning)
        loaded = type(model).load(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.score(X), model.training_scores_)
