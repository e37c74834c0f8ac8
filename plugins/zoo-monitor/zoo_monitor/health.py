"""``monitor.health``: one number from 0 to 100 for how well a version is doing on new data.

The drift decisions come from a drift test of the catalogue (``drift.auto`` by default)
and the effect sizes from ``drift.psi``, both from the zoo-drift plugin; performance is
scored with the same metrics as the version's stored validation metrics
(``zoo.metrics.score``).
"""

from __future__ import annotations

import math
from typing import Any

from zoo import DataError, Monitor, ZooError

#: Alert severity by health, lowest band first: below 20 CRITICAL, below 40 HIGH, ...
HEALTH_BANDS = ((20.0, "CRITICAL"), (40.0, "HIGH"), (60.0, "MEDIUM"), (80.0, "LOW"))
#: Metrics on a 0-1 scale where larger is better; their drop is relative to the stored value.
#: r2 is compared by its absolute drop (it is already a share of variance, and may be near 0).
HIGHER_IS_BETTER = ("accuracy", "roc_auc", "f1")
ABSOLUTE = ("r2",)
LOSSES = ("log_loss", "rmse", "mae")
#: Metrics reported but left out of the score: log loss's relative change swings by half
#: between clean samples of a few hundred rows (measured: +53% on 269 clean breast-cancer rows).
UNSCORED = ("log_loss",)
#: The metric the ``performance`` check watches, by task (as ``zoo compare`` decides on).
HEADLINE = {"classification": "roc_auc", "regression": "rmse"}
#: PSI bands of the ``prediction_shift`` check (only when the drift test also flags the predictions).
PREDICTION_BANDS = ((0.5, "HIGH"), (0.2, "MEDIUM"), (0.0, "LOW"))
EFFECT_TEST = "drift.psi"


