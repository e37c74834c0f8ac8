"""Structural checks on a skops artifact, so crafted bytes never reach scikit-learn's Cython.

skops refuses untrusted *types*, but a trusted ``Tree`` or ``TreePredictor`` whose node
arrays point outside themselves makes ``predict`` read out of bounds (a segfault) or loop
forever (a node that is its own child). Two passes:

- ``check_archive`` before ``skops.io.load``: the zip's members and declared sizes are
  bounded, so loading cannot exhaust memory;
- ``check_estimator`` after it, before any scoring: every tree found anywhere in the
  estimator (forests, gradient boosting, isolation forest, histogram gradient boosting's
  predictors, pipelines) has children in range and after their parent (so no cycle),
  split features below the feature count of the estimator feeding it and value arrays of
  the right shape. Histogram gradient boosting's categorical splits index bitsets and a
  per-feature map that the Cython code reads unchecked: their shapes, bitset indices and
  the categorical-feature mask they come from are checked too.

The feature count is the input width the tree-bearing estimator itself validates at
``predict``: a sub-estimator of an ensemble never sees more columns than the ensemble, but
a Pipeline step after the first (behind zoo's one-hot ``zoo_encoder``, say) or a stacking
final estimator sees its own width, recorded in its own ``n_features_in_``.

numpy is imported inside functions: this module is imported by the loader only.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from zoo import IntegrityError

#: Largest uncompressed size of a skops artifact (its arrays are loaded into memory).
MAX_ARCHIVE_BYTES = 4 << 30
#: Most members (one per array) a skops artifact may hold.
MAX_MEMBERS = 200_000
#: Most tree nodes in one artifact, over all its trees.
MAX_NODES = 200_000_000
#: Deepest object nesting searched for trees (estimators nest a few levels at most).
MAX_NESTING = 12
#: Attributes holding an estimator fed something other than its holder's input.
OWN_INPUT = ("final_estimator_", "final_estimator")
#: Bits in one row of a histogram gradient boosting category bitset (uint8 categories).
BITSET_BITS = 256


def crafted(problem: str) -> IntegrityError:
    """The one-line error for a file that fails a structural check."""
    return IntegrityError(f"crafted or corrupted model: {problem}")


def check_archive(path: str | Path) -> None:
    """Refuse a skops zip whose member count or declared uncompressed size is out of bounds."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError):
        return  # the loader reports "not a skops file" itself
    if len(infos) > MAX_MEMBERS:
        raise crafted(f"{len(infos)} members in its skops archive (at most {MAX_MEMBERS})")
    total = sum(max(i.file_size, 0) for i in infos)
    if total > MAX_ARCHIVE_BYTES:
        raise crafted(f"its skops archive declares {total} bytes uncompressed "
                      f"(at most {MAX_ARCHIVE_BYTES})")


def check_estimator(estimator: Any) -> None:
    """Refuse an estimator holding a tree whose structure scikit-learn cannot score safely."""
    trees = list(_trees(estimator, None, None, 0, set()))
    total = 0
    for number, (tree, limit, categorical) in enumerate(trees):
        total += _check_one(tree, limit, categorical, number, len(trees))
        if total > MAX_NODES:
            raise crafted(f"more than {MAX_NODES} tree nodes")


def _trees(obj: Any, n_features: int | None, categorical: Any, depth: int, seen: set[int],
           head: bool = True) -> Any:
    """``(tree, feature limit, categorical mask)`` for every Tree / TreePredictor reachable
    from ``obj``; the mask (histogram gradient boosting's) is None elsewhere.

    ``head`` marks an estimator whose ``predict`` is called on the rows themselves (the
    outermost one, a Pipeline step, a stacking final estimator): its ``n_features_in_`` is
    what scikit-learn checks the rows against, so without one the limit is None (unchecked).
    Estimators inside it only narrow the limit (a forest scores its trees unchecked)."""
    import numpy as np
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    from sklearn.pipeline import Pipeline
    from sklearn.tree._tree import Tree

    if depth > MAX_NESTING or id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, (Tree, TreePredictor)):
        yield obj, n_features, categorical
        return
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            for item in obj.ravel():
                yield from _trees(item, n_features, categorical, depth + 1, seen, head)
        return
    if isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _trees(item, n_features, categorical, depth + 1, seen, head)
        return
    if isinstance(obj, dict):
        for item in obj.values():
            yield from _trees(item, n_features, categorical, depth + 1, seen, head)
        return
    if isinstance(obj, Pipeline) and isinstance(obj.steps, list):
        # Only the first step sees the pipeline's input; each later one sees what the step
        # before it made, a width it checks against its own n_features_in_.
        for index, step in enumerate(obj.steps):
            item = step[1] if isinstance(step, tuple) and len(step) == 2 else step
            yield from _trees(item, n_features if index == 0 else None, None, depth + 1, seen)
        return
    state = getattr(obj, "__dict__", None)
    if isinstance(state, dict) and type(obj).__module__.startswith("sklearn."):
        try:  # a property on meta-estimators that hand the rows on to a checking estimator
            own = getattr(obj, "n_features_in_", None) if head else state.get("n_features_in_")
        except Exception:
            own = None
        own = int(own) if isinstance(own, (int, np.integer)) else None
        if head:
            n_features = None if own is None else own if n_features is None else min(own, n_features)
        elif own is not None and n_features is not None:
            n_features = min(own, n_features)  # never more columns than the holder
        if "_predictors" in state and "_bin_mapper" in state:  # histogram gradient boosting
            n_features, categorical = _hist_inputs(obj, n_features)
        for key, item in state.items():
            if key in OWN_INPUT:
                yield from _trees(item, None, None, depth + 1, seen)
            else:
                yield from _trees(item, n_features, categorical, depth + 1, seen, head=False)


