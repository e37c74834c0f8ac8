"""zoo-drift's tests as zoo ``DriftTest`` components.

Every test takes ``alpha`` and ``correction`` ("bh" or "bonferroni"), keeps a summary of
the reference at ``fit`` (kinds of columns, sorted numeric columns and their moments,
category counts) and returns ``zoo.drift.verdict``'s result from ``test``. Numeric tests
meeting a discrete or categorical column fall back to chi-square and say so in the row's
``test``. A fitted test saves as one compressed ``.npz`` (read with ``allow_pickle=False``).

numpy, scipy and pandas are imported inside the methods: the catalogue reads these
classes' names, docstrings and signatures without loading them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from zoo import DriftTest


class ZooDriftTest(DriftTest):
    """Base of zoo-drift's tests: reference summary, result shape and npz persistence."""

    artifact_format = "npz"

    def __init__(self, alpha: float = 0.05, correction: str = "bh") -> None:
        self.store_params(locals())

    def fit(self, reference: Any) -> ZooDriftTest:
        """Summarise the ``reference`` table (a DataFrame or 2-D array); returns ``self``."""
        from zoo_drift.engine import Reference

        self._check_params()
        self.reference_ = Reference.from_frame(reference)
        return self

    def test(self, current: Any) -> dict[str, Any]:
        """Test every reference column of ``current``; the result of ``zoo.drift.verdict``
        plus ``test`` (this component) and ``rows`` (the sizes of both samples)."""
        from zoo.drift import verdict
        from zoo_drift.engine import Current, ordered

        ref = self._fitted()
        self._check_params()
        cur = Current(ref, current)
        result = verdict(ordered(ref, self._rows(ref, cur)), float(self.alpha), self.correction)
        result["test"] = self.component
        result["rows"] = {"reference": ref.rows, "current": cur.rows}
        return result

    def _rows(self, ref: Any, cur: Any) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _check_params(self) -> None:
        from zoo import ZooError
        from zoo.drift import check_correction

        self.correction = check_correction(self.correction)
        try:
            alpha = float(self.alpha)
        except (TypeError, ValueError):
            alpha = float("nan")
        if not 0 < alpha < 1:
            raise ZooError(f"alpha must be between 0 and 1, got {self.alpha!r}")

    def _fitted(self) -> Any:
        ref = getattr(self, "reference_", None)
        if ref is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(reference) first")
        return ref

    @property
    def feature_names(self) -> list[str]:
        """The reference's columns, the features tested."""
        ref = getattr(self, "reference_", None)
        return list(ref.columns) if ref is not None else []

    @property
    def metadata(self) -> dict[str, Any]:
        ref = getattr(self, "reference_", None)
        meta: dict[str, Any] = {"task": self.task, "feature_names": self.feature_names}
        if ref is not None:
            meta["kinds"] = dict(zip(ref.columns, ref.kinds, strict=True))
            meta["reference_rows"] = ref.rows
        return meta

    def save(self, path: str | Path) -> None:
        """Write the parameters and the reference summary as one compressed npz (no pickle)."""
        from zoo_drift import engine

        engine.save(path, self.component, self.get_params(), self._fitted())

    @classmethod
    def load(cls, path: str | Path, metadata: dict[str, Any] | None = None) -> ZooDriftTest:
        """Rebuild a fitted test from ``save``'s file."""
        from zoo_drift import engine

        params, ref = engine.load(path, cls.component)
        model = cls(**{k: v for k, v in params.items() if k in cls.param_defaults()})
        model.reference_ = ref
        return model


class _RankTest(ZooDriftTest):
    """A test of each numeric column's ranks against the reference's (``statistic``, shown as
    ``label``), falling back to chi-square for discrete and categorical columns."""

    statistic: ClassVar[str] = ""
    label: ClassVar[str] = ""

    def _rows(self, ref: Any, cur: Any) -> list[dict[str, Any]]:
        from zoo_drift.engine import category_rows, rank_rows

        return rank_rows(ref, cur, self.statistic, self.label) + category_rows(ref, cur, fallback=True)


