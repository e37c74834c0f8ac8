"""Anomaly detectors behind zoo's ``Detector`` interface, and the ``pyod.auto`` ensemble.

IForest, KNN, LOF, PCA, OCSVM and LODA wrap PyOD's classes. ECOD, COPOD, HBOS and CBLOF
are zoo's own numpy code for the same published algorithms, for three reasons measured
on PyOD 3.6: its ECOD and COPOD rank a new row against the training rows *pooled with
the rest of the batch*, so a row's score depends on what it is scored with (ours rank it
against the training rows alone); its HBOS, CBLOF, ECOD and COPOD call numba-compiled
helpers that take several seconds to compile in every new process; and HBOS, ECOD and
COPOD keep their per-feature scores private, which ``explain`` needs.

Input hygiene, in ``PyODDetector``: every column is cast to float before fitting (ECOD
and COPOD negate their input, and unsigned integers wrap around); a NaN is an error
naming its column unless ``impute="median"``; constant columns cannot make a score
infinite (PCA keeps only components with non-zero variance); and any non-finite score is
an error rather than a silent ranking. As for every zoo detector, training rows are
scored by the same ``decision_function`` as new rows, so KNN and LOF count a training
row as its own neighbour (PyOD's own ``decision_scores_`` leave it out): a row's score
depends only on the row and the fitted model, never on whether it was in the training set. The
price: training rows score a little low, so new rows from the same distribution pass the
threshold a little more often than ``contamination`` (measured on Gaussian data at 0.1:
KNN 0.118, LOF 0.105-0.112, IForest 0.10-0.12, which overfits its training rows too).

Persistence: no pickle. A detector is saved as an ``.npz`` (read with
``allow_pickle=False``) holding the training matrix, the training scores
(``decision_scores``; files written before the rename call them ``training_scores``) and a
JSON header with the parameters; ``load`` refits with the same parameters and seeds,
which is exact, and checks that a sample of training rows scores bit-identically to the
saved scores (it warns otherwise, e.g. after a library upgrade).

numpy, scipy, scikit-learn and PyOD are imported inside methods only.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, ClassVar

from zoo import DataError, Detector, IntegrityError
from zoo_pyod.auto import (
    AUTO_COMBINE,
    AUTO_MEMBERS,
    AUTO_NORMALISE,
    COMBINATIONS,
    NORMALISATIONS,
    combine,
    fit_scale,
    normalise,
)

FORMAT = "zoo-pyod/1"
#: Training rows re-scored at load to check the refit is bit-identical.
VERIFY_ROWS = 200


class RefitWarning(UserWarning):
    """A reloaded detector does not score its training rows exactly as when it was saved."""


class PyODDetector(Detector):
    """Base of the plugin's detectors: input hygiene, explanations and npz persistence.

    A subclass lists its parameters in ``__init__`` and implements ``_fit_array(X)`` and
    ``_score_array(X)`` on float arrays with no missing values; it may implement
    ``_contributions(X)`` (non-negative per-feature parts of each row's score) when the
    algorithm scores features separately.
    """

    artifact_format = "npz"
    #: Fewest training rows the algorithm can fit.
    min_rows: ClassVar[int] = 2
    #: Parameters added since files were first saved: the value that reproduces an older file.
    missing_params: ClassVar[dict[str, Any]] = {}

    @property
    def allow_missing(self) -> bool:  # type: ignore[override]
        """NaN is accepted only when the user chose an imputation."""
        return getattr(self, "impute", None) is not None

    def fit(self, X: Any, y: Any = None) -> PyODDetector:
        """Fit on ``X`` (labels are ignored); a NaN is an error naming its column unless imputed."""
        import numpy as np

        from zoo.data import typed_frame

        if not self.allow_missing:
            frame = typed_frame(X)[0]  # X itself goes on, so fit learns its column types
            missing = frame.isna().to_numpy()
            if missing.any():
                column = frame.columns[int(np.flatnonzero(missing.any(axis=0))[0])]
                count = int(frame[column].isna().sum())
                raise DataError(f"column {column!r} has {count} missing value{'s' if count > 1 else ''}; "
                                f"fill or drop them, or let {self.component} fill them with the "
                                "training median (impute='median', --param impute=median)")
        return super().fit(X, y)

    # --- fitting and scoring DataFrames (called by zoo.Detector's fit and decision_function) ---

    def _fit(self, X: Any) -> None:
        import numpy as np

        if getattr(self, "impute", None) not in (None, "median"):
            raise DataError(f"{self.component}: impute must be None or 'median', got {self.impute!r}")
        values = _values(X)
        if len(values) < self.min_rows:
            raise DataError(f"{self.component} needs at least {self.min_rows} training rows, "
                            f"got {len(values)}")
        self.__dict__.pop("fill_values_", None)  # from an earlier fit
        if self.allow_missing:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN column: named below
                self.fill_values_ = np.nanmedian(values, axis=0)
            empty = [str(c) for c, v in zip(X.columns, self.fill_values_, strict=True) if np.isnan(v)]
            if empty:
                raise DataError(f"column {empty[0]!r} has no values to impute from; drop it")
        self.X_train_ = values
        self.medians_ = np.median(self._fill(values), axis=0)
        self._fit_array(self._fill(values))

    def _decision_function(self, X: Any) -> Any:
        import numpy as np

        scores = np.asarray(self._score_array(self._fill(_values(X))), dtype=float)
        if not np.isfinite(scores).all():
            bad = int(np.flatnonzero(~np.isfinite(scores))[0])
            raise DataError(f"{self.component} gave a non-finite score (row {bad + 1}); "
                            "check that row for extreme values")
        return scores

    def _fill(self, values: Any) -> Any:
        import numpy as np

        fill = getattr(self, "fill_values_", None)
        if fill is None or not np.isnan(values).any():
            return values
        return np.where(np.isnan(values), fill, values)

    def _fit_array(self, X: Any) -> None:
        raise NotImplementedError

    def _score_array(self, X: Any) -> Any:
        raise NotImplementedError

    # --- explanations ---

    def explain(self, X: Any) -> Any:
        """Each feature's share of each row's anomaly score (rows x features, rows sum to 1).

        Detectors that score each feature separately (ECOD, COPOD, HBOS) split the score
        exactly. The others use occlusion: a feature's part is how much the score drops
        when that feature alone is set to its training median (negative drops count as
        0). A row no feature makes more anomalous gets all-zero shares.
        """
        import numpy as np
        import pandas as pd

        frame = self._check(X)
        values = self._fill(_values(frame))
        parts = np.clip(np.asarray(self._contributions(values), dtype=float), 0.0, None)
        total = parts.sum(axis=1, keepdims=True)
        shares = np.divide(parts, total, out=np.zeros_like(parts), where=total > 0)
        return pd.DataFrame(shares, index=frame.index, columns=list(self.feature_names_in_))

    def _contributions(self, X: Any) -> Any:
        """Occlusion: the drop in score when each feature is set to its training median."""
        import numpy as np

        base = np.asarray(self._score_array(X), dtype=float)
        parts = np.empty_like(X)
        for j in range(X.shape[1]):
            occluded = X.copy()
            occluded[:, j] = self.medians_[j]
            parts[:, j] = base - np.asarray(self._score_array(occluded), dtype=float)
        return parts

    # --- persistence ---

    def save(self, path: str | Path) -> None:
        """Write training data, training scores and parameters as an npz (no pickle)."""
        import numpy as np

        self.check_fitted()
        header = {
            "format": FORMAT,
            "component": self.component,
            "params": self.get_params(),
            "feature_names": [str(c) for c in self.feature_names_in_],
            "threshold": self.threshold_,
            "contamination": self.contamination,
            "versions": _versions(),
        }
        with open(path, "wb") as f:  # a file object, so numpy does not append ".npz"
            np.savez(f, X_train=self.X_train_, decision_scores=self.decision_scores_,
                     header=np.array(json.dumps(header)))

    @classmethod
    def load(cls, path: str | Path, metadata: dict[str, Any] | None = None) -> PyODDetector:
        """Refit from ``save``'s npz and check a sample of training scores is bit-identical."""
        import numpy as np
        import pandas as pd

        from zoo_pyod.validate import check_archive, check_detector

        check_archive(path)  # bounded arrays and refit parameters (validate.py)
        try:
            with np.load(path, allow_pickle=False) as z:
                header = json.loads(str(z["header"]))
                # Files saved before Detector.training_scores_ became decision_scores_.
                X_train = z["X_train"]
                scores = z["decision_scores"] if "decision_scores" in z.files else z["training_scores"]
        except (ValueError, KeyError, OSError) as exc:
            raise IntegrityError(f"refusing to load {path}: not a zoo-pyod detector file "
                                 f"({type(exc).__name__})") from None
        if header.get("format") != FORMAT or header.get("component") != cls.component:
            raise IntegrityError(f"refusing to load {path}: it holds {header.get('component')!r} "
                                 f"in format {header.get('format')!r}, expected {cls.component!r} "
                                 f"in {FORMAT!r}")
        check_detector(cls.component, header, X_train, scores)
        defaults = cls.param_defaults()
        params = {**cls.missing_params,
                  **{k: tuple(v) if isinstance(v, list) and isinstance(defaults.get(k), tuple) else v
                     for k, v in header["params"].items()}}  # JSON has no tuples
        model = cls(**params)
        model.feature_names_in_ = np.asarray(header["feature_names"], dtype=object)
        model._fit(pd.DataFrame(X_train, columns=header["feature_names"]))
        model.decision_scores_ = scores
        model.threshold_ = float(header["threshold"])
        model.contamination = float(header["contamination"])
        rows = np.unique(np.linspace(0, len(X_train) - 1, min(VERIFY_ROWS, len(X_train))).astype(int))
        again = model._score_array(model._fill(X_train[rows]))
        if not np.array_equal(np.asarray(again, dtype=float), scores[rows]):
            diff = float(np.max(np.abs(np.asarray(again, dtype=float) - scores[rows])))
            warnings.warn(
                f"{cls.component} refitted from {Path(path).name} scores its training rows "
                f"differently from when it was saved (max difference {diff:.3g}); saved with "
                f"{header.get('versions')}, now {_versions()}",
                RefitWarning, stacklevel=2,
            )
        return model


def _values(frame: Any) -> Any:
    """A DataFrame's values as a C-ordered float64 array.

    pandas hands out column-major arrays, and numpy sums a row of one in another order
    than a row of a row-major copy: the last bits of a score would depend on where the
    rows came from (a DataFrame, a slice, the saved npz).
    """
    import numpy as np

    return np.ascontiguousarray(frame.to_numpy(dtype=np.float64))


def _check_bins(component: str, n_bins: Any) -> None:
    """A one-line ``DataError`` unless ``n_bins`` is a whole number of at least 2."""
    if not (isinstance(n_bins, int) and n_bins >= 2):
        raise DataError(f"{component}: n_bins must be a whole number of at least 2, got {n_bins!r}")


def _versions() -> dict[str, str]:
    import numpy
    import scipy
    import sklearn
    from pyod import __version__ as pyod_version

    return {"pyod": pyod_version, "scikit-learn": sklearn.__version__, "numpy": numpy.__version__,
            "scipy": scipy.__version__}


# --- detectors that wrap a PyOD class ---


class _Wrapped(PyODDetector):
    """A PyOD detector built by ``_make_estimator`` and scored by its ``decision_function``."""

    def _make_estimator(self, X: Any) -> Any:
        raise NotImplementedError

    def _fit_array(self, X: Any) -> None:
        with warnings.catch_warnings():
            # PyOD warns about its own deprecations; they are not the user's business.
            warnings.simplefilter("ignore", FutureWarning)
            self.estimator_ = self._make_estimator(X).fit(X)

    def _score_array(self, X: Any) -> Any:
        return self.estimator_.decision_function(X)


class IForestDetector(_Wrapped):
    """Isolation Forest: rows that random axis-aligned splits isolate quickly are anomalous."""

    component = "pyod.iforest"

    def __init__(self, contamination=0.1, n_estimators=100, max_samples="auto", max_features=1.0,
                 bootstrap=False, random_state=0, impute=None):
        self.store_params(locals())

    def _make_estimator(self, X: Any) -> Any:
        from pyod.models.iforest import IForest

        return IForest(contamination=self.contamination, n_estimators=self.n_estimators,
                       max_samples=self.max_samples, max_features=self.max_features,
                       bootstrap=self.bootstrap, random_state=self.random_state, n_jobs=1)


class KNNDetector(_Wrapped):
    """k-nearest neighbours: the distance to the k-th nearest training row (or the mean/median)."""

    component = "pyod.knn"

    def __init__(self, contamination=0.1, n_neighbors=5, method="largest", metric="minkowski", p=2,
                 impute=None):
        self.store_params(locals())

    def _fit_array(self, X: Any) -> None:
        if len(X) <= self.n_neighbors:
            raise DataError(f"{self.component} with n_neighbors={self.n_neighbors} needs more than "
                            f"{self.n_neighbors} training rows, got {len(X)}")
        super()._fit_array(X)

    def _make_estimator(self, X: Any) -> Any:
        from pyod.models.knn import KNN

        return KNN(contamination=self.contamination, n_neighbors=self.n_neighbors, method=self.method,
                   metric=self.metric, p=self.p, n_jobs=1)


class LOFDetector(_Wrapped):
    """Local Outlier Factor: how much sparser a row's neighbourhood is than its neighbours'."""

    component = "pyod.lof"

    def __init__(self, contamination=0.1, n_neighbors=20, metric="minkowski", p=2, impute=None):
        self.store_params(locals())

    def _make_estimator(self, X: Any) -> Any:
        from pyod.models.lof import LOF

        # sklearn caps n_neighbors at n - 1 with a warning; cap it quietly instead.
        return LOF(contamination=self.contamination, n_neighbors=min(self.n_neighbors, len(X) - 1),
                   metric=self.metric, p=self.p, n_jobs=1, novelty=True)


class PCADetector(_Wrapped):
    """PCA: weighted distance to the principal components of the standardised training data."""

    component = "pyod.pca"

    def __init__(self, contamination=0.1, n_components=None, n_selected_components=None,
                 weighted=True, standardization=True, random_state=0, impute=None):
        self.store_params(locals())

    def _make_estimator(self, X: Any) -> Any:
        import numpy as np
        from pyod.models.pca import PCA

        # A constant (or collinear) column gives a component of zero variance, which PyOD
        # divides by: keep only as many components as the data has non-zero directions.
        centred = X - X.mean(axis=0)
        if self.standardization:
            std = centred.std(axis=0)
            centred = centred / np.where(std > 0, std, 1.0)
        singular = np.linalg.svd(centred, compute_uv=False)
        tol = singular.max(initial=0.0) * max(X.shape) * np.finfo(float).eps
        rank = int((singular > tol).sum())
        if rank == 0:
            raise DataError(f"{self.component}: every column is constant in the training data; "
                            "there is nothing to learn")
        n_components = rank if self.n_components is None else min(self.n_components, rank)
        selected = self.n_selected_components
        selected = None if selected is None else min(selected, n_components)
        return PCA(contamination=self.contamination, n_components=n_components,
                   n_selected_components=selected, weighted=self.weighted,
                   standardization=self.standardization, random_state=self.random_state)


class OCSVMDetector(_Wrapped):
    """One-class SVM: distance outside a kernel boundary drawn around the training rows."""

    component = "pyod.ocsvm"

    def __init__(self, contamination=0.1, kernel="rbf", gamma="auto", nu=0.5, degree=3, coef0=0.0,
                 tol=1e-3, max_iter=-1, impute=None):
        self.store_params(locals())

    def _make_estimator(self, X: Any) -> Any:
        from pyod.models.ocsvm import OCSVM

        return OCSVM(contamination=self.contamination, kernel=self.kernel, gamma=self.gamma,
                     nu=self.nu, degree=self.degree, coef0=self.coef0, tol=self.tol,
                     max_iter=self.max_iter)


class LODADetector(_Wrapped):
    """LODA: an ensemble of histograms on sparse random one-dimensional projections.

    PyOD fits the projections and histograms; scoring is ours because PyOD 3.6's
    ``decision_function`` looks each projected value up one histogram bin too far
    (``searchsorted`` on the left edges with ``side="left"``), which took its mean ROC-AUC
    on the ADBench data sets from 0.83 to 0.71. A value outside a histogram's range takes
    the edge bin, as in PyOD. Projections use ``einsum`` so a row's score does not depend
    on how many rows are scored with it (a BLAS product rounds differently by batch size).
    """

    component = "pyod.loda"

    def __init__(self, contamination=0.1, n_bins=10, n_random_cuts=100, random_state=0, impute=None):
        self.store_params(locals())

    def _make_estimator(self, X: Any) -> Any:
        from pyod.models.loda import LODA

        _check_bins(self.component, self.n_bins)
        return LODA(contamination=self.contamination, n_bins=self.n_bins,
                    n_random_cuts=self.n_random_cuts, random_state=self.random_state)

    def _score_array(self, X: Any) -> Any:
        import numpy as np

        est = self.estimator_
        projected = np.einsum("ij,kj->ik", X, est.projections_)
        scores = np.zeros(len(X))
        for k in range(est.n_random_cuts):
            limits, density = est.limits_[k], est.histograms_[k]
            bins = np.clip(np.searchsorted(limits, projected[:, k], side="right") - 1, 0, len(density) - 1)
            scores -= np.log(density[bins])
        return scores / est.n_random_cuts


# --- detectors implemented here (see the module docstring for why) ---


class _TailProbability(PyODDetector):
    """ECOD and COPOD: per-feature empirical tail probabilities against the training rows.

    A value's left tail is the share of training values at or below it, its right tail
    the share at or above it, both counting the scored value itself once ((count + 1) /
    (n + 1)), so no tail is zero and no score infinite, and a row's score does not depend
    on the other rows of its batch. Each feature scores ``-log`` of its tails; the row's
    score is the sum over features, which ``explain`` splits exactly.
    """

    def __init__(self, contamination=0.1, impute=None):
        self.store_params(locals())

    def _fit_array(self, X: Any) -> None:
        import numpy as np
        from scipy.stats import skew

        self.sorted_ = np.sort(X, axis=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # constant column: skew is NaN
            self.skew_sign_ = np.sign(np.nan_to_num(skew(X, axis=0)))

    def _tails(self, X: Any) -> tuple[Any, Any]:
        import numpy as np

        n = self.sorted_.shape[0]
        left = np.empty_like(X)
        right = np.empty_like(X)
        for j in range(X.shape[1]):
            column = self.sorted_[:, j]
            left[:, j] = np.searchsorted(column, X[:, j], side="right")
            right[:, j] = n - np.searchsorted(column, X[:, j], side="left")
        return -np.log((left + 1) / (n + 1)), -np.log((right + 1) / (n + 1))

    def _skew_corrected(self, u_left: Any, u_right: Any) -> Any:
        # The tail the feature's skew points to (both tails for a symmetric feature).
        s = self.skew_sign_
        return u_left * (s <= 0) + u_right * (s >= 0)

    def _contributions(self, X: Any) -> Any:
        raise NotImplementedError

    def _score_array(self, X: Any) -> Any:
        return self._contributions(X).sum(axis=1)


class ECODDetector(_TailProbability):
    """ECOD: sums, over features, the rarer tail of each value's empirical distribution."""

    component = "pyod.ecod"

    def _contributions(self, X: Any) -> Any:
        import numpy as np

        u_left, u_right = self._tails(X)
        return np.maximum(np.maximum(u_left, u_right), self._skew_corrected(u_left, u_right))


class COPODDetector(_TailProbability):
    """COPOD: copula-based tail probabilities per feature, summed over features.

    Against a feature's skew (a high value of a left-skewed feature) COPOD counts the mean
    of both tails, so half the tail score ECOD would give: ``explain`` shows that.
    """

    component = "pyod.copod"

    def _contributions(self, X: Any) -> Any:
        import numpy as np

        u_left, u_right = self._tails(X)
        return np.maximum(self._skew_corrected(u_left, u_right), (u_left + u_right) / 2)


class HBOSDetector(PyODDetector):
    """HBOS: sums, over features, the negative log density of each value's histogram bin.

    Fixed-width histograms per feature (``n_bins``); a value outside the training range
    takes its edge bin when within ``tol`` bin widths of it, else the rarest bin's score,
    as in PyOD. ``explain`` splits the score exactly: a feature's part is its score above
    that feature's densest bin.
    """

    component = "pyod.hbos"

    def __init__(self, contamination=0.1, n_bins=10, alpha=0.1, tol=0.5, impute=None):
        self.store_params(locals())

    def _fit_array(self, X: Any) -> None:
        import numpy as np

        _check_bins(self.component, self.n_bins)
        d = X.shape[1]
        self.edges_ = np.empty((d, self.n_bins + 1))
        self.bin_scores_ = np.empty((d, self.n_bins))
        for j in range(d):
            density, self.edges_[j] = np.histogram(X[:, j], bins=self.n_bins, density=True)
            self.bin_scores_[j] = -np.log2(density + self.alpha)

    def _bin_scores(self, X: Any) -> Any:
        import numpy as np

        parts = np.empty_like(X)
        for j in range(X.shape[1]):
            edges, scores = self.edges_[j], self.bin_scores_[j]
            width = edges[1] - edges[0]
            bins = np.clip(np.searchsorted(edges, X[:, j], side="left"), 1, self.n_bins) - 1
            below = X[:, j] < edges[0] - width * self.tol
            above = X[:, j] > edges[-1] + width * self.tol
            parts[:, j] = np.where(below | above, scores.max(), scores[bins])
        return parts

    def _score_array(self, X: Any) -> Any:
        return self._bin_scores(X).sum(axis=1)

    def _contributions(self, X: Any) -> Any:
        return self._bin_scores(X) - self.bin_scores_.min(axis=1)


class CBLOFDetector(PyODDetector):
    """CBLOF: distance to the nearest large cluster's centre (k-means), as in He et al. 2003.

    Clusters are sorted by size; the large ones are the fewest that hold ``alpha`` of the
    rows or are followed by a cluster ``beta`` times smaller. A row in a large cluster
    scores its distance to that cluster's centre, a row in a small one its distance to the
    nearest large centre. The first split meeting both rules wins, else the first meeting
    one; when none does (e.g. equal clusters) all clusters count as large, where PyOD
    raises an error.
    """

    component = "pyod.cblof"

    def __init__(self, contamination=0.1, n_clusters=8, alpha=0.9, beta=5, use_weights=False,
                 random_state=0, impute=None):
        self.store_params(locals())

    def _fit_array(self, X: Any) -> None:
        import numpy as np
        from sklearn.cluster import KMeans

        distinct = len(np.unique(X, axis=0))
        k = max(1, min(self.n_clusters, distinct))
        self.kmeans_ = KMeans(n_clusters=k, n_init="auto", random_state=self.random_state).fit(X)
        sizes = np.bincount(self.kmeans_.labels_, minlength=k)
        order = np.argsort(-sizes, kind="stable")
        by_alpha = [i for i in range(1, k) if sizes[order[:i]].sum() >= len(X) * self.alpha]
        by_beta = [i for i in range(1, k) if sizes[order[i - 1]] >= self.beta * sizes[order[i]]]
        both = [i for i in by_alpha if i in by_beta]
        n_large = (both or by_alpha or by_beta or [k])[0]
        self.sizes_ = sizes
        self.large_ = np.zeros(k, dtype=bool)
        self.large_[order[:n_large]] = True

    def _score_array(self, X: Any) -> Any:
        import numpy as np
        from scipy.spatial.distance import cdist

        centres = self.kmeans_.cluster_centers_
        labels = self.kmeans_.predict(X)
        own = np.sqrt(((X - centres[labels]) ** 2).sum(axis=1))
        nearest_large = cdist(X, centres[self.large_]).min(axis=1)
        scores = np.where(self.large_[labels], own, nearest_large)
        return scores * self.sizes_[labels] if self.use_weights else scores


# --- the ensemble ---


SINGLE: tuple[type[PyODDetector], ...] = (
    IForestDetector, ECODDetector, COPODDetector, HBOSDetector, KNNDetector, LOFDetector,
    CBLOFDetector, PCADetector, OCSVMDetector, LODADetector,
)


class AutoDetector(PyODDetector):
    """Default detector: a fixed combination of diverse detectors, designed leave-one-dataset-out.

    Each member (by default IForest, KNN and LODA: isolation, neighbour distance and
    random-projection density) is fitted on the training rows; its scores are put on the
    scale of its own training scores (``normalise``; by default the robust z-score
    ``(score - median) / IQR``, so members on different scales compare) and combined per
    row (``combine``; by default the largest: a row any one family finds extreme is
    extreme). The members, scale and rule are the same for every data set:
    ``zoo_pyod/auto.py`` says how ``benchmarks/anomaly.py`` chose them leave-one-dataset-out.
    ``explain`` splits a row's score as the member that gave it (``max``) splits its own,
    and uses occlusion for ``mean``.
    """

    component = "pyod.auto"
    # Files saved before ``normalise`` existed used the robust z-score.
    missing_params: ClassVar[dict[str, Any]] = {"normalise": "robust"}

    def __init__(self, contamination=0.1, members=AUTO_MEMBERS, normalise=AUTO_NORMALISE,
                 combine=AUTO_COMBINE, random_state=0, impute=None):
        self.store_params(locals())

    def _fit_array(self, X: Any) -> None:
        import numpy as np

        if self.combine not in COMBINATIONS:
            raise DataError(f"{self.component}: combine must be one of {', '.join(COMBINATIONS)}, "
                            f"got {self.combine!r}")
        if self.normalise not in NORMALISATIONS:
            raise DataError(f"{self.component}: normalise must be one of {', '.join(NORMALISATIONS)}, "
                            f"got {self.normalise!r}")
        by_name = {cls.component: cls for cls in SINGLE}
        unknown = [m for m in self.members if m not in by_name]
        if unknown or not self.members:
            raise DataError(f"{self.component}: members must be some of {', '.join(by_name)}; "
                            f"got {', '.join(map(repr, unknown)) or 'none'}")
        self.members_, self.scales_ = [], []
        for name in self.members:
            cls = by_name[name]
            params = {"random_state": self.random_state} if "random_state" in cls.param_defaults() else {}
            member = cls(**params)
            member.X_train_, member.medians_ = X, self.medians_
            member._fit_array(X)
            self.members_.append(member)
            self.scales_.append(fit_scale(np.asarray(member._score_array(X), dtype=float), self.normalise))

    def _member_scores(self, X: Any) -> Any:
        import numpy as np

        return np.column_stack([normalise(m._score_array(X), scale)
                                for m, scale in zip(self.members_, self.scales_, strict=True)])

    def _score_array(self, X: Any) -> Any:
        return combine(self._member_scores(X), self.combine)

    def _contributions(self, X: Any) -> Any:
        import numpy as np

        if self.combine == "mean":
            return super()._contributions(X)
        winner = self._member_scores(X).argmax(axis=1)
        parts = np.zeros_like(X)
        for k, member in enumerate(self.members_):
            rows = winner == k
            if rows.any():
                parts[rows] = member._contributions(X[rows])
        return parts


DETECTORS: tuple[type[PyODDetector], ...] = (AutoDetector, *SINGLE)
