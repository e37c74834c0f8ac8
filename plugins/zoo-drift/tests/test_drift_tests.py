"""zoo-drift's tests on small synthetic data: zoo's contract for each (the conformance kit:
the result's shape, parameters, persistence, ...), corrections, categories, spread, missing
values, small samples, and agreement with scipy where scipy has the same statistic."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats
from zoo_drift import stats
from zoo_drift.components import TESTS

from zoo import DataError, IntegrityError, build_catalogue
from zoo.testing import check_plugin, parametrize_with_checks

NAMES = [cls.component for cls in TESTS]
FAST = ["drift.auto", "drift.ks", "drift.cvm", "drift.ad", "drift.chi2", "drift.wasserstein"]


@pytest.fixture(autouse=True)
def own_registry(tmp_path, monkeypatch):
    """Self-contained: these tests never touch the user's registry, run from anywhere."""
    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "registry.db"))


def make(name: str, **params):
    return build_catalogue().get(name).create(**params)


def normal(rng, rows: int, columns: int) -> pd.DataFrame:
    return pd.DataFrame(rng.standard_normal((rows, columns)), columns=[f"f{i}" for i in range(columns)])


@parametrize_with_checks([*TESTS, *[(cls, {"columns": "mixed", "id": f"{cls.component}-mixed"})
                                    for cls in TESTS if cls.component in ("drift.auto", "drift.chi2")]])
def test_conformance(component, check):
    check(component)


def test_every_test_is_in_the_catalogue_as_a_drift_test_saved_as_npz():
    entries = check_plugin("drift", TESTS)
    assert {e["name"] for e in entries} == {"drift.auto", "drift.ks", "drift.cvm", "drift.ad", "drift.chi2",
                                            "drift.psi", "drift.wasserstein", "drift.mmd", "drift.classifier"}
    assert {(e["kind"], e["artifact_format"]) for e in entries} == {("drift_test", "npz")}


# --- corrections ---


@pytest.mark.parametrize("correction", ["bh", "bonferroni"])
def test_one_drifted_feature_among_fifty_is_found_and_only_it(correction):
    rng = np.random.default_rng(0)
    ref, cur = normal(rng, 1000, 50), normal(rng, 1000, 50)
    cur["f17"] += 0.4
    result = make("drift.auto", correction=correction).fit(ref).test(cur)
    assert result["drift"] and result["drifted"] == ["f17"]
    assert result["correction"] == correction and len(result["features"]) == 50


@pytest.mark.parametrize("correction", ["bh", "bonferroni"])
def test_pure_noise_over_fifty_features_is_flagged_at_most_alpha_of_the_time(correction):
    """200 null trials: a valid correction flags ~<= 5%; no correction would flag ~92%
    (1 - 0.95^50) and a half-strength one ~10%, both far outside the bound checked."""
    rng = np.random.default_rng(1)
    model = make("drift.ks", correction=correction)
    flagged = 0
    for _ in range(200):
        ref, cur = normal(rng, 200, 50), normal(rng, 200, 50)
        flagged += model.fit(ref).test(cur)["drift"]
    # Binomial(200, 0.05) exceeds 18 with probability < 0.5%.
    assert flagged <= 18


def test_bh_flags_at_least_what_bonferroni_flags():
    rng = np.random.default_rng(2)
    ref, cur = normal(rng, 500, 20), normal(rng, 500, 20)
    for k in range(6):
        cur[f"f{k}"] += 0.12 * (k + 1)
    bh = make("drift.auto", correction="bh").fit(ref).test(cur)
    bonferroni = make("drift.auto", correction="bonferroni").fit(ref).test(cur)
    assert set(bonferroni["drifted"]) <= set(bh["drifted"]) and len(bh["drifted"]) >= 4


# --- categories, spread, missing values ---


