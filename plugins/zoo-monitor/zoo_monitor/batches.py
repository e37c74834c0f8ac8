"""Summaries of scored batches: what the ``batch_predicted`` hook stores in the registry
(``zoo_monitor.store``).

A summary is small, JSON-able and cheap to make (it runs on every batch):

- ``rows``, ``seconds``, ``rows_per_second``;
- ``prediction``: a sketch of the predictions: for numbers (regression values, anomaly
  scores) count, mean, std, min, max and the 1/5/25/50/75/95/99 % quantiles; for class
  labels the count of each label (the 50 most frequent, the rest as ``other``);
- ``proba_mean``: the mean probability of each class (classifiers scored for probabilities);
- ``anomaly_rate``: the share of rows flagged (detectors);
- ``missing``: the share of missing values of each input column that has any, and
  ``columns``, the number of input columns.

``shift`` compares a batch's sketch with the sketch of the version's reference predictions.
"""

from __future__ import annotations

import math
from typing import Any

#: Quantiles of a numeric sketch, in percent.
QUANTILES = (1, 5, 25, 50, 75, 95, 99)
#: Labels counted one by one; rarer ones are summed as ``other``.
MAX_LABELS = 50


def summarise(version: dict[str, Any], inputs: Any, predictions: Any, seconds: float) -> dict[str, Any]:
    """The summary of one batch of ``version`` (see the module docstring).

    ``predictions`` is what the model returned: ``zoo predict``'s output table
    (``prediction``/``proba_<class>`` or ``anomaly_score``/``anomaly`` columns), or an array from
    ``predict``, ``predict_proba`` or ``decision_function``.
    """
    import numpy as np

    rows = _length(inputs, predictions)
    summary: dict[str, Any] = {"rows": rows, "seconds": float(seconds),
                               "rows_per_second": rows / seconds if seconds > 0 else None}
    summary.update(_missing(inputs, version))
    schema = (version.get("metadata") or {}).get("input_schema")
    if schema and getattr(inputs, "columns", None) is not None:  # levels and missing never seen
        from zoo.data import input_issues

        summary.update(input_issues(inputs, schema))
    columns = getattr(predictions, "columns", None)
    if columns is not None:  # a table: zoo predict / zoo detect
        names = [str(c) for c in columns]
        if "prediction" in names:
            summary["prediction"] = _sketch(predictions["prediction"].to_numpy(), version)
        probas = [c for c in names if c.startswith("proba_")]
        if probas:
            means = predictions[probas].to_numpy(dtype=float).mean(axis=0)
            summary["proba_mean"] = {c[len("proba_"):]: _num(m) for c, m in zip(probas, means, strict=True)}
        if "anomaly_score" in names:
            summary["prediction"] = _numeric(predictions["anomaly_score"].to_numpy(dtype=float))
        if "anomaly" in names:
            summary["anomaly_rate"] = _num(predictions["anomaly"].to_numpy(dtype=float).mean())
        return summary
    values = np.asarray(predictions)
    if values.ndim == 2:  # predict_proba
        classes = (version.get("metadata") or {}).get("classes") or range(values.shape[1])
        summary["proba_mean"] = {str(c): _num(m) for c, m in zip(classes, values.mean(axis=0), strict=False)}
    elif version.get("kind") == "detector" and _is_flags(values):  # Detector.predict
        summary["anomaly_rate"] = _num(values.mean()) if len(values) else None
    else:
        summary["prediction"] = _sketch(values, version)
    return summary


def record(registry: Any, version: dict[str, Any], inputs: Any, predictions: Any, seconds: float,
           source: str) -> dict[str, Any]:
    """Summarise a batch and store it in ``registry``; returns the stored row."""
    from zoo_monitor.store import record_batch

    summary = summarise(version, inputs, predictions, seconds)
    return record_batch(registry, version["ref"], summary["rows"], seconds, summary, source)


