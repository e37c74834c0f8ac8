"""Crafted skops artifacts (hash-consistent: registered as the version's own bytes) are
refused with one line before scikit-learn's Cython sees them: a tree child at 50,000,000
(a segfault without the check), a node that is its own child (a hang), a split on a
feature the model does not have, and the same in histogram gradient boosting; on category
columns, a forest behind zoo's one-hot encoder checked against its own (wider) input and
histogram gradient boosting's categorical bitsets, category mask and preprocessor. The loads
run in a subprocess, so a regression fails the test instead of killing pytest."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


import numpy as np
import pandas as pd
import pytest
import skops.io
from zoo_sklearn.models import (
    HistGradientBoostingRegressorModel,
    RandomForestClassifierModel,
    RandomForestRegressorModel,
)
from zoo_sklearn.validate import check_archive, check_estimator

from zoo import IntegrityError, Registry
from zoo.testing import load_in_subprocess

#: Rows every loaded version scores.
ROWS = pd.DataFrame(np.zeros((3, 4)), columns=list("abcd"))


def frame() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(120, 4)), columns=list("abcd"))
    return X, (X["a"] * X["b"] > 0).astype(int)


def register_bytes(registry: Registry, name: str, model, estimator) -> str:
    """Register ``model``'s version record with ``estimator`` dumped as its artifact: the
    registry hashes these bytes, so only the validators stand between them and scoring."""
    model.save = lambda path: skops.io.dump(estimator, path)
    return registry.register(name, model)["ref"]


def forest(cls=RandomForestClassifierModel):
    X, y = frame()
    return cls(n_estimators=3).fit(X, y)


def test_crafted_trees_are_refused_in_one_line_without_crashing_or_hanging(registry_path):
    edits = {
        "child": lambda t: t.children_left.__setitem__(0, 50_000_000),
        "selfloop": lambda t: (t.children_left.__setitem__(0, 0), t.children_right.__setitem__(0, 0)),
        "feature": lambda t: t.feature.__setitem__(0, 10**6),
    }
    refs = {}
    with Registry(registry_path) as registry:
        for name, edit in edits.items():
            model = forest()
            edit(model.estimator_.estimators_[2].tree_)
            refs[name] = register_bytes(registry, name, model, model.estimator_)
        hgb = HistGradientBoostingRegressorModel(max_iter=3).fit(*frame())
        hgb.estimator_._predictors[1][0].nodes["left"][0] = 0
        refs["hgb"] = register_bytes(registry, "hgb", hgb, hgb.estimator_)
        refs["good"] = register_bytes(registry, "good", forest(RandomForestRegressorModel),
                                      forest(RandomForestRegressorModel).estimator_)
    lines = load_in_subprocess(registry_path, refs.values(), ROWS, timeout=180)
    assert lines[refs["good"]].startswith("LOADED")
    expected = {"child": "tree 2 node 0 points at left child 50000000",
                "selfloop": "tree 2 node 0 points at left child 0",
                "feature": "tree 2 node 0 splits on feature 1000000 (the model has 4 features)",
                "hgb": "tree 1 node 0 points at left child 0"}
    for name, problem in expected.items():
        line = lines[refs[name]]
        assert line.startswith("REFUSED") and "<newline>" not in line, line
        assert f"{refs[name]}: crafted or corrupted model: {problem}" in line


def test_the_cli_refuses_a_crafted_forest_in_one_line(registry_path, run_zoo, tmp_path):
    model = forest()
    model.estimator_.estimators_[0].tree_.children_left[0] = 50_000_000
    with Registry(registry_path) as registry:
        ref = register_bytes(registry, "fraud", model, model.estimator_)
    data = tmp_path / "x.csv"
    frame()[0].to_csv(data, index=False)
    proc = run_zoo("predict", ref, str(data))
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
    assert "fraud:1" in proc.stderr and "points at left child 50000000 (out of" in proc.stderr


@pytest.mark.parametrize("cls", [RandomForestClassifierModel, RandomForestRegressorModel,
                                 HistGradientBoostingRegressorModel])
def test_genuine_estimators_pass(cls):
    X, y = frame()
    model = cls(**({"max_iter": 5} if "Hist" in cls.__name__ else {"n_estimators": 3})).fit(X, y)
    check_estimator(model.estimator_)


def test_an_archive_declaring_too_many_bytes_is_refused_before_loading(tmp_path, monkeypatch):
    path = tmp_path / "m.skops"
    skops.io.dump(forest().estimator_, path)
    check_archive(path)
    monkeypatch.setattr("zoo_sklearn.validate.MAX_ARCHIVE_BYTES", 1000)
    with pytest.raises(IntegrityError, match="declares .* bytes uncompressed"):
        check_archive(path)


def test_a_node_reached_from_two_parents_is_refused():
    model = forest()
    tree = model.estimator_.estimators_[0].tree_
    inner = np.flatnonzero(tree.children_left != -1)
    assert len(inner) >= 2
    parent = inner[1]
    tree.children_left[parent] = tree.children_right[parent] = max(tree.children_left[parent],
                                                                  tree.children_right[parent])
    with pytest.raises(IntegrityError, match="two parents"):
        check_estimator(model.estimator_)


# --- category columns: zoo's encoder pipeline and native categorical splits --------------

#: Rows to score, in ``categorical_frame``'s columns ("c" holds training levels).
CATEGORICAL_ROWS = pd.DataFrame({"a": [0.0, 1.0, -1.0], "b": [0.5, 0.0, 2.0], "c": ["l1", "l4", "l9"],
                                 "d": [1.0, 2.0, 3.0]})


def categorical_frame() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(1)
    levels = np.array([f"l{i}" for i in range(10)])
    X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300),
                      "c": levels[rng.integers(0, 10, 300)], "d": rng.normal(size=300)})
    y = X["c"].isin(levels[::3]) * 2.0 + X["a"]
    return X, y


def encoded_forest():
    """A forest behind zoo's one-hot encoder: it sees more columns than the pipeline."""
    model = RandomForestRegressorModel(n_estimators=3).fit(*categorical_frame())
    forest = model.estimator_.steps[1][1]
    assert forest.n_features_in_ > model.estimator_.steps[0][1].n_features_in_
    return model, forest


