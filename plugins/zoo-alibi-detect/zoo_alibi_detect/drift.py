"""alibi-detect's drift detectors behind zoo's ``DriftTest`` interface.

Each test fits on a reference DataFrame and tests a current one. alibi-detect computes the
per-feature statistics and p-values (``KSDrift``, ``CVMDrift``, ``ChiSquareDrift``,
``TabularDrift``, ``FETDrift``) or one p-value for the whole table (``ClassifierDrift``,
``MMDDrift``, ``LSDDDrift``, reported as the row ``(joint)``, as zoo-drift does); the verdict is zoo's
own, from ``zoo.drift.verdict``, so ``correction="bh"`` or ``"bonferroni"`` means the same
here as in every other drift test. alibi-detect's own batch verdict, with the matching
correction (``fdr`` for bh), is kept as the extra key ``alibi`` of the result.

Columns: a column is categorical when its dtype is not numeric (strings, categories,
booleans) or when it is named in ``categorical``. Categories are coded from the reference's
values (values first seen in the current data get new codes) and passed to alibi-detect as
``categories_per_feature``. KS, CVM, MMD and LSDD refuse categorical columns with a pointer
to ``alibi.tabular``; FET takes 0/1 or boolean columns only.

Persistence: no pickle, and not alibi-detect's ``save_detector`` (it writes dill pickles for
some detectors). ``save`` writes the reference table as an ``.npz`` (read back with
``allow_pickle=False``: numbers and booleans in their own dtype, everything else as
strings) plus a JSON header; ``load`` refits the detector on it, which is cheap and exact.

alibi-detect, numpy and pandas are imported inside methods only: the catalogue imports
this module whenever ``zoo`` lists components.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from zoo import DataError, DriftTest, IntegrityError, ZooError
from zoo.drift import check_columns, check_correction, verdict

FORMAT = "zoo-alibi-detect/1"
#: The ``feature`` of the one result row of a test over the whole table (zoo-drift's name too).
JOINT = "(joint)"
#: A numeric column with more distinct values than this is not taken as categorical by chi-square.
MAX_CATEGORIES = 50
INSTALL_HINT = ("pip install 'alibi-detect>=0.13,<0.14' into an environment with numpy<2 "
                "(bash scripts/setup-alibi makes one: .venv-alibi)")


def check_installed() -> None:
    """A one-line ``ZooError`` saying how to install alibi-detect, unless it is installed."""
    import importlib.util

    if importlib.util.find_spec("alibi_detect") is None:
        raise ZooError(f"alibi-detect is not installed: {INSTALL_HINT}")


def alibi_cd() -> Any:
    """``alibi_detect.cd`` (imported now: ~2.5 s), or a one-line ``ZooError`` saying how to install it."""
    check_installed()
    # transformers (which alibi-detect imports) prints an advisory line to stderr when it
    # finds no deep-learning framework; zoo's tabular tests never need one.
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    try:
        import alibi_detect.cd as cd
    except Exception as exc:  # e.g. numpy 2 under alibi-detect 0.13
        text = str(exc).strip().splitlines()
        raise ZooError(f"alibi-detect is installed but does not import ({type(exc).__name__}: "
                       f"{text[0] if text else ''}); {INSTALL_HINT}") from None
    return cd


@contextmanager
def _quiet_alibi() -> Iterator[None]:
    """Silence alibi-detect's log warnings about settings we choose on purpose."""
    import logging  # not at module top: zoo's start-up does not import logging

    logger = logging.getLogger("alibi_detect")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


