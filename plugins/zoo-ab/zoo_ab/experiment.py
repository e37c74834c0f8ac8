"""An online A/B experiment between registered versions: routing, scoring, outcomes,
the report and the bandit, on top of the plugin's tables (``zoo_ab.store``).

The experiment's config, kept as JSON in the registry, is everything needed to route the
same way from any process::

    {"arms": {"A": "churn:3", "B": "churn:4"},           # fixed versions, resolved at start
     "refs": {"A": "churn@champion", "B": "churn@challenger"},   # as the user wrote them
     "control": "A", "split": {"A": 0.5, "B": 0.5}, "mode": "split" | "bandit" | "shadow",
     "id_column": "customer_id", "salt": "<32 hex digits>", "metric": "conversion",
     "higher_is_better": true, "min_share": 0.05, "outcome": "auto" | "continuous",
     "history": [{"at": ..., "split": {...}, "probability_best": {...}, "n": {...}}]}

Arms are kept in the order given; the first is the control. Arms resolve to fixed
``name:N`` versions at start, so moving an alias during the test does not change what an arm
serves.
"""

from __future__ import annotations

import math
import secrets
import time
import warnings
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from zoo import DataError, ZooError
from zoo_ab import routing, store
from zoo_ab import stats as abstats

MODES = ("split", "bandit", "shadow")
#: Bandit steps kept in the config (for the report's plot); older ones are dropped.
HISTORY_LIMIT = 500
#: Monte Carlo draws of the bandit's probability-best estimate (its error is below 0.004).
DRAWS = 20_000


class ShadowWarning(UserWarning):
    """A shadow arm could not score a batch; the control's predictions were returned anyway."""


