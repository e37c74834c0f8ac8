"""A minimal zoo plugin: a nearest-centroid classifier and a ``zoo hello`` command."""

import json
from pathlib import Path

import click

from zoo import BaseMLModel, IntegrityError, hookimpl


class NearestCentroid(BaseMLModel):
    """Classifies each row by the nearest class mean (Euclidean)."""

    component = "example.nearest_centroid"  # qualified name: plugin prefix + name
    task = "classification"                 # or "regression"
    artifact_format = "json"                # shown by `zoo components`

    def __init__(self, shrink: float = 0.0):  # the parameters and their defaults
        self.shrink = shrink

    def _fit(self, X, y):
        import numpy as np

        values = X.to_numpy()
        overall = values.mean(axis=0)
        means = np.array([values[(y == c).to_numpy()].mean(axis=0) for c in self.classes_])
        self.centroids_ = (1 - self.shrink) * means + self.shrink * overall

    def _predict_proba(self, X):
        import numpy as np

        d = ((X.to_numpy()[:, None, :] - self.centroids_[None]) ** 2).sum(axis=2)
        w = np.exp(-(d - d.min(axis=1, keepdims=True)))
        return w / w.sum(axis=1, keepdims=True)

    def _predict(self, X):
        return self.classes_[self._predict_proba(X).argmax(axis=1)]

    def save(self, path):
        if not hasattr(self, "centroids_"):
            raise RuntimeError("NearestCentroid is not fitted: call fit() first")
        state = {"shrink": self.shrink, "centroids": self.centroids_.tolist()}
        Path(path).write_text(json.dumps(state))

    @classmethod
    def load(cls, path, metadata=None):
        import numpy as np

        try:
            state = json.loads(Path(path).read_text())
            model = cls(shrink=state["shrink"])
            model.centroids_ = np.array(state["centroids"], dtype=float)
        except (ValueError, KeyError, TypeError):  # not JSON, or not this component's
            raise IntegrityError(f"refusing to load {path}: not a file {cls.component} wrote") from None
        return model  # the kernel restores feature names and classes from the metadata


@hookimpl
def register_predictors(register):
    register(NearestCentroid)


@hookimpl
def register_commands(cli):
    @cli.command()
    @click.argument("name", default="world")
    def hello(name):
        """Say hello (added by the zoo-example plugin)."""
        click.echo(f"Hello, {name}!")
