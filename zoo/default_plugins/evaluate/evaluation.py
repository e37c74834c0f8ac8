"""Evaluating versions: plots of held-out predictions, metrics with bootstrap confidence
intervals, paired significance tests between two versions, and model cards.

Plain numpy for the statistics (zoo does not depend on scipy or scikit-learn); matplotlib,
with the Agg backend, only inside the plotting functions.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

from zoo import DataError, ZooError
from zoo.clitools import pyplot

#: The extra artifact holding held-out metrics with confidence intervals.
ARTIFACT = "evaluation.json"
#: Plot artifacts a trained version carries, by task.
PLOTS = {"classification": ("confusion_matrix.png", "roc_curve.png"),
         "regression": ("residuals.png",)}
_MAX_POINTS = 5_000  # residual plots draw a seeded sample: a million dots say no more than this


# --- reading stored evaluation ---


def read_json_artifact(registry: Any, version: dict[str, Any], name: str) -> Any:
    """A version's extra JSON artifact ``name``, its sha256 checked first."""
    return json.loads(registry.read_verified(version, name))


# --- what a trained version keeps ---


def held_out_artifacts(model: Any, X_test: Any, y_test: Any, split: dict[str, Any],
                       directory: str | Path) -> dict[str, Path]:
    """A predictor's evaluation files from its held-out rows, written into ``directory``: the
    plots of its task (``PLOTS``) and ``evaluation.json`` (every metric with a bootstrap
    confidence interval, and ``split``: which rows were held out)."""
    import importlib.util

    directory = Path(directory)
    # Plots need the optional matplotlib (zoo-ml[plots]); the metrics never do.
    files = (plot_artifacts(model, X_test, y_test, directory)
             if importlib.util.find_spec("matplotlib") else {})
    y_values = y_test.to_numpy()
    # Fewer resamples on big test splits keep training fast; their intervals are narrow anyway.
    n_boot = max(50, min(200, 2_000_000 // max(len(y_values), 1)))
    record = metric_intervals(model.task, y_values, outputs(model, X_test),
                              getattr(model, "classes_", None), n_boot=n_boot)
    files[ARTIFACT] = directory / ARTIFACT
    files[ARTIFACT].write_text(json.dumps({**record, "split": split}))
    return files


# --- scoring ---


def outputs(model: Any, X: Any) -> Any:
    """What the metrics need from a model: class probabilities, or predicted values."""
    import numpy as np

    if model.task == "classification":
        return np.asarray(model.predict_proba(X), dtype=float)
    return np.asarray(model.predict(X), dtype=float)


def metric_intervals(task: str, y: Any, out: Any, classes: Any = None, n_boot: int = 200,
                     level: float = 0.95, seed: int = 0) -> dict[str, Any]:
    """Every metric with a percentile bootstrap confidence interval over the rows.

    Returns ``{"rows", "level", "n_boot", "metrics": {name: {"value", "low", "high"}}}``.
    """
    import numpy as np

    from zoo.metrics import score

    y = np.asarray(y)
    point = score(task, y, out, classes)
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {k: [] for k in point}
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        for key, value in score(task, y[idx], out[idx], classes).items():
            draws[key].append(value)
    tail = (1.0 - level) / 2.0 * 100
    result = {}
    for key, value in point.items():
        values = np.asarray(draws[key], dtype=float)
        values = values[np.isfinite(values)]
        low, high = (np.percentile(values, [tail, 100 - tail]) if len(values) else (math.nan, math.nan))
        result[key] = {"value": value, "low": float(low), "high": float(high)}
    return {"rows": int(len(y)), "level": level, "n_boot": n_boot, "metrics": result}


# --- paired significance tests ---


def mcnemar(correct_a: Any, correct_b: Any) -> dict[str, Any]:
    """McNemar's test on paired right/wrong outcomes of two classifiers on the same rows.

    Exact two-sided binomial p-value when fewer than 25 rows are discordant, else the
    chi-squared statistic with continuity correction.
    """
    import numpy as np

    a, b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    n = only_a + only_b
    if n == 0:
        return {"test": "mcnemar", "only_a_right": 0, "only_b_right": 0, "p_value": 1.0}
    if n < 25:
        tail = sum(math.comb(n, i) for i in range(min(only_a, only_b) + 1)) / 2.0**n
        p = min(1.0, 2.0 * tail)
        method = "exact"
    else:
        chi2 = (abs(only_a - only_b) - 1.0) ** 2 / n
        p = math.erfc(math.sqrt(chi2 / 2.0))  # survival function of chi-squared with 1 dof
        method = "chi2"
    return {"test": "mcnemar", "method": method, "only_a_right": only_a, "only_b_right": only_b,
            "p_value": float(p)}


def mcnemar_interval(only_a_right: int, only_b_right: int, rows: int,
                     level: float = 0.95) -> tuple[float, float]:
    """The interval of the accuracy difference B - A that McNemar's test inverts, so that it
    excludes 0 exactly when ``mcnemar``'s p-value is below ``1 - level``.

    Given the ``n`` discordant rows, the share B got right is binomial; its interval is
    Clopper-Pearson's when ``mcnemar`` is exact (fewer than 25), else Wilson's score interval
    with continuity correction (which inverts the corrected chi-squared), scaled to the
    difference ``n (2 pi - 1) / rows``.
    """
    from scipy import stats

    n, x = only_a_right + only_b_right, only_b_right
    if n == 0:
        return 0.0, 0.0
    alpha = 1.0 - level
    if n < 25:
        lo = stats.beta.ppf(alpha / 2, x, n - x + 1) if x > 0 else 0.0
        hi = stats.beta.ppf(1 - alpha / 2, x + 1, n - x) if x < n else 1.0
    else:
        z, p = stats.norm.ppf(1 - alpha / 2), x / n
        lo = 0.0 if x == 0 else (2 * n * p + z * z - 1 - z * math.sqrt(
            z * z - 2 - 1 / n + 4 * p * (n * (1 - p) + 1))) / (2 * (n + z * z))
        hi = 1.0 if x == n else (2 * n * p + z * z + 1 + z * math.sqrt(
            z * z + 2 - 1 / n + 4 * p * (n * (1 - p) - 1))) / (2 * (n + z * z))
    scale = n / rows
    return float(scale * (2 * lo - 1)), float(scale * (2 * hi - 1))


def paired_bootstrap(task: str, y: Any, out_a: Any, out_b: Any, classes: Any = None,
                     n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> dict[str, dict[str, Any]]:
    """For every metric: the difference B - A, its bootstrap interval and a two-sided p-value.

    Both models are scored on the same resampled rows each time, so what varies between
    rows cancels out. The p-value is twice the smaller share of resamples on either side
    of zero, and the interval's ends are the resamples at ``(1 - level) / 2`` from either
    end (lower order statistics), so the interval excludes 0 exactly when the p-value is
    below ``1 - level``: the two never contradict each other.
    """
    import numpy as np

    from zoo.metrics import score

    y = np.asarray(y)
    score_a, score_b = score(task, y, out_a, classes), score(task, y, out_b, classes)
    rng = np.random.default_rng(seed)
    diffs: dict[str, list[float]] = {k: [] for k in score_a}
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        sa, sb = score(task, y[idx], out_a[idx], classes), score(task, y[idx], out_b[idx], classes)
        for key in diffs:
            diffs[key].append(sb[key] - sa[key])
    tail = (1.0 - level) / 2.0 * 100
    result = {}
    for key in score_a:
        d = np.asarray(diffs[key], dtype=float)
        d = d[np.isfinite(d)]
        if len(d) == 0:
            result[key] = {"a": score_a[key], "b": score_b[key], "diff": math.nan,
                           "low": math.nan, "high": math.nan, "p_value": math.nan}
            continue
        below, above = np.mean(d <= 0), np.mean(d >= 0)
        # low > 0 iff below < tail, and high < 0 iff above < tail (inverted CDF on both sides).
        low = np.quantile(d, tail / 100, method="inverted_cdf")
        high = -np.quantile(-d, tail / 100, method="inverted_cdf")
        result[key] = {"a": score_a[key], "b": score_b[key], "diff": score_b[key] - score_a[key],
                       "low": float(low), "high": float(high),
                       "p_value": float(min(1.0, 2.0 * min(below, above)))}
    return result


def compare(model_a: Any, model_b: Any, X: Any, y: Any, metric: str | None = None,
            alpha: float = 0.05, margin: float = 0.01, n_boot: int = 1000,
            seed: int = 0) -> dict[str, Any]:
    """Score two versions on the same labelled rows, test each metric's difference, recommend.

    Accuracy is tested with McNemar's test, every other metric with a paired bootstrap;
    each metric's interval (at level ``1 - alpha``) comes from the same test as its
    p-value, so an interval that excludes 0 always goes with p < alpha.
    The recommendation, on ``metric`` (ROC-AUC for classifiers, RMSE for regressors by
    default), is ``promote`` (B is significantly better than A), ``keep`` (A is
    significantly better, or the interval of the difference lies within ``margin`` — a
    relative change too small to act on — of no difference) or ``need more data``.
    """
    import numpy as np

    from zoo.data import as_target
    from zoo.metrics import DEFAULT_METRIC, HIGHER_IS_BETTER

    if model_a.task != model_b.task:
        raise ZooError(f"cannot compare a {model_a.task} model with a {model_b.task} one")
    task = model_a.task
    if task == "classification" and not np.array_equal(np.asarray(model_a.classes_).astype(str),
                                                        np.asarray(model_b.classes_).astype(str)):
        raise ZooError("the two classifiers were trained on different classes: "
                       f"{list(model_a.classes_)} and {list(model_b.classes_)}")
    metric = metric or DEFAULT_METRIC[task]
    y = as_target(y, len(X), numeric=task == "regression").to_numpy()
    out_a, out_b = outputs(model_a, X), outputs(model_b, X)
    classes = getattr(model_a, "classes_", None)
    tests = paired_bootstrap(task, y, out_a, out_b, classes, n_boot=n_boot, level=1 - alpha, seed=seed)
    if metric not in tests:
        raise ZooError(f"unknown metric {metric!r} for a {task} model: use one of {', '.join(tests)}")
    if task == "classification":
        index = {c: i for i, c in enumerate(np.asarray(classes).tolist())}
        truth = np.array([index[v] for v in y.tolist()])
        test = mcnemar(out_a.argmax(axis=1) == truth, out_b.argmax(axis=1) == truth)
        low, high = mcnemar_interval(test["only_a_right"], test["only_b_right"], len(truth), 1 - alpha)
        tests["accuracy"].update(p_value=test["p_value"], test="mcnemar", low=low, high=high,
                                 only_a_right=test["only_a_right"], only_b_right=test["only_b_right"])
    for key, t in tests.items():
        if t.setdefault("test", "paired bootstrap") == "paired bootstrap":
            t["resamples"] = n_boot
        t["significant"] = bool(t["p_value"] < alpha)
        sign = 1.0 if key in HIGHER_IS_BETTER else -1.0
        t["better"] = None if not t["significant"] else ("b" if sign * t["diff"] > 0 else "a")
    decision, reason = _recommend(metric, tests[metric], margin)
    return {"rows": int(len(y)), "metric": metric, "alpha": alpha, "margin": margin,
            "metrics": tests, "recommendation": decision, "reason": reason}


def _recommend(metric: str, t: dict[str, Any], margin: float) -> tuple[str, str]:
    if not math.isfinite(t["p_value"]):
        return "need more data", f"{metric} could not be computed on these rows"
    if t["significant"]:
        who = "B" if t["better"] == "b" else "A"
        verdict = "promote" if who == "B" else "keep"
        # A bootstrap p of 0 only says "below one in the number of resamples".
        p = f"p = {t['p_value']:.3g}" if t["p_value"] > 0 else f"p < {1 / t.get('resamples', 1):.2g}"
        return verdict, f"{who} is better on {metric} ({t['a']:.4g} vs {t['b']:.4g}, {p})"
    tolerance = margin * max(abs(t["a"]), 1e-12)
    if -tolerance <= t["low"] and t["high"] <= tolerance:
        return "keep", (f"no meaningful difference on {metric}: the difference lies in "
                        f"[{t['low']:.3g}, {t['high']:.3g}], within {margin:.0%} of A's value")
    return "need more data", (f"the difference on {metric} is not significant (p = {t['p_value']:.3g}) "
                              f"but could be as large as [{t['low']:.3g}, {t['high']:.3g}]: "
                              "score more labelled rows")


# --- plots ---


def plot_artifacts(model: Any, X: Any, y: Any, directory: str | Path) -> dict[str, Path]:
    """Write the held-out plots of the model's task into ``directory``; returns name -> path.

    Classifiers: ``confusion_matrix.png`` and ``roc_curve.png``; regressors: ``residuals.png``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    out = outputs(model, X)
    with warnings.catch_warnings():  # matplotlib's layout notes are no news to a user
        warnings.simplefilter("ignore")
        return _plot_task(model, X, y, out, directory)


def _plot_task(model: Any, X: Any, y: Any, out: Any, directory: Path) -> dict[str, Path]:
    import numpy as np

    from zoo.data import as_target

    if model.task == "classification":
        y = as_target(y, len(X)).to_numpy()
        paths = {"confusion_matrix.png": directory / "confusion_matrix.png",
                 "roc_curve.png": directory / "roc_curve.png"}
        plot_confusion_matrix(y, out, model.classes_, paths["confusion_matrix.png"])
        plot_roc_curves(y, out, model.classes_, paths["roc_curve.png"])
        return paths
    y = as_target(y, len(X), numeric=True).to_numpy(dtype=float)
    path = directory / "residuals.png"
    plot_residuals(y, np.asarray(out, dtype=float), path)
    return {"residuals.png": path}


def plot_confusion_matrix(y: Any, proba: Any, classes: Any, path: str | Path) -> None:
    """Counts of true (rows) against predicted (columns) classes, annotated."""
    import numpy as np

    classes = np.asarray(classes)
    index = {c: i for i, c in enumerate(classes.tolist())}
    truth = np.array([index[v] for v in np.asarray(y).tolist()])
    k = len(classes)
    matrix = np.zeros((k, k), dtype=int)
    np.add.at(matrix, (truth, np.asarray(proba).argmax(axis=1)), 1)
    plt = pyplot()
    size = min(4 + 0.4 * k, 12)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax)
    labels = [str(c) for c in classes]
    ax.set(xticks=range(k), yticks=range(k), xticklabels=labels, yticklabels=labels,
           xlabel="predicted", ylabel="true", title=f"Confusion matrix ({len(truth)} held-out rows)")
    if k <= 20:
        limit = matrix.max() / 2.0
        for i in range(k):
            for j in range(k):
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center",
                        color="white" if matrix[i, j] > limit else "black")
    plt.setp(ax.get_xticklabels(), rotation=45 if k > 4 else 0, ha="right" if k > 4 else "center")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def roc_points(positive: Any, score_values: Any) -> tuple[Any, Any]:
    """False- and true-positive rates at every distinct threshold, from (0, 0) to (1, 1)."""
    import numpy as np

    positive = np.asarray(positive, dtype=bool)
    order = np.argsort(-np.asarray(score_values, dtype=float), kind="mergesort")
    s = np.asarray(score_values, dtype=float)[order]
    hits = positive[order]
    last = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]  # end of each run of ties
    tp = np.cumsum(hits)[last]
    fp = (last + 1) - tp
    n_pos, n_neg = max(int(hits.sum()), 1), max(len(hits) - int(hits.sum()), 1)
    return np.r_[0.0, fp / n_neg], np.r_[0.0, tp / n_pos]


def plot_roc_curves(y: Any, proba: Any, classes: Any, path: str | Path) -> None:
    """ROC curve of the positive class (binary) or of each class against the rest."""
    import numpy as np

    from zoo.metrics import roc_auc

    classes = np.asarray(classes)
    y = np.asarray(y)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    shown = [1] if len(classes) == 2 else range(len(classes))
    for k in list(shown)[:12]:
        positive = y == classes[k]
        if positive.all() or not positive.any():
            continue
        fpr, tpr = roc_points(positive, proba[:, k])
        label = f"{classes[k]} (AUC {roc_auc(positive, proba[:, k]):.3f})"
        ax.plot(fpr, tpr, label=label)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.01),
           title="ROC curve" + (" (one class against the rest)" if len(classes) > 2 else ""))
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right", fontsize="small")
    else:
        ax.text(0.5, 0.55, "no curve: the held-out rows hold a single class", ha="center")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_residuals(y: Any, pred: Any, path: str | Path, seed: int = 0) -> None:
    """Residuals against predictions, and their histogram."""
    import numpy as np

    residuals = y - pred
    rng = np.random.default_rng(seed)
    shown = rng.choice(len(y), _MAX_POINTS, replace=False) if len(y) > _MAX_POINTS else slice(None)
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2), gridspec_kw={"width_ratios": [2, 1]})
    left.scatter(pred[shown], residuals[shown], s=6, alpha=0.5)
    left.axhline(0.0, color="grey", linewidth=1)
    left.set(xlabel="predicted", ylabel="true - predicted", title=f"Residuals ({len(y)} held-out rows)")
    right.hist(residuals, bins=40, orientation="horizontal")
    right.axhline(0.0, color="grey", linewidth=1)
    right.set(xlabel="rows", title=f"RMSE {np.sqrt(np.mean(residuals ** 2)):.4g}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# --- model cards ---

#: Tags a model card shows in its own sections, in this order.
CARD_TAGS = {"intended_use": "Intended use", "limitations": "Limitations",
             "out_of_scope": "Out-of-scope uses", "ethical_considerations": "Ethical considerations"}


def model_card(version: dict[str, Any], lineage: dict[str, Any] | None = None,
               model_tags: dict[str, str] | None = None,
               evaluation: dict[str, Any] | None = None, evaluation_source: str = "",
               conformal: dict[str, Any] | None = None) -> str:
    """A Markdown model card from what the registry knows about ``version``.

    ``evaluation`` is ``metric_intervals``' result (from data the user gave, or the
    version's stored ``evaluation.json``); ``evaluation_source`` says which.
    """
    tags = {**(model_tags or {}), **version.get("tags", {})}
    lines = [f"# Model card: {version['ref']}", ""]
    if version.get("description"):
        lines += [version["description"], ""]
    lines += ["## Model details", "",
              "| | |", "|---|---|",
              f"| component | `{version['component']}` ({version['kind']}, {version['task']}) |",
              f"| plugin | {version['plugin']} {version['plugin_version']} |",
              f"| created | {version['created_at']} |",
              f"| artifact | {version['artifact_format']}, sha256 `{version['artifact_sha256']}` |"]
    if version.get("aliases"):
        lines.append(f"| aliases | {', '.join(version['aliases'])} |")
    meta = version.get("metadata") or {}
    if meta.get("target"):
        lines.append(f"| target | `{meta['target']}` |")
    if meta.get("classes"):
        lines.append(f"| classes | {', '.join(map(str, meta['classes']))} |")
    lines.append("")
    if version.get("params"):
        lines += ["Parameters:", "", "| parameter | value |", "|---|---|"]
        lines += [f"| {k} | `{v!r}` |" for k, v in version["params"].items()]
        lines.append("")
    for key, title in CARD_TAGS.items():
        lines += [f"## {title}", ""]
        lines.append(_escape(tags[key]) if key in tags else
                     f"_Not recorded. Record it with `zoo tag {version['ref']} {key}=\"...\"`._")
        lines.append("")
    other = {k: v for k, v in tags.items() if k not in CARD_TAGS}
    if other:
        lines += ["Other tags:", "", "| tag | value |", "|---|---|"]
        lines += [f"| {k} | {_escape(v)} |" for k, v in other.items()]
        lines.append("")
    lines += ["## Training data", ""]
    data = version.get("data")
    if data:
        lines += [f"{data['rows']} rows, {len(data['schema'])} columns; sha256 `{data['sha256']}` "
                  "(of the schema and every value, as `zoo.data.fingerprint` computes it).", "",
                  "| column | type |", "|---|---|"]
        target = meta.get("target")
        lines += [f"| {c}{' (target)' if c == target else ''} | {t} |" for c, t in data["schema"].items()]
    else:
        lines.append("_No training-data fingerprint was recorded._")
    lines += ["", "## Metrics", ""]
    if evaluation:
        pct = f"{evaluation['level']:.0%}"
        lines += [f"On {evaluation['rows']} rows ({evaluation_source}); {pct} bootstrap confidence "
                  f"intervals from {evaluation['n_boot']} resamples of the rows.", "",
                  f"| metric | value | {pct} interval |", "|---|---|---|"]
        lines += [f"| {k} | {m['value']:.4f} | {m['low']:.4f} – {m['high']:.4f} |"
                  for k, m in evaluation["metrics"].items()]
    elif version.get("metrics"):
        lines += ["As recorded at registration (no confidence intervals: pass DATA and --target).", "",
                  "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v:.4f} |" for k, v in version["metrics"].items()]
    else:
        lines.append("_No metrics recorded._")
    lines.append("")
    if conformal:
        kind = {"lac": "conformal prediction sets", "cqr": "conformalized quantile regression",
                "split": "split conformal intervals"}[conformal["method"]]
        split = conformal.get("split") or {}
        lines += ["## Uncertainty", "",
                  f"`zoo predict {version['ref']} DATA --interval 0.9` gives {kind}, calibrated on "
                  f"{conformal['n_calibration']} held-out rows"
                  + (f" ({split.get('kind')} split, seed {split.get('seed')}, test size "
                     f"{split.get('test_size')})" if split else "") + ".", ""]
    plots = [name for name in version.get("artifacts", {}) if name.endswith(".png")]
    if plots:
        lines += ["## Plots", "", *[f"- `{name}`" for name in plots], "",
                  f"`zoo report {version['ref']}` prints their paths.", ""]
    lines += ["## Lineage", ""]
    lines += _lineage_lines(lineage or version, 0) if (lineage or version).get("parents") else \
        ["_No parent versions: trained from data._"]
    lines.append("")
    return "\n".join(lines)


def _lineage_lines(node: dict[str, Any], depth: int) -> list[str]:
    out = []
    for parent in node.get("parents", []):
        if parent.get("deleted"):
            text = f"`{parent['ref']}` (deleted)"
        else:
            text = f"`{parent['ref']}` {parent.get('component', '')}"
        out.append(f"{'  ' * depth}- {parent.get('relation', 'parent')}: {text}")
        out += _lineage_lines(parent, depth + 1)
    return out


def _escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def evaluate_data(model: Any, df: Any, target: str) -> tuple[Any, Any]:
    """Features and labels of a labelled table, with one-line errors."""
    if target not in df.columns:
        cols = ", ".join(map(str, list(df.columns)[:20]))
        raise DataError(f"no column {target!r} in the data; columns are: {cols}")
    return df.drop(columns=[target]), df[target]
