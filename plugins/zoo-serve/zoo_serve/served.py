"""What a server serves: each REF as a slot holding its loaded version, scoring and batching.

A ``Loaded`` is one version ready to score: the component, its input schema, its batcher.
A ``Slot`` is a ref as the user gave it (``fraud@champion``); its ``loaded`` is replaced
whole (one attribute assignment, atomic) when the alias moves, so a request that already
holds the old ``Loaded`` finishes on it and no request ever sees half a swap.

Scoring runs in the event loop: on two cores a thread hand-off costs more than the model.
Concurrent requests meet in the batcher's queue and are scored in one call as soon as a
turn of the loop brings no new request (or ``max_batch`` rows or ``max_wait`` seconds);
``max_batch`` 1 scores each request alone.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from zoo_serve.inputs import BadInput, Schema


class ModelFailed(Exception):
    """The model raised while scoring: the request gets a 500 naming the version, the server
    carries on."""


class Loaded:
    """A loaded version: ``version`` (its registry dict), ``model``, ``schema`` and how it
    scores (``kind``: predictor or detector; ``classes`` for classifiers)."""

    def __init__(self, version: dict[str, Any], model: Any, max_batch: int, max_wait: float,
                 on_scored: Any) -> None:
        import numpy as np

        self.version, self.model = version, model
        self.ref: str = version["ref"]
        labels = tuple(getattr(model, "key_columns", ()) or ())
        self.schema = Schema(list(getattr(model, "feature_names_in_", [])), labels)
        self.kind = getattr(model, "kind", "predictor")
        self.task = getattr(model, "task", "")
        classes = getattr(model, "classes_", None) if self.task == "classification" else None
        self.classes = None if classes is None else [_plain(c) for c in np.asarray(classes).tolist()]
        # A component that takes its labels from its probabilities (BaseMLModel's own
        # ``_predict``) is asked for probabilities once, not for both (half the work).
        import zoo

        self.labels_from_proba = self.classes is not None and isinstance(model, zoo.BaseMLModel) \
            and getattr(type(model), "_predict", None) is zoo.BaseMLModel._predict
        self.intervals: dict[tuple[float, str | None], Any] = {}
        self.batcher = Batcher(self._score_many, max_batch, max_wait)
        self.on_scored = on_scored

    # --- scoring ---

    def frame(self, rows: Any) -> Any:
        """Rows (a float matrix, or row dicts with label columns) as the table the model takes."""
        import pandas as pd

        if isinstance(rows, list):
            from zoo.data import align

            return align(pd.DataFrame(rows, columns=self.schema.features), self.schema.features,
                         keys=sorted(self.schema.labels))
        return pd.DataFrame(rows, columns=self.schema.features, copy=False)

    def score(self, X: Any) -> dict[str, Any]:
        """Predictions of table ``X`` as JSON-able columns: ``predictions`` and, for
        classifiers, ``probabilities`` (one list per row, in ``classes`` order); detectors
        give ``scores`` and ``anomalies``."""
        import numpy as np

        from zoo import DataError, ZooError

        try:
            if self.kind == "detector":
                scores = np.asarray(self.model.decision_function(X), dtype=float)
                return {"scores": scores, "anomalies": (scores > self.model.threshold_).astype(int)}
            if self.labels_from_proba:
                proba = np.asarray(self.model.predict_proba(X), dtype=float)
                labels = np.asarray(self.model.classes_)[np.argmax(proba, axis=1)]
                return {"predictions": labels, "probabilities": proba}
            out = {"predictions": np.asarray(self.model.predict(X))}
            if self.classes is not None:
                out["probabilities"] = np.asarray(self.model.predict_proba(X), dtype=float)
            return out
        except DataError as exc:  # the model's own checks on values (missing values, labels)
            raise BadInput(str(exc), 422, _quoted_field(str(exc))) from None
        except (ZooError, Exception) as exc:
            raise ModelFailed(f"{self.ref} failed to score: {type(exc).__name__}: "
                              f"{str(exc)[:200]}") from None

    def _score_many(self, parts: list[Any]) -> list[Any]:
        """Score several requests' rows in one call; each part's slice of the answer, or its
        own exception when the joint call failed (then each is scored alone)."""
        import numpy as np

        if len(parts) == 1:
            return [self._score_one(parts[0])]
        if any(isinstance(p, list) for p in parts):  # label columns: rows as dicts
            rows: Any = [r for p in parts for r in p]
        else:
            rows = np.concatenate(parts)
        start = time.perf_counter()
        try:
            X = self.frame(rows)
            out = self.score(X)
        except (BadInput, ModelFailed):
            # One request's rows spoiled the batch: score each alone, so only it fails.
            return [self._score_one(p) for p in parts]
        self._report(rows, out, time.perf_counter() - start)
        results, offset = [], 0
        for p in parts:
            n = len(p)
            results.append({k: v[offset:offset + n] for k, v in out.items()})
            offset += n
        return results

    def _score_one(self, rows: Any) -> Any:
        start = time.perf_counter()
        try:
            X = self.frame(rows)
            out = self.score(X)
        except (BadInput, ModelFailed) as exc:
            return exc
        self._report(rows, out, time.perf_counter() - start)
        return out

    def _report(self, rows: Any, out: dict[str, Any], seconds: float) -> None:
        """Hand the scored rows (as parsed: cheap to keep, joined into a table later) on."""
        if self.on_scored is not None:
            self.on_scored(self, rows, out, seconds)

    def table(self, X: Any, out: dict[str, Any]) -> Any:
        """``out`` as ``zoo predict`` writes it: ``X`` plus prediction columns."""
        table = X.copy()
        if "predictions" in out:
            table["prediction"] = out["predictions"]
            for k, cls in enumerate(self.classes or []):
                table[f"proba_{cls}"] = out["probabilities"][:, k]
        else:
            table["anomaly_score"] = out["scores"]
            table["anomaly"] = out["anomalies"]
        return table

    def describe(self) -> dict[str, Any]:
        """What ``GET /v1/models/{name}`` shows of this version: input and output schema."""
        v = self.version
        inputs = [{"name": f, "type": "string" if f in self.schema.labels else "number"}
                  for f in self.schema.features]
        if self.kind == "detector":
            outputs = {"scores": "number", "anomalies": "0 or 1"}
        else:
            outputs = {"predictions": "class label" if self.classes is not None else "number"}
            if self.classes is not None:
                outputs["probabilities"] = f"one per class, in the order of classes {self.classes}"
        return {"ref": self.ref, "name": v["name"], "version": v["version"],
                "component": v.get("component"), "kind": self.kind, "task": self.task,
                "classes": self.classes, "inputs": inputs, "outputs": outputs,
                "metrics": v.get("metrics") or {}, "created_at": v.get("created_at")}


class Batcher:
    """Scores queued requests together: adaptive micro-batching, in the event loop."""

    def __init__(self, score_many: Any, max_batch: int, max_wait: float) -> None:
        self.score_many, self.max_batch, self.max_wait = score_many, max_batch, max_wait
        self.queue: list[tuple[Any, asyncio.Future[Any]]] = []
        self.rows = 0
        self.seen = 0
        self.started = 0.0

    async def submit(self, rows: Any) -> Any:
        """The scored slice of ``rows`` (or the exception that belongs to it)."""
        if self.max_batch <= 1:
            return self.score_many([rows])[0]
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if not self.queue:
            self.started = time.perf_counter()
            self.seen = 0
            loop.call_soon(self._check)
        self.queue.append((rows, future))
        self.rows += len(rows)
        if self.rows >= self.max_batch:
            self._run()
        return await future

    def _check(self) -> None:
        """Score when a turn of the loop brought no new request, or the budget is spent."""
        if not self.queue:
            return
        if len(self.queue) == self.seen or time.perf_counter() - self.started >= self.max_wait:
            self._run()
        else:
            self.seen = len(self.queue)
            asyncio.get_running_loop().call_soon(self._check)

    def _run(self) -> None:
        queue, self.queue, self.rows = self.queue, [], 0
        try:
            results = self.score_many([rows for rows, _ in queue])
        except Exception as exc:  # never leave a request waiting forever
            results = [ModelFailed(f"scoring failed: {type(exc).__name__}: {str(exc)[:200]}")] * len(queue)
        for (_, future), result in zip(queue, results, strict=True):
            if not future.done():
                future.set_result(result)


class Slot:
    """A ref as served (``fraud@champion``, ``fraud:3``, ``fraud``) and its current version."""

    def __init__(self, ref: str, loaded: Loaded) -> None:
        self.ref = ref
        self.name = ref.split("@", 1)[0].split(":", 1)[0]
        self.follows = "@" in ref or ":" not in ref  # an alias or "latest" can move
        self.loaded = loaded
        self.error: str | None = None  # why the last attempt to follow it failed

    def swap(self, loaded: Loaded) -> None:
        """Serve ``loaded`` from now on (requests holding the old one finish on it)."""
        self.loaded = loaded
        self.error = None


def _plain(value: Any) -> Any:
    """A class label as JSON has it (numpy scalars are not JSON)."""
    return value.item() if hasattr(value, "item") else value


def _quoted_field(message: str) -> str | None:
    """The first quoted name in a zoo error message (``column 'x3' has ...``)."""
    import re

    match = re.search(r"'([^']{1,200})'", message)
    return match.group(1) if match else None