class HealthMonitor(Monitor):
    """Health score 0-100 from feature drift and metric drops, with severity-banded alerts.

    ``health = clip(100 - drift_penalty - performance_penalty, 0, 100)`` where

    - ``drift_penalty = drift_weight * (1 - exp(-s / drift_scale))``. ``s`` is the weighted
      share of drifted features: ``s = sum_f flag_f * min(1, e_f / effect_full) / p`` over
      the ``p`` features of the reference, with ``flag_f`` the drift test's decision after its
      multiple-testing correction and ``e_f`` the feature's effect size: its population
      stability index less the PSI two samples of one distribution show on average,
      ``(bins - 1)(1/n + 1/m)`` (``drift.psi``'s bins, the two samples' sizes). A flagged
      feature with a large shift counts fully, one with a tiny (but significant) shift
      little. When a joint test (``drift.mmd``, ``drift.classifier``) flags the table as a
      whole, every feature counts by its effect size, which is coarser. With the defaults,
      1 of 30 features fully drifted
      costs 12 points, 3 of 30 cost 32 and all of them 80.
    - ``performance_penalty = performance_weight * (1 - exp(-g / performance_scale))`` when
      labels are given. ``g`` is the mean over the version's stored metrics of the metric's
      degradation beyond ``tolerance``: ``max(0, d_m - tolerance)`` with ``d_m`` the relative
      drop of accuracy, roc_auc or f1, the relative rise of rmse or mae, the absolute drop of
      r2, each capped at 1. log_loss is reported but not scored: its relative change is too
      noisy on samples of a few hundred rows. With the defaults every metric 5% worse costs
      21 points, 10% 44 and 20% 67.

    - With labels, performance is measured rather than guessed at: when no scored metric is
      worse than at validation, the drift penalty is multiplied by ``labelled_drift`` (0.25),
      so drifted features whose model still does as well cost a quarter as much; once a
      metric is worse, drift counts fully beside the performance penalty. The result's
      ``drivers`` gives each part's points and ``explanation`` says in words what drove
      the score.

    Both penalties grow with more drift and with worse metrics, so the score is monotone.
    Severity: below 80 LOW, 60 MEDIUM, 40 HIGH, 20 CRITICAL (check ``health``). Further checks:
    ``performance`` (the task's headline metric, roc_auc or rmse, worse by more than
    ``performance_drop``: MEDIUM, twice that HIGH, four times CRITICAL), ``prediction_shift``
    (the drift test flags the model's outputs; severity by their PSI: below 0.2 LOW, 0.5
    MEDIUM, else HIGH) and ``latency`` (``check_latency`` on recorded batches).
    """

    component = "monitor.health"

    def __init__(self, drift_test: str = "drift.auto", alpha: float = 0.05, correction: str = "bh",
                 effect_full: float = 0.2, drift_weight: float = 80.0, drift_scale: float = 0.2,
                 performance_weight: float = 80.0, performance_scale: float = 0.1,
                 tolerance: float = 0.02, performance_drop: float = 0.1, latency_factor: float = 3.0,
                 cooldown: float = 3600.0, labelled_drift: float = 0.25):
        self.store_params(locals())

    # --- fitting ---

    def fit(self, reference: Any, predictions: Any = None, baseline: dict[str, Any] | None = None
            ) -> HealthMonitor:
        """Learn healthy from ``reference`` (a DataFrame) and the model's ``predictions`` on it.

        ``baseline`` describes the version (``baseline_of(version)`` builds it): ``task``,
        ``classes``, ``target`` (dropped from the reference), ``features`` (the columns
        tested; default: every reference column but the target) and ``metrics`` (the stored
        validation metrics performance is compared with).
        """
        self._check_params()
        baseline = dict(baseline or {})
        target = baseline.get("target")
        features = list(baseline.get("features") or [c for c in reference.columns if c != target])
        missing = [c for c in features if c not in reference.columns]
        if missing:
            raise DataError(f"the reference sample has no column {missing[0]!r}; "
                            "it must hold every feature the model uses")
        self.features_ = features
        self.baseline_ = {"task": baseline.get("task", ""), "classes": baseline.get("classes"),
                          "metrics": dict(baseline.get("metrics") or {}), "target": target}
        self.drift_ = self._drift_test().fit(reference[features])
        self.effect_ = self._effect_test().fit(reference[features])
        self.outputs_ = None
        if predictions is not None:
            frame = self._prediction_frame(predictions)
            self.outputs_ = list(frame.columns)
            self.prediction_drift_ = self._drift_test().fit(frame)
            self.prediction_effect_ = self._effect_test().fit(frame)
        return self

    # --- observing a batch ---

    def observe(self, X: Any, predictions: Any = None, y: Any = None) -> dict[str, Any]:
        """Health of batch ``X`` (a DataFrame holding every reference feature).

        ``predictions`` are the model's outputs on ``X`` (class probabilities, values or
        anomaly scores; an array or ``zoo predict``'s table); with labels ``y`` performance
        is scored too. Returns ``{"health", "drift", "performance", "prediction_shift",
        "alerts": [{"check", "severity", "message", "details"}]}``.
        """
        if not hasattr(self, "drift_"):
            raise ZooError("monitor.health is not fitted: call fit(reference) first")
        missing = [c for c in self.features_ if c not in X.columns]
        if missing:
            raise DataError(f"the data has no column {missing[0]!r}, which the reference sample "
                            "holds; add it (the model was trained with it)")
        drift = self._drift(X[self.features_])
        performance = self._performance(predictions, y) if y is not None else {}
        shift = self._prediction_shift(predictions) if predictions is not None else {}
        drift["discounted"] = bool(performance) and not any(
            v > 0 for k, v in performance["drops"].items() if k not in UNSCORED)
        if drift["discounted"]:
            # Labels show the model doing as well as at validation: the drift is not hurting it.
            drift["penalty"] *= self.labelled_drift
        penalty = drift["penalty"] + performance.get("penalty", 0.0)
        health = round(min(100.0, max(0.0, 100.0 - penalty)), 1)
        drivers = {"drift": round(drift["penalty"], 1)}
        if performance:
            drivers["performance"] = round(performance["penalty"], 1)
        result = {"health": health, "rows": int(len(X)), "drift": drift, "performance": performance,
                  "prediction_shift": shift, "drivers": drivers,
                  "explanation": _explain(health, drift, performance, self.labelled_drift)}
        result["alerts"] = self._alerts(result)
        return result

    def check_latency(self, batches: list[dict[str, Any]], recent: int = 5) -> dict[str, Any] | None:
        """A ``latency`` alert when the ``recent`` newest batches take ``latency_factor`` times
        longer per row (median) than the older ones of the same version; ``None`` otherwise.

        ``batches`` are ``zoo_monitor.store.batches(registry, ref)``'s rows, newest first.
        Needs at least ``recent`` older batches to compare with.
        """
        import numpy as np

        per_row = [b["seconds"] / b["rows"] for b in batches if b.get("rows") and b["seconds"] > 0]
        if len(per_row) < 2 * recent:
            return None
        now, before = float(np.median(per_row[:recent])), float(np.median(per_row[recent:]))
        if before <= 0 or now < self.latency_factor * before:
            return None
        ratio = now / before
        severity = "MEDIUM" if ratio >= 3 * self.latency_factor else "LOW"
        return {"check": "latency", "severity": severity,
                "message": f"the last {recent} batches took {ratio:.1f}x longer per row than the "
                           f"{len(per_row) - recent} before them "
                           f"({now * 1e6:.1f} vs {before * 1e6:.1f} µs/row)",
                "details": {"ratio": ratio, "us_per_row": now * 1e6, "us_per_row_before": before * 1e6}}

    # --- the parts of the score ---

    def _drift(self, current: Any) -> dict[str, Any]:
        result = self.drift_.test(current)
        effects = self.effect_.test(current)
        psi = {row["feature"]: _finite(row.get("statistic")) for row in effects["features"]}
        sizes = effects.get("rows") or {}
        # PSI's expected value between two samples of one distribution, (bins - 1)(1/n + 1/m),
        # is no shift: 0.1 for 10 bins at n = 135, m = 240. Only what exceeds it weighs.
        noise = {row["feature"]: (row.get("bins", 1) - 1) * (1 / sizes["reference"] + 1 / sizes["current"])
                 for row in effects["features"] if sizes.get("reference") and sizes.get("current")}
        known = set(self.features_)
        # A joint test (MMD, a classifier test) answers for all features at once in one row.
        joint = [row for row in result["features"] if row["feature"] not in known]
        flagged = {row["feature"] for row in result["features"] if row["drift"] and row["feature"] in known}
        if any(row["drift"] for row in joint):
            flagged = set(self.features_)
        features = []
        for name in self.features_:
            row = next((r for r in result["features"] if r["feature"] == name), {"feature": name})
            effect = psi.get(name)
            weight = 0.0
            if name in flagged:  # no effect size: count the flag fully rather than not at all
                excess = None if effect is None else max(0.0, effect - noise.get(name, 0.0))
                weight = 1.0 if excess is None else min(1.0, excess / self.effect_full)
            features.append({**row, "drift": name in flagged, "psi": effect, "psi_noise": noise.get(name),
                             "weight": weight})
        p = max(len(features), 1)
        share = sum(f["weight"] for f in features) / p
        penalty = self.drift_weight * (1.0 - math.exp(-share / self.drift_scale))
        return {"drift": result["drift"], "test": self.drift_.component, "alpha": result.get("alpha"),
                "correction": result.get("correction"), "p_value": result.get("p_value"),
                "drifted": [f["feature"] for f in features if f["drift"]], "joint": joint,
                "share": len(flagged) / p, "weighted_share": share, "penalty": penalty,
                "features": features}

    def _performance(self, predictions: Any, y: Any) -> dict[str, Any]:
        import numpy as np

        from zoo.metrics import score

        task, stored = self.baseline_["task"], self.baseline_["metrics"]
        if task not in ("classification", "regression"):
            raise ZooError(f"performance needs a classifier or a regressor, not a {task or 'unknown'} "
                           "model: drop the labels (--target)")
        if predictions is None:
            raise ZooError("scoring performance needs the model's predictions on the data")
        outputs = self._outputs(predictions)
        y = np.asarray(y)
        if len(y) != len(outputs):
            raise DataError(f"{len(y)} labels for {len(outputs)} predictions: give one label per row")
        try:
            current = score(task, y, outputs, self.baseline_["classes"])
        except ValueError as exc:  # e.g. a label the model never saw
            raise DataError(f"cannot score the labels: {exc}; the labels must be classes the model "
                            "was trained on") from None
        drops, degradation = {}, []
        for key, now in current.items():
            then = _finite(stored.get(key))
            now = _finite(now)
            if then is None or now is None:
                continue
            drop = _drop(key, then, now)
            if drop is None:
                continue
            drops[key] = drop
            if key not in UNSCORED:
                degradation.append(max(0.0, drop - self.tolerance))
        g = sum(degradation) / len(degradation) if degradation else 0.0
        penalty = self.performance_weight * (1.0 - math.exp(-g / self.performance_scale))
        return {"rows": int(len(y)), "metrics": current, "baseline": stored, "drops": drops,
                "degradation": g, "penalty": penalty}

    def _prediction_shift(self, predictions: Any) -> dict[str, Any]:
        if self.outputs_ is None:
            return {}
        frame = self._prediction_frame(predictions)
        result = self.prediction_drift_.test(frame[self.outputs_])
        effects = self.prediction_effect_.test(frame[self.outputs_])["features"]
        psi = [v for v in (_finite(r.get("statistic")) for r in effects) if v is not None]
        return {"drift": result["drift"], "p_value": result.get("p_value"), "outputs": self.outputs_,
                "psi": max(psi) if psi else None}

    def _alerts(self, result: dict[str, Any]) -> list[dict[str, Any]]:
        alerts = [self._health_alert(result), self._performance_alert(result["performance"]),
                  self._shift_alert(result["prediction_shift"])]
        return [a for a in alerts if a is not None]

    def _health_alert(self, result: dict[str, Any]) -> dict[str, Any] | None:
        health, drift, perf = result["health"], result["drift"], result["performance"]
        severity = severity_of(health)
        if severity is None:
            return None
        parts = []
        drifted = drift["drifted"]
        if drifted:
            names = ", ".join(map(str, drifted[:5])) + (", ..." if len(drifted) > 5 else "")
            parts.append(f"{len(drifted)} of {len(drift['features'])} features drifted ({names})")
        scored = [(k, v) for k, v in perf.get("drops", {}).items() if k not in UNSCORED and v > 0]
        parts += [f"{k} {v:.0%} worse" for k, v in sorted(scored, key=lambda kv: -kv[1])[:2]]
        return {"check": "health", "severity": severity,
                "message": f"health {health:.0f}/100: " + "; ".join(parts),
                "details": {"health": health, "drifted": drifted, "drops": perf.get("drops", {})}}

    def _performance_alert(self, perf: dict[str, Any]) -> dict[str, Any] | None:
        headline = HEADLINE.get(self.baseline_["task"])
        drop = perf.get("drops", {}).get(headline)
        if drop is None or drop <= self.performance_drop:
            return None
        severity = ("CRITICAL" if drop > 4 * self.performance_drop else
                    "HIGH" if drop > 2 * self.performance_drop else "MEDIUM")
        then, now = perf["baseline"][headline], perf["metrics"][headline]
        return {"check": "performance", "severity": severity,
                "message": f"{headline} {drop:.0%} worse ({then:.4g} at validation, {now:.4g} now, "
                           f"{perf['rows']} rows)",
                "details": {"metric": headline, "validation": then, "current": now, "drop": drop}}

    def _shift_alert(self, shift: dict[str, Any]) -> dict[str, Any] | None:
        if not shift.get("drift"):
            return None
        psi = shift.get("psi") or 0.0
        severity = next(s for bound, s in PREDICTION_BANDS if psi >= bound)
        p = f", p {shift['p_value']:.2g}" if shift.get("p_value") is not None else ""
        return {"check": "prediction_shift", "severity": severity,
                "message": f"the model's outputs ({', '.join(shift['outputs'])}) moved from their "
                           f"distribution on the reference sample: PSI {psi:.3f}{p}",
                "details": {"psi": psi, "p_value": shift.get("p_value")}}

    # --- helpers ---

    def _check_params(self) -> None:
        """One-line errors for bad parameters, before any data is read."""
        from zoo.drift import check_correction

        self.correction = check_correction(self.correction)
        if not isinstance(self.alpha, (int, float)) or not 0 < self.alpha < 1:
            raise ZooError(f"monitor.health: alpha must be between 0 and 1, got {self.alpha!r}")
        self._drift_test()  # an unknown drift test is named now
        for name in ("effect_full", "drift_scale", "performance_scale"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not value > 0:
                raise ZooError(f"monitor.health: {name} must be a number above 0, got {value!r}")
        for name in ("drift_weight", "performance_weight", "tolerance", "performance_drop", "cooldown"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not value >= 0:
                raise ZooError(f"monitor.health: {name} must be a number >= 0, got {value!r}")
        if not isinstance(self.labelled_drift, (int, float)) or not 0 <= self.labelled_drift <= 1:
            raise ZooError("monitor.health: labelled_drift must be between 0 and 1, "
                           f"got {self.labelled_drift!r}")

    def _drift_test(self) -> Any:
        return _catalogue_test(self.drift_test, alpha=self.alpha, correction=self.correction)

    def _effect_test(self) -> Any:
        return _catalogue_test(EFFECT_TEST)

    def _outputs(self, predictions: Any) -> Any:
        """Class probabilities (rows x classes) or values as an array, from an array or a table."""
        import numpy as np

        columns = getattr(predictions, "columns", None)
        if columns is None:
            return np.asarray(predictions, dtype=float)
        classes = self.baseline_["classes"]
        if self.baseline_["task"] == "classification" and classes is not None:
            names = [f"proba_{c}" for c in classes]
            if all(n in columns for n in names):
                return predictions[names].to_numpy(dtype=float)
        for name in ("prediction", "anomaly_score"):
            if name in columns:
                return predictions[name].to_numpy(dtype=float)
        raise DataError("the predictions table has no prediction, proba_<class> or anomaly_score column")

    def _prediction_frame(self, predictions: Any) -> Any:
        """The model's outputs as a DataFrame for the drift tests: a binary classifier's
        P(class 1), each class's probability for multiclass, else the values or scores."""
        import pandas as pd

        out = self._outputs(predictions)
        if out.ndim == 2:
            classes = self.baseline_["classes"] or list(range(out.shape[1]))
            if out.shape[1] == 2:
                return pd.DataFrame({f"proba_{classes[1]}": out[:, 1]})
            return pd.DataFrame({f"proba_{c}": out[:, k] for k, c in enumerate(classes)})
        name = "anomaly_score" if self.baseline_["task"] == "anomaly" else "prediction"
        return pd.DataFrame({name: out})


def baseline_of(version: dict[str, Any]) -> dict[str, Any]:
    """What ``HealthMonitor.fit`` needs to know about a registered version."""
    meta = version.get("metadata") or {}
    return {"task": version.get("task", ""), "classes": meta.get("classes"),
            "target": meta.get("target"), "features": meta.get("feature_names"),
            "metrics": version.get("metrics") or {}}


def severity_of(health: float) -> str | None:
    """The alert severity of a health score, ``None`` at 80 and above."""
    for bound, severity in HEALTH_BANDS:
        if health < bound:
            return severity
    return None


def _catalogue_test(name: str, **params: Any) -> Any:
    from zoo import NotFoundError, build_catalogue

    catalogue = build_catalogue()
    qualified = name if "." in name else f"drift.{name}"
    try:
        info = catalogue.get(qualified, kind="drift_test")
    except NotFoundError as exc:
        if not catalogue.of_kind("drift_test"):
            raise ZooError("no drift test installed: the health monitor needs zoo-drift "
                           "(zoo install zoo-drift)") from None
        raise exc from None
    return info.create(**{k: v for k, v in params.items() if k in info.params})


def _explain(health: float, drift: dict[str, Any], perf: dict[str, Any], factor: float) -> str:
    """What drove a health score, in words: the points each part cost and why."""
    n, p = len(drift["drifted"]), len(drift["features"])
    parts = []
    if drift["penalty"] >= 0.05:
        weighed = f" (x{factor:g}: the labels show no metric worse)" if drift.get("discounted") else ""
        parts.append(f"drift of {n} of {p} features cost {drift['penalty']:.1f} points{weighed}")
    if perf:
        drops = {k: v for k, v in perf["drops"].items() if k not in UNSCORED}
        worse = sorted((kv for kv in drops.items() if kv[1] > 0), key=lambda kv: -kv[1])
        if perf["penalty"] >= 0.05:
            named = ", ".join(f"{k} {v:.1%} worse" for k, v in worse[:2])
            parts.append(f"labelled performance cost {perf['penalty']:.1f} points ({named})")
        elif drops and all(v <= 0 for v in drops.values()):
            parts.append("labelled performance is as good as or better than at validation")
        else:
            parts.append("labelled performance is within tolerance of validation")
    if not parts:
        return f"health {health:.0f}/100: no drift and no performance drop"
    main = "drift" if drift["penalty"] >= perf.get("penalty", 0.0) else "performance"
    if drift["penalty"] < 0.05 and perf.get("penalty", 0.0) < 0.05:
        return f"health {health:.0f}/100: " + "; ".join(parts)
    return f"health {health:.0f}/100, driven by {main}: " + "; ".join(parts)


def _drop(key: str, then: float, now: float) -> float | None:
    """How much worse ``now`` is than ``then`` for metric ``key``, capped at 1 (negative: better)."""
    if key in ABSOLUTE:
        return min(1.0, then - now)
    if abs(then) < 1e-12:
        return None  # a relative change from zero means nothing
    if key in HIGHER_IS_BETTER:
        return min(1.0, (then - now) / abs(then))
    if key in LOSSES:
        return min(1.0, (now - then) / abs(then))
    return None


def _finite(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None

