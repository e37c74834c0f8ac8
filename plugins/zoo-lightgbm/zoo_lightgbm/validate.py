"""Structural checks on LightGBM model text before ``lgb.Booster(model_str=...)`` parses it.

LightGBM trusts its own text: a ``left_child`` outside the tree, a ``split_feature`` past
``max_feature_idx`` or a ``num_leaves`` that disagrees with the arrays makes the C++ code
read out of bounds or abort the process. So the text is parsed here first and every tree
checked: array lengths agree with ``num_leaves``, each child is a later inner node or a
leaf in range (``~leaf`` when negative), reached from exactly one parent (a tree, no
cycle), split features in range, and ``tree_sizes`` (which LightGBM uses as byte offsets)
matches the sections. Categorical splits (``decision_type`` bit 0, trained on category
columns) index ``cat_boundaries`` by their ``threshold`` and read ``cat_threshold`` words
between two boundaries, unchecked: the index must be below ``num_cat`` and the boundaries
must cut ``cat_threshold`` in order. The ``pandas_categorical:`` trailer LightGBM's Python
package parses with ``json.loads`` must be absent, ``null`` or a list of category lists.
Linear trees, which this plugin never saves, are refused.
"""

from __future__ import annotations

from typing import Any

from zoo import IntegrityError

#: Most trees, leaves per tree, nodes over all trees, features and classes accepted.
MAX_TREES = 1_000_000
MAX_LEAVES = 1 << 20
MAX_NODES = 200_000_000
MAX_FEATURES = 10_000_000
MAX_CLASSES = 100_000
#: Per-inner-node and per-leaf arrays of a tree section.
INNER_ARRAYS = ("split_feature", "split_gain", "threshold", "decision_type", "left_child",
                "right_child")
LEAF_ARRAYS = ("leaf_value",)
#: The categorical bit of ``decision_type``.
CATEGORICAL = 1
#: Largest ``decision_type`` (an int8 holding the categorical, default-left and missing bits).
MAX_DECISION = 127
#: The trailer LightGBM's Python package reads the training frame's categories from.
PANDAS_KEY = "pandas_categorical:"


def crafted(problem: str) -> IntegrityError:
    """The one-line error for model text that fails a structural check."""
    return IntegrityError(f"crafted or corrupted model: {problem}")


def check_model_text(text: str) -> None:
    """Refuse LightGBM model text whose header or trees are not safe to hand to LightGBM."""
    lines = text.split("\n")
    header: dict[str, str] = {}
    index = 0
    while index < len(lines) and not lines[index].startswith("Tree="):
        key, eq, value = lines[index].partition("=")
        if eq:
            header.setdefault(key.strip(), value)
        if lines[index].startswith("end of trees"):
            break
        index += 1
    if "max_feature_idx" not in header:
        raise IntegrityError("not LightGBM model text (no max_feature_idx line)")
    n_features = _int(header["max_feature_idx"], "max_feature_idx", MAX_FEATURES - 1) + 1
    _int(header.get("num_class", "1"), "num_class", MAX_CLASSES)
    per_iteration = _int(header.get("num_tree_per_iteration", "1"), "num_tree_per_iteration",
                         MAX_CLASSES)
    sections = _sections(lines, index)
    if len(sections) > MAX_TREES:
        raise crafted(f"{len(sections)} trees (at most {MAX_TREES})")
    if per_iteration < 1 or len(sections) % per_iteration:
        raise crafted(f"{len(sections)} trees is not a multiple of num_tree_per_iteration "
                      f"({per_iteration})")
    total = 0
    for number, (start, body) in enumerate(sections):
        if start != f"Tree={number}":
            raise crafted(f"tree section {number} is headed {start[:40]!r}")
        total += _check_tree(body, number, n_features)
        if total > MAX_NODES:
            raise crafted(f"more than {MAX_NODES} tree nodes")
    _check_pandas_categorical(text)
    if "tree_sizes" in header:
        sizes = header["tree_sizes"].split()
        actual = [len("\n".join(body).encode("utf-8")) + 1 for _start, body in sections]
        if sizes != [str(size) for size in actual]:
            raise crafted("tree_sizes does not match the tree sections' lengths")


def _sections(lines: list[str], index: int) -> list[tuple[str, list[str]]]:
    """``(header line, lines up to the next section)`` for each ``Tree=`` section."""
    sections: list[tuple[str, list[str]]] = []
    for line in lines[index:]:
        if line.startswith("end of trees"):
            return sections
        if line.startswith("Tree="):
            sections.append((line, [line]))
        elif sections:
            sections[-1][1].append(line)
    raise IntegrityError("not LightGBM model text (no 'end of trees' line)")


