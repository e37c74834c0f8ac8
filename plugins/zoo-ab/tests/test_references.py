"""zoo_ab.references: a running experiment's arms keep their versions from `zoo delete`."""

from __future__ import annotations

import sqlite3

from zoo_ab.experiment import Experiment
from zootest import one_line_error, zoo

from zoo import ZooError


def dump(path) -> str:
    conn = sqlite3.connect(path)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def test_an_arm_of_a_running_experiment_is_kept_unless_forced(baseline_registry):
    reg = baseline_registry
    reg.remove_alias("churn", "champion")
    reg.remove_alias("churn", "challenger")  # only the experiment holds the versions now
    experiment = Experiment.start(reg, "q3", {"A": "churn:1", "B": "churn:2"})
    before = dump(reg.path)
    try:
        reg.delete("churn:2")
    except ZooError as exc:
        assert "churn:2 is still in use (arm B of running A/B experiment q3)" in str(exc)
    else:
        raise AssertionError("an A/B arm was deleted")
    error = one_line_error(zoo("--registry", reg.path, "delete", "churn", "--yes", ok=False))
    assert "arm A of running A/B experiment q3; arm B of running A/B experiment q3" in error
    assert dump(reg.path) == before
    forced = zoo("--registry", reg.path, "delete", "churn:2", "--yes", "--force").output
    assert "Deleted churn:2" in forced and "unlinked arm B of running A/B experiment q3" in forced
    experiment.stop()
    assert reg.delete("churn:1")["unlinked"] == []  # a stopped experiment needs nothing
