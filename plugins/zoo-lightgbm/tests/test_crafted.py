"""Crafted LightGBM model text (registered as the version's own bytes, with ``tree_sizes``
rewritten to match, so only the validator stands between it and LightGBM) is refused with
one line: ``left_child`` out of range or pointing back, ``split_feature`` past
``max_feature_idx``, ``num_leaves`` disagreeing with the arrays; for models trained on
category columns, categorical splits indexing past ``cat_boundaries``/``cat_threshold`` and
a malformed ``pandas_categorical`` trailer. The loads run in a subprocess, so a regression
fails the test instead of killing pytest."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from zoo_lightgbm.models import LightGBMClassifierModel, LightGBMRegressorModel
from zoo_lightgbm.validate import check_model_text

from zoo import IntegrityError, Registry
from zoo.testing import load_in_subprocess

#: Rows every loaded version scores.
ROWS = pd.DataFrame(np.zeros((3, 3)), columns=list("abc"))


def fitted(cls=LightGBMClassifierModel):
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 3)), columns=list("abc"))
    y = (X["a"] * X["b"] > 0).astype(int)
    return cls(n_estimators=4, num_leaves=6, n_jobs=1).fit(X, y)


def text() -> str:
    return fitted().booster_.model_to_string()


def edit(source: str, tree: int, key: str, value: str) -> str:
    """``source`` with ``key`` of tree ``tree`` set to ``value`` and ``tree_sizes`` made to match."""
    start = source.index(f"Tree={tree}\n")
    at = source.index(f"\n{key}=", start) + 1
    source = source[:at] + f"{key}={value}" + source[source.index("\n", at):]
    sections = re.split(r"(?=Tree=\d+\n)", source[:source.index("end of trees")])[1:]
    sizes = " ".join(str(len(s.encode())) for s in sections)
    return re.sub(r"tree_sizes=.*", f"tree_sizes={sizes}", source, count=1)


def field(source: str, tree: int, key: str) -> list[str]:
    start = source.index(f"Tree={tree}\n")
    at = source.index(f"\n{key}=", start) + len(key) + 2
    return source[at:source.index("\n", at)].split()


def replaced(tree: int, key: str, index: int, value: str) -> str:
    source = text()
    values = field(source, tree, key)
    values[index] = value
    return edit(source, tree, key, " ".join(values))


CASES = {
    "child": (lambda: replaced(1, "left_child", 0, "50000000"),
              "tree 1 node 0 points at left_child 50000000"),
    "selfloop": (lambda: replaced(1, "left_child", 0, "0"), "tree 1 node 0 points at left_child 0"),
    "leaf": (lambda: replaced(2, "right_child", 0, "-999"), "tree 2 node 0 points at right_child -999"),
    "feature": (lambda: replaced(1, "split_feature", 0, "40000"),
                "tree 1 node 0 splits on feature 40000 (max_feature_idx allows 3)"),
    "leaves": (lambda: edit(text(), 1, "num_leaves", "4000000"), "tree 1 num_leaves is 4000000"),
    "fewer": (lambda: edit(text(), 1, "num_leaves", "3"), "tree 1 has 5 split_feature values"),
}


def register_text(registry: Registry, name: str, data: str) -> str:
    model = fitted()
    model.save = lambda path: Path(path).write_text(data, encoding="utf-8")
    return registry.register(name, model)["ref"]


def test_crafted_model_text_is_refused_in_one_line_without_crashing(registry_path):
    with Registry(registry_path) as registry:
        refs = {name: register_text(registry, name, make()) for name, (make, _) in CASES.items()}
        refs["good"] = register_text(registry, "good", text())
    lines = load_in_subprocess(registry_path, refs.values(), ROWS)
    assert lines[refs["good"]].startswith("LOADED"), lines[refs["good"]]
    for name, (_, problem) in CASES.items():
        line = lines[refs[name]]
        assert line.startswith("REFUSED") and "<newline>" not in line, line
        assert f"{refs[name]}: crafted or corrupted model: {problem}" in line


@pytest.mark.parametrize("cls", [LightGBMClassifierModel, LightGBMRegressorModel])
def test_genuine_model_text_passes(cls):
    check_model_text(fitted(cls).booster_.model_to_string())


def test_tree_sizes_must_match_the_sections():
    source = text()
    sizes = re.search(r"tree_sizes=(.*)", source).group(1).split()
    lying = source.replace(f"tree_sizes={' '.join(sizes)}",
                           f"tree_sizes={' '.join([str(int(sizes[0]) + 900), *sizes[1:]])}")
    with pytest.raises(IntegrityError, match="tree_sizes does not match"):
        check_model_text(lying)


def test_a_leaf_reached_twice_is_refused():
    source = text()
    left, right = field(source, 1, "left_child"), field(source, 1, "right_child")
    leaf = next(v for v in left[1:] + right if v.startswith("-") and v != left[0])
    with pytest.raises(IntegrityError, match="reaches a node or leaf from two parents"):
        check_model_text(replaced(1, "left_child", 0, leaf))


# --- native categorical splits (decision_type bit 0) -------------------------------------

#: Rows to score, whose column "c" holds training levels.
CATEGORICAL_ROWS = pd.DataFrame({"a": [0.0, 1.0, -1.0], "b": [0.5, 0.0, 2.0], "c": ["l1", "l7", "l30"]})


def categorical_frame() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(1)
    levels = np.array([f"l{i}" for i in range(40)])
    X = pd.DataFrame({"a": rng.normal(size=500), "b": rng.normal(size=500),
                      "c": levels[rng.integers(0, 40, 500)]})
    y = (X["c"].isin(levels[::3]) ^ (X["a"] > 0.5)).astype(int)
    return X, y


def fitted_categorical(cls=LightGBMClassifierModel):
    return cls(n_estimators=4, num_leaves=6, n_jobs=1, min_child_samples=5).fit(*categorical_frame())


def categorical_text() -> tuple[str, int]:
    """The categorical model's text and its first tree with a categorical split."""
    source = fitted_categorical().booster_.model_to_string()
    tree = next(i for i in range(4) if int(field(source, i, "num_cat")[0]) > 0)
    return source, tree


