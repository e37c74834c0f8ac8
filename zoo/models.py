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
from collections.abc import Iterator
from contextlib import contextmanager
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
        eval_data: tuple[Any, Any] | None = None,
    ) -> dict[str, Any]:
        """Store a fitted component as the next version of model ``name``; returns the version.

        ``model`` may also be a model fitted outside zoo (a scikit-learn ``Pipeline``, an
        ``xgboost.Booster``, ...): the plugin of its library adopts it (``adopt_model``).
        ``params`` default to ``model.get_params()``; ``data`` is a fingerprint from
        ``zoo.data.fingerprint``; ``parents`` are refs recorded in the lineage with
        ``relation``; ``artifacts`` are extra files by name (e.g. ``roc_curve.png``).
        ``eval_data=(X, y)``, rows the model did not learn from, records what a trained
        version keeps: metrics, plots, the conformal record and the reference sample, so
        drift, intervals and compare work on it. Plugins hear of it through ``version_registered``.
        """
        from zoo.data import output_schema

        model = adopt(model)
        if eval_data is not None:
            return register_trained(
                self, name, evaluated(model, *eval_data), params=params, tags=tags, data=data,
                parents=parents, relation=relation, description=description, artifacts=artifacts,
                **({"metrics": metrics} if metrics is not None else {}))
        info = component_info(model)
        metadata = model.metadata
        if "input_schema" in metadata:  # typed input: record what predict adds too
            metadata = {**metadata, "output_schema": output_schema(metadata)}
        record = {"name": info.name, "kind": info.kind, "task": info.task, "plugin": info.plugin,
                  "plugin_version": info.plugin_version, "artifact_format": info.artifact_format,
                  "metadata": metadata}
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

    def import_bundle(self, path: str | Path, check: Any = None, *,
                      move_aliases: bool = False) -> dict[str, Any]:
        """Restore a bundle's versions (every hash verified first); each fires ``version_registered``.

        ``check`` and ``move_aliases`` as in ``zoo_registry.Store.import_bundle``. Without a
        ``check``, a plugin's ``import_guard`` gives one (the built-in zoo.sandbox test-loads
        and scores each version in a child process), so a crafted model never commits.
        """
        from zoo.plugins import get_plugins

        guard = None if check is not None else get_plugins().hook.import_guard()
        if guard is not None:
            with guard as check:
                return self.import_bundle(path, check, move_aliases=move_aliases)
        result = super().import_bundle(path, check, move_aliases=move_aliases)
        for version in result["imported_versions"]:  # as committed, even if deleted since
            _fire("version_registered", registry=self, version=version)
        return result

    def delete(self, ref: str, *, force: bool = False) -> dict[str, Any]:
        """``zoo_registry.Store.delete``, where plugins' references (``version_references``,
        e.g. an A/B arm) also keep a version unless ``force``."""
        from zoo.plugins import get_plugins

        def references(version: dict[str, Any]) -> list[str]:
            answers = get_plugins().hook.version_references(registry=self, version=version)
            return [item for answer in answers for item in answer or []]

        return super().delete(ref, force=force, references=references)

    def export(self, refs: list[str], path: str | Path, producer: str = "") -> dict[str, Any]:
        """Write versions to a portable bundle, recording this zoo's version as its producer."""
        from zoo import __version__

        return super().export(refs, path, producer or __version__)

    @contextmanager
    def read(self) -> Iterator[Any]:
        """``Store.read``, after reporting this registry's waiting observed calls (see
        ``observe``): a process reading its registry sees every batch it scored."""
        if (_Observer.waiting or _Observer.reporter is not None) and not self._conn.in_transaction:
            report_observed(self)
        with super().read() as conn:
            yield conn

    def close(self) -> None:
        """Report this registry's waiting observed calls, then close it."""
        if _Observer.waiting:
            report_observed(self)
        super().close()


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


def adopt(model: Any) -> Any:
    """``model`` if it is a zoo component, else the component a plugin wraps it in
    (``adopt_model``), else a one-line error saying what can be registered."""
    from zoo.interfaces import Component
    from zoo.plugins import get_plugins

    if isinstance(model, Component):
        return model
    adopted = get_plugins().hook.adopt_model(obj=model)
    if adopted is None:
        raise ZooError(f"cannot register a {type(model).__name__}: no installed plugin adopts it "
                       "(zoo-sklearn, zoo-xgboost, zoo-lightgbm and zoo-pyod adopt their libraries' "
                       "fitted models); wrap it in a plugin's component class")
    return adopted