class Experiment:
    """A running (or stopped) experiment of a registry, by name.

    ``Experiment.start(registry, ...)`` creates one; ``Experiment(registry, name)`` opens it
    again from any process, and routes every id to the same arm as before.
    """

    def __init__(self, registry: Any, name: str) -> None:
        self.registry = registry
        self.name = name
        self._models: dict[str, Any] = {}
        self._versions: dict[str, dict[str, Any]] = {}
        #: What the last ``record`` did: outcomes ``written`` (new or updated) and ``unchanged``.
        self.recorded: dict[str, int] = {}
        self.refresh()

    # --- creating and reading ---

    @classmethod
    def start(cls, registry: Any, name: str, arms: Mapping[str, str] | Sequence[str],
              split: Mapping[str, float] | Sequence[float] | None = None, mode: str = "split",
              id_column: str | None = None, metric: str | None = None,
              higher_is_better: bool = True, min_share: float = 0.05) -> Experiment:
        """Start experiment ``name`` between ``arms`` (``{"A": "churn@champion", ...}`` or a
        list of refs, named A, B, ...); the first arm is the control.

        ``split`` gives each arm's share of traffic (fractions summing to 1 or percentages
        summing to 100; default equal). ``mode``: ``split`` keeps the shares fixed, ``bandit``
        lets ``update_bandit`` move them toward the better arm (never below ``min_share``),
        ``shadow`` serves the control to everyone while the other arms score the same rows
        for the log. ``id_column`` names the unit id column of the tables ``predict`` gets.
        """
        named = _arm_refs(arms)
        if mode not in MODES:
            raise ZooError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
        if not 0 <= min_share < 1 / len(named):
            raise ZooError(f"the bandit's floor (min_share) must be at least 0% and below "
                           f"{100 / len(named):.4g}% with {len(named)} arms, got {100 * min_share:.4g}%")
        shares = _shares(split, list(named), allow_zero=mode == "shadow")
        if mode == "shadow":
            if split is not None:
                raise ZooError("shadow mode sends all traffic to the control (the first arm): "
                               "leave out the split")
            shares = {arm: 1.0 if i == 0 else 0.0 for i, arm in enumerate(named)}
        versions = {arm: registry.get(ref) for arm, ref in named.items()}
        _check_versions(versions)
        config = {
            "arms": {arm: v["ref"] for arm, v in versions.items()},
            "refs": dict(named),
            "control": next(iter(named)),
            "split": shares,
            "mode": mode,
            "id_column": id_column,
            "salt": secrets.token_hex(16),
            "metric": metric,
            "higher_is_better": bool(higher_is_better),
            "min_share": float(min_share),
            "outcome": "auto",
            "history": [{"at": _now(), "split": shares, "probability_best": None,
                         "n": {arm: 0 for arm in named}}],
        }
        store.create_experiment(registry, name, config)
        return cls(registry, name)

    def refresh(self) -> Experiment:
        """Re-read config, status and totals from the registry (another process may have moved them)."""
        row = store.experiment(self.registry, self.name)
        self.config: dict[str, Any] = row["config"]
        self.status: str = row["status"]
        self.totals: dict[str, dict[str, float]] = row["totals"]
        self.created_at: str = row["created_at"]
        if "salt" not in self.config or "arms" not in self.config:
            raise ZooError(f"experiment {self.name!r} was not started by zoo ab (its config has no "
                           "arms or salt): open it with the tool that created it")
        return self

    @property
    def arms(self) -> list[str]:
        """Arm names in order; the first is the control."""
        return list(self.config["arms"])

    @property
    def control(self) -> str:
        """The control arm."""
        return self.config["control"]

    @property
    def mode(self) -> str:
        """``split``, ``bandit`` or ``shadow``."""
        return self.config["mode"]

    @property
    def split(self) -> dict[str, float]:
        """Each arm's current share of traffic."""
        return dict(self.config["split"])

    # --- routing and scoring ---

    def route(self, ids: Any) -> np.ndarray:
        """The arm of each unit id, sticky: the same id gets the same arm in every process
        (until a bandit step moves the boundary past it)."""
        numbers = routing.unit_numbers(ids, self.config["salt"])
        split = self.config["split"]
        return routing.assign(numbers, self.arms, [split[a] for a in self.arms])

    def predict(self, df: Any, ids: Any = None) -> Any:
        """Score each row of ``df`` with its arm's version; adds an ``arm`` column.

        Ids come from ``ids`` or else the experiment's id column. In shadow mode every row
        gets the control's predictions, and each other arm scores the same rows: its
        agreement with the control goes to the experiment's shadow log
        (``zoo_ab.store.shadow_batches``) and is never returned.
        """
        self.check_running("score rows")
        if ids is None:
            ids = self._id_values(df)
        elif len(ids) != len(df):
            raise DataError(f"{len(ids)} ids for {len(df)} rows: give one id per row")
        if len(df) == 0:
            raise DataError("the table has no rows to score")
        arms = self.route(ids)
        frame = df.reset_index(drop=True)
        parts = []
        for arm in self.arms:
            rows = np.flatnonzero(arms == arm)
            if len(rows) == 0:
                continue
            scored = self._score(arm, frame.iloc[rows], report=True)
            scored["arm"] = arm
            parts.append(scored)
        out = pd.concat(parts) if len(parts) > 1 else parts[0]
        out = out.sort_index()  # back to the input's row order
        out.index = df.index
        if self.mode == "shadow":
            control = out.drop(columns="arm")
            for arm in self.arms[1:]:
                self._log_shadow(arm, frame, control)
        return out

    def _id_values(self, df: Any) -> Any:
        column = self.config.get("id_column")
        if not column:
            raise DataError(f"experiment {self.name!r} has no id column: start it with "
                            "--id-column COL (id_column=) or pass ids=")
        if column not in df.columns:
            raise DataError(f"the table has no id column {column!r} (experiment {self.name!r} "
                            "routes by it): add it to the input")
        return df[column]

    def _score(self, arm: str, rows: Any, report: bool) -> Any:
        """``predict_table`` for one arm's rows; reports the batch to monitors when ``report``."""
        import zoo

        model = self._model(arm)
        column = self.config.get("id_column")
        # The id routes rows; a model that was not trained on it should not warn about it.
        used = set(getattr(model, "feature_names_in_", []))
        inputs = rows.drop(columns=[column]) if column in rows.columns and column not in used else rows
        start = time.perf_counter()
        scored = zoo.predict_table(model, inputs)
        seconds = time.perf_counter() - start
        if report:
            zoo.batch_predicted(self.registry, self._versions[arm], inputs, scored, seconds)
        out = rows.copy()
        for name in scored.columns.difference(inputs.columns, sort=False):
            out[name] = scored[name]
        out.attrs["seconds"] = seconds
        return out

    def _model(self, arm: str) -> Any:
        if arm not in self._models:
            ref = self.config["arms"][arm]
            self._versions[arm] = self.registry.get(ref)
            # Not observed: predict fires one batch_predicted per arm and call itself,
            # as `zoo predict` does, instead of one per predict/predict_proba call.
            self._models[arm] = self.registry.load(ref, observed=False)
        return self._models[arm]

    def _log_shadow(self, arm: str, frame: Any, control: Any) -> None:
        # A shadow arm must never break what is served: if it cannot score these rows (a
        # column it needs, a plugin gone), say so and carry on with the control's answer.
        try:
            shadow = self._score(arm, frame, report=False)
            summary = {"experiment": self.name, "arm": arm, "control_arm": self.control,
                       "control": self.config["arms"][self.control],
                       **agreement(control, shadow, getattr(self._models[arm], "task", ""))}
            store.record_shadow(self.registry, self.name, arm, self.config["arms"][arm], len(frame),
                                shadow.attrs["seconds"], summary)
        except Exception as exc:  # any failure of the shadow is reported, never raised
            warnings.warn(f"shadow arm {arm} ({self.config['arms'][arm]}) skipped {len(frame)} rows: "
                          f"{type(exc).__name__}: {exc}", ShadowWarning, stacklevel=3)

    # --- outcomes ---

    def record(self, ids: Any, values: Any, arms: Any = None, update: bool = False) -> int:
        """Record an outcome (a number; 0/1 for conversions) for each unit; returns how many
        were written, new or updated (``self.recorded``: written and unchanged).

        One outcome per unit: recording the same unit with the same value again changes
        nothing; a different value (or arm) is an error unless ``update`` replaces it.

        Each unit's arm is ``arms`` when given, else where routing sends it now. After a
        bandit step has moved the split, units near the boundary may have been served by the
        other arm: pass the ``arm`` column ``predict`` returned to attribute them exactly.
        """
        values = _numbers(values)
        unit_ids = routing.id_strings(ids)
        if len(unit_ids) != len(values):
            raise DataError(f"{len(unit_ids)} ids and {len(values)} outcome values: give one value per id")
        if arms is None:
            if self.mode == "bandit" and len(self.config.get("history", [])) > 1:
                warnings.warn(f"experiment {self.name!r} has moved its split since it started: "
                              "outcomes go to each unit's current arm; pass the arm each unit was "
                              "served (--arm-column) to attribute those near the boundary exactly",
                              stacklevel=2)
            arm_list = self.route(unit_ids).tolist()
        else:
            arm_list = [str(a) for a in (arms.tolist() if hasattr(arms, "tolist") else list(arms))]
            if len(arm_list) != len(values):
                raise DataError(f"{len(arm_list)} arms and {len(values)} outcome values: give one arm per id")
        if len(values) and self.config.get("outcome") == "auto" and not _all_binary(values):
            # Once one outcome is not 0/1, the experiment's metric is a mean, not a proportion.
            self.config = {**self.config, "outcome": "continuous"}
            store.update_experiment(self.registry, self.name, config=self.config)
        rows = list(zip(arm_list, unit_ids, values.tolist(), strict=True))
        written = store.record_outcomes(self.registry, self.name, rows, update=update)
        self.recorded = {"written": written, "unchanged": len(set(unit_ids)) - written}
        self.refresh()
        return written

    @property
    def binary(self) -> bool:
        """Whether outcomes are 0/1 (a proportion), judged from every outcome recorded so far."""
        if self.config.get("outcome") == "continuous":
            return False
        # A 0/1 value equals its square, so all-binary arms have sum == sum of squares.
        return all(abs((t["sum"] or 0) - (t["sum_sq"] or 0)) < 1e-9 for t in self.totals.values())

    # --- report and bandit ---

    def report(self, alpha: float = 0.05, seed: int = 0) -> dict[str, Any]:
        """Each arm's mean and interval, each challenger against the control (difference,
        interval, test, p-value) and a recommendation; see ``zoo_ab.stats``."""
        if not 0 < alpha < 1:
            raise ZooError(f"alpha must be between 0 and 1, got {alpha}")
        self.refresh()
        binary = self.binary
        empty = {"n": 0, "sum": 0.0, "sum_sq": 0.0}
        totals = {arm: {**empty, **self.totals.get(arm, {})} for arm in self.arms}
        level = 1 - alpha
        arms = []
        for arm in self.arms:
            t = totals[arm]
            arms.append({"arm": arm, "ref": self.config["arms"][arm], "share": self.split[arm],
                         **abstats.arm_summary(t["n"], t["sum"], t["sum_sq"], binary, level)})
        small = any(not abstats.enough_data(totals[a], binary) for a in self.arms)
        values = self._values_by_arm() if small else {}
        comparisons = []
        for arm in self.arms[1:]:
            result = abstats.compare(totals[self.control], totals[arm], binary, alpha,
                                     values.get(self.control), values.get(arm), seed)
            comparisons.append({"arm": arm, "against": self.control, **result})
        _adjust(comparisons)
        report = {
            "experiment": self.name, "mode": self.mode, "status": self.status,
            "metric": self.config.get("metric") or ("conversion" if binary else "mean outcome"),
            "outcome": "binary" if binary else "continuous",
            "higher_is_better": self.config.get("higher_is_better", True),
            "alpha": alpha, "control": self.control, "arms": arms, "comparisons": comparisons,
        }
        if self.mode == "bandit":
            report["probability_best"] = abstats.probability_best(
                totals, self.arms, binary, report["higher_is_better"], DRAWS, seed)
        if self.mode == "shadow":
            report["shadow"] = self.shadow_summary()
        report["recommendation"] = recommend(report)
        return report

    def _values_by_arm(self) -> dict[str, np.ndarray]:
        grouped: dict[str, list[float]] = {arm: [] for arm in self.arms}
        for row in store.outcomes(self.registry, self.name):
            grouped.setdefault(row["arm"], []).append(row["value"])
        return {arm: np.asarray(v, dtype=float) for arm, v in grouped.items()}

    def shadow_summary(self) -> dict[str, Any]:
        """Agreement of each shadow arm with the control over every logged shadow batch."""
        out = {}
        for arm in self.arms[1:]:
            batches = store.shadow_batches(self.registry, self.name, arm)
            rows = sum(b["rows"] for b in batches)
            entry: dict[str, Any] = {"ref": self.config["arms"][arm], "batches": len(batches), "rows": rows}
            for key in ("agreement", "mean_abs_diff"):
                weighted = [(b["summary"][key], b["rows"]) for b in batches
                            if b["summary"].get(key) is not None]
                weight = sum(w for _, w in weighted)
                entry[key] = sum(v * w for v, w in weighted) / weight if weight else None
            out[arm] = entry
        return out

    def update_bandit(self, seed: int | None = None) -> dict[str, Any]:
        """One Thompson-sampling step: each arm's new share is the posterior probability that it
        is best, floored at ``min_share``; stored in the registry. Returns the new split.

        ``seed`` defaults to one derived from the salt and the step number, so the same
        outcomes give the same split on any machine.
        """
        self.refresh()
        self.check_running("move traffic")
        if self.mode != "bandit":
            raise ZooError(f"experiment {self.name!r} is in {self.mode} mode: only a bandit moves "
                           "traffic (start one with --mode bandit)")
        history = list(self.config.get("history", []))
        if seed is None:
            seed = int(self.config["salt"][:8], 16) + len(history)
        higher = self.config.get("higher_is_better", True)
        p_best = abstats.probability_best(self.totals, self.arms, self.binary, higher, DRAWS, seed)
        split = abstats.floored_split(p_best, self.config.get("min_share", 0.05))
        history.append({"at": _now(), "split": split, "probability_best": p_best,
                        "n": {arm: int(self.totals.get(arm, {}).get("n", 0)) for arm in self.arms}})
        config = {**self.config, "split": split, "history": history[-HISTORY_LIMIT:]}
        store.update_experiment(self.registry, self.name, config=config)
        self.refresh()
        return {"experiment": self.name, "split": split, "probability_best": p_best, "seed": seed,
                "n": history[-1]["n"]}

    def stop(self) -> None:
        """Stop the experiment: no more scoring or bandit steps; late outcomes are still recorded."""
        store.update_experiment(self.registry, self.name, status="stopped")
        self.refresh()

    def check_running(self, what: str) -> None:
        """A one-line error unless the experiment is running; ``what`` says what was refused."""
        if self.status != "running":
            raise ZooError(f"experiment {self.name!r} is stopped and cannot {what}: start a new "
                           "experiment (or read its result with zoo ab report)")


