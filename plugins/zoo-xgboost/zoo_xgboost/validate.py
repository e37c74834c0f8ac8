"""Structural checks on an XGBoost model file (UBJSON or JSON) before ``Booster`` sees it.

XGBoost trusts its own files: a node whose child lies outside the tree, or points back at
an ancestor, makes prediction read out of bounds (a segfault) or loop forever. So the
file is decoded here first, by a small bounded UBJSON reader, and every tree is checked:
children in range with a consistent ``parents`` array (so the part reachable from the
root is a tree), split features below ``num_feature``, per-node arrays of one length,
tree counts and output groups in bounds. Categorical splits (``split_type`` 1, trained on
category columns) must have a ``categories`` segment of their own: XGBoost reads the
segments unchecked and sizes each node's bitset by its largest category, so segments
stay inside ``categories`` and category values are bounded. Only what this plugin saves
is accepted (``gbtree`` or ``dart`` boosters, scalar leaves, no embedded category encoder).

numpy is imported inside functions: this module is imported by the loader only.
"""

from __future__ import annotations

import json
import struct
from typing import Any

from zoo import IntegrityError

#: Most trees, nodes over all trees, features and outputs a model file may declare.
MAX_TREES = 1_000_000
MAX_NODES = 200_000_000
MAX_FEATURES = 10_000_000
MAX_OUTPUTS = 100_000
#: Deepest nesting of containers in the file (a model nests 6 levels).
MAX_DEPTH = 64
#: Category values XGBoost accepts are below 2**24 (exact in a float32).
MAX_CATEGORY = 1 << 24
#: Most 32-bit bitset words all categorical splits of a model may need (128 MiB).
MAX_CATEGORY_WORDS = 1 << 25
#: ``parents`` entry of the root node.
ROOT_PARENT = 2147483647
#: Per-node arrays of a tree, each ``num_nodes`` long.
NODE_ARRAYS = ("left_children", "right_children", "parents", "split_indices", "split_conditions",
               "default_left", "split_type", "loss_changes", "sum_hessian")
#: Per-categorical-node arrays of a tree (one entry per node listed in ``categories_nodes``).
CATEGORY_ARRAYS = ("categories_nodes", "categories_segments", "categories_sizes")


def crafted(problem: str) -> IntegrityError:
    """The one-line error for a file that fails a structural check."""
    return IntegrityError(f"crafted or corrupted model: {problem}")


def check_model(raw: bytes) -> None:
    """Refuse XGBoost model bytes (UBJSON or JSON) whose trees are not safe to score."""
    doc = decode(raw)
    if not isinstance(doc, dict) or not isinstance(doc.get("learner"), dict):
        raise IntegrityError("not an XGBoost model (no learner object)")
    learner = doc["learner"]
    params = _get(learner, "learner_model_param", dict)
    num_feature = _int(params.get("num_feature", 0), "num_feature", MAX_FEATURES)
    outputs = max(_int(params.get("num_class", 0), "num_class", MAX_OUTPUTS),
                  _int(params.get("num_target", 1), "num_target", MAX_OUTPUTS), 1)
    booster = _get(learner, "gradient_booster", dict)
    name = booster.get("name")
    if name == "dart":
        booster = _get(booster, "gbtree", dict)
    elif name != "gbtree":
        raise crafted(f"booster {str(name)[:40]!r} (this plugin saves gbtree models)")
    model = _get(booster, "model", dict)
    cats = model.get("cats") or {}
    if isinstance(cats, dict) and any(len(v) for v in cats.values() if hasattr(v, "__len__")):
        raise crafted("categorical feature encodings (this plugin never saves them)")
    trees = _get(model, "trees", list)
    declared = _int(_get(model, "gbtree_model_param", dict).get("num_trees"), "num_trees", MAX_TREES)
    if declared != len(trees):
        raise crafted(f"num_trees says {declared} but the file holds {len(trees)} trees")
    info = _array(model.get("tree_info", []), "tree_info")
    if len(info) != len(trees) or (len(info) and (info.min() < 0 or info.max() >= outputs)):
        raise crafted(f"tree_info does not give each of {len(trees)} trees an output below {outputs}")
    total = words = 0
    for number, tree in enumerate(trees):
        if not isinstance(tree, dict):
            raise crafted(f"tree {number} is not an object")
        nodes, bitset = _check_tree(tree, number, num_feature)
        total, words = total + nodes, words + bitset
        if total > MAX_NODES:
            raise crafted(f"more than {MAX_NODES} tree nodes")
        if words > MAX_CATEGORY_WORDS:
            raise crafted(f"its categorical splits need more than {MAX_CATEGORY_WORDS} bitset words")