def categorical(rng, rows: int, shares) -> pd.DataFrame:
    return pd.DataFrame({"colour": rng.choice(["red", "green", "blue", "teal"], rows, p=shares),
                         "x": rng.standard_normal(rows)})


@pytest.mark.parametrize("name", ["drift.auto", "drift.chi2", "drift.ks", "drift.mmd"])
def test_chi_square_finds_a_shifted_category_mix_and_not_a_same_mix(name):
    rng = np.random.default_rng(3)
    ref = categorical(rng, 800, [0.4, 0.3, 0.2, 0.1])
    same = categorical(rng, 600, [0.4, 0.3, 0.2, 0.1])
    shifted = categorical(rng, 600, [0.25, 0.3, 0.2, 0.25])
    model = make(name).fit(ref)
    row = {r["feature"]: r for r in model.test(shifted)["features"]}["colour"]
    assert row["drift"] and "chi2" in row["test"] and row["p_value"] < 1e-6
    if name in ("drift.ks", "drift.mmd"):  # a numeric test says it fell back
        assert row["test"] == "chi2 (categorical)"
    assert not model.test(same)["drift"]


def test_new_category_and_sparse_cells_are_pooled_not_crashing():
    rng = np.random.default_rng(4)
    ref = pd.DataFrame({"c": rng.choice(list("abcdefgh"), 300, p=[.6, .3, .04, .02, .01, .01, .01, .01])})
    cur = ref.copy()
    cur.loc[:59, "c"] = "new"
    result = make("drift.chi2").fit(ref).test(cur)
    assert result["drift"] and result["features"][0]["df"] >= 1
    assert not make("drift.chi2").fit(ref).test(ref.sample(frac=1, random_state=0))["drift"]


def test_low_cardinality_numbers_and_booleans_are_compared_as_categories():
    rng = np.random.default_rng(5)
    ref = pd.DataFrame({"rating": rng.integers(1, 6, 500), "flag": rng.random(500) < 0.3})
    cur = pd.DataFrame({"rating": rng.integers(1, 6, 500), "flag": rng.random(500) < 0.6})
    rows = {r["feature"]: r for r in make("drift.ks").fit(ref).test(cur)["features"]}
    assert rows["rating"]["test"] == "chi2 (discrete)" and not rows["rating"]["drift"]
    assert rows["flag"]["test"] == "chi2 (categorical)" and rows["flag"]["drift"]


def test_auto_catches_a_change_of_spread_with_the_mean_unchanged():
    rng = np.random.default_rng(6)
    ref = normal(rng, 1000, 10)
    cur = normal(rng, 1000, 10)
    cur["f3"] *= 1.3
    result = make("drift.auto").fit(ref).test(cur)
    assert result["drifted"] == ["f3"]
    row = result["features"][3]
    assert abs(row["mean_shift_sd"]) < 0.15 and 1.2 < row["sd_ratio"] < 1.4
    assert row["p_parts"]["brown-forsythe"] < 1e-6


def test_auto_catches_a_change_of_shape_with_mean_and_sd_unchanged():
    rng = np.random.default_rng(7)
    ref = pd.DataFrame({"x": rng.standard_normal(2000)})
    # A two-point-like mixture with mean 0 and sd 1: same moments, another shape.
    cur = pd.DataFrame({"x": rng.choice([-0.95, 0.95], 2000) + rng.normal(0, 0.31, 2000)})
    row = make("drift.auto").fit(ref).test(cur)["features"][0]
    assert row["drift"] and row["p_parts"]["welch t"] > 0.05 and row["p_parts"]["anderson-darling"] < 1e-6


