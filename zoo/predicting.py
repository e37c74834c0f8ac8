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

    X = align(df, list(model.feature_names_in_), keys=getattr(model, "key_columns", ()))
    out = df.copy()
    if getattr(model, "kind", "") == "detector":
        scores = model.score(X)  # predict() would score every row a second time
        out["anomaly_score"] = scores
        out["anomaly"] = (scores > model.threshold_).astype(int)
        return out
    out["prediction"] = model.predict(X)
    if getattr(model, "task", "") == "classification":
        proba = model.predict_proba(X)
        for k, cls in enumerate(model.classes_):
            out[f"proba_{cls}"] = proba[:, k]
    return out


#: The scoring methods ``observe`` reports, whichever a component has.
OBSERVED_METHODS = ("predict", "predict_proba", "score")


def observe(model: Any, registry: Any, version: dict[str, Any]) -> Any:
    """Make ``model`` fire the ``batch_predicted`` event after each scoring call; returns it.

    ``Registry.load`` does this, so monitors see batches scored from Python as well as by
    ``zoo predict``. Only the outermost call reports: a ``predict`` that calls
    ``predict_proba`` internally is one batch, not two.
    """
    import functools
    import threading
    import time

    from zoo.plugins import get_plugins

    # Per thread: a call in one thread must not look nested because another thread is scoring.
    state = threading.local()

    def as_one_batch(fn: Any, X: Any, *args: Any, **kwargs: Any) -> Any:
        """``fn(X, ...)`` reported as one batch, however many scoring methods it calls."""
        depth = getattr(state, "depth", 0)
        if depth:
            return fn(X, *args, **kwargs)
        state.depth = depth + 1
        start = time.perf_counter()
        try:
            out = fn(X, *args, **kwargs)
        finally:
            state.depth = depth
        get_plugins().fire("batch_predicted", registry=registry, version=version, inputs=X,
                           predictions=out, seconds=time.perf_counter() - start)
        return out

    for name in OBSERVED_METHODS:
        method = getattr(model, name, None)
        if method is not None:
            # An instance attribute shadows the class's method.
            setattr(model, name, functools.wraps(method)(functools.partial(as_one_batch, method)))
    model.observed_batch = as_one_batch  # predict_table: labels and probabilities, one batch
    return model