def _check_tree(tree: dict[str, Any], number: int, num_feature: int) -> tuple[int, int]:
    """``(nodes, category bitset words)`` of a tree whose structure is sound."""
    import numpy as np

    where = f"tree {number}"
    param = _get(tree, "tree_param", dict)
    n = _int(param.get("num_nodes"), f"{where} num_nodes", MAX_NODES)
    if n < 1:
        raise crafted(f"{where} has no nodes")
    if _int(param.get("size_leaf_vector", 1), f"{where} size_leaf_vector", MAX_OUTPUTS) > 1:
        raise crafted(f"{where} has vector leaves (this plugin never saves them)")
    arrays = {}
    for key in NODE_ARRAYS:
        arrays[key] = _array(tree.get(key), f"{where} {key}")
        if len(arrays[key]) != n:
            raise crafted(f"{where} has {len(arrays[key])} {key} for {n} nodes")
    if len(_array(tree.get("base_weights"), f"{where} base_weights")) != n:
        raise crafted(f"{where} base_weights does not have {n} entries")
    left, right = arrays["left_children"].astype(np.int64), arrays["right_children"].astype(np.int64)
    leaf = left == -1
    if (leaf != (right == -1)).any():
        raise crafted(f"{where} node {int((leaf != (right == -1)).argmax())} has one child")
    inner = np.flatnonzero(~leaf)
    for side, links in (("left", left), ("right", right)):
        bad = (links[inner] < 1) | (links[inner] >= n)
        if bad.any():
            node = int(inner[bad.argmax()])
            raise crafted(f"{where} node {node} points at {side} child {int(links[node])} "
                          f"(out of {n} nodes)")
    parents = arrays["parents"].astype(np.int64)
    if parents[0] not in (ROOT_PARENT, -1):
        raise crafted(f"{where} root has a parent ({int(parents[0])})")
    # Each child names its parent: the part reachable from the root is then a tree
    # (a cycle would need one node with two parents, or the root with one).
    for links in (left, right):
        bad = parents[links[inner]] != inner
        if bad.any():
            node = int(inner[bad.argmax()])
            raise crafted(f"{where} node {node} and its child {int(links[node])} disagree on "
                          "their link (a cycle or a shared child)")
    features = arrays["split_indices"].astype(np.int64)[inner]
    bad = (features < 0) | (features >= num_feature)
    if bad.any():
        node = int(inner[bad.argmax()])
        raise crafted(f"{where} node {node} splits on feature {int(features[bad.argmax()])} "
                      f"(the model has {num_feature} features)")
    return n, _check_categories(tree, where, arrays["split_type"])