def _hist_inputs(model: Any, n_features: int | None) -> tuple[int | None, Any]:
    """The width histogram gradient boosting's trees see and its categorical-feature mask,
    once the binner's categories and the category preprocessor are known to be sound."""
    import numpy as np

    mapper = model._bin_mapper
    mask = getattr(mapper, "is_categorical_", None)
    if not isinstance(mask, np.ndarray) or mask.ndim != 1 or mask.dtype.kind not in "biu" or (
            n_features is not None and len(mask) != n_features):
        raise crafted(f"its histogram gradient boosting's categorical-feature mask does not "
                      f"cover its {n_features} features")
    mask = mask != 0
    known = getattr(mapper, "bin_thresholds_", None)
    if not isinstance(known, list) or len(known) != len(mask):
        raise crafted(f"its histogram gradient boosting has bin thresholds for "
                      f"{len(known) if isinstance(known, list) else 'no'} of {len(mask)} features")
    for feature in np.flatnonzero(mask):
        values = known[feature]
        # Each known category sets a bit of a 256-bit row: a whole number below 256.
        if not (isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype.kind in "fiu"
                and np.all((values >= 0) & (values < BITSET_BITS) & (values == np.round(values)))):
            raise crafted(f"its histogram gradient boosting's categories of feature {feature} are "
                          f"not whole numbers below {BITSET_BITS}")
    preprocessor = model.__dict__.get("_preprocessor")
    if preprocessor is not None:
        width = _preprocessed_width(preprocessor)
        n_features = width if n_features is None else min(width, n_features)
    return n_features, mask


def _preprocessed_width(preprocessor: Any) -> int:
    """The fewest columns histogram gradient boosting's category preprocessor can output:
    it is a ColumnTransformer of width-keeping parts (scikit-learn builds it from an
    OrdinalEncoder and a FunctionTransformer), so the count of the columns each selects."""
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder

    parts = getattr(preprocessor, "transformers_", None)
    indices = getattr(preprocessor, "_transformer_to_input_indices", None)
    if not isinstance(preprocessor, ColumnTransformer) or not isinstance(parts, list) or \
            not isinstance(indices, dict):
        raise crafted("its histogram gradient boosting's category preprocessor is not a fitted "
                      "ColumnTransformer")
    width = 0
    for part in parts:
        name, transformer, columns = part if isinstance(part, tuple) and len(part) == 3 else (
            None, None, None)
        if isinstance(transformer, str) and transformer == "drop":
            continue
        if not (isinstance(transformer, (OrdinalEncoder, FunctionTransformer))
                or (isinstance(transformer, str) and transformer == "passthrough")):
            raise crafted(f"its histogram gradient boosting's category preprocessor holds "
                          f"{type(transformer).__name__} (only OrdinalEncoder and "
                          "FunctionTransformer keep the column count)")
        selected = np.asarray(columns) if isinstance(columns, (list, np.ndarray)) else None
        by_name = indices.get(name)
        if selected is None or selected.ndim != 1 or not isinstance(by_name, list):
            raise crafted(f"its histogram gradient boosting's category preprocessor selects "
                          f"columns for {str(name)[:40]!r} in a form it never saves")
        # A frame selects by the names of _transformer_to_input_indices, an array by columns.
        count = int(selected.sum()) if selected.dtype == bool else len(selected)
        width += min(count, len(by_name))
    return width


