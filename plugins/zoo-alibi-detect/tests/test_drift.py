"""zoo-alibi-detect's drift tests on synthetic data with fixed seeds: zoo's contract for drift
tests (the conformance kit), which features they flag, zoo's corrections over alibi-detect's
p-values, categorical and binary columns, bad input, and the npz round trip (directly and
through a real registry).

Runs where alibi-detect is installed (.venv-alibi, made by scripts/setup-alibi); skipped
elsewhere.
"""

from __future__ import annotations

import importlib.util
import warnings

import pytest

pytest.importorskip("alibi_detect", reason="alibi-detect is not installed in this environment: "
                    "run these tests with .venv-alibi (bash scripts/setup-alibi)")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from zoo_alibi_detect.drift import (  # noqa: E402
    DRIFT_TESTS,
    JOINT,
    MAX_CATEGORIES,
    ChiSquareDrift,
    ClassifierDrift,
    CVMDrift,
    FETDrift,
    KSDrift,
    LSDDDrift,
    MMDDrift,
    TabularDrift,
)

from zoo import DataError, IntegrityError, Registry, ZooError, build_catalogue  # noqa: E402
from zoo.testing import check_plugin, parametrize_with_checks  # noqa: E402

FEATURES = [f"f{i}" for i in range(6)]
HAS_BACKEND = any(importlib.util.find_spec(p) for p in ("torch", "tensorflow"))


@pytest.fixture(autouse=True)
def own_registry(tmp_path, monkeypatch):
    """Self-contained: these tests never touch the user's registry, run from anywhere."""
    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "registry.db"))


def make(name: str, **params):
    return build_catalogue().get(name).create(**params)


@pytest.fixture(scope="module")
def numeric():
    """Reference, a clean sample of the same distribution, and the clean sample with f2 shifted."""
    rng = np.random.default_rng(0)
    reference = pd.DataFrame(rng.normal(size=(600, 6)), columns=FEATURES)
    clean = pd.DataFrame(rng.normal(size=(600, 6)), columns=FEATURES)
    shifted = clean.copy()
    shifted["f2"] += 0.5
    return reference, clean, shifted


@pytest.fixture(scope="module")
def mixed():
    """A numeric, a string and an integer-coded column; the current sample shifts the strings only."""
    rng = np.random.default_rng(1)

    def sample(n, colour_p):
        return pd.DataFrame({"x": rng.normal(size=n),
                             "colour": rng.choice(["red", "green", "blue"], size=n, p=colour_p),
                             "size": rng.integers(1, 4, size=n)})

    reference = sample(800, [1 / 3, 1 / 3, 1 / 3])
    clean = sample(800, [1 / 3, 1 / 3, 1 / 3])
    shifted = sample(800, [0.5, 0.25, 0.25])
    return reference, clean, shifted


@pytest.fixture(scope="module")
def binary():
    rng = np.random.default_rng(2)

    def sample(n, share):
        return pd.DataFrame({"flag": rng.random(n) < share, "bit": (rng.random(n) < 0.5).astype(int)})

    return sample(600, 0.3), sample(600, 0.3), sample(600, 0.45)


# --- zoo's contract for drift tests (the conformance kit), on the columns each test takes ---


@parametrize_with_checks([
    KSDrift, CVMDrift, (ChiSquareDrift, {"columns": "categorical"}), (TabularDrift, {"columns": "mixed"}),
    (FETDrift, {"columns": "binary"}),
    (ClassifierDrift, {"columns": "mixed", "params": {"n_estimators": 30}}),
    *([(MMDDrift, {"params": {"n_permutations": 50}}), (LSDDDrift, {"params": {"n_permutations": 50}})]
      if HAS_BACKEND else []),
])
def test_conformance(component, check):
    check(component)


def test_the_installed_plugin_registers_every_test_and_starts_light():
    check_plugin("alibi", DRIFT_TESTS, heavy=("alibi_detect", "torch", "tensorflow"))


# --- the catalogue ---


