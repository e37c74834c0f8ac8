"""zoo-ab at serve time: ``zoo serve`` asks which version serves a unit (``serve_route``),
records outcomes (``serve_outcome``) and hands over shadow predictions (``shadow_scored``).

A server asks for every request, so the running experiments of a registry are read at most
once a second and routing uses the experiment's stored salt and split directly (the same
``routing`` functions as ``Experiment.route``: a unit gets the same arm here as in
``zoo ab predict``).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from zoo import DataError, ZooError, hookimpl

#: Seconds a registry's list of running experiments is reused before it is read again.
REFRESH = 1.0

_cache: dict[Any, tuple[float, dict[str, dict[str, Any]]]] = {}
_lock = threading.Lock()


def running(registry: Any, model: str) -> dict[str, Any] | None:
    """The newest running experiment whose arms are all versions of ``model``, as stored
    (``name``, ``config``), or None."""
    key = str(registry.path)
    now = time.monotonic()
    with _lock:
        cached = _cache.get(key)
    if cached is None or now - cached[0] > REFRESH:
        from zoo_ab import store

        by_model: dict[str, dict[str, Any]] = {}
        for exp in store.experiments(registry):  # newest first: the first per model wins
            if exp["status"] != "running" or "arms" not in exp["config"]:
                continue
            names = {ref.split(":", 1)[0] for ref in exp["config"]["arms"].values()}
            if len(names) == 1:
                by_model.setdefault(names.pop(), exp)
        cached = (now, by_model)
        with _lock:
            _cache[key] = cached
    return cached[1].get(model)


@hookimpl
def serve_route(registry: Any, model: str, unit: str | None, fields: dict[str, Any]) -> dict[str, Any] | None:
    """Route a request by its unit when a running experiment compares versions of ``model``."""
    exp = running(registry, model)
    if exp is None:
        return None
    from zoo_ab import routing

    config = exp["config"]
    if unit is None:
        column = config.get("id_column")
        if not column or column not in fields or fields[column] is None:
            where = f" or a field {column!r}" if column else ""
            raise DataError(f"experiment {exp['name']!r} routes {model} by unit: send the unit id in "
                            f"the X-Zoo-Unit header{where}")
        unit = fields[column]
    arms = list(config["arms"])
    number = routing.unit_numbers(routing.id_strings([unit], "unit id"), config["salt"])
    arm = str(routing.assign(number, arms, [config["split"][a] for a in arms])[0])
    shadows = {a: config["arms"][a] for a in arms[1:]} if config.get("mode") == "shadow" else {}
    return {"experiment": exp["name"], "arm": arm, "ref": config["arms"][arm], "shadows": shadows}


@hookimpl
def serve_outcome(registry: Any, model: str, unit: str, value: float) -> dict[str, Any] | None:
    """Record a unit's outcome in the experiment routing ``model``; a repeat changes nothing."""
    exp = running(registry, model)
    if exp is None:
        return None
    from zoo_ab.experiment import Experiment

    experiment = Experiment(registry, exp["name"])
    written = experiment.record([unit], [value])
    arm = str(experiment.route([unit])[0])
    return {"experiment": exp["name"], "arm": arm, "recorded": bool(written)}


@hookimpl
def shadow_scored(registry: Any, experiment: str, arm: str, ref: str, control: Any, shadow: Any,
                  seconds: float) -> None:
    """Log the shadow arm's agreement with the control over the rows a server scored."""
    from zoo_ab import store
    from zoo_ab.experiment import agreement

    try:
        row = store.experiment(registry, experiment)
    except ZooError:
        return  # deleted meanwhile: nothing to log into
    config = row["config"]
    task = "classification" if any(str(c).startswith("proba_") for c in control.columns) else "regression"
    summary = {"experiment": experiment, "arm": arm, "control_arm": config.get("control"),
               "control": config["arms"].get(config.get("control")), "source": "zoo serve",
               **agreement(control, shadow, task)}
    store.record_shadow(registry, experiment, arm, ref, len(control), seconds, summary)
