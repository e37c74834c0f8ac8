"""Zoo plugin: alibi-detect's drift detectors as zoo drift tests.

This is the plugin's entry module, imported whenever the ``zoo`` CLI starts, so it
imports neither alibi-detect nor numpy: ``drift`` loads them only when a test is fitted.
"""

from __future__ import annotations

from collections.abc import Callable

from zoo import hookimpl


@hookimpl
def register_drift_tests(register: Callable[[type], None]) -> None:
    """Register the alibi-detect drift tests (``alibi.ks``, ``alibi.cvm``, ...)."""
    from zoo_alibi_detect.drift import DRIFT_TESTS

    for cls in DRIFT_TESTS:
        register(cls)