# --- helpers ---


def agreement(control: Any, shadow: Any, task: str) -> dict[str, Any]:
    """How far a shadow arm's predictions are from the control's on the same rows.

    Classifiers: the share of rows with the same predicted class, and the mean over rows of
    the largest absolute difference between the two arms' class probabilities. Regressors:
    the mean absolute difference and the correlation of the predictions.
    """
    a, b = control["prediction"], shadow["prediction"]
    out: dict[str, Any] = {"rows": int(len(a)), "agreement": None, "mean_abs_diff": None}
    if task == "classification":
        out["agreement"] = float(np.mean(a.to_numpy() == b.to_numpy())) if len(a) else None
        columns = [c for c in control.columns if str(c).startswith("proba_") and c in shadow.columns]
        if columns and len(a):
            gap = np.abs(control[columns].to_numpy(float) - shadow[columns].to_numpy(float)).max(axis=1)
            out["mean_abs_diff"] = float(gap.mean())
        out["control_classes"] = {str(k): int(v) for k, v in a.value_counts().items()}
        out["shadow_classes"] = {str(k): int(v) for k, v in b.value_counts().items()}
        return out
    x, y = a.to_numpy(float), b.to_numpy(float)
    if len(x):
        out["mean_abs_diff"] = float(np.mean(np.abs(x - y)))
        out["control_mean"], out["shadow_mean"] = float(x.mean()), float(y.mean())
        if len(x) > 1 and x.std() > 0 and y.std() > 0:
            out["correlation"] = float(np.corrcoef(x, y)[0, 1])
    return out


