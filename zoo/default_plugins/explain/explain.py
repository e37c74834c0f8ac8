"""Explaining a predictor: per-row feature contributions and global feature importance.

Two ways, whichever the model allows:

- **Native contributions.** A plugin's model may implement the optional capability
  ``zoo.Contributions``, a method ``contributions(X)``: an array of shape ``(n, p + 1)`` —
  one column per feature, in the order of ``feature_names``, and a last column for the
  bias — or ``(n, k, p + 1)`` for a model with k outputs (multiclass). Each row sums to
  the model's raw output (margin, log-odds), as TreeSHAP's do for XGBoost
  (``pred_contribs``) and LightGBM (``pred_contrib``). Global importance is the mean
  absolute contribution over rows (and outputs).
- **Permutation importance**, for every other model (the scikit-learn ones): how much a
  loss grows when one column's values are shuffled, averaged over repeats. It needs
  labels, and uses nothing but the model's own ``validate``, so it works for any plugin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo import Contributions, DataError, KeyColumns, ZooError
from zoo.clitools import pyplot

METHODS = ("auto", "contributions", "permutation")
#: Losses permutation importance watches by default (growth when a column is shuffled).
DEFAULT_METRIC = {"classification": "log_loss", "regression": "rmse"}


def has_contributions(model: Any) -> bool:
    """Whether the model computes native per-feature contributions (``zoo.Contributions``)."""
    return isinstance(model, Contributions)


def explain(model: Any, X: Any, y: Any = None, method: str = "auto", metric: str | None = None,
            n_repeats: int = 5, seed: int = 0) -> dict[str, Any]:
    """Global importance (and, natively, per-row contributions) of each feature for rows ``X``.

    Returns ``{"method", "metric", "features", "importance": [{"feature", "importance",
    "std"}] (largest first), "contributions": array or None}``.
    """
    import numpy as np

    from zoo.data import align

    if method not in METHODS:
        raise ZooError(f"unknown explanation method {method!r}: use {', '.join(METHODS)}")
    features = list(model.feature_names)
    X = align(X, features, keys=model.key_columns if isinstance(model, KeyColumns) else (),
              schema=getattr(model, "input_schema_", None))
    use_native = method == "contributions" or (method == "auto" and has_contributions(model))
    if use_native:
        if not has_contributions(model):
            raise ZooError(f"{model.component} has no native feature contributions: "
                           "use --method permutation with --target")
        values = np.asarray(model.contributions(X), dtype=float)
        importance = global_importance(values)
        rows = [{"feature": f, "importance": float(v), "std": None}
                for f, v in zip(features, importance, strict=True)]
        result = {"method": "contributions", "metric": None, "contributions": values}
    else:
        if y is None:
            raise DataError(f"{model.component} has no native feature contributions; permutation "
                            "importance needs the true labels: pass --target COLUMN")
        perm = permutation_importance(model, X, y, metric=metric, n_repeats=n_repeats, seed=seed)
        rows = [{"feature": f, "importance": float(m), "std": float(s)}
                for f, m, s in zip(features, perm["mean"], perm["std"], strict=True)]
        result = {"method": "permutation", "metric": perm["metric"], "baseline": perm["baseline"],
                  "contributions": None}
    rows.sort(key=lambda r: -r["importance"])
    return {**result, "features": features, "importance": rows}


def global_importance(contributions: Any) -> Any:
    """Mean absolute contribution of each feature (bias column dropped), over rows and outputs."""
    import numpy as np

    values = np.abs(np.asarray(contributions, dtype=float)[..., :-1])
    return values.reshape(-1, values.shape[-1]).mean(axis=0)


def permutation_importance(model: Any, X: Any, y: Any, metric: str | None = None,
                           n_repeats: int = 5, seed: int = 0) -> dict[str, Any]:
    """Growth of the model's loss (or fall of its score) when each column is shuffled.

    ``metric`` is one of the keys ``model.validate`` returns; losses (log_loss, rmse, mae)
    count growth, scores (accuracy, roc_auc, f1, r2) count the fall, so a larger importance
    always means the model leans on that column more.
    """
    import numpy as np

    from zoo.metrics import HIGHER_IS_BETTER

    metric = metric or DEFAULT_METRIC[model.task]
    if n_repeats < 1:
        raise DataError(f"--repeats must be at least 1, got {n_repeats}")
    baseline = model.validate(X, y)
    if metric not in baseline:
        raise ZooError(f"unknown metric {metric!r} for a {model.task} model: use one of "
                       f"{', '.join(baseline)}")
    sign = -1.0 if metric in HIGHER_IS_BETTER else 1.0
    rng = np.random.default_rng(seed)
    drops = np.zeros((X.shape[1], n_repeats))
    shuffled = X.copy()
    for j, column in enumerate(X.columns):
        original = X[column].to_numpy()
        for r in range(n_repeats):
            shuffled[column] = rng.permutation(original)
            drops[j, r] = sign * (model.validate(shuffled, y)[metric] - baseline[metric])
        shuffled[column] = original
    return {"metric": metric, "baseline": float(baseline[metric]), "mean": drops.mean(axis=1),
            "std": drops.std(axis=1)}


def contributions_frame(model: Any, explanation: dict[str, Any], index: Any = None) -> Any:
    """Per-row contributions as a table: one column per feature plus ``bias``.

    For k outputs the columns are ``<class>:<feature>`` and ``<class>:bias``.
    """
    import pandas as pd

    values = explanation["contributions"]
    if values is None:
        raise ZooError("permutation importance has no per-row contributions; "
                       "drop --output or use a model with native contributions")
    names = [*explanation["features"], "bias"]
    if values.ndim == 2:
        return pd.DataFrame(values, columns=names, index=index)
    outputs = [str(c) for c in getattr(model, "classes_", range(values.shape[1]))]
    if len(outputs) != values.shape[1]:
        outputs = [str(i) for i in range(values.shape[1])]
    columns = [f"{o}:{n}" for o in outputs for n in names]
    return pd.DataFrame(values.reshape(values.shape[0], -1), columns=columns, index=index)


def plot_importance(explanation: dict[str, Any], path: str | Path, top: int = 20,
                    title: str | None = None) -> None:
    """A horizontal bar chart of the ``top`` most important features, largest on top."""
    from zoo.metrics import HIGHER_IS_BETTER

    rows = explanation["importance"][:top]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.32 * len(rows)))
    names = [str(r["feature"]) for r in rows][::-1]
    values = [r["importance"] for r in rows][::-1]
    errors = [r["std"] or 0.0 for r in rows][::-1] if explanation["method"] == "permutation" else None
    ax.barh(names, values, xerr=errors, color="#4878a8")
    if explanation["method"] == "contributions":
        label = "mean |contribution| (raw model output)"
    else:
        label = f"growth of {explanation['metric']} when shuffled"
        if explanation["metric"] in HIGHER_IS_BETTER:
            label = f"fall of {explanation['metric']} when shuffled"
    ax.set(xlabel=label, title=title or "Feature importance")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)

