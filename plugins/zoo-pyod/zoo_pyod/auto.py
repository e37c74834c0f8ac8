"""The ``pyod.auto`` design: which detectors it combines, how their scores are put on one
scale, and how they are combined; chosen by leave-one-dataset-out, not per data set.

``benchmarks/anomaly.py`` scores every candidate design (a set of at least
``MIN_MEMBERS`` detectors x a normalisation x a combination rule) on the ADBench
development sets from cached detector scores. For each data set held out in turn,
``leave_one_dataset_out`` picks the design with the best mean ROC-AUC on the *other*
sets and reports that design's ROC-AUC on the held-out one: an honest estimate for
data the design never saw. The shipped default (``AUTO_MEMBERS``, ``AUTO_NORMALISE``,
``AUTO_COMBINE``) is the design ``choose_design`` picks on all development sets. It is
one fixed rule (one member set, one scale, equal weights): no weight is fitted to any
data set.

Normalisations put a member's scores on the scale of its own *training* scores, so a
fitted detector scores a new row independently of the rest of its batch:

- ``rank``: the share of training scores below the score (ties count half), stretched
  beyond the training range by the robust z-score so the most extreme scores still order;
- ``robust``: ``(score - median) / IQR`` (the standard deviation if the IQR is 0);
- ``zscore``: ``(score - mean) / std``;
- ``minmax``: ``(score - min) / (max - min)``.

numpy is imported inside functions only.
"""

from __future__ import annotations

from typing import Any

#: The shipped design: what ``choose_design`` picks on all ten ADBench development sets
#: (benchmarks/anomaly.py; in-sample mean ROC-AUC 0.886, leave-one-dataset-out 0.867).
AUTO_MEMBERS = ("pyod.iforest", "pyod.knn", "pyod.loda")
AUTO_NORMALISE = "robust"
AUTO_COMBINE = "max"
#: Fewest members a design may have: with three families, no one detector's blind spot decides.
MIN_MEMBERS = 3

NORMALISATIONS = ("rank", "robust", "zscore", "minmax")
COMBINATIONS = ("mean", "max")


def fit_scale(train_scores: Any, how: str) -> dict[str, Any]:
    """What ``normalise`` needs from a member's training scores for normalisation ``how``."""
    import numpy as np

    s = np.asarray(train_scores, dtype=float)
    if how not in NORMALISATIONS:
        raise ValueError(f"normalise must be one of {', '.join(NORMALISATIONS)}, got {how!r}")
    q1, q2, q3 = np.percentile(s, [25, 50, 75])
    spread = q3 - q1 if q3 > q1 else s.std()
    scale: dict[str, Any] = {"how": how, "centre": q2, "spread": spread if spread > 0 else 1.0}
    if how == "rank":
        scale["sorted"] = np.sort(s)
    elif how == "zscore":
        std = s.std()
        scale["centre"], scale["spread"] = s.mean(), std if std > 0 else 1.0
    elif how == "minmax":
        width = s.max() - s.min()
        scale["centre"], scale["spread"] = s.min(), width if width > 0 else 1.0
    return scale


def normalise(scores: Any, scale: dict[str, Any]) -> Any:
    """A member's scores on the common scale ``fit_scale`` learnt from its training scores."""
    import numpy as np

    s = np.asarray(scores, dtype=float)
    z = (s - scale["centre"]) / scale["spread"]
    if scale["how"] != "rank":
        return z
    ranked = scale["sorted"]
    n = len(ranked)
    below = np.searchsorted(ranked, s, side="left")
    at_or_below = np.searchsorted(ranked, s, side="right")
    share = (below + at_or_below) / (2.0 * n)
    # Beyond the training range every score would share rank 0 or 1: order them by how far out they are.
    top = (ranked[-1] - scale["centre"]) / scale["spread"]
    bottom = (ranked[0] - scale["centre"]) / scale["spread"]
    beyond = np.where(s > ranked[-1], z - top, 0.0) + np.where(s < ranked[0], z - bottom, 0.0)
    return share + beyond / (1.0 + max(abs(top), abs(bottom)))


def combine(normalised: Any, how: str) -> Any:
    """One score per row from a rows x members matrix of normalised scores."""
    import numpy as np

    if how not in COMBINATIONS:
        raise ValueError(f"combine must be one of {', '.join(COMBINATIONS)}, got {how!r}")
    m = np.asarray(normalised, dtype=float)
    return m.mean(axis=1) if how == "mean" else m.max(axis=1)


def choose_design(aucs: Any) -> int:
    """The column (design) of a data sets x designs ROC-AUC table with the best mean.

    Ties go to the first such column; list designs with the fewest members first.
    """
    import numpy as np

    return int(np.argmax(np.asarray(aucs, dtype=float).mean(axis=0)))


def leave_one_dataset_out(aucs: Any) -> tuple[list[float], list[int]]:
    """For each data set (row): the design chosen on the *other* rows, and its ROC-AUC on this one."""
    import numpy as np

    table = np.asarray(aucs, dtype=float)
    scores, chosen = [], []
    for i in range(len(table)):
        best = choose_design(np.delete(table, i, axis=0))
        scores.append(float(table[i, best]))
        chosen.append(best)
    return scores, chosen