def recommend(report: dict[str, Any]) -> dict[str, Any]:
    """``promote B``, ``keep A`` or ``keep collecting`` with the reason, from a report."""
    control = report["control"]
    if report["mode"] == "shadow":
        parts = []
        for arm, s in report["shadow"].items():
            if s["rows"]:
                measure = (f"agreed with {control} on {s['agreement']:.1%} of"
                           if s["agreement"] is not None else
                           f"differed from {control} by {s['mean_abs_diff']:.4g} on average over")
                parts.append(f"{arm} {measure} {s['rows']:,} rows")
        seen = "; ".join(parts) or "no rows scored yet"
        return {"action": "keep", "arm": control, "text": f"keep {control}",
                "reason": f"shadow mode measures agreement, not outcomes ({seen}); to test outcomes "
                          "start a split or bandit experiment"}
    alpha, higher = report["alpha"], report["higher_is_better"]
    binary = report["outcome"] == "binary"
    comparisons = report["comparisons"]
    counts = {a["arm"]: a["n"] for a in report["arms"]}
    if any(not c["enough_data"] for c in comparisons):
        smallest = min(counts.values())
        need = [c["needed_per_arm"] for c in comparisons if c["needed_per_arm"]]
        more = f"; the observed effect needs about {max(need):,} per arm at 80% power" if need else ""
        return {"action": "collect", "arm": None, "text": "keep collecting",
                "reason": f"too few outcomes to decide (smallest arm has {smallest:,}); wait for "
                          f"{abstats.minimum_note(binary)}{more}"}
    winners = [c for c in comparisons if c["p_adjusted"] is not None and c["p_adjusted"] < alpha
               and (c["diff"] > 0) == higher]
    if winners:
        best = max(winners, key=lambda c: c["diff"] if higher else -c["diff"])
        return {"action": "promote", "arm": best["arm"], "text": f"promote {best['arm']}",
                "reason": f"{best['arm']} beats {control} by {_effect(best, binary)} "
                          f"(p = {best['p_adjusted']:.2g} < {alpha})"}
    # Not significant: worth collecting more only for a challenger that looks better and
    # whose effect could be confirmed with a sensible amount of extra data.
    pending = []
    for c in comparisons:
        looks_better = c["diff"] != 0 and (c["diff"] > 0) == higher
        if not looks_better or not c["needed_per_arm"] or (c["p_adjusted"] or 1) < alpha:
            continue
        more = c["needed_per_arm"] - min(counts[c["arm"]], counts[control])
        if 0 < more <= abstats.HOPELESS * max(counts.values()):
            pending.append((more, c))
    if pending:
        more, c = max(pending, key=lambda item: item[0])
        return {"action": "collect", "arm": None, "text": "keep collecting",
                "reason": f"need about {_round_up(more):,} more units per arm to confirm the observed "
                          f"effect of {c['arm']} ({_effect(c, binary)}) at 80% power"}
    reasons = []
    for c in comparisons:
        ci = f"{_diff_text(c['ci_low'], binary)} to {_diff_text(c['ci_high'], binary)}"
        text = (f"{c['arm']} - {control} = {_effect(c, binary)}, {1 - alpha:.0%} CI {ci}, "
                f"p = {c['p_adjusted']:.2g}")
        if (c["p_adjusted"] or 1) < alpha:
            text = f"{c['arm']} is worse: " + text
        elif c["diff"] != 0 and (c["diff"] > 0) == higher and c["needed_per_arm"]:
            text += f"; confirming it would take about {_round_up(c['needed_per_arm']):,} units per arm"
        else:
            text = f"{c['arm']} shows no improvement: " + text
        reasons.append(text)
    return {"action": "keep", "arm": control, "text": f"keep {control}", "reason": "; ".join(reasons)}


