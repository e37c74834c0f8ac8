"""Crafted XGBoost model files (JSON and UBJSON, registered as the version's own bytes so
the sha256 checks pass) are refused with one line before ``Booster`` parses them: children
out of range or pointing back, splits on features the model lacks, arrays of the wrong
length, a tree count that lies; and for models trained on category columns, categorical
splits whose ``categories`` segments, sizes, values or node lists are out of range. The
loads run in a subprocess, so a regression fails the test instead of killing pytest."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import copy
import json
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from zoo_xgboost.models import XGBoostClassifierModel, XGBoostRegressorModel
from zoo_xgboost.validate import check_model, decode

from zoo import IntegrityError, Registry
from zoo.testing import load_in_subprocess

#: Rows every loaded version scores.
ROWS = pd.DataFrame(np.zeros((3, 3)), columns=list("abc"))


def fitted(cls=XGBoostClassifierModel):
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 3)), columns=list("abc"))
    y = (X["a"] * X["b"] > 0).astype(int)
    return cls(n_estimators=5, max_depth=3, n_jobs=1).fit(X, y)


def as_json(model) -> dict:
    return json.loads(bytes(model.booster_.save_raw(raw_format="json")))


def register_bytes(registry: Registry, name: str, data: bytes) -> str:
    model = fitted()
    model.save = lambda path: Path(path).write_bytes(data)
    return registry.register(name, model)["ref"]


def crafted_json(edit) -> bytes:
    doc = copy.deepcopy(as_json(fitted()))
    edit(doc["learner"]["gradient_booster"]["model"])
    return json.dumps(doc).encode()


def crafted_ubj_left_child(tree: int, value: int) -> bytes:
    """The UBJSON file with the first left child of tree ``tree`` set to ``value``."""
    raw = bytearray(fitted().booster_.save_raw(raw_format="ubj"))
    at = -1
    for _ in range(tree + 1):
        at = raw.index(b"left_children", at + 1)
    head = at + len(b"left_children")
    assert raw[head:head + 4] == b"[$l#"  # a typed int32 array, then its count (L + 8 bytes)
    first = head + 4 + 9
    raw[first:first + 4] = struct.pack(">i", value)
    return bytes(raw)


def tree_edit(number: int, key: str, index: int, value):
    def edit(model):
        model["trees"][number][key][index] = value
    return edit


CASES = {
    "ubjchild": (lambda: crafted_ubj_left_child(3, 50_000_000),
                 "tree 3 node 0 points at left child 50000000 (out of"),
    "jsonchild": (lambda: crafted_json(tree_edit(2, "left_children", 0, 50_000_000)),
                  "tree 2 node 0 points at left child 50000000"),
    "selfloop": (lambda: crafted_json(tree_edit(2, "left_children", 0, 0)),
                 "tree 2 node 0 points at left child 0"),
    "feature": (lambda: crafted_json(tree_edit(1, "split_indices", 0, 77)),
                "tree 1 node 0 splits on feature 77 (the model has 3 features)"),
    "short": (lambda: crafted_json(lambda m: m["trees"][0]["right_children"].pop()),
              "tree 0 has"),
    "count": (lambda: crafted_json(lambda m: m["gbtree_model_param"].update(num_trees="9")),
              "num_trees says 9 but the file holds 5 trees"),
}


def test_crafted_models_are_refused_in_one_line_without_crashing(registry_path):
    with Registry(registry_path) as registry:
        refs = {name: register_bytes(registry, name, make()) for name, (make, _) in CASES.items()}
        refs["good"] = register_bytes(registry, "good", bytes(fitted().booster_.save_raw("ubj")))
    lines = load_in_subprocess(registry_path, refs.values(), ROWS)
    assert lines[refs["good"]].startswith("LOADED")
    for name, (_, problem) in CASES.items():
        line = lines[refs[name]]
        assert line.startswith("REFUSED") and "<newline>" not in line, line
        assert f"{refs[name]}: crafted or corrupted model: {problem}" in line


@pytest.mark.parametrize("cls", [XGBoostClassifierModel, XGBoostRegressorModel])
def test_genuine_models_pass_in_both_formats(cls):
    booster = fitted(cls).booster_
    for fmt in ("ubj", "json"):
        check_model(bytes(booster.save_raw(raw_format=fmt)))


def test_the_ubjson_reader_agrees_with_json():
    booster = fitted().booster_
    ubj = decode(bytes(booster.save_raw(raw_format="ubj")))
    ref = json.loads(bytes(booster.save_raw(raw_format="json")))
    for a, b in zip(ubj["learner"]["gradient_booster"]["model"]["trees"],
                    ref["learner"]["gradient_booster"]["model"]["trees"], strict=True):
        assert list(a["left_children"]) == b["left_children"]
        assert list(a["split_indices"]) == b["split_indices"]


@pytest.mark.parametrize("raw", [b"{L\x00\x00\x00\x00\x7f\xff\xff\xfflearner", b"{L\x00",
                                 b"[$l#L\x00\x00\x00\x00\x00\x00\x00\x09"])
def test_truncated_or_lying_ubjson_is_refused(raw):
    with pytest.raises(IntegrityError, match="not an XGBoost model"):
        check_model(raw)


# --- native categorical splits (split_type 1) -----------------------------------------

#: Rows to score, whose column "c" holds one of the training levels.
CATEGORICAL_ROWS = pd.DataFrame({"a": [0.0, 1.0, -1.0], "b": [0.5, 0.0, 2.0], "c": ["l1", "l7", "l30"]})


def categorical_frame() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(1)
    levels = np.array([f"l{i}" for i in range(40)])
    X = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400),
                      "c": levels[rng.integers(0, 40, 400)]})
    y = (X["c"].isin(levels[::3]) ^ (X["a"] > 0.5)).astype(int)
    return X, y


def fitted_categorical(cls=XGBoostClassifierModel):
    return cls(n_estimators=5, max_depth=3, n_jobs=1).fit(*categorical_frame())


def categorical_json() -> dict:
    doc = as_json(fitted_categorical())
    trees = doc["learner"]["gradient_booster"]["model"]["trees"]
    assert any(tree["categories_nodes"] for tree in trees), "the fit made no categorical split"
    return doc


def first_categorical(doc: dict) -> tuple[int, dict]:
    trees = doc["learner"]["gradient_booster"]["model"]["trees"]
    return next((i, t) for i, t in enumerate(trees) if len(t["categories_nodes"]) >= 1)


def crafted_categorical(edit, problem) -> tuple[bytes, str]:
    """The categorical model's JSON with ``edit`` applied to its first tree holding a
    categorical split, and ``problem`` of that tree as it was before the edit."""
    doc = categorical_json()
    number, tree = first_categorical(doc)
    expected = f"tree {number} " + problem(copy.deepcopy(tree))
    edit(tree)
    return json.dumps(doc).encode(), expected


def set_in(key: str, index: int, value):
    return lambda tree: tree[key].__setitem__(index, value)


def register_categorical(registry: Registry, name: str, data: bytes) -> str:
    model = fitted_categorical()
    model.save = lambda path: Path(path).write_bytes(data)
    return registry.register(name, model)["ref"]


def categorical_cases() -> dict[str, tuple[bytes, str]]:
    case = crafted_categorical

    def node(tree):
        return tree["categories_nodes"][0]

    def numeric(tree):  # an inner node that is not a categorical split
        pairs = zip(tree["split_type"], tree["left_children"], strict=True)
        return next(i for i, (kind, left) in enumerate(pairs) if kind == 0 and left != -1)

    def listed(tree):
        return ", ".join(str(v) for v in tree["categories_nodes"][:6])

    return {
        # Without the check XGBoost reads categories[10**9]: out of bounds.
        "segment": case(set_in("categories_segments", 0, 10**9),
                        lambda t: f"node {node(t)} has categories_segments 1000000000 and categories_sizes"),
        "size": case(lambda t: t["categories_sizes"].__setitem__(0, len(t["categories"]) + 500),
                     lambda t: f"node {node(t)} has categories_segments"),
        "empty": case(set_in("categories_sizes", 0, 0),
                      lambda t: f"node {node(t)} has categories_segments 0 and categories_sizes 0"),
        "negative": case(set_in("categories_segments", 0, -5),
                         lambda t: f"node {node(t)} has categories_segments -5"),
        # A bitset of 2**31 bits (256 MiB) per node without the bound.
        "huge": case(set_in("categories", 0, 2**31 - 1),
                     lambda t: "has category 2147483647 (categories are whole numbers below 16777216)"),
        "negcat": case(set_in("categories", 0, -3), lambda t: "has category -3"),
        "nodes": case(lambda t: t["categories_nodes"].__setitem__(0, numeric(t)),
                      lambda t: "categories_nodes ["),
        "unlisted": case(lambda t: t["split_type"].__setitem__(numeric(t), 1),
                         lambda t: f"categories_nodes [{listed(t)}] are not its categorical splits"),
        "kind": case(lambda t: t["split_type"].__setitem__(numeric(t), 7),
                     lambda t: f"node {numeric(t)} has split_type 7 (0 or 1)"),
        "lengths": case(lambda t: t["categories_sizes"].append(1),
                        lambda t: f"lists {len(t['categories_nodes'])} categories_nodes"),
    }


def test_genuine_categorical_models_pass_and_round_trip(registry_path):
    for cls in (XGBoostClassifierModel, XGBoostRegressorModel):
        model = fitted_categorical(cls)
        for fmt in ("ubj", "json"):
            check_model(bytes(model.booster_.save_raw(raw_format=fmt)))
    X, _ = categorical_frame()
    with Registry(registry_path) as registry:
        model = fitted_categorical()
        ref = registry.register("cats", model)["ref"]
        loaded = registry.load(ref, observed=False)
    assert np.array_equal(loaded.predict_proba(X.head(50)), model.predict_proba(X.head(50)))


def test_crafted_categorical_splits_are_refused_in_one_line_without_crashing(registry_path):
    cases = categorical_cases()
    with Registry(registry_path) as registry:
        refs = {name: register_categorical(registry, name, raw) for name, (raw, _) in cases.items()}
        refs["good"] = register_categorical(
            registry, "good", bytes(fitted_categorical().booster_.save_raw("ubj")))
        refs["goodjson"] = register_categorical(registry, "goodjson", json.dumps(categorical_json()).encode())
    lines = load_in_subprocess(registry_path, refs.values(), CATEGORICAL_ROWS)
    assert lines[refs["good"]].startswith("LOADED"), lines[refs["good"]]
    assert lines[refs["goodjson"]].startswith("LOADED"), lines[refs["goodjson"]]
    for name, (_, problem) in cases.items():
        line = lines[refs[name]]
        assert line.startswith("REFUSED") and "<newline>" not in line, line
        assert f"{refs[name]}: crafted or corrupted model: {problem}" in line, line


def test_categorical_bitsets_are_bounded_over_the_whole_model(monkeypatch):
    raw = bytes(fitted_categorical().booster_.save_raw("ubj"))
    check_model(raw)
    monkeypatch.setattr("zoo_xgboost.validate.MAX_CATEGORY_WORDS", 3)
    with pytest.raises(IntegrityError, match="categorical splits need more than 3 bitset words"):
        check_model(raw)
