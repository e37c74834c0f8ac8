"""Validation metrics in plain numpy, so the kernel does not depend on scikit-learn.
Tests check each one against scikit-learn's."""

from __future__ import annotations

from typing import Any

import numpy as np

_EPS = 1e-15

#: Metrics where a larger value is better; the others (log_loss, rmse, mae) are losses.
HIGHER_IS_BETTER = frozenset({"accuracy", "roc_auc", "f1", "r2"})
#: The metric a model of each task is judged by unless told otherwise (compare, tune).
DEFAULT_METRIC = {"classification": "roc_auc", "regression": "rmse"}


def score(task: str, y_true: Any, outputs: Any, classes: Any = None) -> dict[str, float]:
    """The validation metrics of ``task``: ``classification`` of class probabilities
    (rows x ``classes``) or ``regression`` of predicted values, against ``y_true``."""
    if task == "classification":
        return classification(y_true, outputs, classes)
    return regression(y_true, outputs)


def classification(y_true: Any, proba: Any, classes: Any) -> dict[str, float]:
    """accuracy, roc_auc (one-vs-rest macro for multiclass), f1 (macro for multiclass), log_loss."""
    y_true = np.asarray(y_true)
    proba = np.asarray(proba, dtype=float)
    classes = np.asarray(classes)
    index = {c: i for i, c in enumerate(classes.tolist())}
    try:
        y_idx = np.array([index[v] for v in y_true.tolist()])
    except KeyError as exc:
        raise ValueError(f"label {exc.args[0]!r} was not seen at fit") from None
    pred_idx = proba.argmax(axis=1)
    out = {"accuracy": float(np.mean(pred_idx == y_idx))}
    present = np.unique(y_idx)
    if len(classes) == 2:
        out["roc_auc"] = roc_auc(y_idx == 1, proba[:, 1]) if len(present) == 2 else float("nan")
        out["f1"] = _f1(y_idx == 1, pred_idx == 1)
    else:
        aucs = [roc_auc(y_idx == k, proba[:, k]) for k in present if 0 < np.sum(y_idx == k) < len(y_idx)]
        out["roc_auc"] = float(np.mean(aucs)) if aucs else float("nan")
        out["f1"] = float(np.mean([_f1(y_idx == k, pred_idx == k) for k in range(len(classes))]))
    clipped = np.clip(proba / proba.sum(axis=1, keepdims=True), _EPS, 1 - _EPS)
    out["log_loss"] = float(-np.mean(np.log(clipped[np.arange(len(y_idx)), y_idx])))
    return out


def calibration(y_true: Any, proba: Any, classes: Any, n_bins: int = 15) -> dict[str, float]:
    """ece, ece_adaptive, mce, brier and log_loss of class probabilities (rows x classes).

    The reliability of a binary model is that of P(``classes[1]``) against the rate of that
    class; of a multiclass model, that of its top-label confidence against its accuracy.
    ``ece`` uses ``n_bins`` equal-width bins, ``ece_adaptive`` equal-mass bins, ``mce`` is
    the largest gap of a non-empty equal-width bin. ``brier`` is scikit-learn's: the mean
    squared error of P(class 1) for binary, summed over classes for multiclass.
    """
    y_idx, proba = _indexed(y_true, proba, classes)
    confidence, hit = _confidence(y_idx, proba)
    curve = reliability_curve(y_true, proba, classes, n_bins)
    gaps = np.abs(curve["frequency"] - curve["confidence"])
    order = np.argsort(confidence, kind="mergesort")
    adaptive = [(len(b), abs(hit[b].mean() - confidence[b].mean()))
                for b in np.array_split(order, min(n_bins, len(order))) if len(b)]
    onehot = np.eye(proba.shape[1])[y_idx]
    brier = (np.mean((proba[:, 1] - onehot[:, 1]) ** 2) if proba.shape[1] == 2
             else np.mean(np.sum((proba - onehot) ** 2, axis=1)))
    clipped = np.clip(proba / proba.sum(axis=1, keepdims=True), _EPS, 1 - _EPS)
    return {
        "ece": float(np.sum(curve["count"] * gaps) / len(y_idx)),
        "ece_adaptive": float(sum(n * gap for n, gap in adaptive) / len(y_idx)),
        "mce": float(gaps.max()) if len(gaps) else 0.0,
        "brier": float(brier),
        "log_loss": float(-np.mean(np.log(clipped[np.arange(len(y_idx)), y_idx]))),
    }