def shift(summary: dict[str, Any], reference: dict[str, Any]) -> dict[str, Any] | None:
    """How far a batch's predictions moved from the reference predictions' summary.

    Numbers (regression values, anomaly scores): the difference of means in reference
    standard deviations, ``{"kind": "sd", "value": ...}``. Classes: the total variation
    distance between the class shares (probability means, else label counts),
    ``{"kind": "tvd", "value": ...}`` from 0 (same mix) to 1 (disjoint). ``None`` when the
    two summaries have nothing comparable.
    """
    for key in ("proba_mean", "labels"):
        now, then = _shares(summary, key), _shares(reference, key)
        if now and then:
            classes = set(now) | set(then)
            return {"kind": "tvd", "value": 0.5 * sum(abs(now.get(c, 0.0) - then.get(c, 0.0))
                                                      for c in classes)}
    now, then = summary.get("prediction") or {}, reference.get("prediction") or {}
    if now.get("mean") is not None and then.get("mean") is not None:
        sd = then.get("std") or 0.0
        if sd > 0:
            return {"kind": "sd", "value": (now["mean"] - then["mean"]) / sd}
    if summary.get("anomaly_rate") is not None and reference.get("anomaly_rate") is not None:
        return {"kind": "rate", "value": summary["anomaly_rate"] - reference["anomaly_rate"]}
    return None


# --- helpers ---


def _length(inputs: Any, predictions: Any) -> int:
    for obj in (predictions, inputs):
        try:
            return int(len(obj))
        except TypeError:
            continue
    return 0


def _missing(inputs: Any, version: dict[str, Any]) -> dict[str, Any]:
    """Missing-value share of each input column that has any (floats and DataFrames only)."""
    import numpy as np

    columns = getattr(inputs, "columns", None)
    if columns is not None:
        if len(inputs) == 0:
            return {"columns": len(columns), "missing": {}}
        rates = inputs.isna().to_numpy().mean(axis=0)
        names = [str(c) for c in columns]
    else:
        values = np.asarray(inputs)
        if values.ndim != 2 or values.dtype.kind != "f" or len(values) == 0:
            return {}
        rates = np.isnan(values).mean(axis=0)
        features = (version.get("metadata") or {}).get("feature_names") or []
        names = features if len(features) == values.shape[1] else [f"x{i}" for i in range(values.shape[1])]
    return {"columns": len(names),
            "missing": {n: round(float(r), 6) for n, r in zip(names, rates, strict=True) if r > 0}}


def _sketch(values: Any, version: dict[str, Any]) -> dict[str, Any]:
    """Label counts for a classifier's predictions, else a numeric sketch."""
    if version.get("task") == "classification":
        return _labels(values)
    if values.dtype.kind in "biuf":
        return _numeric(values.astype(float, copy=False))
    return _labels(values)


def _numeric(values: Any) -> dict[str, Any]:
    import numpy as np

    finite = values[np.isfinite(values)]
    out: dict[str, Any] = {"count": int(len(finite)), "missing": int(len(values) - len(finite))}
    if len(finite) == 0:
        return out
    quantiles = np.percentile(finite, QUANTILES)
    out.update(mean=float(finite.mean()), std=float(finite.std()), min=float(finite.min()),
               max=float(finite.max()),
               quantiles={f"q{q:02d}": float(v) for q, v in zip(QUANTILES, quantiles, strict=True)})
    return out


def _labels(values: Any) -> dict[str, Any]:
    import numpy as np

    try:
        labels, counts = np.unique(values, return_counts=True)
    except TypeError:  # labels of mixed types do not sort
        labels, counts = np.unique(values.astype(str), return_counts=True)
    order = np.argsort(-counts, kind="stable")
    kept = {str(labels[i]): int(counts[i]) for i in order[:MAX_LABELS]}
    rest = int(counts[order[MAX_LABELS:]].sum())
    if rest:
        kept["other"] = rest
    return {"count": int(counts.sum()), "labels": kept}


def _is_flags(values: Any) -> bool:
    import numpy as np

    return values.ndim == 1 and values.dtype.kind in "biu" and bool(np.isin(values, (0, 1)).all())


def _shares(summary: dict[str, Any], key: str) -> dict[str, float]:
    if key == "proba_mean":
        return dict(summary.get("proba_mean") or {})
    counts = (summary.get("prediction") or {}).get("labels") or {}
    total = sum(counts.values())
    return {k: v / total for k, v in counts.items()} if total else {}


def _num(value: Any) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value