def test_catalogue_lists_every_test_with_a_description_and_npz_format():
    catalogue = build_catalogue()
    names = {cls.component for cls in DRIFT_TESTS}
    assert names == {"alibi.ks", "alibi.cvm", "alibi.chisquare", "alibi.tabular", "alibi.fet",
                     "alibi.classifier", "alibi.mmd", "alibi.lsdd"}
    for name in names:
        info = catalogue.get(name)
        assert info.kind == "drift_test" and info.plugin == "alibi"
        assert info.artifact_format == "npz" and info.description.startswith("alibi-detect ")
        assert info.params["alpha"] == 0.05 and info.params["correction"] == "bh"
    for name in ("alibi.mmd", "alibi.lsdd"):
        assert "needs torch or tensorflow" in catalogue.get(name).description


# --- which features are flagged ---


@pytest.mark.parametrize("name", ["alibi.ks", "alibi.cvm", "alibi.tabular"])
def test_per_feature_tests_flag_the_shifted_feature_only(name, numeric):
    reference, clean, shifted = numeric
    model = make(name).fit(reference)
    quiet = model.test(clean)
    assert quiet["drift"] is False and quiet["drifted"] == []
    assert [row["feature"] for row in quiet["features"]] == FEATURES
    loud = model.test(shifted)
    assert loud["drift"] is True and loud["drifted"] == ["f2"]
    assert loud["test"] == name and loud["rows"] == {"reference": 600, "current": 600}
    row = loud["features"][2]
    assert row["p_adjusted"] <= 0.05 < min(r["p_adjusted"] for r in loud["features"] if r is not row)
    assert row["test"] == ("cvm" if name == "alibi.cvm" else "ks") and row["statistic"] > 0
    # alibi-detect's own verdict (fdr, its name for BH) agrees here, and is kept beside ours.
    assert loud["alibi"]["drift"] is True and quiet["alibi"]["drift"] is False
    assert loud["alibi"]["correction"] == "fdr"


def test_classifier_test_flags_the_table_not_a_feature(numeric):
    reference, clean, shifted = numeric
    model = make("alibi.classifier", n_estimators=50).fit(reference)
    quiet = model.test(clean)
    assert quiet["drift"] is False and [r["feature"] for r in quiet["features"]] == [JOINT]
    assert quiet["features"][0]["columns"] == FEATURES
    loud = model.test(shifted)
    assert loud["drift"] is True and loud["drifted"] == [JOINT]
    assert loud["features"][0]["test"] == "classifier" and loud["p_value"] < 1e-3


# --- corrections ---


def test_bh_flags_more_than_bonferroni_on_the_same_alibi_p_values():
    """Ten features, three shifted by 0.2 sd (seed 33): BH finds all three, Bonferroni two."""
    columns = [f"f{i}" for i in range(10)]
    rng = np.random.default_rng(33)
    reference = pd.DataFrame(rng.normal(size=(400, 10)), columns=columns)
    current = pd.DataFrame(rng.normal(size=(400, 10)), columns=columns)
    current[["f0", "f1", "f2"]] += 0.2
    bh = make("alibi.ks", correction="bh").fit(reference).test(current)
    bonferroni = make("alibi.ks", correction="bonferroni").fit(reference).test(current)
    raw = [r["p_value"] for r in bh["features"]]
    assert raw == [r["p_value"] for r in bonferroni["features"]]
    assert [r["p_adjusted"] for r in bonferroni["features"]] == pytest.approx([min(1.0, p * 10) for p in raw])
    assert all(b["p_adjusted"] <= f["p_adjusted"]
               for b, f in zip(bh["features"], bonferroni["features"], strict=True))
    assert bh["drifted"] == ["f0", "f1", "f2"] and bonferroni["drifted"] == ["f0", "f1"]
    assert bh["correction"] == "bh" and bonferroni["correction"] == "bonferroni"
    assert bonferroni["alibi"]["correction"] == "bonferroni" and bonferroni["alibi"]["threshold"] == 0.005


def test_a_correction_or_alpha_zoo_does_not_know_is_one_line_at_fit(numeric):
    reference = numeric[0]
    with pytest.raises(ZooError, match="unknown correction 'holm': use one of bh, bonferroni"):
        make("alibi.ks", correction="holm").fit(reference)
    with pytest.raises(ZooError, match="alpha must be between 0 and 1"):
        make("alibi.cvm", alpha=5).fit(reference)


# --- categorical and binary columns ---


