"""zoo_sklearn.trusted: skops.io imported with cached trusted-type lists (issue 13, fast
predict). The cached lists are skops' own; a damaged or widened cache is ignored; with a
cache, loading a model no longer imports every estimator."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from zoo_sklearn import trusted

LOAD = """
import sys
import numpy as np, pandas as pd
from zoo_sklearn.models import RandomForestClassifierModel
m = RandomForestClassifierModel.from_artifact(sys.argv[1])
print(int(m.predict(pd.DataFrame(np.zeros((1, 3)), columns=["x0", "x1", "x2"]))[0]))
print("sklearn.cross_decomposition" in sys.modules, type(sys.modules["skops.io._trusted_types"]).__name__,
      getattr(sys.modules["skops.io._trusted_types"], "__file__", None) is None)
"""


def _load(path, cache_dir):
    env = {**os.environ, "ZOO_CACHE_DIR": str(cache_dir)}
    out = subprocess.run([sys.executable, "-c", LOAD, str(path)], capture_output=True, text=True,
                         env=env, timeout=120, check=True)
    return out.stdout.split()


@pytest.mark.slow
def test_a_cached_load_trusts_the_same_types_without_importing_every_estimator(tmp_path):
    from zoo_sklearn.models import RandomForestClassifierModel

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(60, 3)), columns=["x0", "x1", "x2"])
    model = RandomForestClassifierModel(n_estimators=3).fit(X, (X["x0"] > 0).astype(int))
    model.save(tmp_path / "m.skops")
    cache_dir = tmp_path / "cache"
    first = _load(tmp_path / "m.skops", cache_dir)  # computes the lists the slow way, keeps them
    assert first[1] == "True" and first[3] == "False"
    (cache,) = cache_dir.iterdir()
    import skops.io._trusted_types as real

    cached = json.loads(cache.read_text())
    assert cached == {name: list(getattr(real, name)) for name in trusted.LISTS}
    second = _load(tmp_path / "m.skops", cache_dir)
    assert second[0] == first[0]
    assert second[1] == "False" and second[3] == "True"  # the stub module: no all_estimators()
    # A cache that trusts more than skops would (here: os.system) is ignored and rewritten.
    cached["SKLEARN_ESTIMATOR_TYPE_NAMES"].append("posix.system")
    cache.write_text(json.dumps(cached))
    assert trusted._read(cache) is None
    assert _load(tmp_path / "m.skops", cache_dir)[1] == "True"
    assert trusted._read(cache) is not None and "posix.system" not in cache.read_text()
    cache.write_text("{not json")
    assert trusted._read(cache) is None