class AlibiDriftTest(DriftTest):
    """Base of the plugin's tests: column coding, zoo's verdict and npz persistence.

    A subclass names its alibi-detect class in ``detector_class``, says which columns it
    takes in ``columns`` ("numeric", "categorical", "mixed" or "binary"; the categorical and
    mixed ones get ``categories_per_feature``) and, when its detector needs more than
    ``p_val`` and ``correction``, overrides ``_make(cd, x_ref)``, which returns the fitted
    alibi-detect detector.
    """

    artifact_format = "npz"
    #: The class in ``alibi_detect.cd`` this test wraps.
    detector_class: ClassVar[str] = ""
    #: The statistical test, the ``test`` of each result row ("ks", "chi2", ...).
    test_name: ClassVar[str] = ""
    #: Which columns the test takes: "numeric", "categorical", "mixed" or "binary".
    columns: ClassVar[str] = "numeric"
    #: True when the test gives one p-value for the whole table instead of one per feature.
    multivariate: ClassVar[bool] = False
    #: Fewest rows each of the reference and the current table must have.
    min_rows: ClassVar[int] = 2

    def __init__(self, alpha: float = 0.05, correction: str = "bh") -> None:
        self.store_params(locals())

    # --- fitting and testing ---

    def fit(self, reference: Any) -> AlibiDriftTest:
        """Check and code the reference table, then build alibi-detect's detector on it."""
        _check_alpha(self.alpha)
        check_correction(self.correction)
        cd = self._import()  # a missing alibi-detect (or backend) is named before the data's faults
        frame = _as_table(reference, "reference", self.min_rows)
        categorical = self._categorical_columns(frame)
        self._check_kinds(frame, categorical)
        self.feature_names_in_ = list(frame.columns)
        self.categorical_ = categorical
        self.categories_ = {c: _categories(frame[c]) for c in categorical}
        if self.columns == "categorical":
            _check_category_counts(self.component, self.categories_)
        x_ref = self._encode(frame)
        with _quiet_alibi():
            self.detector_ = self._make(cd, x_ref)
        self.reference_ = frame
        return self

    def test(self, current: Any) -> dict[str, Any]:
        """Per-feature statistic, p-value and drift flag, and zoo's overall verdict.

        The result is ``zoo.drift.verdict``'s, plus ``test`` (this component), ``rows`` (both
        sample sizes) and ``alibi``: alibi-detect's own batch verdict with the matching
        correction and the p-value threshold it used (``None`` when its fdr step-up found no
        p-value under its line), for comparison. A statistic that is not finite (FET's odds
        ratio when a column is all zeros) is ``None``, so the result stays valid JSON.
        """
        if not hasattr(self, "detector_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit() first")
        frame = self._aligned(_as_table(current, "current", self.min_rows))
        x = self._encode(frame)
        with _quiet_alibi():
            data = self._predict(x)
        p_values = [_finite(p) for p in _as_list(data["p_val"])]
        statistics = [_finite(v) for v in _as_list(data["distance"])]
        if self.multivariate:
            rows = [{"feature": JOINT, "test": self.test_name, "columns": list(self.feature_names_in_),
                     "statistic": statistics[0], "p_value": p_values[0]}]
        else:
            rows = [{"feature": name, "test": self._test_of(name), "statistic": stat, "p_value": p}
                    for name, stat, p in zip(self.feature_names_in_, statistics, p_values, strict=True)]
        result = verdict(rows, self.alpha, self.correction)
        result["test"] = self.component
        result["rows"] = {"reference": len(self.reference_), "current": len(frame)}
        # alibi's fdr returns every step-up threshold when no p-value passes: keep only one.
        threshold = _as_list(data.get("threshold", []))
        result["alibi"] = {
            "detector": self.detector_class,
            "drift": bool(data["is_drift"]),
            "correction": self._alibi_correction(),
            "threshold": threshold[0] if len(threshold) == 1 else None,
        }
        return result

    def _predict(self, x: Any) -> dict[str, Any]:
        return self.detector_.predict(x, drift_type="batch", return_p_val=True,
                                      return_distance=True)["data"]

    def _test_of(self, feature: str) -> str:
        return self.test_name

    def _alibi_correction(self) -> str | None:
        if self.multivariate:
            return None
        return "fdr" if check_correction(self.correction) == "bh" else "bonferroni"

    def _import(self) -> Any:
        return alibi_cd()

    def _make(self, cd: Any, x_ref: Any) -> Any:
        detector = getattr(cd, self.detector_class)
        kwargs: dict[str, Any] = {}
        if self.columns in ("categorical", "mixed"):  # the category count of each coded column
            kwargs["categories_per_feature"] = {j: len(self.categories_[name])
                                                for j, name in enumerate(self.feature_names_in_)
                                                if name in self.categories_}
        return detector(x_ref, p_val=self.alpha, correction=self._alibi_correction(), **kwargs)

    # --- columns ---

    def _categorical_columns(self, frame: Any) -> list[str]:
        """Columns coded as categories: non-numeric dtypes plus the ones named in ``categorical``."""
        named = _names(getattr(self, "categorical", None))
        unknown = [c for c in named if c not in frame.columns]
        if unknown:
            raise DataError(f"categorical names {', '.join(map(repr, unknown))}, which the reference "
                            f"table does not have; its columns are {', '.join(map(str, frame.columns[:20]))}")
        return [c for c in frame.columns if c in named or _is_categorical(frame[c])]

    def _check_kinds(self, frame: Any, categorical: list[str]) -> None:
        if self.columns == "numeric" and categorical:
            raise DataError(f"{self.component} tests numeric columns, and {categorical[0]!r} is "
                            "categorical: use alibi.tabular (chi-square for categorical columns) "
                            "or drop the column")
        if self.columns == "binary":
            for name in frame.columns:
                _binary_values(frame[name], name, "reference", self.component)

    def _aligned(self, frame: Any) -> Any:
        """The current table's columns in the reference's order; other columns are ignored,
        as zoo-drift ignores them (``zoo drift --columns`` tests a subset of a wider table)."""
        check_columns(self.feature_names_in_, list(frame.columns))
        return frame[self.feature_names_in_]

    def _encode(self, frame: Any) -> Any:
        """A float matrix: numeric columns as numbers, categorical ones as category codes."""
        import numpy as np

        out = np.empty(frame.shape, dtype=np.float64)
        for j, name in enumerate(frame.columns):
            column = frame[name]
            if name in self.categories_:
                out[:, j] = _codes(column, self.categories_[name], name)
            elif self.columns == "binary":
                out[:, j] = _binary_values(column, name, "current", self.component)
            else:
                out[:, j] = _numbers(column, name)
        return out

    # --- persistence ---

    @property
    def metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"task": self.task,
                                "feature_names": list(getattr(self, "feature_names_in_", []))}
        if hasattr(self, "categorical_"):
            meta["categorical"] = list(self.categorical_)
            meta["reference_rows"] = int(len(self.reference_))
        return meta

    def save(self, path: str | Path) -> None:
        """Write the reference table and the parameters as an npz (no pickle)."""
        import numpy as np

        self.check_fitted()
        arrays = {f"column_{j}": _storable(self.reference_[name])
                  for j, name in enumerate(self.feature_names_in_)}
        header = {
            "format": FORMAT,
            "component": self.component,
            "params": self.get_params(),
            "columns": self.feature_names_in_,
            "versions": _versions(),
        }
        with open(path, "wb") as f:  # a file object, so numpy does not append ".npz"
            np.savez(f, header=np.array(json.dumps(header)), **arrays)

    @classmethod
    def load(cls, path: str | Path, metadata: dict[str, Any] | None = None) -> AlibiDriftTest:
        """Read ``save``'s npz and refit the detector on the stored reference table."""
        import numpy as np
        import pandas as pd

        try:
            with np.load(path, allow_pickle=False) as z:
                header = json.loads(str(z["header"]))
                if not isinstance(header, dict):
                    raise TypeError("the header is not a JSON object")
                columns = {name: z[f"column_{j}"] for j, name in enumerate(header["columns"])}
        except (ValueError, KeyError, OSError, TypeError) as exc:
            raise IntegrityError(f"refusing to load {path}: not a zoo-alibi-detect file "
                                 f"({type(exc).__name__})") from None
        if header.get("format") != FORMAT or header.get("component") != cls.component:
            raise IntegrityError(f"refusing to load {path}: it holds {header.get('component')!r} "
                                 f"in format {header.get('format')!r}, not {cls.component!r}")
        return cls(**header["params"]).fit(pd.DataFrame(columns))


