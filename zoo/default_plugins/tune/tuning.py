"""Hyper-parameter search with cross-validation: search spaces, folds, trials.

- **Search spaces.** A component may declare ranges with a classmethod
  ``search_space() -> {param: spec}`` (the ``zoo.SearchSpace`` capability); a user overrides
  or adds ranges with ``--space name=int:2:10``, ``name=float:0.01:0.3:log``,
  ``name=choice:gini,entropy``. A spec is a dict: ``{"type": "int"|"float", "low", "high", "log"}`` or
  ``{"type": "choice", "choices": [...]}``.
- **Folds.** ``kfold`` (shuffled), ``stratified`` (each fold keeps the class shares) and
  ``time`` (expanding window on ``--time-column``: every fold trains only on rows strictly
  earlier than the rows it validates on, and rows sharing a timestamp stay together).
- **Search.** ``bayes`` asks Optuna's TPE sampler for each trial (tree-structured Parzen
  estimators: it learns which regions score well and samples there); ``random`` samples
  the space uniformly (log-uniformly where ``log``) with numpy and needs no Optuna.
- **Engines.** Trials are evaluated by an engine: ``local`` runs them one after another in
  this process; ``distributed.DaskEngine`` runs a batch of trials at once on a Dask
  cluster. An engine only turns a list of parameter dicts into a list of fold scores, so
  the search loop is the same for both.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from zoo import DataError, SearchSpace, ZooError

STRATEGIES = ("kfold", "stratified", "time")
SEARCHES = ("bayes", "random")


# --- search spaces ---


def parse_space(pairs: tuple[str, ...] | list[str]) -> dict[str, dict[str, Any]]:
    """``name=int:LOW:HIGH[:log]``, ``name=float:LOW:HIGH[:log]`` or ``name=choice:A,B,...``."""
    import json

    space: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        name, sep, spec = pair.partition("=")
        kind, _, rest = spec.partition(":")
        hint = ("write it like max_depth=int:2:10, learning_rate=float:0.01:0.3:log "
                "or criterion=choice:gini,entropy")
        if not sep or not name or kind not in ("int", "float", "choice") or not rest:
            raise ZooError(f"--space {pair!r} is not a range: {hint}")
        if kind == "choice":
            choices = []
            for raw in rest.split(","):
                try:
                    choices.append(json.loads(raw))
                except ValueError:
                    choices.append(raw)
            space[name] = {"type": "choice", "choices": choices}
            continue
        parts = rest.split(":")
        log = len(parts) == 3 and parts[2] == "log"
        if len(parts) not in (2, 3) or (len(parts) == 3 and not log):
            raise ZooError(f"--space {pair!r} is not a range: {hint}")
        try:
            low, high = (int(p) if kind == "int" else float(p) for p in parts[:2])
        except ValueError:
            raise ZooError(f"--space {pair!r}: bounds must be {kind} numbers; {hint}") from None
        if low > high or (log and low <= 0):
            raise ZooError(f"--space {pair!r}: need low <= high{' and low > 0 for log' if log else ''}")
        space[name] = {"type": kind, "low": low, "high": high, "log": log}
    return space


def search_space(info: Any, overrides: dict[str, dict[str, Any]] | None = None,
                 fixed: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """The component's own ranges, updated by ``overrides``, minus parameters fixed by the user."""
    space = dict(info.cls.search_space() if isinstance(info.cls, SearchSpace) else {})
    space.update(overrides or {})
    for name in fixed or {}:
        space.pop(name, None)
    unknown = sorted(set(space) - set(info.params))
    if unknown:
        raise ZooError(f"{info.name} has no parameter {', '.join(map(repr, unknown))}; "
                       f"valid: {', '.join(sorted(info.params))}")
    if not space:
        raise ZooError(f"{info.name} declares no search space: give ranges with --space, e.g. "
                       "--space max_depth=int:2:10")
    return space


def sample_random(space: dict[str, dict[str, Any]], rng: Any) -> dict[str, Any]:
    """One point drawn uniformly (log-uniformly where ``log``) from ``space``."""
    params: dict[str, Any] = {}
    for name, spec in space.items():
        if spec["type"] == "choice":
            params[name] = spec["choices"][int(rng.integers(len(spec["choices"])))]
            continue
        low, high = spec["low"], spec["high"]
        if spec.get("log"):
            value = math.exp(rng.uniform(math.log(low), math.log(high + (1 if spec["type"] == "int" else 0))))
        else:
            value = rng.uniform(low, high + (1 if spec["type"] == "int" else 0))
        params[name] = min(int(math.floor(value)), high) if spec["type"] == "int" else float(value)
    return params


# --- folds ---