def reliability_curve(y_true: Any, proba: Any, classes: Any, n_bins: int = 15) -> dict[str, Any]:
    """Per non-empty equal-width bin: mean ``confidence``, observed ``frequency``, ``count``.

    What is binned is as in ``calibration``: P(``classes[1]``) for binary, top-label
    confidence for multiclass.
    """
    y_idx, proba = _indexed(y_true, proba, classes)
    confidence, hit = _confidence(y_idx, proba)
    # Bin b holds (b/n, (b+1)/n]; 0 goes to the first bin and 1 to the last.
    bins = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    keep = count > 0
    total_conf = np.bincount(bins, weights=confidence, minlength=n_bins)
    total_hit = np.bincount(bins, weights=hit.astype(float), minlength=n_bins)
    return {
        "confidence": total_conf[keep] / count[keep],
        "frequency": total_hit[keep] / count[keep],
        "count": count[keep],
        "edges": np.linspace(0.0, 1.0, n_bins + 1),
    }


def _indexed(y_true: Any, proba: Any, classes: Any) -> tuple[Any, Any]:
    """Class indices of ``y_true`` and the probabilities as a float (rows x classes) array."""
    proba = np.asarray(proba, dtype=float)
    index = {c: i for i, c in enumerate(np.asarray(classes).tolist())}
    try:
        y_idx = np.array([index[v] for v in np.asarray(y_true).tolist()], dtype=int)
    except KeyError as exc:
        raise ValueError(f"label {exc.args[0]!r} was not seen at fit") from None
    if proba.ndim != 2 or proba.shape != (len(y_idx), len(index)):
        raise ValueError(f"expected probabilities of shape ({len(y_idx)}, {len(index)}), "
                         f"got {proba.shape}")
    return y_idx, proba


def _confidence(y_idx: Any, proba: Any) -> tuple[Any, Any]:
    if proba.shape[1] == 2:
        return proba[:, 1], y_idx == 1
    return proba.max(axis=1), proba.argmax(axis=1) == y_idx


def regression(y_true: Any, y_pred: Any) -> dict[str, float]:
    """rmse, mae and r2."""
    y_true = np.asarray(y_true, dtype=float)
    err = y_true - np.asarray(y_pred, dtype=float)
    ss_tot = float(np.sum((y_true - y_true.mean()) ** 2))
    return {
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mae": float(np.mean(np.abs(err))),
        "r2": float(1.0 - np.sum(err**2) / ss_tot) if ss_tot > 0 else float("nan"),
    }


def roc_auc(positive: Any, score: Any) -> float:
    """Area under the ROC curve: the Mann-Whitney U statistic with average ranks for ties."""
    positive = np.asarray(positive, dtype=bool)
    score = np.asarray(score, dtype=float)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(score, kind="mergesort")
    sorted_scores = score[order]
    # Average rank over each run of tied scores.
    new_run = np.r_[True, np.diff(sorted_scores) != 0]
    run_id = np.cumsum(new_run) - 1
    starts = np.flatnonzero(new_run)
    ends = np.r_[starts[1:], len(score)]
    ranks = np.empty(len(score))
    ranks[order] = ((starts + ends + 1) / 2.0)[run_id]
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _f1(truth: Any, pred: Any) -> float:
    tp = float(np.sum(truth & pred))
    denom = float(np.sum(truth) + np.sum(pred))
    return 2 * tp / denom if denom else 0.0