def test_chisquare_and_tabular_test_categorical_columns_by_their_counts(mixed):
    reference, clean, shifted = mixed
    categorical = reference[["colour", "size"]]
    chi = make("alibi.chisquare").fit(categorical)
    assert chi.categories_ == {"colour": ["blue", "green", "red"], "size": [1.0, 2.0, 3.0]}
    assert chi.test(clean[["colour", "size"]])["drift"] is False
    loud = chi.test(shifted[["colour", "size"]])
    assert loud["drifted"] == ["colour"] and {r["test"] for r in loud["features"]} == {"chi2"}

    # tabular: strings are categorical by dtype, "size" because it is named.
    tabular = make("alibi.tabular", categorical=["size"]).fit(reference)
    assert tabular.categorical_ == ["colour", "size"]
    result = tabular.test(shifted)
    assert [r["test"] for r in result["features"]] == ["ks", "chi2", "chi2"]
    assert result["drifted"] == ["colour"]
    assert tabular.test(clean)["drift"] is False
    # A comma-separated string names columns too (what `--param categorical=size` gives).
    assert make("alibi.tabular", categorical="size").fit(reference).categorical_ == ["colour", "size"]


def test_a_category_the_reference_never_had_counts_as_drift(mixed):
    reference = mixed[0][["colour"]]
    current = reference.copy()
    current.loc[current.index[:100], "colour"] = "purple"
    model = make("alibi.chisquare").fit(reference)
    assert model.test(reference)["drift"] is False
    assert model.test(current)["drifted"] == ["colour"]


def test_numbers_read_as_strings_match_numeric_categories(mixed):
    """An integer-coded column read back as text ("1", "2") is the same categories."""
    reference = mixed[0][["size"]]
    model = make("alibi.chisquare").fit(reference)
    as_text = model.test(reference.astype(str))
    assert as_text == model.test(reference) and as_text["drift"] is False


def test_chisquare_refuses_a_continuous_column_and_ks_a_categorical_one(numeric, mixed):
    with pytest.raises(DataError, match=r"numeric column 'f0' has 600 distinct values: use alibi.tabular"):
        make("alibi.chisquare").fit(numeric[0])
    assert MAX_CATEGORIES < 600
    with pytest.raises(DataError, match="'colour' is categorical: use alibi.tabular"):
        make("alibi.ks").fit(mixed[0])
    with pytest.raises(DataError, match="categorical names 'shade'"):
        make("alibi.tabular", categorical=["shade"]).fit(mixed[0])


def test_fet_tests_boolean_and_zero_one_columns(binary):
    reference, clean, shifted = binary
    model = make("alibi.fet").fit(reference)
    assert model.test(clean)["drift"] is False
    loud = model.test(shifted)
    assert loud["drifted"] == ["flag"] and loud["features"][0]["test"] == "fet"
    # All zeros on both sides: the odds ratio is undefined, and shown as None, not NaN.
    zeros = reference.assign(bit=0)
    row = make("alibi.fet").fit(zeros).test(zeros)["features"][1]
    assert row["statistic"] is None and row["p_value"] == 1.0 and row["drift"] is False
    bad = reference.assign(bit=reference["bit"] * 2)
    with pytest.raises(DataError, match="binary columns, and column 'bit' of the reference table has 2"):
        make("alibi.fet").fit(bad)
    with pytest.raises(DataError, match="column 'bit' of the current table has 2"):
        model.test(bad)


# --- bad input ---