def folds(n_rows: int, k: int, strategy: str, labels: Any = None, times: Any = None,
          seed: int = 0) -> list[tuple[Any, Any]]:
    """``k`` (train, validation) index pairs over ``n_rows`` rows."""
    import numpy as np

    if strategy not in STRATEGIES:
        raise ZooError(f"unknown CV strategy {strategy!r}: use {', '.join(STRATEGIES)}")
    if k < 2:
        raise DataError(f"--cv must be at least 2 folds, got {k}")
    if strategy == "time":
        if times is None:
            raise DataError("time-series CV needs the time of each row: pass --time-column")
        return time_series_folds(times, k)
    rng = np.random.default_rng(seed)
    if n_rows < k:
        raise DataError(f"{n_rows} rows are too few for {k} folds; lower --cv")
    fold_of = np.empty(n_rows, dtype=int)
    if strategy == "stratified":
        if labels is None:
            raise DataError("stratified CV needs labels: it is for classifiers")
        _, codes = np.unique(np.asarray(labels), return_inverse=True)
        # Deal each class's shuffled rows round-robin, starting where the previous class
        # stopped, so folds get near-equal sizes and class shares.
        offset = 0
        for c in range(codes.max() + 1):
            rows = rng.permutation(np.flatnonzero(codes == c))
            fold_of[rows] = (np.arange(len(rows)) + offset) % k
            offset += len(rows)
    else:
        fold_of[rng.permutation(n_rows)] = np.arange(n_rows) % k
    out = []
    for f in range(k):
        val = np.flatnonzero(fold_of == f)
        out.append((np.flatnonzero(fold_of != f), val))
    return out


def time_series_folds(times: Any, k: int) -> list[tuple[Any, Any]]:
    """Expanding-window folds: the rows sorted by time cut into ``k + 1`` blocks; fold i
    trains on blocks 0..i and validates on block i + 1.

    Cuts fall only between different timestamps, so every training row is strictly
    earlier than every validation row of its fold.
    """
    import numpy as np

    times = np.asarray(times)
    order = np.argsort(times, kind="stable")
    sorted_times = times[order]
    # Candidate cut positions: where the timestamp changes.
    changes = np.flatnonzero(sorted_times[1:] != sorted_times[:-1]) + 1
    if len(changes) < k:
        raise DataError(f"the time column has {len(changes) + 1} distinct values: too few for "
                        f"{k} time-series folds; lower --cv")
    targets = [round(len(times) * (i + 1) / (k + 1)) for i in range(k + 1)]
    cuts = []
    for target in targets[:-1]:
        j = int(np.searchsorted(changes, target))
        candidates = [changes[i] for i in (j - 1, j) if 0 <= i < len(changes)]
        cut = min(candidates, key=lambda c: abs(c - target))
        if cuts and cut <= cuts[-1]:
            later = changes[changes > cuts[-1]]
            if not len(later):
                raise DataError(f"the time column's values are too concentrated for {k} "
                                "time-series folds; lower --cv")
            cut = int(later[0])
        cuts.append(int(cut))
    bounds = [*cuts, len(times)]
    return [(np.sort(order[:bounds[i]]), np.sort(order[bounds[i]:bounds[i + 1]])) for i in range(k)]


def time_holdout(times: Any, test_size: float) -> tuple[Any, Any]:
    """Training rows and the latest ``test_size`` share as test rows, never splitting a timestamp."""
    import numpy as np

    if not 0.0 <= test_size < 1.0:
        raise DataError(f"--test-size must be at least 0 and below 1, got {test_size}")
    times = np.asarray(times)
    order = np.argsort(times, kind="stable")
    if test_size == 0.0:
        return np.sort(order), np.arange(0)
    sorted_times = times[order]
    target = len(times) - max(1, int(round(len(times) * test_size)))
    # Cut only where the timestamp changes, as near the requested size as possible, so the
    # test rows are all strictly later than the training rows.
    changes = np.flatnonzero(sorted_times[1:] != sorted_times[:-1]) + 1
    if not len(changes):
        raise DataError("the time column has a single value: no later rows to hold out; use --test-size 0")
    cut = int(changes[np.argmin(np.abs(changes - target))])
    return np.sort(order[:cut]), np.sort(order[cut:])


def parse_times(values: Any, column: str) -> Any:
    """A time column as sortable numbers: numbers as they are, anything else as dates."""
    import numpy as np
    import pandas as pd

    if values.isna().any():
        raise DataError(f"time column {column!r} has {int(values.isna().sum())} missing values; "
                        "fill or drop those rows")
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype=float)
    try:
        parsed = pd.to_datetime(values, utc=True, format="mixed")
    except (ValueError, TypeError):
        raise DataError(f"time column {column!r} holds neither numbers nor dates "
                        f"(e.g. {values.iloc[0]!r})") from None
    return (parsed - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype=np.float64)


# --- trials ---


def cross_validate(info: Any, params: dict[str, Any], X: Any, y: Any,
                   fold_list: list[tuple[Any, Any]], metric: str) -> list[float]:
    """``metric`` on each fold's validation rows of a model fitted on its training rows."""
    scores = []
    for train_idx, val_idx in fold_list:
        model = info.create(**params)
        model.fit(X.iloc[train_idx], y.iloc[train_idx])
        scores.append(float(model.validate(X.iloc[val_idx], y.iloc[val_idx])[metric]))
    return scores