def _check_one(tree: Any, n_features: int | None, categorical: Any, number: int,
               count: int) -> int:
    from sklearn.tree._tree import Tree

    where = f"tree {number}" if count > 1 else "its tree"
    if n_features is None:
        # Nothing checks the width of the rows this tree reads: refuse rather than trust
        # the tree's own record of it.
        raise crafted(f"{where} belongs to no estimator recording its input width "
                      "(n_features_in_)")
    if isinstance(tree, Tree):
        limit = min(int(tree.n_features), n_features)
        left, right, feature = tree.children_left, tree.children_right, tree.feature
        n = int(tree.node_count)
        value = tree.value
        expected = (n, int(tree.n_outputs), int(tree.max_n_classes))
        if tuple(value.shape) != expected:
            raise crafted(f"{where} has values of shape {tuple(value.shape)}, expected {expected}")
        leaf = left == -1
        _check_links(where, n, left, right, leaf, right == -1)
    else:  # histogram gradient boosting's TreePredictor
        nodes = tree.nodes
        from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE

        if not hasattr(nodes, "dtype") or nodes.dtype != PREDICTOR_RECORD_DTYPE or nodes.ndim != 1:
            raise crafted(f"{where} has a node array of the wrong type")
        n = len(nodes)
        leaf = nodes["is_leaf"] != 0
        left, right, feature = (nodes["left"].astype("int64"), nodes["right"].astype("int64"),
                                nodes["feature_idx"])
        _check_links(where, n, left, right, leaf, leaf)
        limit = n_features
        _check_bitsets(where, tree, nodes, leaf, categorical, limit)
    inner = ~leaf
    if limit is not None and inner.any():
        bad = inner & ((feature < 0) | (feature >= limit))
        if bad.any():
            node = int(bad.argmax())
            raise crafted(f"{where} node {node} splits on feature {int(feature[node])} "
                          f"(the model has {limit} features)")
    return n


def _check_links(where: str, n: int, left: Any, right: Any, leaf: Any, right_leaf: Any) -> None:
    """Every inner node's children lie after it and inside the array: in range, acyclic."""
    import numpy as np

    if n < 1 or n > MAX_NODES:
        raise crafted(f"{where} has {n} nodes")
    if len(left) != n or len(right) != n:
        raise crafted(f"{where} has {len(left)} left and {len(right)} right links for {n} nodes")
    if (leaf != right_leaf).any():
        node = int((leaf != right_leaf).argmax())
        raise crafted(f"{where} node {node} has one child")
    index = np.arange(n)
    for side, links in (("left", left), ("right", right)):
        bad = ~leaf & ((links <= index) | (links >= n))
        if bad.any():
            node = int(bad.argmax())
            raise crafted(f"{where} node {node} points at {side} child {int(links[node])} "
                          f"(out of {n} nodes; a child must come after its parent)")
    children = np.concatenate([left[~leaf], right[~leaf]])
    if (np.bincount(children, minlength=n) > 1).any():
        raise crafted(f"{where} has a node reached from two parents")


def _check_bitsets(where: str, tree: Any, nodes: Any, leaf: Any, categorical: Any,
                   n_features: int) -> None:
    """A categorical split reads row ``bitset_idx`` of the tree's 8-word bitsets and row
    ``f_idx_map[feature]`` of the known-category bitsets, which exist only for features
    the binner marks categorical: all in range, or the Cython code reads past them."""
    import numpy as np

    split = ~leaf & (nodes["is_categorical"] != 0)
    if not split.any():
        return
    if categorical is None:
        raise crafted(f"{where} has categorical splits outside a histogram gradient boosting "
                      "model's categories")
    rows = []
    for name in ("binned_left_cat_bitsets", "raw_left_cat_bitsets"):
        bitsets = getattr(tree, name, None)
        if not (isinstance(bitsets, np.ndarray) and bitsets.dtype == np.uint32 and bitsets.ndim == 2
                and bitsets.shape[1] * 32 == BITSET_BITS and bitsets.flags["C_CONTIGUOUS"]):
            raise crafted(f"{where} {name} is not a C-ordered uint32 array of "
                          f"{BITSET_BITS // 32}-word rows")
        rows.append(len(bitsets))
    bad = split & (nodes["bitset_idx"] >= min(rows))
    if bad.any():
        node = int(bad.argmax())
        raise crafted(f"{where} node {node} uses category bitset {int(nodes['bitset_idx'][node])} "
                      f"(out of {min(rows)})")
    feature = nodes["feature_idx"]
    inside = feature < min(n_features, len(categorical))
    marked = np.append(categorical, False)[np.where(inside, feature, len(categorical))]
    bad = split & ~marked
    if bad.any():
        node = int(bad.argmax())
        raise crafted(f"{where} node {node} splits on feature {int(feature[node])} by category, "
                      "but the model does not treat it as categorical")
