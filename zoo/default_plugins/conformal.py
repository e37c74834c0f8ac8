"""zoo.conformal: prediction intervals and sets with a coverage guarantee (split conformal
prediction), for ``zoo predict --interval LEVEL``.

Every predictor trained through ``zoo.register_trained`` (``zoo train``, ``zoo tune``, ...)
keeps a calibration record, the ``conformal.json`` artifact (``training_artifacts``):
nonconformity scores of the held-out rows the model never trained on, and which rows those
were. At predict time (``prediction_intervals``) a level such as 0.9 picks the
``ceil((n + 1) * 0.9)``-th smallest score ``q``; if the new rows are exchangeable with the
calibration rows, the interval or set then holds the true value with probability at least
0.9 (and at most 0.9 + 1/(n + 1)).

- Regressors: ``[prediction - q, prediction + q]`` with scores ``|y - prediction|``.
- Regressors with ``predict_quantiles(X) -> (n, 2)`` (``zoo.QuantilePredictor``, a quantile
  objective): conformalized quantile regression (CQR), ``[low - q, high + q]`` with scores
  ``max(low - y, y - high)``: intervals that widen where the data is noisier.
- Classifiers: the set of classes whose probability is at least ``1 - q``, with scores
  ``1 - P(true class)`` (least ambiguous set-valued classifier). A set may be empty when no
  class is plausible enough.

``method="bootstrap"`` gives percentile intervals from bootstrap resamples of the
held-out residuals instead: no finite-sample correction and no coverage guarantee, and
labelled so in its column names (``bootstrap_lower``/``bootstrap_upper``).

This module is the plugin's entry module: numpy and pandas are imported inside functions.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from zoo import DataError, KeyColumns, QuantilePredictor, ZooError, hookimpl

#: The extra artifact holding a version's calibration record.
ARTIFACT = "conformal.json"
#: Scores kept per record (about 1 MB of JSON). A random subset of a calibration set is
#: itself a valid calibration set, so capping keeps records small without losing the guarantee.
MAX_SCORES = 50_000
#: Bootstrap resamples of the residuals for ``method="bootstrap"``.
N_BOOTSTRAP = 200
METHODS = ("conformal", "bootstrap")


def calibrate(model: Any, X: Any, y: Any, split: dict[str, Any] | None = None,
              seed: int = 0) -> dict[str, Any]:
    """A JSON-able calibration record from held-out rows ``X``, ``y`` the model did not train on.

    ``split`` describes which rows those were (``zoo.split_record``) and is stored as is.
    """
    import numpy as np

    from zoo.data import as_target

    rng = np.random.default_rng(seed)
    n = len(X)
    if n == 0:
        raise DataError("conformal calibration needs at least one held-out row")
    keep = np.sort(rng.choice(n, MAX_SCORES, replace=False)) if n > MAX_SCORES else np.arange(n)
    record: dict[str, Any] = {"format": 1, "task": model.task, "n_calibration": n,
                              "n_scores": int(len(keep)), "split": split or {}}
    if model.task == "classification":
        y_true = as_target(y, n).to_numpy()
        proba = np.asarray(model.predict_proba(X), dtype=float)
        index = {c: i for i, c in enumerate(np.asarray(model.classes_).tolist())}
        unseen = [v for v in y_true.tolist() if v not in index]
        if unseen:
            raise DataError(f"calibration label {unseen[0]!r} was not seen at fit")
        truth = np.array([index[v] for v in y_true.tolist()])
        scores = 1.0 - proba[np.arange(n), truth]
        record.update(method="lac", scores=_sorted_list(scores[keep]))
        return record
    y_true = as_target(y, n, numeric=True).to_numpy(dtype=float)
    pred = np.asarray(model.predict(X), dtype=float)
    residuals = y_true - pred
    # The split scores |residual| are derived from the signed residuals when needed.
    record.update(method="split", residuals=_sorted_list(residuals[keep]))
    if isinstance(model, QuantilePredictor):
        band = np.asarray(model.predict_quantiles(X), dtype=float)
        cqr = np.maximum(band[:, 0] - y_true, y_true - band[:, 1])
        record.update(method="cqr", cqr_scores=_sorted_list(cqr[keep]))
    return record


def conformal_quantile(scores: Any, level: float) -> float:
    """The ``ceil((n + 1) * level)``-th smallest of ``scores`` (sorted); ``inf`` if beyond n."""
    n = len(scores)
    k = math.ceil((n + 1) * level - 1e-12)  # the epsilon keeps exact products (e.g. 99 * 0.9) exact
    return float("inf") if k > n else float(scores[max(k, 1) - 1])


def intervals(model: Any, record: dict[str, Any], X: Any, level: float,
              method: str = "conformal", seed: int = 0) -> dict[str, Any]:
    """Interval (or set) columns for rows ``X`` at ``level``, by name.

    Regressors get ``lower``/``upper`` (``bootstrap_lower``/``bootstrap_upper`` for the
    bootstrap), classifiers ``prediction_set`` (labels joined by ``|``) and ``set_size``,
    plus ``_members``: which classes each set holds, a boolean (rows x classes) array.
    """
    import numpy as np

    check_level(level)
    if method not in METHODS:
        raise ZooError(f"unknown interval method {method!r}: use {' or '.join(METHODS)}")
    if record.get("task") != model.task:
        raise ZooError(f"the calibration record is for a {record.get('task')} model, not a {model.task} one")
    if model.task == "classification":
        if method == "bootstrap":
            raise ZooError("bootstrap intervals are for regressors; classifiers get conformal "
                           "prediction sets: drop --method bootstrap")
        q = conformal_quantile(record["scores"], level)
        proba = np.asarray(model.predict_proba(X), dtype=float)
        members = proba >= 1.0 - q
        labels = np.asarray(model.classes_).astype(str)
        sets = ["|".join(labels[row]) for row in members]
        return {"prediction_set": sets, "set_size": members.sum(axis=1), "_members": members}
    if method == "bootstrap":
        pred = np.asarray(model.predict(X), dtype=float)
        low, high = _bootstrap_residual_band(np.asarray(record["residuals"]), level, seed)
        return {"bootstrap_lower": pred + low, "bootstrap_upper": pred + high}
    if "cqr_scores" in record and isinstance(model, QuantilePredictor):
        q = conformal_quantile(record["cqr_scores"], level)
        band = np.asarray(model.predict_quantiles(X), dtype=float)
        return {"lower": band[:, 0] - q, "upper": band[:, 1] + q}
    q = conformal_quantile(scores(record), level)
    pred = np.asarray(model.predict(X), dtype=float)
    return {"lower": pred - q, "upper": pred + q}


def scores(record: dict[str, Any]) -> Any:
    """The record's sorted nonconformity scores (for regressors, the absolute residuals)."""
    import numpy as np

    if "scores" in record:
        return record["scores"]
    return np.sort(np.abs(np.asarray(record["residuals"], dtype=float)))


