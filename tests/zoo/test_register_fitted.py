"""Registering models fitted outside zoo (issue 13, item 3): a scikit-learn Pipeline with a
ColumnTransformer, an XGBClassifier, an xgboost Booster, an LGBMClassifier and a lightgbm
Booster register in one call, load back predicting the same bits as the object itself, and
with ``eval_data`` get metrics, plots, the reference sample and the conformal record, so
``drift``, ``--interval`` and ``compare`` work on them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from zootest import needs_plugin, one_line_error, zoo

from zoo import Registry, ZooError


def table(n: int = 500, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.normal(size=n)})
    return X, ((X["a"] + X["b"] > 0) ^ (rng.random(n) < 0.05)).astype(int).rename("label")


def fitted(kind: str, X: pd.DataFrame, y: pd.Series):
    if kind == "pipeline":
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder

        pre = ColumnTransformer([("size", OneHotEncoder(handle_unknown="ignore"), ["size"]),
                                 ("num", SimpleImputer(), ["a", "b", "c"])])
        return make_pipeline(pre, LogisticRegression()).fit(X, y)
    if kind == "xgb_classifier":
        import xgboost as xgb

        return xgb.XGBClassifier(n_estimators=20, n_jobs=1).fit(X, y)
    if kind == "xgb_booster":
        import xgboost as xgb

        return xgb.train({"objective": "binary:logistic", "nthread": 1}, xgb.DMatrix(X, label=y), 20)
    if kind == "lgb_classifier":
        import lightgbm as lgb

        return lgb.LGBMClassifier(n_estimators=20, verbose=-1, n_jobs=1).fit(X, y)
    import lightgbm as lgb

    return lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1}, lgb.Dataset(X, label=y), 20)


def raw_proba(obj, X):
    """What the library itself predicts: the probability of class 1."""
    if hasattr(obj, "predict_proba"):
        return obj.predict_proba(X)[:, 1]
    if hasattr(obj, "inplace_predict"):
        return obj.inplace_predict(X)
    return obj.predict(X)


KINDS = {"pipeline": "sklearn", "xgb_classifier": "xgboost", "xgb_booster": "xgboost",
         "lgb_classifier": "lightgbm", "lgb_booster": "lightgbm"}


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_fitted_model_registers_in_one_call_and_predicts_the_same_bits(tmp_path, kind):
    needs_plugin(KINDS[kind])
    X, y = table()
    if kind == "pipeline":  # a text column the pipeline encodes itself
        X = X.assign(size=np.where(X["c"] > 0, "big", "small"))
    obj = fitted(kind, X.iloc[:400], y.iloc[:400])
    with Registry(tmp_path / "r.db") as registry:
        version = registry.register("fitted", obj, eval_data=(X.iloc[400:], y.iloc[400:]))
        assert version["component"].split(".")[0] == KINDS[kind]
        assert {"reference.parquet", "conformal.json", "roc_curve.png"} <= set(version["artifacts"])
        assert version["metrics"]["roc_auc"] > 0.8
        loaded = registry.load("fitted:1", observed=False)
    new = X.iloc[400:]
    np.testing.assert_array_equal(loaded.predict_proba(new)[:, 1], raw_proba(obj, new))


def test_drift_interval_and_compare_work_on_a_registered_pipeline(tmp_path, registry_path):
    needs_plugin("sklearn")
    X, y = table()
    with Registry(registry_path) as registry:
        registry.register("fitted", fitted("lgb_classifier", X.iloc[:400], y.iloc[:400])
                          if needs_lightgbm() else fitted("xgb_classifier", X.iloc[:400], y.iloc[:400]),
                          eval_data=(X.iloc[400:], y.iloc[400:]))
        registry.register("fitted", fitted("pipeline", X.iloc[:400].assign(size="big"), y.iloc[:400]),
                          eval_data=(X.iloc[400:].assign(size="big"), y.iloc[400:]))
    X.iloc[:100].assign(size="big").to_csv(tmp_path / "new.csv", index=False)
    out = zoo("predict", "fitted:2", tmp_path / "new.csv", "--interval", "0.9").output
    assert "prediction_set" in out or "interval" in out.lower()
    zoo("drift", "fitted:2", tmp_path / "new.csv")
    X.iloc[400:].assign(size="big", label=y.iloc[400:]).to_csv(tmp_path / "held.csv", index=False)
    assert "fitted:1" in zoo("compare", "fitted:1", "fitted:2", tmp_path / "held.csv",
                             "--target", "label").output


def needs_lightgbm() -> bool:
    try:
        needs_plugin("lightgbm")
    except pytest.skip.Exception:
        return False
    return True


def test_what_no_plugin_adopts_is_one_line_and_writes_nothing(tmp_path):
    with Registry(tmp_path / "r.db") as registry:
        with pytest.raises(ZooError, match="cannot register a dict: no installed plugin adopts it"):
            registry.register("x", {"weights": [1, 2]})
        assert registry.models() == []
    needs_plugin("sklearn")
    from sklearn.linear_model import LogisticRegression

    with Registry(tmp_path / "r.db") as registry:
        with pytest.raises(ZooError, match="not fitted"):
            registry.register("x", LogisticRegression())
        assert registry.models() == []


def test_a_cli_trained_generic_sklearn_estimator(tmp_path):
    needs_plugin("sklearn")
    X, y = table()
    X.assign(label=y).to_csv(tmp_path / "t.csv", index=False)
    zoo("train", "sklearn.classifier", tmp_path / "t.csv", "--target", "label", "--name", "svc",
        "--param", "estimator=sklearn.tree.DecisionTreeClassifier")
    line = one_line_error(zoo("train", "sklearn.classifier", tmp_path / "t.csv", "--target", "label",
                              "--name", "bad", "--param", "estimator=os.system", ok=False))
    assert "public scikit-learn class" in line


@pytest.mark.parametrize("suffix, plugin", [(".skops", "sklearn"), (".ubj", "xgboost"), (".txt", "lightgbm")])
def test_zoo_register_a_model_file_with_held_out_rows(tmp_path, registry_path, suffix, plugin):
    needs_plugin(plugin)
    X, y = table()
    path = tmp_path / f"model{suffix}"
    if plugin == "sklearn":
        import skops.io
        from sklearn.ensemble import RandomForestClassifier

        obj = RandomForestClassifier(n_estimators=5, random_state=0).fit(X.iloc[:400], y.iloc[:400])
        skops.io.dump(obj, path)
    else:
        kind = "xgb_classifier" if plugin == "xgboost" else "lgb_classifier"
        obj = fitted(kind, X.iloc[:400], y.iloc[:400])
        obj.save_model(path) if plugin == "xgboost" else obj.booster_.save_model(str(path))
    X.iloc[400:].assign(label=y.iloc[400:]).to_csv(tmp_path / "held.csv", index=False)
    out = zoo("register", "outside", path, "--eval", tmp_path / "held.csv", "--target", "label").output
    assert "Registered outside:1" in out and plugin in out
    with Registry(registry_path) as registry:
        version = registry.get("outside:1")
        assert "reference.parquet" in version["artifacts"] and version["metrics"]["roc_auc"] > 0.8
        loaded = registry.load("outside:1", observed=False)
    np.testing.assert_array_equal(loaded.predict_proba(X.iloc[400:])[:, 1], raw_proba(obj, X.iloc[400:]))
    (tmp_path / f"junk{suffix}").write_bytes(b"not a model")
    line = one_line_error(zoo("register", "junk", tmp_path / f"junk{suffix}", ok=False))
    assert "does not load as" in line
