"""Scoring a table with a loaded model: the input's rows plus prediction columns."""

from __future__ import annotations

from typing import Any


def predict_table(model: Any, df: Any) -> Any:
    """``df`` with a ``prediction`` column and, for classifiers, ``proba_<class>`` columns.

    Columns are matched by name against the model's training schema (see ``zoo.data.align``):
    a missing column is an error, extra ones are ignored with a warning.
    """
    observed = getattr(model, "observed_batch", None)
    if observed is not None:  # a model from Registry.load: the whole table is one batch
        return observed(_predict_table, df, model)
    return _predict_table(df, model)


def _predict_table(df: Any, model: Any) -> Any:
    from zoo.data import align

    X = align(df, list(model.feature_names_in_), keys=getattr(model, "key_columns", ()),
              schema=getattr(model, "input_schema_", None))
    out = df.copy()
    if getattr(model, "kind", "") == "detector":
        scores = model.decision_function(X)  # predict() would score every row a second time
        out["anomaly_score"] = scores
        out["anomaly"] = (scores > model.threshold_).astype(int)
        return out
    out["prediction"] = model.predict(X)
    if getattr(model, "task", "") == "classification":
        proba = model.predict_proba(X)
        for k, cls in enumerate(model.classes_):
            out[f"proba_{cls}"] = proba[:, k]
    return out