# --- the tests ---


class KSDrift(AlibiDriftTest):
    """alibi-detect KSDrift: two-sample Kolmogorov-Smirnov test per numeric feature."""

    component = "alibi.ks"
    detector_class = "KSDrift"
    test_name = "ks"


class CVMDrift(AlibiDriftTest):
    """alibi-detect CVMDrift: two-sample Cramér-von Mises test per numeric feature."""

    component = "alibi.cvm"
    detector_class = "CVMDrift"
    test_name = "cvm"


class ChiSquareDrift(AlibiDriftTest):
    """alibi-detect ChiSquareDrift: chi-square test of category counts, every column categorical."""

    component = "alibi.chisquare"
    detector_class = "ChiSquareDrift"
    test_name = "chi2"
    columns = "categorical"

    def _categorical_columns(self, frame: Any) -> list[str]:
        return list(frame.columns)


class TabularDrift(AlibiDriftTest):
    """alibi-detect TabularDrift: KS for numeric columns, chi-square for categorical ones."""

    component = "alibi.tabular"
    detector_class = "TabularDrift"
    test_name = "ks"
    columns = "mixed"

    def __init__(self, alpha: float = 0.05, correction: str = "bh",
                 categorical: list[str] | None = None) -> None:
        self.store_params(locals())

    def _test_of(self, feature: str) -> str:
        return "chi2" if feature in self.categories_ else "ks"


