"""Zoo plugin: probability calibration.

Calibrators (``calibrate.sigmoid``, ``calibrate.isotonic``, ``calibrate.temperature``,
``calibrate.histogram``, ``calibrate.beta``, ``calibrate.spline``, ``calibrate.auto``,
``calibrate.groupwise``, ``calibrate.ensemble``, ``calibrate.identity``) and the predictor
``calibrate.calibrated_model`` that the ``zoo calibrate`` command of this plugin registers:
a registered classifier (or several) plus a fitted calibrator.

This is the entry module, imported whenever the ``zoo`` CLI starts, so it imports
neither numpy nor scipy: the hooks import the component modules when the catalogue is
built, and ``commands`` loads them only inside the command.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zoo import hookimpl


@hookimpl
def register_calibrators(register: Callable[[type], None]) -> None:
    """Register every calibrator of this plugin."""
    from zoo_calibrate.calibrators import CALIBRATORS

    for cls in CALIBRATORS:
        register(cls)


@hookimpl
def register_predictors(register: Callable[[type], None]) -> None:
    """Register the calibrated model, the predictor a calibrated version loads as."""
    from zoo_calibrate.model import CalibratedModel

    register(CalibratedModel)


@hookimpl
def register_commands(cli: Any) -> None:
    """Add ``zoo calibrate``."""
    from zoo_calibrate.commands import COMMANDS

    for command in COMMANDS:
        cli.add_command(command)
