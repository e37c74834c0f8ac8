"""The serving example of docs/plugins.md (``zoo_canary.py``) answers the hooks zoo serve asks,
loaded from the guide as a plugin and asked through the kernel as the server asks."""

from __future__ import annotations

import importlib
import json
import re
import sys
from pathlib import Path

import pandas as pd

import zoo

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "plugins.md"


def test_the_canary_example_routes_a_tenth_and_records_once(tmp_path, monkeypatch, add_plugin,
                                                            registry_path):
    source = re.search(r"^```python\n# file: zoo_canary\.py\n(.*?)^```$", GUIDE.read_text(), re.M | re.S)[1]
    (tmp_path / "zoo_canary.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("ZOO_EXAMPLE_CANARY", str(tmp_path / "canary.jsonl"))
    sys.modules.pop("zoo_canary", None)
    add_plugin(importlib.import_module("zoo_canary"), "canary")
    from zoo.default_plugins.baselines import BaselineClassifier

    X = pd.DataFrame({"a": [0.0, 1.0]})
    with zoo.Registry(registry_path) as registry:
        for _ in range(2):
            registry.register("m", BaselineClassifier().fit(X, pd.Series([0, 1])))
        assert zoo.ask_plugins("serve_route", registry=registry, model="m", unit="u", fields={}) is None
        registry.set_alias("m", "canary", 2)
        answers = [zoo.ask_plugins("serve_route", registry=registry, model="m", unit=str(i), fields={})
                   for i in range(1000)]
        routed = [a for a in answers if a is not None]
        assert 50 < len(routed) < 150 and {a["ref"] for a in routed} == {"m:2"}
        once = [zoo.ask_plugins("serve_outcome", registry=registry, model="m", unit="7", value=1.0)
                for _ in range(2)]
        assert [o["recorded"] for o in once] == [True, False]
        table = pd.DataFrame({"prediction": [0, 1]})
        zoo.ask_plugins("shadow_scored", registry=registry, experiment="canary", arm="canary", ref="m:2",
                        control=table, shadow=table, seconds=0.1)
    lines = [json.loads(line) for line in (tmp_path / "canary.jsonl").read_text().splitlines()]
    assert len(lines) == 2 and lines[1]["agreement"] == 1.0
    sys.modules.pop("zoo_canary", None)