def _check_tree(body: list[str], number: int, n_features: int) -> int:
    import numpy as np

    where = f"tree {number}"
    fields: dict[str, str] = {}
    for line in body[1:]:
        key, eq, value = line.partition("=")
        if eq:
            fields[key] = value
    leaves = _int(fields.get("num_leaves"), f"{where} num_leaves", MAX_LEAVES)
    if leaves < 1:
        raise crafted(f"{where} has num_leaves={leaves}")
    if fields.get("is_linear", "0").strip() not in ("0", ""):
        raise crafted(f"{where} is a linear tree (this plugin never saves them)")
    inner = leaves - 1
    arrays = {key: _numbers(fields, key, inner if key in INNER_ARRAYS else leaves, where)
              for key in (*INNER_ARRAYS, *LEAF_ARRAYS) if inner or key in LEAF_ARRAYS}
    if not inner:
        return 1
    left, right = arrays["left_child"], arrays["right_child"]
    if not (np.all(left == np.round(left)) and np.all(right == np.round(right))):
        raise crafted(f"{where} has a child that is not a whole number")
    left, right = left.astype(np.int64), right.astype(np.int64)
    node = np.arange(inner)
    for side, links in (("left", left), ("right", right)):
        # Inner children come after their parent; leaves are ~leaf, i.e. -1 .. -num_leaves.
        bad = ((links >= 0) & ((links <= node) | (links >= inner))) | (links < -leaves)
        if bad.any():
            at = int(bad.argmax())
            raise crafted(f"{where} node {at} points at {side}_child {int(links[at])} "
                          f"(the tree has {inner} inner nodes and {leaves} leaves)")
    children = np.concatenate([left, right])
    if len(np.unique(children)) != len(children):
        raise crafted(f"{where} reaches a node or leaf from two parents")
    features = arrays["split_feature"]
    bad = (features < 0) | (features >= n_features) | (features != np.round(features))
    if bad.any():
        at = int(bad.argmax())
        raise crafted(f"{where} node {at} splits on feature {features[at]:g} "
                      f"(max_feature_idx allows {n_features})")
    decision = arrays["decision_type"]
    bad = (decision < 0) | (decision > MAX_DECISION) | (decision != np.round(decision))
    if bad.any():
        at = int(bad.argmax())
        raise crafted(f"{where} node {at} has decision_type {decision[at]:.15g} "
                      f"(a whole number up to {MAX_DECISION})")
    categorical = (decision.astype(np.int64) & CATEGORICAL) != 0
    num_cat = _int(fields.get("num_cat", "0"), f"{where} num_cat", inner)
    if categorical.any() or num_cat:
        bounds = _numbers(fields, "cat_boundaries", num_cat + 1, where)
        words = fields.get("cat_threshold", "").split()
        if bounds[0] != 0 or (np.diff(bounds) < 0).any() or bounds[-1] != len(words) or (
                bounds != np.round(bounds)).any():
            raise crafted(f"{where} cat_boundaries do not index its {len(words)} cat_threshold words")
        # Each word is a uint32 of category bits.
        if not all(word.isdigit() and int(word) < 1 << 32 for word in words):
            raise crafted(f"{where} cat_threshold holds something other than 32-bit words")
        index = arrays["threshold"][categorical]
        if ((index < 0) | (index >= num_cat) | (index != np.round(index))).any():
            raise crafted(f"{where} has a categorical split outside its {num_cat} categories")
    return leaves + inner


def _check_pandas_categorical(text: str) -> None:
    """The trailer LightGBM's ``Booster(model_str=)`` parses: absent, null or lists."""
    import json

    last = text[text.rfind("\n", 0, max(len(text) - len(PANDAS_KEY), 0)):].strip()
    if not last.startswith(PANDAS_KEY):
        return
    try:
        value = json.loads(last[len(PANDAS_KEY):])
    except (ValueError, RecursionError):
        raise crafted("its pandas_categorical line is not JSON") from None
    scalar = (str, int, float, bool)
    if value is not None and not (isinstance(value, list) and all(
            isinstance(levels, list) and all(isinstance(v, scalar) for v in levels) for levels in value)):
        raise crafted("its pandas_categorical line is not a list of category lists")


def _numbers(fields: dict[str, str], key: str, count: int, where: str) -> Any:
    import numpy as np

    words = fields.get(key, "").split()
    if len(words) != count:
        raise crafted(f"{where} has {len(words)} {key} values (num_leaves needs {count})")
    try:
        values = np.array(words, dtype=np.float64)
    except ValueError:
        raise crafted(f"{where} {key} holds something other than numbers") from None
    if not np.isfinite(values).all() and key in ("split_feature", "left_child", "right_child",
                                                  "decision_type", "cat_boundaries"):
        raise crafted(f"{where} {key} holds a non-finite number")
    return values


def _int(value: Any, what: str, limit: int) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise crafted(f"{what} is {str(value)[:40]!r}, not a whole number") from None
    if not 0 <= number <= limit:
        raise crafted(f"{what} is {number} (at most {limit})")
    return number
