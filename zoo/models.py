"""Where models meet the registry: the one place that registers a fitted component, loads a
version back into one and fires ``version_registered`` / ``batch_predicted``.

``zoo_registry.Store`` only stores rows and verified files. ``Registry`` here adds the
catalogue (which class a version needs, its plugin and version) and plugin events on top,
so the CLI, the Python API, Dask workers and A/B routing all load through ``load_version``
and every trained model is registered through ``register_trained``.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from zoo_registry.store import Store

from zoo.errors import IntegrityError, NotFoundError, ZooError


class Registry(Store):
    """The model registry: ``zoo_registry.Store`` plus models and plugin events.

    ``Registry(path)`` opens (creating if needed) the SQLite file, applies the schema
    steps of the registry and of every plugin that owns tables (``register_migrations``).
    """

    def __init__(self, path: str | Path | None = None) -> None:
        super().__init__(path)
        from zoo.plugins import get_plugins

        try:
            for set_name, steps in get_plugins().migrations().items():
                self.migrate(set_name, steps)
        except BaseException:
            self.close()
            raise

    def register(
        self,
        name: str,
        model: Any,
        *,
        params: dict[str, Any] | None = None,
        metrics: dict[str, float] | None = None,
        tags: dict[str, str] | None = None,
        data: dict[str, Any] | None = None,
        parents: list[str] | None = None,
        relation: str = "parent",
        description: str | None = None,
        artifacts: dict[str, str | Path] | None = None,
    ) -> dict[str, Any]:
        """Store a fitted component as the next version of model ``name``; returns the version.

        ``params`` default to ``model.get_params()``; ``data`` is a fingerprint from
        ``zoo.data.fingerprint``; ``parents`` are refs recorded in the lineage with
        ``relation``; ``artifacts`` are extra files by name (e.g. ``roc_curve.png``).
        Plugins hear of it through ``version_registered``.
        """
        info = component_info(model)
        record = {"name": info.name, "kind": info.kind, "task": info.task, "plugin": info.plugin,
                  "plugin_version": info.plugin_version, "artifact_format": info.artifact_format,
                  "metadata": model.metadata}
        version = self.add_version(
            name, record, model.save,
            params=model.get_params(deep=False) if params is None else params,
            metrics=metrics, tags=tags, data=data, parents=parents, relation=relation,
            description=description, artifacts=artifacts,
        )
        _fire("version_registered", registry=self, version=version)
        return version

    def load(self, ref: str, observed: bool = True) -> Any:
        """The fitted component of a version, after checking its artifact's sha256.

        ``observed`` models fire ``batch_predicted`` on each scoring call, so monitors see
        them; pass False where you score for evaluation or report batches yourself.
        """
        version = self.get(ref)
        with tempfile.TemporaryDirectory(prefix="zoo-load-") as tmp:
            # Verify before deserialising, on a private copy: never hand tampered bytes to a loader.
            path = self.verified_copy(version, Path(tmp) / "model")
            model = load_version(version, path)
        return observe(model, self, version) if observed else model

    def import_bundle(self, path: str | Path) -> dict[str, Any]:
        """Restore a bundle's versions (every hash verified first); each fires ``version_registered``."""
        result = super().import_bundle(path)
        for ref in result["imported"]:
            _fire("version_registered", registry=self, version=self.get(ref))
        return result

    def export(self, refs: list[str], path: str | Path, producer: str = "") -> dict[str, Any]:
        """Write versions to a portable bundle, recording this zoo's version as its producer."""
        from zoo import __version__

        return super().export(refs, path, producer or __version__)


def train_and_register(registry: Registry, component: Any, df: Any, target: str | None, *,
                       name: str, params: dict[str, Any] | None = None, test_size: float = 0.2,
                       seed: int = 0, step: Any = None, **register: Any) -> tuple[dict[str, Any], Any]:
    """Fit ``component`` (a catalogue name or entry) on ``df`` holding out ``test_size`` of the
    rows, then ``register_trained`` it as the next version of ``name``; returns the version
    and the ``zoo.training.TrainResult``. ``register`` takes ``register_trained``'s options."""
    from zoo.catalogue import build_catalogue
    from zoo.training import train

    step = step or (lambda _label: None)
    info = build_catalogue().get(component) if isinstance(component, str) else component
    result = train(info, df, target, params, test_size, seed, step)
    return register_trained(registry, name, result, step=step, **register), result


