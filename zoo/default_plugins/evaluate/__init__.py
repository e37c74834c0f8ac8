"""zoo.evaluate: how good a version is.

- Every trained predictor keeps the plots of its held-out rows (``confusion_matrix.png`` and
  ``roc_curve.png``, or ``residuals.png``) and ``evaluation.json``: every metric with a
  bootstrap confidence interval (``training_artifacts``).
- ``zoo card`` writes a Markdown model card, ``zoo compare`` tests two versions against each
  other on the same labelled rows, ``zoo report`` shows a version's metrics and artifact files.

The statistics and plots are in ``evaluation``, the commands in ``commands``; both are
imported only when used, so this entry module stays light.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo import hookimpl


@hookimpl
def training_artifacts(model: Any, X_test: Any, y_test: Any, split: dict[str, Any],
                       directory: Path) -> dict[str, Path] | None:
    """The held-out plots and ``evaluation.json`` of a newly trained predictor."""
    if model.kind != "predictor" or y_test is None:
        return None
    from .evaluation import held_out_artifacts

    return held_out_artifacts(model, X_test, y_test, split, directory)


@hookimpl
def register_commands(cli: Any) -> None:
    """``zoo card``, ``zoo compare`` and ``zoo report``."""
    from .commands import card, compare, report

    for command in (card, compare, report):
        cli.add_command(command)