def describe(record: dict[str, Any], level: float, method: str = "conformal") -> str:
    """One line saying what the interval columns are and what they guarantee."""
    pct = f"{level:.0%}" if round(level * 100, 6) == round(level * 100) else f"{level:.2%}"
    n = record.get("n_scores", len(scores(record)))
    if method == "bootstrap":
        return (f"{pct} bootstrap intervals from {n} held-out residuals: NO coverage guarantee "
                "(no finite-sample correction; assumes new errors look like the held-out ones)")
    kind = {"lac": "prediction sets", "cqr": "conformalized quantile regression intervals",
            "split": "split conformal intervals"}[record["method"]]
    note = ""
    if conformal_quantile(record.get("cqr_scores") or scores(record), level) == float("inf"):
        note = f"; {n} calibration rows are too few for this level, so the intervals are unbounded"
    if record["method"] == "lac":
        note += ("; an empty set (set_size 0) means no class is likely enough at this level: the "
                 "row is unlike the calibration rows, so read it as \"don't know\"")
    return (f"{pct} {kind}, calibrated on {n} held-out rows: they hold the true value for at least "
            f"{pct} of new rows exchangeable with those{note}")


def add_intervals(registry: Any, version: dict[str, Any], model: Any, df: Any, out: Any,
                  level: float, method: str | None = "conformal") -> tuple[Any, str]:
    """``out`` (``predict_table``'s result for ``df``) plus interval columns; and a one-line note.

    The version's calibration record is read from its ``conformal.json`` artifact.
    """
    apply, note = make_intervals(registry, version, level, method)
    return apply(model, df, out), note


def make_intervals(registry: Any, version: dict[str, Any], level: float,
                   method: str | None = "conformal") -> tuple[Intervals, str]:
    """What adds ``version``'s interval columns at ``level`` to any scored chunk (an
    ``Intervals``, picklable for Dask workers) and the one-line note on what they guarantee."""
    method = method or "conformal"
    check_level(level)
    record = load_record(registry, version)
    return Intervals(record, level, method), describe(record, level, method)


class Intervals:
    """``Intervals(record, level, method)(model, df, out)``: ``with_intervals`` for one
    calibration record; the record travels with it (to Dask workers, say)."""

    def __init__(self, record: dict[str, Any], level: float, method: str = "conformal") -> None:
        self.record, self.level, self.method = record, level, method

    def __call__(self, model: Any, df: Any, out: Any) -> Any:
        return with_intervals(model, self.record, df, out, self.level, self.method)


