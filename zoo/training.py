"""Training a component on a table: split, fit, validate. Shared by ``zoo train`` and Python."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
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
    #: Extra files for ``Registry.register(..., artifacts=...)``: held-out plots, metrics with
    #: confidence intervals and the conformal calibration record (see ``held_out_artifacts``).
    artifacts: dict[str, Path] = field(default_factory=dict)


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
    artifact_dir: str | Path | None = None,
) -> TrainResult:
    """Fit ``info``'s component on ``df``, holding out ``test_size`` of the rows for metrics.

    Predictors need ``target``; detectors fit on the features alone. ``step`` is told the
    name of each stage, for a progress display. With ``artifact_dir``, a predictor's
    held-out evaluation files are written there and listed in ``TrainResult.artifacts``.
    """
    from zoo.data import as_target, fingerprint
    from zoo.drift import REFERENCE_ARTIFACT, write_reference

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
        artifacts = {}
        if artifact_dir is not None:
            artifacts[REFERENCE_ARTIFACT] = write_reference(df, artifact_dir, seed)
        return TrainResult(model=model, data=data, n_train=len(df), artifacts=artifacts)

    stratify = y if info.task == "classification" else None
    train_idx, test_idx = split(len(df), test_size, seed, stratify)
    step("fitting")
    model.fit(X.iloc[train_idx], y.iloc[train_idx])
    metrics: dict[str, float] = {}
    artifacts: dict[str, Path] = {}
    if artifact_dir is not None:  # for later drift checks (zoo drift/monitor)
        artifacts[REFERENCE_ARTIFACT] = write_reference(df.iloc[train_idx], artifact_dir, seed)
    if len(test_idx):
        step("validating")
        metrics = model.validate(X.iloc[test_idx], y.iloc[test_idx])
        if artifact_dir is not None:
            step("plotting and calibrating")
            held_out = {"kind": "holdout", "seed": seed, "test_size": test_size,
                        "stratified": stratify is not None}
            artifacts |= held_out_artifacts(model, X.iloc[test_idx], y.iloc[test_idx], artifact_dir,
                                           split_record(held_out, test_idx, data))
    return TrainResult(model=model, metrics=metrics, data=data,
                       n_train=len(train_idx), n_test=len(test_idx), artifacts=artifacts)


def split_record(how: dict[str, Any], test_idx: Any, data: dict[str, Any]) -> dict[str, Any]:
    """Which rows were held out: ``how`` plus their count, a sha256 of their indices and
    the training data's sha256, so the calibration split can be checked and reproduced."""
    import hashlib

    import numpy as np

    digest = hashlib.sha256(np.asarray(test_idx, dtype="<i8").tobytes()).hexdigest()
    return {**how, "rows": int(len(test_idx)), "rows_sha256": digest, "data_sha256": data.get("sha256")}


def held_out_artifacts(model: Any, X_test: Any, y_test: Any, directory: str | Path,
                       split: dict[str, Any]) -> dict[str, Path]:
    """Evaluation files of a predictor on its held-out rows, written into ``directory``.

    The task's plots (``zoo.evaluation.PLOTS``), ``evaluation.json`` (every metric with a
    bootstrap confidence interval) and ``conformal.json`` (the calibration record that
    ``zoo predict --interval`` uses, with ``split`` saying which rows it came from).
    """
    import warnings

    with warnings.catch_warnings():  # e.g. numpy's on a metric undefined for one-class test rows
        warnings.simplefilter("ignore")
        return _held_out_artifacts(model, X_test, y_test, Path(directory), split)


def _held_out_artifacts(model: Any, X_test: Any, y_test: Any, directory: Path,
                        split: dict[str, Any]) -> dict[str, Path]:
    import json

    from zoo import conformal, evaluation

    directory.mkdir(parents=True, exist_ok=True)
    files = evaluation.plot_artifacts(model, X_test, y_test, directory)
    y_values = y_test.to_numpy()
    # Fewer resamples on big test splits keep training fast; their intervals are narrow anyway.
    n_boot = max(50, min(200, 2_000_000 // max(len(y_values), 1)))
    record = evaluation.metric_intervals(model.task, y_values, evaluation.outputs(model, X_test),
                                         getattr(model, "classes_", None), n_boot=n_boot)
    files[evaluation.ARTIFACT] = directory / evaluation.ARTIFACT
    files[evaluation.ARTIFACT].write_text(json.dumps({**record, "split": split}))
    files[conformal.ARTIFACT] = directory / conformal.ARTIFACT
    files[conformal.ARTIFACT].write_text(json.dumps(conformal.calibrate(model, X_test, y_test, split)))
    return files