def test_missing_values_are_dropped_and_their_rate_tested():
    rng = np.random.default_rng(8)
    ref, cur = normal(rng, 1000, 2), normal(rng, 1000, 2)
    ref.loc[rng.random(1000) < 0.02, "f0"] = np.nan
    cur.loc[rng.random(1000) < 0.10, "f0"] = np.nan
    ref.loc[rng.random(1000) < 0.03, "f1"] = np.nan  # the same rate in both: no drift
    cur.loc[rng.random(1000) < 0.03, "f1"] = np.nan
    for name in ("drift.auto", "drift.ks", "drift.wasserstein"):
        rows = make(name).fit(ref).test(cur)["features"]
        assert rows[0]["drift"] and "missing rate" in rows[0]["test"], (name, rows[0])
        assert rows[0]["missing_current"] > rows[0]["missing_reference"]
        assert not rows[1]["drift"], (name, rows[1])


def test_a_column_missing_from_current_is_one_error_naming_it_and_the_fix():
    rng = np.random.default_rng(9)
    model = make("drift.auto").fit(normal(rng, 100, 3))
    with pytest.raises(DataError, match=r"no column 'f2'.*--columns"):
        model.test(normal(rng, 100, 2))


def test_text_in_a_numeric_column_and_infinite_values_are_one_line_errors():
    rng = np.random.default_rng(10)
    ref = normal(rng, 100, 2)
    model = make("drift.auto").fit(ref)
    bad = ref.astype(object)
    bad.loc[4, "f1"] = "oops"
    with pytest.raises(DataError, match=r"'f1' is numeric.*'oops' in row 5"):
        model.test(bad)
    inf = ref.copy()
    inf.loc[2, "f0"] = np.inf
    with pytest.raises(DataError, match=r"'f0'.*infinite value \(row 3\)"):
        model.test(inf)


# --- small samples use permutation p-values ---


def test_small_samples_use_permutation_p_values_that_hold_their_level():
    rng = np.random.default_rng(12)
    model = make("drift.auto")
    ps = []
    for _ in range(150):
        ref, cur = normal(rng, 12, 1), normal(rng, 15, 1)
        row = model.fit(ref).test(cur)["features"][0]
        ps.append(row["p_value"])
    assert "permutation" in row["test"]
    assert np.mean(np.array(ps) <= 0.05) <= 0.1  # Binomial(150, 0.05): > 15 has probability < 0.5%
    ref, cur = normal(rng, 12, 1), normal(rng, 15, 1) + 2.0
    assert model.fit(ref).test(cur)["drift"]


def test_small_sample_rank_p_values_are_close_to_scipys_exact_ones():
    """Within Monte Carlo error: 2,000 relabellings give a standard error of at most 0.011."""
    rng = np.random.default_rng(13)
    R, C = np.sort(rng.normal(size=(12, 3)), axis=0), np.sort(rng.normal(0.8, 1, size=(15, 3)), axis=0)
    _, p_ks = stats.rank_test("ks", R, C)
    _, p_cvm = stats.rank_test("cvm", R, C)
    for j in range(3):
        assert p_ks[j] == pytest.approx(scipy_stats.ks_2samp(R[:, j], C[:, j], method="exact").pvalue,
                                        abs=0.035)
        assert p_cvm[j] == pytest.approx(
            scipy_stats.cramervonmises_2samp(R[:, j], C[:, j], method="exact").pvalue, abs=0.035)


# --- agreement with scipy ---


