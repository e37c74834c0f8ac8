"""What the structural checks on untrusted model bytes cost: each plugin's load (validator
included) against the raw library load of the same bytes, and `zoo import` with its
sandboxed test-load against the same import without it, all measured in the same run.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/loaders.py [--trees 300] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from timing import paired

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trees", type=int, default=300, help="trees per model")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import lightgbm as lgb
    import numpy as np
    import pandas as pd
    import skops.io
    import xgboost as xgb
    from zoo_lightgbm.models import LightGBMClassifierModel
    from zoo_sklearn.models import TRUSTED_TYPES, RandomForestClassifierModel
    from zoo_xgboost.models import XGBoostClassifierModel

    from zoo import Registry

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(5000, 20)), columns=[f"f{i}" for i in range(20)])
    y = (X["f0"] * X["f1"] + X["f2"] > 0).astype(int)
    models = {
        "sklearn random forest": RandomForestClassifierModel(n_estimators=args.trees, max_depth=12),
        "xgboost": XGBoostClassifierModel(n_estimators=args.trees, max_depth=6, n_jobs=1),
        "lightgbm": LightGBMClassifierModel(n_estimators=args.trees, num_leaves=63, n_jobs=1),
    }
    raw = {
        "sklearn random forest": lambda p: skops.io.load(p, trusted=list(TRUSTED_TYPES)),
        "xgboost": lambda p: xgb.Booster(model_file=bytearray(Path(p).read_bytes())),
        "lightgbm": lambda p: lgb.Booster(model_str=Path(p).read_text()),
    }
    print(f"{args.trees} trees per model, median of {args.repeat}; shared machine: compare ratios")
    print(f"{'loader':<24}{'raw s':>9}{'zoo s':>9}{'ratio':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, model in models.items():
            model.fit(X, y)
            path = Path(tmp) / name.replace(" ", "-")
            model.save(path)
            cls = type(model)
            base, checked = paired(lambda p=path, n=name: raw[n](p),
                                   lambda p=path, c=cls, m=model.metadata: c.load(p, m), args.repeat)
            print(f"{name:<24}{base:>9.3f}{checked:>9.3f}{checked / base:>8.2f}")

        with Registry(Path(tmp) / "source.db") as source:
            for i, model in enumerate(models.values()):
                source.register(f"m{i}", model)
            source.export([f"m{i}:1" for i in range(len(models))], Path(tmp) / "all.zoo")
        times = {}
        for label, sandbox in (("without sandbox", "0"), ("with sandbox", "1")):
            os.environ["ZOO_IMPORT_SANDBOX"] = sandbox
            start = time.perf_counter()
            with Registry(Path(tmp) / f"import-{sandbox}.db") as target:
                target.import_bundle(Path(tmp) / "all.zoo")
            times[label] = time.perf_counter() - start
        print(f"zoo import of {len(models)} versions: {times['without sandbox']:.2f} s without the "
              f"sandbox, {times['with sandbox']:.2f} s with it "
              f"(+{times['with sandbox'] - times['without sandbox']:.2f} s)")


if __name__ == "__main__":
    main()
