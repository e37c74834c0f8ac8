"""Training a component on a table: split, fit, validate. Shared by ``zoo train`` and Python."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from zoo.catalogue import ComponentInfo
from zoo.errors import DataError


@dataclass
class TrainResult:
    """A fitted model with what the registry should record about it."""

    model: Any
    metrics: dict[str, float] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    n_train: int = 0
    n_test: int = 0


def split(
    n_rows: int, test_size: float, seed: int, labels: Any | None = None
) -> tuple[Any, Any]:
    """Train and test row indices; stratified by ``labels`` when every class has 2+ rows."""
    import numpy as np

    if not 0.0 <= test_size < 1.0:
        raise DataError(f"--test-size must be at least 0 and below 1, got {test_size}")
    rng = np.random.default_rng(seed)
    if test_size == 0.0:
        return np.arange(n_rows), np.arange(0)
    groups = [np.arange(n_rows)]
    if labels is not None:
        values = np.asarray(labels)
        _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
        if counts.min() >= 2:
            groups = [np.flatnonzero(inverse == k) for k in range(len(counts))]
    train, test = [], []
    for rows in groups:
        rows = rng.permutation(rows)
        n_test = max(1, int(round(len(rows) * test_size))) if len(rows) > 1 else 0
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
    from zoo.data import fingerprint

    model = info.create(**(params or {}))
    if info.kind == "predictor" and not target:
        raise DataError(f"{info.name} is a predictor: name the label column with --target")
    if target is not None and target not in df.columns:
        cols = ", ".join(map(str, df.columns[:20]))
        raise DataError(f"no column {target!r} in the data; columns are: {cols}")
    step("fingerprinting data")
    data = fingerprint(df)
    X = df.drop(columns=[target]) if target is not None else df
    y = df[target] if target is not None else None
    if info.kind != "predictor":
        step("fitting")
        model.fit(X)
        return TrainResult(model=model, data=data, n_train=len(df))

    stratify = y if info.task == "classification" else None
    train_idx, test_idx = split(len(df), test_size, seed, stratify)
    step("fitting")
    model.fit(X.iloc[train_idx], y.iloc[train_idx])
    metrics: dict[str, float] = {}
    if len(test_idx):
        step("validating")
        metrics = model.validate(X.iloc[test_idx], y.iloc[test_idx])
    return TrainResult(model=model, metrics=metrics, data=data,
                       n_train=len(train_idx), n_test=len(test_idx))