class FETDrift(AlibiDriftTest):
    """alibi-detect FETDrift: Fisher's exact test per binary (0/1 or boolean) feature."""

    component = "alibi.fet"
    detector_class = "FETDrift"
    test_name = "fet"
    columns = "binary"

    def __init__(self, alpha: float = 0.05, correction: str = "bh",
                 alternative: str = "two-sided") -> None:
        self.store_params(locals())

    def _categorical_columns(self, frame: Any) -> list[str]:
        return []  # booleans are binary features here, not categories

    def _make(self, cd: Any, x_ref: Any) -> Any:
        # alibi-detect defaults to "greater" (only a rise in the share of ones); drift is two-sided.
        if self.alternative not in ("two-sided", "greater", "less"):
            raise ZooError(f"alternative must be two-sided, greater or less, got {self.alternative!r}")
        return cd.FETDrift(x_ref, p_val=self.alpha, alternative=self.alternative,
                           correction=self._alibi_correction())


class ClassifierDrift(AlibiDriftTest):
    """alibi-detect ClassifierDrift (sklearn backend): a random forest tells reference from current rows."""

    component = "alibi.classifier"
    detector_class = "ClassifierDrift"
    test_name = "classifier"
    columns = "mixed"
    multivariate = True
    min_rows = 10

    def __init__(self, alpha: float = 0.05, correction: str = "bh", n_estimators: int = 100,
                 seed: int = 0, categorical: list[str] | None = None) -> None:
        self.store_params(locals())

    def _make(self, cd: Any, x_ref: Any) -> Any:
        from sklearn.ensemble import RandomForestClassifier

        # Out-of-bag predictions score every row with one fit, instead of k folds.
        model = RandomForestClassifier(n_estimators=int(self.n_estimators), n_jobs=1,
                                       random_state=int(self.seed))
        return cd.ClassifierDrift(x_ref, model, backend="sklearn", p_val=self.alpha,
                                  use_oob=True, seed=int(self.seed))

    def _predict(self, x: Any) -> dict[str, Any]:
        return self.detector_.predict(x, return_p_val=True, return_distance=True,
                                      return_probs=False, return_model=False)["data"]