def test_large_sample_statistics_and_p_values_match_scipy():
    rng = np.random.default_rng(14)
    R = np.sort(rng.normal(size=(400, 4)), axis=0)
    C = np.sort(rng.normal(0.1, 1.1, size=(300, 4)), axis=0)
    ranked = stats.Ranked(R, C)
    D, T = stats.ks_stat(ranked.diff), stats.cvm_stat(ranked.diff, 400, 300)
    A = stats.ad_stat(ranked.diff, ranked.ends, 400, 300)
    p_ks, p_cvm, p_ad = stats.ks_p(D, 400, 300), stats.cvm_p(T, 400, 300), stats.ad_p(A, 400, 300)
    W = np.einsum("ij,ij->j", np.abs(ranked.diff[:-1]), np.diff(ranked.z, axis=0))
    for j in range(4):
        ks = scipy_stats.ks_2samp(R[:, j], C[:, j], method="asymp")
        cvm = scipy_stats.cramervonmises_2samp(R[:, j], C[:, j], method="asymptotic")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy caps the AD p-value and warns
            ad = scipy_stats.anderson_ksamp([R[:, j], C[:, j]], midrank=False)
        assert D[j] == pytest.approx(ks.statistic) and p_ks[j] == pytest.approx(ks.pvalue, rel=0.05)
        assert T[j] == pytest.approx(cvm.statistic) and p_cvm[j] == pytest.approx(cvm.pvalue, rel=1e-6)
        assert (A[j] - 1) / stats.ad_sd(400, 300) == pytest.approx(ad.statistic, abs=0.02)
        if 0.002 < ad.pvalue < 0.25:  # inside scipy's interpolation table
            assert p_ad[j] == pytest.approx(ad.pvalue, rel=0.05)
        assert W[j] == pytest.approx(scipy_stats.wasserstein_distance(R[:, j], C[:, j]))


def test_welch_and_brown_forsythe_match_scipy():
    rng = np.random.default_rng(15)
    x, y = rng.normal(0, 1, 300), rng.normal(0.2, 1.4, 200)
    t, p = stats.welch(np.array([x.mean()]), np.array([x.var(ddof=1)]), 300,
                       np.array([y.mean()]), np.array([y.var(ddof=1)]), 200)
    ref = scipy_stats.ttest_ind(y, x, equal_var=False)
    assert t[0] == pytest.approx(ref.statistic) and p[0] == pytest.approx(ref.pvalue)
    dev = np.abs(x - np.median(x))
    F, p = stats.brown_forsythe((np.array([dev.mean()]), np.array([dev.var(ddof=1)])), 300,
                                np.sort(y)[:, None], np.array([np.median(y)]))
    ref = scipy_stats.levene(x, y, center="median")
    assert F[0] == pytest.approx(ref.statistic) and p[0] == pytest.approx(ref.pvalue)


def test_ties_are_counted_once_at_their_own_height():
    rng = np.random.default_rng(16)
    R = np.sort(rng.integers(0, 30, size=(300, 1)).astype(float), axis=0)
    C = np.sort(rng.integers(0, 31, size=(400, 1)).astype(float), axis=0)
    ranked = stats.Ranked(R, C)
    assert stats.ks_stat(ranked.diff)[0] == pytest.approx(scipy_stats.ks_2samp(R[:, 0], C[:, 0]).statistic)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ad = scipy_stats.anderson_ksamp([R[:, 0], C[:, 0]], midrank=False).statistic
    assert (stats.ad_stat(ranked.diff, ranked.ends, 300, 400)[0] - 1) / stats.ad_sd(300, 400) == \
        pytest.approx(ad, abs=0.02)


# --- PSI, joint tests ---


def test_psi_reports_its_band_and_flags_from_the_threshold():
    rng = np.random.default_rng(17)
    ref = normal(rng, 2000, 3)
    cur = normal(rng, 2000, 3)
    cur["f1"] += 0.4
    cur["f2"] += 1.0
    rows = make("drift.psi").fit(ref).test(cur)["features"]
    assert [r["band"] for r in rows] == ["stable", "moderate", "drift"]
    assert [r["drift"] for r in rows] == [False, False, True]
    assert all(r["p_value"] is None for r in rows)
    assert make("drift.psi", threshold=0.1).fit(ref).test(cur)["drifted"] == ["f1", "f2"]