def _diff_text(value: float | None, binary: bool) -> str:
    if value is None:
        return "?"
    return f"{value * 100:+.2f} pp" if binary else f"{value:+.4g}"


def _effect(c: dict[str, Any], binary: bool) -> str:
    return _diff_text(c["diff"], binary) + (f" ({c['lift']:+.1%})" if c.get("lift") is not None else "")


def _round_up(n: int) -> int:
    """Two significant figures, rounded up: "about 3,400 more", not "3,391 more"."""
    if n < 100:
        return int(n)
    step = 10 ** (int(math.log10(n)) - 1)
    return int(math.ceil(n / step) * step)


def _adjust(comparisons: list[dict[str, Any]]) -> None:
    """Bonferroni over the challengers: with k of them, each is tested at alpha / k."""
    from zoo.drift import adjust

    adjusted = adjust([c["p_value"] for c in comparisons], "bonferroni")
    for c, p in zip(comparisons, adjusted, strict=True):
        c["p_adjusted"] = p


def _arm_refs(arms: Mapping[str, str] | Sequence[str]) -> dict[str, str]:
    if isinstance(arms, Mapping):
        named = {str(k): str(v) for k, v in arms.items()}
    elif isinstance(arms, str):
        raise ZooError("arms must be several refs, e.g. {'A': 'churn@champion', 'B': 'churn@challenger'}")
    else:
        refs = [str(r) for r in arms]
        if len(refs) > 26:
            raise ZooError(f"{len(refs)} arms: name them with a dict (at most 26 get letters)")
        named = {chr(ord("A") + i): ref for i, ref in enumerate(refs)}
    if len(named) < 2:
        raise ZooError("an experiment needs at least two arms, e.g. --arm A=churn@champion "
                       "--arm B=churn@challenger")
    for arm in named:
        if not arm or any(ch in arm for ch in "=,") or arm != arm.strip() or len(arm) > 64:
            raise ZooError(f"arm name {arm!r} is not usable: use a short name without '=' or ',', "
                           "like A or control")
    return named