def native_hgb():
    """Histogram gradient boosting splitting natively on the category column."""
    model = HistGradientBoostingRegressorModel(max_iter=5).fit(*categorical_frame())
    hgb = model.estimator_
    assert hgb.is_categorical_.any() and hgb._preprocessor is not None
    return model, hgb


def categorical_nodes(hgb):
    """``(predictor, node index)`` of every categorical split in ``hgb``."""
    return [(p, int(i)) for stage in hgb._predictors for p in stage
            for i in np.flatnonzero((p.nodes["is_categorical"] != 0) & (p.nodes["is_leaf"] == 0))]


def test_genuine_models_on_category_columns_pass():
    check_estimator(encoded_forest()[0].estimator_)
    check_estimator(native_hgb()[0].estimator_)


def hgb_case(edit):
    model, hgb = native_hgb()
    assert categorical_nodes(hgb), "the fit made no categorical split"
    problem = edit(hgb)
    return model, problem


def _bitset_index(hgb):
    predictor, node = categorical_nodes(hgb)[0]
    predictor.nodes["bitset_idx"][node] = 999
    return f"node {node} uses category bitset 999 (out of {len(predictor.raw_left_cat_bitsets)})"


def _bitset_shape(hgb):
    predictor, _ = categorical_nodes(hgb)[0]
    predictor.raw_left_cat_bitsets = np.ascontiguousarray(predictor.raw_left_cat_bitsets[:, :2])
    return "raw_left_cat_bitsets is not a C-ordered uint32 array of 8-word rows"


def _numeric_feature(hgb):
    predictor, node = categorical_nodes(hgb)[0]
    feature = int(np.flatnonzero(hgb._bin_mapper.is_categorical_ == 0)[0])
    # f_idx_map maps a numeric feature to row 0 of known_cat_bitsets: the wrong row, or
    # past the end of an empty array.
    predictor.nodes["feature_idx"][node] = feature
    return f"node {node} splits on feature {feature} by category, but the model does not treat"


def _mask(hgb):
    hgb._bin_mapper.is_categorical_ = hgb._bin_mapper.is_categorical_[:2]
    return "its histogram gradient boosting's categorical-feature mask does not cover its 4 features"


def _known(hgb):
    feature = int(np.flatnonzero(hgb._bin_mapper.is_categorical_)[0])
    hgb._bin_mapper.bin_thresholds_[feature] = np.array([0.0, 1e6])
    return f"categories of feature {feature} are not whole numbers below 256"


def _narrowed(hgb):
    # A frame is split by the names _transformer_to_input_indices lists: select no numeric
    # column, and the trees read columns past the preprocessor's 1-column output.
    hgb._preprocessor._transformer_to_input_indices["numerical"] = []
    return "(the model has 1 features)"


def _widening_part(hgb):
    from sklearn.impute import SimpleImputer

    name, _, columns = hgb._preprocessor.transformers_[1]
    hgb._preprocessor.transformers_[1] = (name, SimpleImputer(), columns)
    return "category preprocessor holds SimpleImputer (only OrdinalEncoder and FunctionTransformer"


HGB_CASES = {"bitset": _bitset_index, "shape": _bitset_shape, "numeric": _numeric_feature,
             "mask": _mask, "known": _known, "narrowed": _narrowed, "part": _widening_part}


def test_crafted_category_models_are_refused_in_one_line_without_crashing(registry_path):
    refs, expected = {}, {}
    with Registry(registry_path) as registry:
        model, forest = encoded_forest()
        forest.estimators_[1].tree_.feature[0] = forest.n_features_in_ + 3
        refs["onehot"] = register_bytes(registry, "onehot", model, model.estimator_)
        expected["onehot"] = (f"tree 1 node 0 splits on feature {forest.n_features_in_ + 3} "
                              f"(the model has {forest.n_features_in_} features)")
        model, forest = encoded_forest()
        del forest.n_features_in_  # then nothing checks the width the forest is given
        refs["unchecked"] = register_bytes(registry, "unchecked", model, model.estimator_)
        expected["unchecked"] = "tree 0 belongs to no estimator recording its input width"
        for name, edit in HGB_CASES.items():
            model, problem = hgb_case(edit)
            refs[name] = register_bytes(registry, name, model, model.estimator_)
            expected[name] = problem
        good, _ = encoded_forest()
        refs["good"] = register_bytes(registry, "good", good, good.estimator_)
        good, _ = native_hgb()
        refs["goodhgb"] = register_bytes(registry, "goodhgb", good, good.estimator_)
    lines = load_in_subprocess(registry_path, refs.values(), CATEGORICAL_ROWS)
    assert lines[refs["good"]].startswith("LOADED"), lines[refs["good"]]
    assert lines[refs["goodhgb"]].startswith("LOADED"), lines[refs["goodhgb"]]
    for name, problem in expected.items():
        line = lines[refs[name]]
        assert line.startswith("REFUSED") and "<newline>" not in line, line
        assert f"{refs[name]}: crafted or corrupted model: " in line and problem in line, line