def _check_categories(tree: dict[str, Any], where: str, split_type: Any) -> int:
    """The bitset words XGBoost will allocate for a tree's categorical splits, once each
    categorical node is known to own an in-range ``categories`` segment."""
    import numpy as np

    bad = (split_type != 0) & (split_type != 1)
    if bad.any():
        node = int(bad.argmax())
        raise crafted(f"{where} node {node} has split_type {split_type[node]:.15g} (0 or 1)")
    listed = {key: _array(tree.get(key, []), f"{where} {key}") for key in CATEGORY_ARRAYS}
    nodes, starts, sizes = (listed[key] for key in CATEGORY_ARRAYS)
    if not len(nodes) == len(starts) == len(sizes):
        raise crafted(f"{where} lists {len(nodes)} categories_nodes, {len(starts)} "
                      f"categories_segments and {len(sizes)} categories_sizes")
    # XGBoost saves one entry per split_type-1 node, in node order, and pairs them back up
    # the same way on load.
    expected = np.flatnonzero(split_type == 1)
    if len(nodes) != len(expected) or (nodes != expected).any():
        raise crafted(f"{where} categories_nodes {_show(nodes)} are not its categorical "
                      f"splits {_show(expected)}")
    if not len(nodes):
        return 0
    categories = _array(tree.get("categories", []), f"{where} categories")
    ends = starts + sizes
    bad = (sizes < 1) | (starts < 0) | (ends > len(categories)) | (starts != np.round(starts)) \
        | (sizes != np.round(sizes))
    if bad.any():
        k = int(bad.argmax())
        raise crafted(f"{where} node {int(nodes[k])} has categories_segments {starts[k]:.15g} and "
                      f"categories_sizes {sizes[k]:.15g} (outside its {len(categories)} categories)")
    bad = (categories < 0) | (categories >= MAX_CATEGORY) | (categories != np.round(categories))
    if bad.any():
        raise crafted(f"{where} has category {categories[bad.argmax()]:.15g} "
                      f"(categories are whole numbers below {MAX_CATEGORY})")
    # Each categorical node gets a bitset sized by its largest category.
    top = [int(categories[int(a):int(b)].max()) for a, b in zip(starts, ends, strict=True)]
    return sum(value // 32 + 1 for value in top)


def _show(values: Any) -> str:
    shown = [int(v) for v in values[:6]]
    return str(shown)[:-1] + (", ...]" if len(values) > 6 else "]")


def _get(doc: Any, key: str, kind: type) -> Any:
    value = doc.get(key) if isinstance(doc, dict) else None
    if not isinstance(value, kind):
        raise crafted(f"{key} is missing or not a{'n object' if kind is dict else ' list'}")
    return value


def _int(value: Any, what: str, limit: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise crafted(f"{what} is {str(value)[:40]!r}, not a number") from None
    if not 0 <= number <= limit:
        raise crafted(f"{what} is {number} (at most {limit})")
    return number


def _array(value: Any, what: str) -> Any:
    import numpy as np

    if value is None:
        raise crafted(f"{what} is missing")
    try:
        arr = np.asarray(value, dtype=np.float64) if isinstance(value, list) else value
    except (TypeError, ValueError):
        arr = None
    if not isinstance(arr, np.ndarray) or arr.ndim != 1:
        raise crafted(f"{what} is not a list of numbers")
    return arr


# --- a bounded UBJSON reader (the subset XGBoost writes), typed arrays as numpy ---

_SCALARS = {b"i": ">i1", b"U": ">u1", b"I": ">i2", b"l": ">i4", b"L": ">i8", b"d": ">f4",
            b"D": ">f8"}
_STRUCTS = {marker: struct.Struct(code.replace("i1", "b").replace("u1", "B").replace("i2", "h")
                                  .replace("i4", "i").replace("i8", "q").replace("f4", "f")
                                  .replace("f8", "d"))
            for marker, code in _SCALARS.items()}


def decode(raw: bytes) -> Any:
    """The document in ``raw``: JSON text or UBJSON; a crafted encoding is refused."""
    head = raw[:64].lstrip()
    if head.startswith(b"{\"") or head.startswith(b"{}"):
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
            raise IntegrityError("not an XGBoost model (its JSON does not parse)") from None
    reader = _Reader(raw)
    try:
        value = reader.value(0)
    except (struct.error, IndexError, UnicodeDecodeError, ValueError):
        raise IntegrityError(f"not an XGBoost model (its UBJSON breaks off or is malformed near "
                             f"byte {reader.pos})") from None
    return value


class _Reader:
    def __init__(self, raw: bytes) -> None:
        self.raw = memoryview(raw)
        self.pos = 0

    def take(self, size: int) -> memoryview:
        if size < 0 or self.pos + size > len(self.raw):
            raise ValueError("past the end")
        chunk = self.raw[self.pos:self.pos + size]
        self.pos += size
        return chunk

    def marker(self) -> bytes:
        while True:
            byte = bytes(self.take(1))
            if byte != b"N":  # no-op
                return byte

    def scalar(self, marker: bytes) -> Any:
        unpack = _STRUCTS[marker]
        return unpack.unpack(self.take(unpack.size))[0]

    def length(self) -> int:
        size = self.scalar(self.marker())
        if not isinstance(size, int) or size < 0 or size > len(self.raw):
            raise ValueError("bad length")
        return size

    def value(self, depth: int, marker: bytes | None = None) -> Any:
        if depth > MAX_DEPTH:
            raise crafted(f"containers nested deeper than {MAX_DEPTH}")
        marker = marker or self.marker()
        if marker in _SCALARS:
            return self.scalar(marker)
        if marker in (b"S", b"H"):
            return str(self.take(self.length()), "utf-8")
        if marker == b"C":
            return chr(self.take(1)[0])
        if marker == b"T":
            return True
        if marker == b"F":
            return False
        if marker == b"Z":
            return None
        if marker == b"[":
            return self.array(depth)
        if marker == b"{":
            return self.object(depth)
        raise ValueError("unknown marker")

    def _container(self) -> tuple[bytes | None, int | None]:
        kind = count = None
        if bytes(self.raw[self.pos:self.pos + 1]) == b"$":
            self.pos += 1
            kind = bytes(self.take(1))
            if bytes(self.take(1)) != b"#":
                raise ValueError("typed container without a count")
        if kind is not None or bytes(self.raw[self.pos:self.pos + 1]) == b"#":
            if kind is None:
                self.pos += 1
            count = self.length()
        return kind, count

    def array(self, depth: int) -> Any:
        import numpy as np

        kind, count = self._container()
        if kind in _SCALARS and count is not None:
            dtype = np.dtype(_SCALARS[kind])
            return np.frombuffer(self.take(count * dtype.itemsize), dtype=dtype).astype(
                dtype.newbyteorder("="))
        items = []
        if count is not None:
            for _ in range(count):
                items.append(self.value(depth + 1, kind))
            return items
        while (marker := self.marker()) != b"]":
            items.append(self.value(depth + 1, marker))
        return items

    def object(self, depth: int) -> dict[str, Any]:
        kind, count = self._container()
        doc: dict[str, Any] = {}
        if count is not None:
            for _ in range(count):
                key = str(self.take(self.length()), "utf-8")
                doc[key] = self.value(depth + 1, kind)
            return doc
        while True:
            if bytes(self.raw[self.pos:self.pos + 1]) == b"}":
                self.pos += 1
                return doc
            key = str(self.take(self.length()), "utf-8")
            doc[key] = self.value(depth + 1)
