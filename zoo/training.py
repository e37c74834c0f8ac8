"""Training a component on a table: split, fit, validate. Shared by ``zoo train`` and Python."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from zoo.catalogue import ComponentInfo
from zoo.errors import DataError


@dataclass
class TrainResult:
    """A fitted model with what registering it should record (``zoo.models.register_trained``)."""

    model: Any
    metrics: dict[str, float] = field(default_factory=dict)
    #: Fingerprint of the whole training table (``zoo.data.fingerprint``).
    data: dict[str, Any] = field(default_factory=dict)
    n_train: int = 0
    n_test: int = 0
    #: Rows the model learned from (features and target), sampled into the reference sample
    #: that drift checks compare new data with.
    reference: Any = None
    #: Held-out rows, for the plugins' ``training_artifacts`` (plots, intervals, ...).
    X_test: Any = None
    y_test: Any = None
    #: Which rows were held out and how (``split_record``).
    split: dict[str, Any] = field(default_factory=dict)
    seed: int = 0


def split(
    n_rows: int, test_size: float, seed: int, labels: Any | None = None
) -> tuple[Any, Any]:
    """Train and test row indices, stratified by ``labels`` when given.

    Every class keeps at least one row in training, so the test split never holds a
    label the model has not seen.
    """
    import numpy as np

    if not 0.0 <= test_size < 1.0:
        raise DataError(f"--test-size must be at least 0 and below 1, got {test_size}")
    rng = np.random.default_rng(seed)
    if test_size == 0.0:
        return np.arange(n_rows), np.arange(0)
    groups = [np.arange(n_rows)]
    if labels is not None:
        _, inverse = np.unique(np.asarray(labels), return_inverse=True)
        groups = [np.flatnonzero(inverse == k) for k in range(inverse.max() + 1)]
    train, test = [], []
    for rows in groups:
        rows = rng.permutation(rows)
        n_test = min(len(rows) - 1, max(1, int(round(len(rows) * test_size))))
        test.append(rows[:n_test])
        train.append(rows[n_test:])
    train_idx, test_idx = np.sort(np.concatenate(train)), np.sort(np.concatenate(test))
    if len(train_idx) == 0 or len(test_idx) == 0:
        raise DataError(f"{n_rows} rows are too few to hold out a test split; add rows or use --test-size 0")
    return train_idx, test_idx


def train(
    info: ComponentInfo,
    df: Any,
    target: str | None,
    params: dict[str, Any] | None = None,
    test_size: float = 0.2,
    seed: int = 0,
    step: Callable[[str], None] = lambda _: None,
) -> TrainResult:
    """Fit ``info``'s component on ``df``, holding out ``test_size`` of the rows for metrics.

    Predictors need ``target``; detectors fit on the features alone. ``step`` is told the
    name of each stage, for a progress display.
    """
    from zoo.data import as_target, fingerprint

    model = info.create(**(params or {}))
    if info.kind == "predictor" and not target:
        raise DataError(f"{info.name} is a predictor: name the label column with --target")
    if target is not None and target not in df.columns:
        cols = ", ".join(map(str, df.columns[:20]))
        raise DataError(f"no column {target!r} in the data; columns are: {cols}")
    step("fingerprinting data")
    data = fingerprint(df)
    X = df.drop(columns=[target]) if target is not None else df
    # Check the whole target before splitting, so a bad value in the test rows is named too.
    y = as_target(df[target], len(df), numeric=info.task == "regression") if target is not None else None
    if info.kind != "predictor":
        step("fitting")
        model.fit(X)
        return TrainResult(model=model, data=data, n_train=len(df), reference=df, seed=seed)

    stratify = y if info.task == "classification" else None
    train_idx, test_idx = split(len(df), test_size, seed, stratify)
    step("fitting")
    model.fit(X.iloc[train_idx], y.iloc[train_idx])
    result = TrainResult(model=model, data=data, n_train=len(train_idx), n_test=len(test_idx),
                         reference=df.iloc[train_idx], seed=seed)
    if len(test_idx):
        step("validating")
        result.X_test, result.y_test = X.iloc[test_idx], y.iloc[test_idx]
        result.metrics = model.validate(result.X_test, result.y_test)
        held_out = {"kind": "holdout", "seed": seed, "test_size": test_size,
                    "stratified": stratify is not None}
        result.split = split_record(held_out, test_idx, data)
    return result


def split_record(how: dict[str, Any], test_idx: Any, data: dict[str, Any]) -> dict[str, Any]:
    """Which rows were held out: ``how`` plus their count, a sha256 of their indices and
    the training data's sha256, so the calibration split can be checked and reproduced."""
    import hashlib

    import numpy as np

    digest = hashlib.sha256(np.asarray(test_idx, dtype="<i8").tobytes()).hexdigest()
    return {**how, "rows": int(len(test_idx)), "rows_sha256": digest, "data_sha256": data.get("sha256")}
