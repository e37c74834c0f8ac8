"""The report's picture: each arm's running mean with its interval as outcomes arrived, and
the posterior of each arm's mean now (how sure we are, and how much the arms overlap)."""

from __future__ import annotations

from typing import Any

import numpy as np

from zoo.clitools import pyplot
from zoo_ab import stats as abstats
from zoo_ab import store


def draw(exp: Any, report: dict[str, Any], path: str) -> None:
    """Write the PNG for experiment ``exp`` and its ``report`` to ``path``: running means,
    posteriors and, for a bandit that has moved, each arm's traffic share by step."""
    plt = pyplot()
    binary = report["outcome"] == "binary"
    history = exp.config.get("history", [])
    bandit = exp.mode == "bandit" and len(history) > 1
    fig, axes = plt.subplots(1, 3 if bandit else 2, figsize=(15 if bandit else 11, 4.2))
    scale, unit = (100.0, " (%)") if binary else (1.0, "")
    _running(axes[0], exp, report, binary, scale, unit)
    _posteriors(axes[1], exp, report, binary, scale, unit)
    if bandit:
        steps = np.arange(len(history))
        for k, arm in enumerate(exp.arms):
            axes[2].plot(steps, [100 * h["split"][arm] for h in history], "o-", color=f"C{k}", label=arm)
        axes[2].set_title("Traffic share by bandit step")
        axes[2].set_xlabel("step (0 = start)")
        axes[2].set_ylabel("share of traffic (%)")
        axes[2].set_ylim(0, 100)
        axes[2].legend(fontsize=8)
    fig.suptitle(f"{exp.name}: {report['recommendation']['text']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _running(ax: Any, exp: Any, report: dict[str, Any], binary: bool, scale: float, unit: str) -> None:
    """Each arm's mean and interval after every stretch of outcomes, in the order recorded."""
    level = 1 - report["alpha"]
    outcomes = store.outcomes(exp.registry, exp.name)
    ax.set_title(f"Running mean with {level:.0%} interval")
    ax.set_xlabel("outcomes recorded (all arms)")
    ax.set_ylabel(f"{report['metric']}{unit}")
    if not outcomes:
        ax.text(0.5, 0.5, "no outcomes yet", ha="center", va="center", transform=ax.transAxes)
        return
    arm_of = np.array([o["arm"] for o in outcomes], dtype=object)
    values = np.array([o["value"] for o in outcomes], dtype=float)
    # About 60 checkpoints whatever the number of outcomes.
    checkpoints = np.unique(np.linspace(1, len(values), min(60, len(values))).astype(int))
    for k, arm in enumerate(exp.arms):
        mine = arm_of == arm
        n = np.cumsum(mine)[checkpoints - 1]
        total = np.cumsum(np.where(mine, values, 0.0))[checkpoints - 1]
        total_sq = np.cumsum(np.where(mine, values * values, 0.0))[checkpoints - 1]
        keep = n > 0
        if not keep.any():
            continue
        points = [abstats.arm_summary(int(a), b, c, binary, level)
                  for a, b, c in zip(n[keep], total[keep], total_sq[keep], strict=True)]
        xs = checkpoints[keep]
        mean = np.array([p["mean"] for p in points]) * scale
        low = np.array([np.nan if p["ci_low"] is None else p["ci_low"] for p in points]) * scale
        high = np.array([np.nan if p["ci_high"] is None else p["ci_high"] for p in points]) * scale
        ax.plot(xs, mean, "-", color=f"C{k}", label=f"{arm} {exp.config['arms'][arm]}")
        ax.fill_between(xs, low, high, color=f"C{k}", alpha=0.2)
    ax.legend(fontsize=8)


def _posteriors(ax: Any, exp: Any, report: dict[str, Any], binary: bool, scale: float, unit: str) -> None:
    totals = exp.totals
    arms = [a for a in exp.arms if totals.get(a, {}).get("n", 0)]
    ax.set_title("Posterior of each arm's mean")
    ax.set_xlabel(f"{report['metric']}{unit}")
    if not arms:
        ax.text(0.5, 0.5, "no outcomes yet", ha="center", va="center", transform=ax.transAxes)
        return
    lows = [a["ci_low"] for a in report["arms"] if a["ci_low"] is not None]
    highs = [a["ci_high"] for a in report["arms"] if a["ci_high"] is not None]
    if not lows:
        ax.text(0.5, 0.5, "too few outcomes", ha="center", va="center", transform=ax.transAxes)
        return
    span = max(highs) - min(lows) or 1.0
    grid = np.linspace(min(lows) - span / 2, max(highs) + span / 2, 400)
    if binary:
        grid = grid[(grid >= 0) & (grid <= 1)]
    for k, arm in enumerate(exp.arms):
        density = abstats.posterior_curve(totals.get(arm, {"n": 0, "sum": 0, "sum_sq": 0}), binary, grid)
        if density is not None:
            ax.plot(grid * scale, density / scale, color=f"C{k}", label=arm)
            ax.fill_between(grid * scale, density / scale, color=f"C{k}", alpha=0.15)
    ax.set_yticks([])
    ax.legend(fontsize=8)