def register_trained(registry: Registry, name: str, result: Any, *, step: Any = None,
                     **register: Any) -> dict[str, Any]:
    """Register a freshly fitted model (a ``zoo.training.TrainResult``) with everything a
    trained version keeps: its metrics, data fingerprint, a reference sample of its training
    rows for drift checks, and the files plugins make from its held-out rows
    (``training_artifacts``: plots, metric intervals, the conformal record).

    ``zoo train``, ``zoo tune``, ``zoo calibrate`` and ``zoo monitor --retrain`` all come here;
    ``register`` takes ``Registry.register``'s keyword arguments (tags, parents, ...).
    """
    import warnings

    from zoo.drift import REFERENCE_ARTIFACT, write_reference
    from zoo.plugins import get_plugins

    step = step or (lambda _label: None)
    with tempfile.TemporaryDirectory(prefix="zoo-train-") as tmp:
        directory = Path(tmp)
        files: dict[str, Path] = dict(register.pop("artifacts", None) or {})
        if result.reference is not None:
            files[REFERENCE_ARTIFACT] = write_reference(result.reference, directory, result.seed)
        if result.X_test is not None and len(result.X_test):
            step("plotting and calibrating")
            with warnings.catch_warnings():  # e.g. numpy's on a metric undefined for one class
                warnings.simplefilter("ignore")
                answers = get_plugins().hook.training_artifacts(
                    model=result.model, X_test=result.X_test, y_test=result.y_test,
                    split=result.split, directory=directory)
            for answer in reversed(answers):  # pluggy answers last-registered first
                files |= answer or {}
        step("registering")
        metrics = register.pop("metrics", None)
        return registry.register(name, result.model, metrics=result.metrics if metrics is None
                                 else metrics, data=register.pop("data", None) or result.data or None,
                                 artifacts=files, **register)


def component_info(model: Any) -> Any:
    """The catalogue entry of a fitted component's class, or a one-line error."""
    from zoo.catalogue import build_catalogue
    from zoo.interfaces import Component

    if not isinstance(model, Component):
        raise ZooError(f"cannot register a {type(model).__name__}: the registry stores zoo "
                       "components; wrap the model in a plugin's component class")
    return build_catalogue().of_class(type(model))


def load_version(version: dict[str, Any], path: str | Path) -> Any:
    """Rebuild the component of ``version`` from its verified artifact file at ``path``.

    The one load path: ``Registry.load``, Dask workers and A/B routing all come here.
    """
    from zoo.catalogue import build_catalogue

    try:
        info = build_catalogue().get(version["component"])
    except NotFoundError:
        raise NotFoundError(
            f"{version['ref']} needs component {version['component']} from plugin "
            f"{version['plugin']!r}, which is not installed: install that plugin"
        ) from None
    try:
        model = info.cls.from_artifact(path, version["metadata"])
    except ZooError:
        raise
    except Exception as exc:  # a loader choking on bytes that hash right but are not its format
        raise IntegrityError(
            f"{version['ref']}: its {version['artifact_format'] or 'model'} artifact could not be "
            f"loaded ({type(exc).__name__}: {str(exc)[:120]}); it is not a file "
            f"{version['component']} wrote: restore it from a backup or delete the version"
        ) from None
    model.model_name = version["name"]
    model.model_version = version["version"]
    return model


#: The scoring methods ``observe`` reports, whichever a component has.
OBSERVED_METHODS = ("predict", "predict_proba", "decision_function")


def observe(model: Any, registry: Any, version: dict[str, Any]) -> Any:
    """Make ``model`` fire ``batch_predicted`` after each outermost scoring call; returns it.

    A ``predict`` that calls ``predict_proba`` internally is one batch, not two, and so is
    ``zoo.predict_table`` on such a model (labels and probabilities).
    """
    import functools

    # Per thread: a call in one thread must not look nested because another thread is scoring.
    state = threading.local()

    def as_one_batch(fn: Any, X: Any, *args: Any, **kwargs: Any) -> Any:
        depth = getattr(state, "depth", 0)
        if depth:
            return fn(X, *args, **kwargs)
        state.depth = depth + 1
        start = time.perf_counter()
        try:
            out = fn(X, *args, **kwargs)
        finally:
            state.depth = depth
        batch_predicted(registry, version, X, out, time.perf_counter() - start)
        return out

    for name in OBSERVED_METHODS:
        method = getattr(model, name, None)
        if method is not None:
            # An instance attribute shadows the class's method.
            setattr(model, name, functools.wraps(method)(functools.partial(as_one_batch, method)))
    model.observed_batch = as_one_batch
    return model


def batch_predicted(registry: Any, version: dict[str, Any] | None, inputs: Any, predictions: Any,
                    seconds: float) -> None:
    """Tell plugins that a version scored a batch (``zoo predict`` calls this once per chunk)."""
    _fire("batch_predicted", registry=registry, version=version, inputs=inputs,
          predictions=predictions, seconds=seconds)


def _fire(hook: str, **kwargs: Any) -> None:
    from zoo.plugins import get_plugins

    get_plugins().fire(hook, **kwargs)