class LocalEngine:
    """Evaluates trials one after another in this process."""

    name = "local"
    #: How many trials the search loop hands over at once.
    batch_size = 1

    def map(self, fn: Callable[[dict[str, Any]], list[float]],
            batch: list[dict[str, Any]]) -> list[list[float] | BaseException]:
        """``fn`` of each parameter dict; an exception is returned in place of its result."""
        out: list[list[float] | BaseException] = []
        for params in batch:
            try:
                out.append(fn(params))
            except Exception as exc:  # a bad corner of the space fails that trial, not the run
                if isinstance(exc, ZooError) and not isinstance(exc, DataError):
                    raise
                out.append(exc)
        return out


#: Engines by name; ``--engine`` chooses one.
ENGINES: dict[str, type] = {"local": LocalEngine}


@dataclass
class TuneResult:
    """Every trial and the best one."""

    metric: str
    direction: str
    trials: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] | None = None


def tune(info: Any, X: Any, y: Any, space: dict[str, dict[str, Any]], trials: int,
         fold_list: list[tuple[Any, Any]], metric: str, search: str = "bayes",
         fixed: dict[str, Any] | None = None, seed: int = 0, engine: Any = "local",
         on_trial: Callable[[dict[str, Any], TuneResult], None] = lambda t, r: None) -> TuneResult:
    """Run ``trials`` trials of ``search`` over ``space``, each cross-validated on ``fold_list``.

    A trial records its ``number``, ``params`` (searched and fixed), per-fold ``scores``, their
    ``mean`` and ``std``, ``seconds`` and ``state`` (``complete`` or ``failed`` with ``error``).
    ``on_trial`` is called after each one, for a progress display.
    """
    import numpy as np

    from zoo.metrics import HIGHER_IS_BETTER

    if search not in SEARCHES:
        raise ZooError(f"unknown search {search!r}: use {' or '.join(SEARCHES)}")
    if isinstance(engine, str) and engine not in ENGINES:
        raise ZooError(f"unknown engine {engine!r}: use {', '.join(ENGINES)} (or pass an engine object)")
    if trials < 1:
        raise DataError(f"--trials must be at least 1, got {trials}")
    fixed = dict(fixed or {})
    maximize = metric in HIGHER_IS_BETTER
    result = TuneResult(metric=metric, direction="maximize" if maximize else "minimize")
    runner = ENGINES[engine]() if isinstance(engine, str) else engine  # e.g. distributed.DaskEngine
    rng = np.random.default_rng(seed)
    study, distributions = (_optuna_study(space, maximize, seed) if search == "bayes" else (None, None))

    def evaluate(params: dict[str, Any]) -> list[float]:
        return cross_validate(info, {**params, **fixed}, X, y, fold_list, metric)

    while len(result.trials) < trials:
        batch_size = min(runner.batch_size, trials - len(result.trials))
        asked = [study.ask(distributions) for _ in range(batch_size)] if study else [None] * batch_size
        batch = [dict(t.params) if t is not None else sample_random(space, rng) for t in asked]
        start = time.perf_counter()
        outcomes = runner.map(evaluate, batch)
        seconds = (time.perf_counter() - start) / max(len(batch), 1)
        for handle, params, outcome in zip(asked, batch, outcomes, strict=True):
            trial: dict[str, Any] = {"number": len(result.trials), "params": {**params, **fixed},
                                     "seconds": round(seconds, 4)}
            if isinstance(outcome, BaseException) or not np.all(np.isfinite(outcome)):
                error = str(outcome).splitlines()[0] if isinstance(outcome, BaseException) else \
                    f"{metric} is not finite on some fold"
                trial.update(state="failed", error=error, scores=None, mean=None, std=None)
                if study:
                    study.tell(handle, state=_optuna_failed())
            else:
                trial.update(state="complete", scores=outcome, mean=float(np.mean(outcome)),
                             std=float(np.std(outcome)))
                if study:
                    study.tell(handle, trial["mean"])
                if result.best is None or (trial["mean"] > result.best["mean"] if maximize
                                           else trial["mean"] < result.best["mean"]):
                    result.best = trial
            result.trials.append(trial)
            on_trial(trial, result)
    if result.best is None:
        first = next((t["error"] for t in result.trials if t.get("error")), "unknown error")
        raise ZooError(f"every one of {trials} trials failed (first error: {first})")
    return result


def _optuna_study(space: dict[str, dict[str, Any]], maximize: bool, seed: int) -> tuple[Any, Any]:
    try:
        import optuna
    except ImportError:
        raise ZooError("--search bayes needs Optuna: pip install 'zoo-ml[tune]', "
                       "or use --search random") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dist = optuna.distributions
    distributions = {}
    for name, spec in space.items():
        if spec["type"] == "choice":
            distributions[name] = dist.CategoricalDistribution(spec["choices"])
            continue
        kind = dist.IntDistribution if spec["type"] == "int" else dist.FloatDistribution
        distributions[name] = kind(spec["low"], spec["high"], log=spec.get("log", False))
    sampler = optuna.samplers.TPESampler(seed=seed)
    study = optuna.create_study(direction="maximize" if maximize else "minimize", sampler=sampler)
    return study, distributions


def _optuna_failed() -> Any:
    import optuna

    return optuna.trial.TrialState.FAIL