def _shares(split: Mapping[str, float] | Sequence[float] | None, arms: list[str],
            allow_zero: bool = False) -> dict[str, float]:
    """Fractions per arm from a split given as fractions (sum 1) or percentages (sum 100)."""
    if split is None:
        return {arm: 1.0 / len(arms) for arm in arms}
    if isinstance(split, Mapping):
        unknown = sorted(set(map(str, split)) - set(arms))
        if unknown:
            raise ZooError(f"the split names arm {unknown[0]!r}, which is not one of {', '.join(arms)}")
        values = [split.get(arm, 0.0) for arm in arms]
    else:
        values = list(split)
        if len(values) != len(arms):
            raise ZooError(f"the split has {len(values)} shares for {len(arms)} arms: give one per "
                           f"arm, e.g. {','.join(str(round(100 / len(arms))) for _ in arms)}")
    try:
        numbers = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ZooError(f"the split {values} is not numbers: write it like 50,50") from None
    if any(not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero) for v in numbers):
        raise ZooError(f"every share of the split must be a positive number, got {values}")
    total = sum(numbers)
    if abs(total - 100) < 1e-6:
        return {arm: v / 100 for arm, v in zip(arms, numbers, strict=True)}
    if abs(total - 1) < 1e-9:
        return dict(zip(arms, numbers, strict=True))
    raise ZooError(f"the split sums to {total:g}: it must sum to 100 (percent), e.g. 50,50 or 90,10")


