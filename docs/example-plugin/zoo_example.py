"""A minimal zoo plugin: one predictor and one command. See docs/plugins.md."""

import json
from pathlib import Path

import click

from zoo import BaseMLModel, hookimpl


class NearestCentroid(BaseMLModel):
    """Classifies each row by the nearest class mean (Euclidean)."""

    component = "example.nearest_centroid"
    task = "classification"
    artifact_format = "json"

    def __init__(self, shrink: float = 0.0):
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
        Path(path).write_text(json.dumps({"centroids": self.centroids_.tolist()}))

    @classmethod
    def load(cls, path, metadata=None):
        import numpy as np

        model = cls()
        model._restore_metadata(metadata)
        model.centroids_ = np.array(json.loads(Path(path).read_text())["centroids"])
        return model


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