def categorical_node(source: str, tree: int) -> int:
    return next(i for i, d in enumerate(field(source, tree, "decision_type")) if int(d) & 1)


def categorical_cases() -> dict[str, tuple[str, str]]:
    source, tree = categorical_text()
    node = categorical_node(source, tree)
    num_cat = int(field(source, tree, "num_cat")[0])
    words = field(source, tree, "cat_threshold")
    inner = len(field(source, tree, "left_child"))
    bounds = field(source, tree, "cat_boundaries")

    def with_value(key, index, value):
        values = field(source, tree, key)
        values[index] = value
        return edit(source, tree, key, " ".join(values))

    return {
        # Without the check LightGBM indexes cat_boundaries[50000000]: out of bounds.
        "index": (with_value("threshold", node, "50000000"),
                  f"tree {tree} has a categorical split outside its {num_cat} categories"),
        "bounds": (with_value("cat_boundaries", num_cat, str(len(words) + 4000)),
                   f"tree {tree} cat_boundaries do not index its {len(words)} cat_threshold words"),
        "order": (edit(source, tree, "cat_boundaries", " ".join(["0", str(len(words)), *bounds[2:]]))
                  if num_cat > 1 else with_value("cat_boundaries", 0, "3"),
                  f"tree {tree} cat_boundaries do not index"),
        "numcat": (edit(source, tree, "num_cat", str(inner + 7)), f"tree {tree} num_cat is {inner + 7}"),
        "words": (with_value("cat_threshold", 0, "-1"),
                  f"tree {tree} cat_threshold holds something other than 32-bit words"),
        "decision": (with_value("decision_type", node, "300"),
                     f"tree {tree} node {node} has decision_type 300 (a whole number up to 127)"),
        "trailer": (source.replace("pandas_categorical:null", "pandas_categorical:[[\"a\""),
                    "its pandas_categorical line is not JSON"),
        "deep": (source.replace("pandas_categorical:null", "pandas_categorical:" + "[" * 100_000),
                 "its pandas_categorical line is not JSON"),
        "shape": (source.replace("pandas_categorical:null", 'pandas_categorical:{"a": 1}'),
                  "its pandas_categorical line is not a list of category lists"),
    }


def register_categorical(registry: Registry, name: str, data: str) -> str:
    model = fitted_categorical()
    model.save = lambda path: Path(path).write_text(data, encoding="utf-8")
    return registry.register(name, model)["ref"]


def test_genuine_categorical_model_text_passes_with_or_without_a_trailer():
    for cls in (LightGBMClassifierModel, LightGBMRegressorModel):
        source = fitted_categorical(cls).booster_.model_to_string()
        assert re.search(r"num_cat=[1-9]", source), "the fit made no categorical split"
        check_model_text(source)
        check_model_text(source[:source.index("pandas_categorical:")])
        check_model_text(source.replace("pandas_categorical:null", 'pandas_categorical:[["x", "y"]]'))


def test_crafted_categorical_splits_are_refused_in_one_line_without_crashing(registry_path):
    cases = categorical_cases()
    source, _ = categorical_text()
    with Registry(registry_path) as registry:
        refs = {name: register_categorical(registry, name, data) for name, (data, _) in cases.items()}
        refs["good"] = register_categorical(registry, "good", source)
        refs["notrailer"] = register_categorical(registry, "notrailer",
                                                 source[:source.index("pandas_categorical:")])
    lines = load_in_subprocess(registry_path, refs.values(), CATEGORICAL_ROWS)
    for good in ("good", "notrailer"):
        assert lines[refs[good]].startswith("LOADED"), lines[refs[good]]
    for name, (_, problem) in cases.items():
        line = lines[refs[name]]
        assert line.startswith("REFUSED") and "<newline>" not in line, line
        assert f"{refs[name]}: crafted or corrupted model: {problem}" in line, line