def _check_versions(versions: dict[str, dict[str, Any]]) -> None:
    seen: dict[str, str] = {}
    for arm, v in versions.items():
        if v.get("kind") != "predictor":
            raise ZooError(f"arm {arm} is {v['ref']}, a {v.get('kind')}: A/B tests compare "
                           "classifiers or regressors")
        if v["ref"] in seen:
            raise ZooError(f"arms {seen[v['ref']]} and {arm} are both {v['ref']}: compare two "
                           "different versions")
        seen[v["ref"]] = arm
    tasks = {v["task"] for v in versions.values()}
    if len(tasks) > 1:
        raise ZooError(f"the arms mix tasks ({', '.join(sorted(tasks))}): compare versions that "
                       "predict the same thing")


def _numbers(values: Any) -> np.ndarray:
    if not isinstance(values, pd.Series):
        values = pd.Series(values if hasattr(values, "dtype") else list(values))
    series = values
    if series.dtype == bool:
        series = series.astype(float)
    numeric = pd.to_numeric(series, errors="coerce")
    bad = numeric.isna().to_numpy() | ~np.isfinite(numeric.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataError(f"outcome value {series.iloc[first]!r} (row {first + 1}) is not a finite number: "
                        "outcomes are numbers, 0/1 for conversions")
    return numeric.to_numpy(dtype=float)


def _all_binary(values: np.ndarray) -> bool:
    return bool(np.all((values == 0) | (values == 1)))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