class _BackendDrift(AlibiDriftTest):
    """A kernel test that alibi-detect runs on torch or tensorflow only."""

    multivariate = True
    #: alibi-detect's backend name for each Python package that provides one, in order of preference.
    BACKENDS: ClassVar[dict[str, str]] = {"torch": "pytorch", "tensorflow": "tensorflow"}

    def __init__(self, alpha: float = 0.05, correction: str = "bh", backend: str = "auto",
                 n_permutations: int = 100, seed: int = 0) -> None:
        self.store_params(locals())

    def _import(self) -> Any:
        import importlib.util

        check_installed()  # before the backend: the more basic missing piece is named first
        found = [name for package, name in self.BACKENDS.items() if importlib.util.find_spec(package)]
        if self.backend == "auto":
            if not found:
                raise ZooError(f"{self.component} needs torch or tensorflow, and neither is installed: "
                               "pip install torch (or tensorflow) into this environment")
            self.backend_ = found[0]
        elif self.backend in self.BACKENDS.values():
            if self.backend not in found:
                package = next(p for p, n in self.BACKENDS.items() if n == self.backend)
                raise ZooError(f"{self.component} backend {self.backend!r} needs {package}, which is "
                               f"not installed: pip install {package}")
            self.backend_ = self.backend
        else:
            raise ZooError(f"backend must be auto, pytorch or tensorflow, got {self.backend!r}")
        return alibi_cd()

    def _make(self, cd: Any, x_ref: Any) -> Any:
        with self._seeded():
            return getattr(cd, self.detector_class)(x_ref, backend=self.backend_, p_val=self.alpha,
                                                    n_permutations=int(self.n_permutations))

    def _encode(self, frame: Any) -> Any:
        return super()._encode(frame).astype("float32")  # what alibi-detect's kernels expect

    def _predict(self, x: Any) -> dict[str, Any]:
        with self._seeded():
            return self.detector_.predict(x, return_p_val=True, return_distance=True)["data"]

    def _seeded(self) -> Any:
        """torch's random state seeded with ``seed`` for one call, and restored after it.

        The permutations (and LSDD's kernel centres) come from torch's global generator, so
        seeding makes a p-value repeat run to run, and after ``load``. tensorflow has no such
        fork: under it the p-values vary by a permutation's worth.
        """
        import contextlib

        if self.backend_ != "pytorch":
            return contextlib.nullcontext()
        import torch

        stack = contextlib.ExitStack()
        stack.enter_context(torch.random.fork_rng(devices=[]))
        torch.manual_seed(int(self.seed))
        return stack


class MMDDrift(_BackendDrift):
    """alibi-detect MMDDrift: kernel maximum mean discrepancy, all features (needs torch or tensorflow)."""

    component = "alibi.mmd"
    detector_class = "MMDDrift"
    test_name = "mmd"


class LSDDDrift(_BackendDrift):
    """alibi-detect LSDDDrift: least-squares density difference, all features (needs torch or tensorflow)."""

    component = "alibi.lsdd"
    detector_class = "LSDDDrift"
    test_name = "lsdd"


DRIFT_TESTS: tuple[type[AlibiDriftTest], ...] = (
    KSDrift, CVMDrift, ChiSquareDrift, TabularDrift, FETDrift, ClassifierDrift, MMDDrift, LSDDDrift,
)


# --- helpers ---


def _check_alpha(alpha: Any) -> float:
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0 < value < 1:
        raise ZooError(f"alpha must be between 0 and 1, got {alpha!r}")
    return value


def _as_table(data: Any, what: str, min_rows: int) -> Any:
    """A DataFrame with string column names, at least ``min_rows`` rows and no missing values."""
    import numpy as np

    from zoo.drift import as_table

    frame = as_table(data, what, min_rows)
    missing = frame.isna().sum()
    if missing.any():
        name = str(missing.index[int(np.flatnonzero(missing.to_numpy())[0])])
        count = int(missing[name])
        raise DataError(f"column {name!r} of the {what} data has {count} missing "
                        f"value{'s' if count > 1 else ''}; fill or drop them first")
    return frame


