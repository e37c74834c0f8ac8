"""Built-in components, registered through the same hooks as any plugin.

Baselines a real model should beat: they need only numpy and save as JSON.
Marked ``trylast`` so an installed plugin's component of the same name wins.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from zoo import BaseMLModel, hookimpl


class BaselineClassifier(BaseMLModel):
    """Predicts the class frequencies seen in training, whatever the features."""

    component = "zoo.baseline_classifier"
    task = "classification"
    artifact_format = "json"

    def _fit(self, X: Any, y: Any) -> None:
        import numpy as np

        counts = y.value_counts()
        self.class_prior_ = np.array([counts.get(c, 0) for c in self.classes_], dtype=float)
        self.class_prior_ /= self.class_prior_.sum()

    def _predict_proba(self, X: Any) -> Any:
        import numpy as np

        return np.tile(self.class_prior_, (len(X), 1))

    def save(self, path: str | Path) -> None:
        """Write the class frequencies as JSON."""
        self.check_fitted()
        Path(path).write_text(json.dumps({"class_prior": self.class_prior_.tolist()}))

    @classmethod
    def load(cls, path: str | Path, metadata: dict[str, Any] | None = None) -> BaselineClassifier:
        """Read ``save``'s JSON (classes and columns come back from the metadata)."""
        import numpy as np

        model = cls()
        model.class_prior_ = np.asarray(json.loads(Path(path).read_text())["class_prior"], dtype=float)
        return model


class BaselineRegressor(BaseMLModel):
    """Predicts the training mean of the target, whatever the features."""

    component = "zoo.baseline_regressor"
    task = "regression"
    artifact_format = "json"

    def _fit(self, X: Any, y: Any) -> None:
        self.mean_ = float(y.astype(float).mean())

    def _predict(self, X: Any) -> Any:
        import numpy as np

        return np.full(len(X), self.mean_)

    def save(self, path: str | Path) -> None:
        """Write the training mean as JSON."""
        self.check_fitted()
        Path(path).write_text(json.dumps({"mean": self.mean_}))

    @classmethod
    def load(cls, path: str | Path, metadata: dict[str, Any] | None = None) -> BaselineRegressor:
        """Read ``save``'s JSON (columns come back from the metadata)."""
        model = cls()
        model.mean_ = float(json.loads(Path(path).read_text())["mean"])
        return model


@hookimpl(trylast=True)
def register_predictors(register):
    register(BaselineClassifier)
    register(BaselineRegressor)