def evaluated(model: Any, X: Any, y: Any) -> Any:
    """A ``zoo.training.TrainResult`` for a fitted predictor scored on held-out ``X``, ``y``
    (or a detector's reference rows ``X``): what ``register_trained`` records."""
    import pandas as pd

    from zoo.data import DataError, fingerprint
    from zoo.training import TrainResult, split_record

    if not isinstance(X, pd.DataFrame):
        X = pd.DataFrame(X, columns=list(getattr(model, "feature_names", None) or
                                         getattr(model, "feature_names_in_", [])))
    if getattr(model, "kind", "") != "predictor":
        return TrainResult(model=model, data=fingerprint(X), reference=X)
    if y is None:
        raise DataError("eval_data needs the true values: pass (X, y)")
    target = getattr(model, "target_name_", None) or (getattr(y, "name", None) or "target")
    y = pd.Series(y, index=X.index, name=target) if not isinstance(y, pd.Series) else y.rename(target)
    y.index = X.index
    table = X.assign(**{str(target): y})
    data = fingerprint(table)
    result = TrainResult(model=model, data=data, n_test=len(X), reference=table, X_test=X, y_test=y,
                         metrics=model.validate(X, y))
    import numpy as np

    result.split = split_record({"kind": "given", "note": "eval_data passed to register"},
                                np.arange(len(X)), data)
    return result


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
    check_provider(version, info)
    try:
        model = info.cls.from_artifact(path, version["metadata"])
    except IntegrityError as exc:
        if version["ref"] in str(exc):
            raise
        # Loaders name the private copy; the user needs to know which version it was.
        raise IntegrityError(f"{version['ref']}: {exc}") from None
    except (ZooError, MemoryError):  # too big for this process is not "not its format"
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


def check_provider(version: dict[str, Any], info: Any) -> None:
    """Refuse to load ``version`` with code from a plugin other than the one that registered
    it (a plugin claiming another's component name would take its versions over), unless
    ``ZOO_ALLOW_PLUGIN_CHANGE`` names the providing plugin (or is ``*``); warn when the same
    plugin changed major version since."""
    import os
    import warnings

    from zoo.plugins import FORMER_NAMES

    recorded, now = version.get("plugin") or "", info.plugin
    recorded = FORMER_NAMES.get(recorded, recorded)
    if recorded and recorded != now:
        allowed = {n.strip() for n in os.environ.get("ZOO_ALLOW_PLUGIN_CHANGE", "").split(",")}
        if now not in allowed and "*" not in allowed:
            raise ZooError(
                f"{version['ref']} was registered by plugin {recorded!r}, but {version['component']} "
                f"now comes from plugin {now!r}: refusing to load it with another plugin's code "
                f"(set ZOO_ALLOW_PLUGIN_CHANGE={now} if you trust it)")
        return
    then = str(version.get("plugin_version") or "").split(".")[0]
    if recorded and then and then != str(info.plugin_version or "").split(".")[0]:
        warnings.warn(f"{version['ref']} was registered with plugin {recorded!r} "
                      f"{version['plugin_version']}, now {info.plugin_version}: a new major version "
                      "may load or score it differently", stacklevel=3)


#: The scoring methods ``observe`` reports, whichever a component has.
OBSERVED_METHODS = ("predict", "predict_proba", "decision_function")
#: Seconds between reports of a loaded model's calls: its first call of each method is
#: reported at once, later ones wait (in memory) for the next report, so a tight loop of
#: single-row calls pays an append per call, not a summary and a SQLite write.
REPORT_EVERY = 1.0
#: Calls of one method waiting for a report stay separate batches up to this many; more
#: are merged into one batch (a steady stream becomes one batch per second).
SEPARATE_CALLS = 128


