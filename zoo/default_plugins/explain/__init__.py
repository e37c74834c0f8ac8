"""zoo.explain: ``zoo explain``, which features a version leans on, globally and row by row.

Native contributions for models with the ``zoo.Contributions`` capability (TreeSHAP in the
XGBoost and LightGBM plugins), permutation importance for any other predictor. The
computations are in ``explain``, the command in ``commands``, imported when used.
"""

from __future__ import annotations

from typing import Any

from zoo import hookimpl


@hookimpl
def register_commands(cli: Any) -> None:
    """``zoo explain``."""
    from .commands import explain

    cli.add_command(explain)