class KSTest(_RankTest):
    """Kolmogorov-Smirnov per numeric column (largest gap between the two CDFs)."""

    component = "drift.ks"
    statistic = label = "ks"


class CramerVonMisesTest(_RankTest):
    """Cramér-von Mises per numeric column (squared CDF gap over the whole range)."""

    component = "drift.cvm"
    statistic = label = "cvm"


class AndersonDarlingTest(_RankTest):
    """Anderson-Darling per numeric column (CDF gap weighted toward the tails)."""

    component = "drift.ad"
    statistic, label = "ad", "anderson-darling"


class ChiSquareTest(ZooDriftTest):
    """Chi-square of category shares per column; numeric columns binned at reference deciles."""

    component = "drift.chi2"

    def _rows(self, ref: Any, cur: Any) -> list[dict[str, Any]]:
        from zoo_drift.engine import chi2_rows

        return chi2_rows(ref, cur)


class PSITest(ZooDriftTest):
    """Population stability index per column: <0.1 stable, 0.1-0.2 moderate, >=threshold drift."""

    component = "drift.psi"

    def __init__(self, alpha: float = 0.05, correction: str = "bh", threshold: float = 0.2) -> None:
        self.store_params(locals())

    def _rows(self, ref: Any, cur: Any) -> list[dict[str, Any]]:
        from zoo_drift.engine import psi_rows

        return psi_rows(ref, cur, float(self.threshold))


class WassersteinTest(ZooDriftTest):
    """Wasserstein-1 distance per numeric column, with a permutation p-value."""

    component = "drift.wasserstein"

    def __init__(self, alpha: float = 0.05, correction: str = "bh", n_permutations: int = 1000,
                 max_rows: int = 2000, random_state: int = 0) -> None:
        self.store_params(locals())

    def _rows(self, ref: Any, cur: Any) -> list[dict[str, Any]]:
        from zoo_drift.engine import category_rows, wasserstein_rows

        return (wasserstein_rows(ref, cur, int(self.n_permutations), int(self.max_rows),
                                 int(self.random_state)) + category_rows(ref, cur, fallback=True))


class MMDTest(ZooDriftTest):
    """MMD permutation test of all numeric columns jointly (RBF kernel; max_rows per sample)."""

    component = "drift.mmd"

    def __init__(self, alpha: float = 0.05, correction: str = "bh", n_permutations: int = 500,
                 max_rows: int = 500, random_state: int = 0) -> None:
        self.store_params(locals())

    def _rows(self, ref: Any, cur: Any) -> list[dict[str, Any]]:
        from zoo_drift.engine import category_rows, mmd_row

        return (mmd_row(ref, cur, int(self.n_permutations), int(self.max_rows), int(self.random_state))
                + category_rows(ref, cur, fallback=True))


class ClassifierTest(ZooDriftTest):
    """Classifier two-sample test: held-out AUC of telling current rows from reference rows."""

    component = "drift.classifier"

    def __init__(self, alpha: float = 0.05, correction: str = "bh", max_rows: int = 5000,
                 random_state: int = 0) -> None:
        self.store_params(locals())

    def _rows(self, ref: Any, cur: Any) -> list[dict[str, Any]]:
        from zoo_drift.engine import category_rows, classifier_row

        return (classifier_row(ref, cur, int(self.max_rows), int(self.random_state))
                + category_rows(ref, cur, fallback=True))


class AutoTest(ZooDriftTest):
    """Default: mean, shape and spread tests per numeric column, chi-square for categories."""

    component = "drift.auto"

    def _rows(self, ref: Any, cur: Any) -> list[dict[str, Any]]:
        from zoo_drift.engine import auto_rows

        return auto_rows(ref, cur)


TESTS: tuple[type[ZooDriftTest], ...] = (
    AutoTest, KSTest, CramerVonMisesTest, AndersonDarlingTest, ChiSquareTest, PSITest, WassersteinTest,
    MMDTest, ClassifierTest,
)
