"""monitor.health keeps zoo's contract for monitors (the conformance kit): parameters as
scikit-learn has them, fit returns self, a health from 0 to 100 that a drifted batch never
raises, and one-line errors for a missing column or a monitor used before fit."""

from zoo_monitor.health import HealthMonitor

from zoo.testing import parametrize_with_checks


@parametrize_with_checks([
    HealthMonitor,
    (HealthMonitor, {"params": {"drift_test": "drift.ks"}, "id": "monitor.health-ks"}),
    (HealthMonitor, {"columns": "mixed", "id": "monitor.health-mixed"}),
])
def test_conformance(component, check):
    check(component)