def test_bad_current_tables_are_one_line_errors(numeric):
    reference, clean, _ = numeric
    model = make("alibi.ks").fit(reference)
    with pytest.raises(DataError, match="has no column 'f5', which the reference has"):
        model.test(clean.drop(columns=["f5"]))
    with pytest.raises(DataError, match="column 'f1' of the current data has 1 missing value"):
        model.test(clean.assign(f1=[np.nan] + list(clean["f1"][1:])))
    with pytest.raises(DataError, match="current data has 1 row; the test needs at least 2"):
        model.test(clean.head(1))
    with pytest.raises(DataError, match="'f0' has a value that is not a number"):
        model.test(clean.assign(f0="a"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # other columns are ignored silently, as zoo-drift does
        assert model.test(clean.assign(extra="x")[["extra", *FEATURES[::-1]]]) == model.test(clean)
    with pytest.raises(RuntimeError, match="not fitted"):
        make("alibi.ks").test(clean)


# --- persistence ---


def _cases(numeric, mixed, binary):
    return [
        ("alibi.ks", {}, numeric[0], numeric[2]),
        ("alibi.cvm", {"correction": "bonferroni"}, numeric[0], numeric[2]),
        ("alibi.chisquare", {}, mixed[0][["colour", "size"]], mixed[2][["colour", "size"]]),
        ("alibi.tabular", {"categorical": ["size"]}, mixed[0], mixed[2]),
        ("alibi.fet", {"alternative": "greater"}, binary[0], binary[2]),
        ("alibi.classifier", {"n_estimators": 20, "seed": 3}, mixed[0], mixed[2]),
    ]


def test_save_and_load_give_the_same_results_without_pickle(numeric, mixed, binary, tmp_path):
    for name, params, reference, current in _cases(numeric, mixed, binary):
        model = make(name, **params).fit(reference)
        path = tmp_path / f"{name}.npz"
        model.save(path)
        with np.load(path, allow_pickle=False) as z:  # every array readable without pickle
            assert all(z[key].dtype != object for key in z.files)
        again = type(model).load(path, model.metadata)
        assert again.get_params() == model.get_params()
        assert again.test(current) == model.test(current), name
        pd.testing.assert_frame_equal(again.reference_, model.reference_, check_dtype=False)


def test_a_registered_drift_test_loads_from_the_registry_and_tests_the_same(mixed, tmp_path):
    reference, _, shifted = mixed
    model = make("alibi.tabular", categorical=["size"]).fit(reference)
    with Registry(tmp_path / "r.db") as registry:
        version = registry.register("reference", model)
        assert version["component"] == "alibi.tabular" and version["artifact_format"] == "npz"
        assert version["metadata"]["categorical"] == ["colour", "size"]
        loaded = registry.load("reference")
        assert loaded.test(shifted) == model.test(shifted)


def test_load_refuses_another_components_file_and_a_pickled_array(numeric, tmp_path):
    path = tmp_path / "ks.npz"
    make("alibi.ks").fit(numeric[0]).save(path)
    with pytest.raises(IntegrityError, match="it holds 'alibi.ks'"):
        type(make("alibi.cvm")).load(path)
    pickled = tmp_path / "pickled.npz"
    with open(pickled, "wb") as f:
        np.savez(f, header=np.array([{"format": "zoo-alibi-detect/1"}], dtype=object))
    with pytest.raises(IntegrityError, match="not a zoo-alibi-detect file"):
        type(make("alibi.ks")).load(pickled)


# --- tests that need a deep-learning backend ---


@pytest.mark.skipif(HAS_BACKEND, reason="torch or tensorflow is installed here")
@pytest.mark.parametrize("name", ["alibi.mmd", "alibi.lsdd"])
def test_kernel_tests_without_a_backend_say_which_package_to_install(name, numeric):
    with pytest.raises(ZooError) as caught:
        make(name).fit(numeric[0])
    message = str(caught.value)
    assert message == (f"{name} needs torch or tensorflow, and neither is installed: "
                       "pip install torch (or tensorflow) into this environment")
    with pytest.raises(ZooError, match="backend 'pytorch' needs torch, which is not installed"):
        make(name, backend="pytorch").fit(numeric[0])


@pytest.mark.slow
@pytest.mark.skipif(not HAS_BACKEND, reason="needs torch or tensorflow, not installed here")
@pytest.mark.parametrize("name", ["alibi.mmd", "alibi.lsdd"])
def test_kernel_tests_with_a_backend_find_the_shift(name, numeric, tmp_path):
    reference, clean, shifted = numeric
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the backends' own deprecation chatter
        model = make(name, n_permutations=50).fit(reference)
        quiet = model.test(clean)
        loud = model.test(shifted)
        assert quiet["drift"] is False and quiet == model.test(clean)  # seeded permutations
        model.save(tmp_path / "kernel.npz")
        assert type(model).load(tmp_path / "kernel.npz").test(clean) == quiet
    assert loud["drifted"] == [JOINT] and loud["features"][0]["test"] == name.split(".")[1]