def _is_categorical(column: Any) -> bool:
    import pandas as pd

    return pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column)


def _names(value: Any) -> list[str]:
    """``categorical`` as a list of column names: a list, or a comma-separated string."""
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


def _category_key(column: Any) -> Any:
    """Values to code: numbers stay numbers (1 and 1.0 are one category), the rest are strings."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column.astype(float)
    return column.astype(str)


def _categories(column: Any) -> list[Any]:
    """The reference's categories, sorted: their positions are the codes."""
    return sorted(_category_key(column).unique().tolist())


def _codes(column: Any, categories: list[Any], name: str) -> Any:
    """Category codes; values the reference never had get new codes after its own."""
    import numpy as np
    import pandas as pd

    if isinstance(categories[0], float):  # numbers in the reference: compare as numbers
        values = pd.to_numeric(column.astype(str) if pd.api.types.is_bool_dtype(column) else column,
                               errors="coerce")
        if values.isna().any():
            raise DataError(f"column {name!r} held numbers in the reference but has "
                            f"{column[values.isna()].iloc[0]!r} now; encode it as in the reference")
        values = values.astype(float)
    else:
        values = column.astype(str)
    known = {v: i for i, v in enumerate(categories)}
    new = sorted(set(values.unique().tolist()) - set(known))
    known.update({v: len(categories) + i for i, v in enumerate(new)})
    return np.asarray(values.map(known), dtype=np.float64)


def _check_category_counts(component: str, categories: dict[str, list[Any]]) -> None:
    for name, values in categories.items():
        if len(values) > MAX_CATEGORIES and isinstance(values[0], float):
            raise DataError(f"{component} takes every column as categorical, and numeric column "
                            f"{name!r} has {len(values)} distinct values: use alibi.tabular (KS for "
                            "numeric columns) or drop the column")


def _numbers(column: Any, name: str) -> Any:
    import numpy as np
    import pandas as pd

    values = pd.to_numeric(column, errors="coerce")
    if values.isna().any():
        raise DataError(f"column {name!r} has a value that is not a number "
                        f"({column[values.isna()].iloc[0]!r}); encode it as in the reference")
    array = values.to_numpy(dtype=np.float64)
    if not np.isfinite(array).all():
        raise DataError(f"column {name!r} has an infinite value; replace or drop it")
    return array


def _binary_values(column: Any, name: str, what: str, component: str) -> Any:
    """A 0/1 float array from a boolean or 0/1 column, else a ``DataError``."""
    import numpy as np
    import pandas as pd

    values = pd.to_numeric(column, errors="coerce") if not pd.api.types.is_bool_dtype(column) \
        else column.astype(float)
    array = values.to_numpy(dtype=np.float64)
    bad = ~np.isin(array, (0.0, 1.0))
    if bad.any():
        raise DataError(f"{component} tests binary columns, and column {name!r} of the {what} table "
                        f"has {column[bad].iloc[0]!r}: use 0/1 or true/false, or use alibi.tabular")
    return array


def _as_list(value: Any) -> list[float]:
    """Plain floats; alibi-detect's float32 values by their shortest repr (0.042, not 0.04199999943)."""
    import numpy as np

    array = np.atleast_1d(np.asarray(value))
    if array.dtype == np.float32:
        return [float(str(v)) for v in array]
    return [float(v) for v in array.astype(np.float64)]


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _storable(column: Any) -> Any:
    """A column as an array ``np.load(allow_pickle=False)`` reads: its own dtype or strings."""
    import numpy as np

    if column.dtype.kind in "biuf":
        return column.to_numpy()
    return np.asarray(column.astype(str).to_numpy(), dtype=str)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("alibi-detect", "numpy", "scipy", "scikit-learn"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out
