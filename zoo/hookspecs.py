"""Every hook a zoo plugin can implement.

A plugin is a module (or object) with functions marked ``@zoo.hookimpl`` whose
names match the specs below. An implementation may accept a subset of a
spec's arguments. Documented with exact signatures in ``docs/plugins.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pluggy

PROJECT = "zoo"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- Components: each hook receives ``register`` and calls it once per class ---


@hookspec
def register_predictors(register: Callable[[type], None]) -> None:
    """Register predictor classes (subclasses of ``zoo.BaseMLModel``)."""


@hookspec
def register_detectors(register: Callable[[type], None]) -> None:
    """Register anomaly-detector classes (subclasses of ``zoo.Detector``)."""


@hookspec
def register_calibrators(register: Callable[[type], None]) -> None:
    """Register probability-calibrator classes (subclasses of ``zoo.Calibrator``)."""


@hookspec
def register_drift_tests(register: Callable[[type], None]) -> None:
    """Register drift-test classes (subclasses of ``zoo.DriftTest``)."""


@hookspec
def register_monitors(register: Callable[[type], None]) -> None:
    """Register monitor classes (subclasses of ``zoo.Monitor``)."""


# --- Command line ---


@hookspec
def register_commands(cli: Any) -> None:
    """Add click commands or groups to the ``zoo`` CLI group passed as ``cli``."""


@hookspec
def register_migrations(register: Callable[[str, Sequence[str]], None]) -> None:
    """Own tables: call ``register(name, statements)`` per schema step, oldest first; each runs
    once per registry (recorded under the plugin's name). Never edit a released step."""


# --- Services: the kernel asks, a plugin that can answers ---


@hookspec
def training_artifacts(model: Any, X_test: Any, y_test: Any, split: dict[str, Any],
                       directory: Path) -> dict[str, Path] | None:
    """Files to store with a newly trained predictor, made from its held-out rows and written
    into ``directory``; returns them by artifact name (e.g. ``{"roc_curve.png": path}``)."""


@hookspec(firstresult=True)
def import_guard() -> Any:
    """A context manager giving ``check(version, model_path)``, entered once per bundle import
    and called on each version before its rows commit; raising refuses the whole import."""


@hookspec(firstresult=True)
def prediction_intervals(registry: Any, version: dict[str, Any], level: float,
                         method: str | None) -> tuple[Callable[[Any, Any, Any], Any], str] | None:
    """How to add interval or prediction-set columns holding the truth with probability
    ``level``: a picklable ``add(model, inputs, predictions) -> predictions`` (made once,
    applied to every chunk, also on Dask workers) and a one-line note on what they guarantee."""


@hookspec(firstresult=True)
def predict_with_engine(engine: str, registry: Any, version: dict[str, Any], data: str,
                        output: str | None, options: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Score the files ``data`` names with ``version`` on ``engine`` (e.g. "dask") into
    ``output``; ``options`` holds scheduler, chunk_rows, as_json and ``intervals`` (the
    ``prediction_intervals`` answer, or None). Prints what it did and returns one summary per
    file, or None when this plugin does not run ``engine``."""


@hookspec(firstresult=True)
def adopt_model(obj: Any) -> Any:
    """A fitted component of yours wrapping ``obj``, an already-fitted model of your library
    (a scikit-learn estimator, an xgboost Booster, ...) that ``Registry.register`` was given,
    or None when ``obj`` is not one of yours. First answer wins."""


@hookspec
def version_references(registry: Any, version: dict[str, Any]) -> list[str] | None:
    """What in this plugin's tables needs ``version`` (e.g. ``"arm B of A/B experiment q3"``);
    asked inside the delete's write transaction: any answer keeps it unless ``--force``."""


# --- Events: called after the fact; monitors implement these ---


@hookspec
def version_registered(registry: Any, version: dict[str, Any]) -> None:
    """A version was committed to ``registry``; ``version`` is its row as ``Registry.get`` returns it."""


@hookspec
def batch_predicted(
    registry: Any,
    version: dict[str, Any] | None,
    inputs: Any,
    predictions: Any,
    seconds: float,
) -> None:
    """A loaded model scored ``inputs`` into ``predictions`` in ``seconds`` (DataFrames from the
    CLI; from ``Registry.load(ref)`` models, whatever the caller passed and the method returned)."""


# --- Serving: what ``zoo serve`` asks the plugins that route traffic ---


@hookspec(firstresult=True)
def serve_route(registry: Any, model: str, unit: str | None,
                fields: dict[str, Any]) -> dict[str, Any] | None:
    """Which version serves a request for ``model`` from unit ``unit`` (from a header; None
    when the request named none, then take it from ``fields``, the request's first row):
    ``{"experiment", "arm", "ref", "shadows": {arm: ref}}``, or None when nothing routes it."""


@hookspec(firstresult=True)
def serve_outcome(registry: Any, model: str, unit: str, value: float) -> dict[str, Any] | None:
    """Record ``value`` as the outcome of ``unit`` in what routes ``model``, once per unit (a
    repeat changes nothing): ``{"experiment", "arm", "recorded": bool}``, or None."""


@hookspec
def shadow_scored(registry: Any, experiment: str, arm: str, ref: str, control: Any, shadow: Any,
                  seconds: float) -> None:
    """A server scored the same rows with shadow ``arm`` (version ``ref``) as with the version it
    returned: ``control`` and ``shadow`` are their prediction tables, gathered over ~1 s."""