def with_intervals(model: Any, record: dict[str, Any], df: Any, out: Any, level: float,
                   method: str = "conformal") -> Any:
    """``out`` plus the interval columns for the rows of ``df``, from a calibration ``record``.

    What ``add_intervals`` does once the record is read; ``Intervals`` does it on Dask workers.
    """
    import warnings

    from zoo.data import ExtraColumnsWarning, align

    keys = model.key_columns if isinstance(model, KeyColumns) else ()
    with warnings.catch_warnings():  # predict_table already warned about extra columns
        warnings.simplefilter("ignore", ExtraColumnsWarning)
        X = align(df, list(model.feature_names_in_), keys=keys,
                  schema=getattr(model, "input_schema_", None))
    columns = intervals(model, record, X, level, method)
    columns.pop("_members", None)
    out = out.copy()
    for name, values in columns.items():
        out[name] = values
    return out


def load_record(registry: Any, version: dict[str, Any]) -> dict[str, Any]:
    """The version's calibration record, or a one-line error saying how to get one."""
    if version["kind"] != "predictor":
        raise ZooError(f"{version['ref']} is a {version['kind']}: "
                       "--interval is for classifiers and regressors")
    if ARTIFACT not in version.get("artifacts", {}):
        raise ZooError(
            f"{version['ref']} has no conformal calibration: train it with `zoo train` or "
            "`zoo tune` (with --test-size above 0), which calibrate on the held-out rows"
        )
    return json.loads(registry.read_verified(version, ARTIFACT))


def check_level(level: float) -> None:
    """A one-line error unless ``0 < level < 1``."""
    if not (isinstance(level, (int, float)) and 0.0 < float(level) < 1.0):
        raise DataError(f"--interval must be a coverage level between 0 and 1, such as 0.9; got {level}")


def coverage(y: Any, columns: dict[str, Any], classes: Any = None) -> dict[str, float]:
    """Share of rows whose true value the intervals (or sets) hold, and their mean width (size)."""
    import numpy as np

    y = np.asarray(y)
    if "_members" in columns:
        index = {c: i for i, c in enumerate(np.asarray(classes).tolist())}
        truth = np.array([index[v] for v in y.tolist()])
        members = columns["_members"]
        return {"coverage": float(np.mean(members[np.arange(len(y)), truth])),
                "mean_size": float(np.mean(members.sum(axis=1)))}
    low, high = (columns[k] for k in columns if k.endswith(("lower", "upper")))
    y = y.astype(float)
    return {"coverage": float(np.mean((low <= y) & (y <= high))),
            "mean_width": float(np.mean(high - low))}


def _bootstrap_residual_band(residuals: Any, level: float, seed: int) -> tuple[float, float]:
    """Mean over bootstrap resamples of the residuals' (1-level)/2 and (1+level)/2 quantiles."""
    import numpy as np

    rng = np.random.default_rng(seed)
    tail = (1.0 - level) / 2.0
    draws = rng.choice(residuals, size=(N_BOOTSTRAP, len(residuals)), replace=True) \
        if len(residuals) * N_BOOTSTRAP <= 5_000_000 else \
        np.stack([rng.choice(residuals, size=len(residuals)) for _ in range(N_BOOTSTRAP)])
    low, high = np.quantile(draws, [tail, 1.0 - tail], axis=1)
    return float(low.mean()), float(high.mean())


def _sorted_list(values: Any) -> list[float]:
    import numpy as np

    return np.sort(np.asarray(values, dtype=float)).tolist()


# --- hooks ---


@hookimpl
def training_artifacts(model: Any, X_test: Any, y_test: Any, split: dict[str, Any],
                       directory: Path) -> dict[str, Path] | None:
    """``conformal.json``: the calibration record of a newly trained predictor's held-out rows."""
    if model.kind != "predictor" or y_test is None:
        return None
    path = Path(directory) / ARTIFACT
    path.write_text(json.dumps(calibrate(model, X_test, y_test, split)))
    return {ARTIFACT: path}


@hookimpl
def prediction_intervals(registry: Any, version: dict[str, Any], level: float,
                         method: str | None) -> tuple[Intervals, str] | None:
    """``zoo predict --interval``: what adds the version's interval (or set) columns to each
    scored chunk (picklable, for Dask workers too) and the note on what they guarantee; None
    for a ``method`` another plugin may offer."""
    if method not in (None, *METHODS):
        return None
    return make_intervals(registry, version, level, method)