def test_mmd_sees_a_change_of_correlation_that_no_single_feature_shows():
    rng = np.random.default_rng(18)
    ref = normal(rng, 400, 2)
    z = rng.standard_normal(400)
    cur = pd.DataFrame({"f0": z, "f1": 0.9 * z + np.sqrt(1 - 0.81) * rng.standard_normal(400)})
    assert not make("drift.auto").fit(ref).test(cur)["drift"]
    row = make("drift.mmd").fit(ref).test(cur)["features"][0]
    assert row["feature"] == "(joint)" and row["columns"] == ["f0", "f1"] and row["drift"]
    assert not make("drift.mmd").fit(ref).test(normal(rng, 400, 2))["drift"]


@pytest.mark.slow
def test_classifier_test_finds_a_joint_change_and_names_the_features_behind_it():
    rng = np.random.default_rng(19)
    ref = normal(rng, 1000, 4)
    cur = normal(rng, 1000, 4)
    cur["f2"] = np.where(cur["f1"] > 0, cur["f2"] + 1.5, cur["f2"] - 1.5)
    row = make("drift.classifier").fit(ref).test(cur)["features"][0]
    assert row["drift"] and row["auc"] > 0.6
    assert max(row["importance"], key=row["importance"].get) == "f2"
    null = make("drift.classifier").fit(ref).test(normal(rng, 1000, 4))["features"][0]
    assert not null["drift"] and 0.4 < null["auc"] < 0.6


# --- persistence ---


@pytest.mark.parametrize("name", NAMES)
def test_fit_save_load_round_trip_gives_the_same_result(name, tmp_path):
    rng = np.random.default_rng(20)
    ref = normal(rng, 300, 3)
    ref["kind"] = rng.choice(["a", "b", "c"], 300)
    ref["count"] = rng.integers(0, 4, 300)
    ref.loc[rng.random(300) < 0.05, "f1"] = np.nan
    cur = normal(rng, 250, 3)
    cur["f0"] += 0.5
    cur["kind"] = rng.choice(["a", "b", "c", "d"], 250)
    cur["count"] = rng.integers(0, 5, 250)
    params = {"max_rows": 200} if name == "drift.classifier" else {}
    model = make(name, alpha=0.01, correction="bonferroni", **params).fit(ref)
    path = tmp_path / "test.npz"
    model.save(path)
    again = type(model).load(path, model.metadata)
    assert again.get_params() == model.get_params()
    first, second = model.test(cur), again.test(cur)
    assert json.dumps(first, sort_keys=True, allow_nan=False) == json.dumps(second, sort_keys=True)
    assert first["alpha"] == 0.01 and first["correction"] == "bonferroni" and first["test"] == name
    assert model.metadata["kinds"] == {"f0": "numeric", "f1": "numeric", "f2": "numeric",
                                       "kind": "categorical", "count": "discrete"}


def test_load_refuses_another_components_file_and_garbage(tmp_path):
    rng = np.random.default_rng(21)
    path = tmp_path / "ks.npz"
    make("drift.ks").fit(normal(rng, 50, 2)).save(path)
    with pytest.raises(IntegrityError, match="holds 'drift.ks'"):
        type(make("drift.cvm")).load(path)
    (tmp_path / "junk").write_bytes(b"not an npz")
    with pytest.raises(IntegrityError, match="not a zoo-drift test file"):
        type(make("drift.ks")).load(tmp_path / "junk")


def test_numpy_arrays_are_accepted_as_tables():
    rng = np.random.default_rng(23)
    result = make("drift.ks").fit(rng.normal(size=(200, 3))).test(rng.normal(size=(150, 3)))
    assert [r["feature"] for r in result["features"]] == ["x0", "x1", "x2"]


def test_auto_is_fast_on_a_thousand_rows_by_ten():
    """Loose guard against a slow path creeping in; benchmarks/drift.py measures for real."""
    import time

    rng = np.random.default_rng(24)
    model = make("drift.auto").fit(normal(rng, 1000, 10))
    current = [normal(rng, 1000, 10) for _ in range(20)]
    model.test(current[0])
    start = time.perf_counter()
    for cur in current:
        model.test(cur)
    assert (time.perf_counter() - start) / 20 < 0.05