def observe(model: Any, registry: Any, version: dict[str, Any]) -> Any:
    """Make ``model`` report each outermost scoring call as a ``batch_predicted``; returns it.

    A ``predict`` that calls ``predict_proba`` internally is one batch, not two, and so is
    ``zoo.predict_table`` on such a model (labels and probabilities). Calls are reported at
    most every ``REPORT_EVERY`` seconds per method (see ``_Observer``), and before the
    registry is read or closed, so the process always sees its own batches.
    """
    import functools

    observer = _Observer(registry, version)
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
        observer.add(getattr(fn, "__name__", "call"), X, out, time.perf_counter() - start)
        return out

    for name in OBSERVED_METHODS:
        method = getattr(model, name, None)
        if method is not None:
            # An instance attribute shadows the class's method.
            setattr(model, name, functools.wraps(method)(functools.partial(as_one_batch, method)))
    model.observed_batch = as_one_batch
    return model


class _Observer:
    """The calls of one observed model waiting to be reported, by method."""

    lock = threading.Lock()  # one for every observer: guards ``waiting`` and each ``pending``
    # Held while calls are reported: a reader waits for a report under way in another thread.
    reporting = threading.RLock()
    waiting: set[_Observer] = set()
    reporter: threading.Thread | None = None

    def __init__(self, registry: Any, version: dict[str, Any]) -> None:
        self.registry, self.version = registry, version
        self.pending: dict[str, list[tuple[Any, Any, float]]] = {}
        self.reported: dict[str, float] = {}

    def add(self, method: str, X: Any, out: Any, seconds: float) -> None:
        now = time.monotonic()
        with self.lock:
            due = method not in self.pending and now - self.reported.get(method, -REPORT_EVERY) \
                >= REPORT_EVERY
            if due:
                self.reported[method] = now
            else:
                self.pending.setdefault(method, []).append((X, out, seconds))
                _Observer.waiting.add(self)
                if _Observer.reporter is None:
                    _Observer.reporter = threading.Thread(target=_report_forever, daemon=True,
                                                          name="zoo-observed-batches")
                    _Observer.reporter.start()
        if due:
            batch_predicted(self.registry, self.version, X, out, seconds)

    def report(self) -> None:
        with self.lock:
            pending, self.pending = self.pending, {}
            now = time.monotonic()
            self.reported.update(dict.fromkeys(pending, now))
        for calls in pending.values():
            merged = _merged(calls) if len(calls) > SEPARATE_CALLS else None
            for X, out, seconds in [merged] if merged else calls:
                batch_predicted(self.registry, self.version, X, out, seconds)


def report_observed(registry: Any = None) -> None:
    """Report the calls of observed models (of ``registry``, or all) that are waiting now."""
    with _Observer.reporting:
        with _Observer.lock:
            due = [o for o in _Observer.waiting if registry is None or o.registry is registry]
            _Observer.waiting.difference_update(due)
        for observer in due:
            observer.report()


def _report_forever() -> None:
    import atexit

    atexit.register(report_observed)
    while True:
        time.sleep(REPORT_EVERY)
        report_observed()


def _merged(calls: list[tuple[Any, Any, float]]) -> tuple[Any, Any, float] | None:
    """Many calls as one batch: inputs and outputs concatenated, seconds added; None when
    they do not concatenate (then each is reported on its own)."""
    import numpy as np
    import pandas as pd

    inputs, outputs, seconds = zip(*calls, strict=True)
    try:
        if all(isinstance(x, pd.DataFrame) for x in inputs):
            X = pd.concat(inputs, ignore_index=True)
        else:
            X = np.concatenate([np.asarray(x) for x in inputs])
        tables = all(isinstance(o, pd.DataFrame) for o in outputs)
        out = pd.concat(outputs, ignore_index=True) if tables else np.concatenate(
            [np.asarray(o) for o in outputs])
    except (ValueError, TypeError):
        return None
    return X, out, float(sum(seconds))


def batch_predicted(registry: Any, version: dict[str, Any] | None, inputs: Any, predictions: Any,
                    seconds: float) -> None:
    """Tell plugins that a version scored a batch (``zoo predict`` calls this once per chunk)."""
    _fire("batch_predicted", registry=registry, version=version, inputs=inputs,
          predictions=predictions, seconds=seconds)


def ask_plugins(hook: str, **arguments: Any) -> Any:
    """The plugins' answer to a service hook (``prediction_intervals``, ``serve_route``, ...):
    the first answer of a first-result hook, else the list of every plugin's answer."""
    from zoo.plugins import get_plugins

    return getattr(get_plugins().hook, hook)(**arguments)


def _fire(hook: str, **kwargs: Any) -> None:
    from zoo.plugins import get_plugins

    get_plugins().fire(hook, **kwargs)
