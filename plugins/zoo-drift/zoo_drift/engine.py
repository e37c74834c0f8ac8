"""What the tests keep of the reference, how they read the current data, and the per-feature
rows each test builds.

Column kinds are decided once, on the reference:

- ``categorical``: not a numeric dtype (strings, ``category``, ``bool``): values compared
  as text;
- ``discrete``: numeric with at most ``DISCRETE_MAX`` distinct values, each seen at least
  twice on average (counts, codes, ratings): compared as categories;
- ``numeric``: everything else.

Missing values: in a numeric column they are dropped before the distribution is tested,
and the missing rate is tested on its own (Fisher's exact test) whenever either sample
has any; the two p-values are combined with a weighted Bonferroni bound (``MISSING_WEIGHT``
to the missing rate), which stays a valid p-value. For categories, missing is one more
category.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zoo import DataError, IntegrityError
from zoo.drift import as_table, check_columns
from zoo_drift import stats

#: Numeric columns with at most this many distinct values are compared as categories.
DISCRETE_MAX = 10
#: Share of a numeric feature's alpha spent on its missing rate when either sample has gaps.
MISSING_WEIGHT = 0.1
#: Quantile bins of a numeric column for PSI and chi-square.
BINS = 10
#: Share an empty bin counts as in PSI (the usual practice, so the logarithm stays finite).
PSI_EMPTY_SHARE = 1e-4
#: PSI bands: below 0.1 stable, 0.1 to 0.2 moderate, 0.2 and above drift.
PSI_BANDS = ((0.1, "stable"), (0.2, "moderate"), (float("inf"), "drift"))
#: The name of a row that tests several columns jointly (MMD, classifier).
JOINT = "(joint)"
FORMAT = "zoo-drift/1"


def column_kind(col: pd.Series) -> str:
    """``numeric``, ``discrete`` or ``categorical`` (see the module docstring)."""
    if pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col):
        return "categorical"
    values = col.dropna()
    distinct = values.nunique()
    if distinct <= DISCRETE_MAX and distinct <= len(values) / 2:
        return "discrete"
    return "numeric"


def to_float(col: pd.Series, name: str, what: str) -> np.ndarray:
    """A numeric column as float64 (NaN for missing), with one-line errors for text and inf."""
    if col.dtype == np.float64:
        x = col.to_numpy()
    elif pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
        x = col.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        converted = pd.to_numeric(col, errors="coerce")
        bad = (converted.isna() & col.notna()).to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(f"column {name!r} is numeric in the reference but the {what} data has "
                            f"{col.iloc[row]!r} in row {row + 1}: fix the value or leave the column out")
        x = converted.to_numpy(dtype=np.float64, na_value=np.nan)
    _check_finite(x, name, what)
    return x


def _check_finite_columns(X: np.ndarray, names: list[str], what: str) -> None:
    bad = np.isinf(X).any(axis=0)
    if bad.any():
        j = int(np.argmax(bad))
        _check_finite(X[:, j], names[j], what)


def _check_finite(x: np.ndarray, name: str, what: str) -> None:
    if np.isinf(x).any():
        row = int(np.flatnonzero(np.isinf(x).ravel())[0])
        raise DataError(f"column {name!r} of the {what} data has an infinite value (row {row + 1}): "
                        "replace or drop it")


def category_counts(col: pd.Series, kind: str, name: str, what: str) -> tuple[np.ndarray, np.ndarray, int]:
    """Distinct values (float for discrete, text for categorical), their counts, and missing count."""
    if kind == "discrete":
        x = to_float(col, name, what)
        missing = np.isnan(x)
        keys, counts = np.unique(x[~missing], return_counts=True)
    else:
        missing = col.isna().to_numpy()
        values = col.to_numpy(dtype=object)[~missing].astype(str)
        keys, counts = np.unique(values, return_counts=True)
    return keys, counts.astype(np.int64), int(missing.sum())


class Reference:
    """A reference sample as the tests need it: column kinds, the numeric columns (raw and
    sorted, with their moments) and each category column's counts."""

    def __init__(self, columns: list[str], kinds: list[str], rows: int, raw: np.ndarray,
                 categories: dict[int, tuple[np.ndarray, np.ndarray, int]]) -> None:
        self.columns, self.kinds, self.rows = columns, kinds, rows
        self.numeric = [i for i, k in enumerate(kinds) if k == "numeric"]
        self.raw = raw  # (rows, numeric columns), in row order: the joint tests need rows intact
        self.categories = categories
        # np.sort puts NaN last, so column j's values are sorted[:count[j], j].
        self.sorted = np.sort(raw, axis=0)
        self.count = (~np.isnan(raw)).sum(axis=0) if raw.size else np.zeros(0, dtype=int)
        self.missing = len(raw) - self.count
        self._moments()

    def _moments(self) -> None:
        """Mean, variance, median, absolute-deviation moments and decile edges per numeric column."""
        rows, k = self.sorted.shape
        q = np.arange(1, BINS) / BINS
        if k and (self.count == rows).all():  # no missing values: one vectorised pass
            S = self.sorted
            self.mean, self.var = S.mean(axis=0), S.var(axis=0, ddof=1) if rows > 1 else np.full(k, np.nan)
            self.median = stats.sorted_median(S)
            dev = np.abs(S - self.median)
            self.spread = (dev.mean(axis=0), dev.var(axis=0, ddof=1) if rows > 1 else np.full(k, np.nan))
            edges = np.quantile(S, q, axis=0)
            self.edges = [np.unique(edges[:, j]) for j in range(k)]
            return
        columns = [self.sorted[:c, j] for j, c in enumerate(self.count.tolist())]
        nan = float("nan")
        self.mean = np.array([x.mean() if len(x) else nan for x in columns])
        self.var = np.array([x.var(ddof=1) if len(x) > 1 else nan for x in columns])
        self.median = np.array([stats.sorted_median(x) if len(x) else nan for x in columns])
        dev = [np.abs(x - med) for x, med in zip(columns, self.median, strict=True)]
        self.spread = (np.array([d.mean() if len(d) else nan for d in dev]),
                       np.array([d.var(ddof=1) if len(d) > 1 else nan for d in dev]))
        self.edges = [np.unique(np.quantile(x, q)) if len(x) else np.zeros(0) for x in columns]

    @classmethod
    def from_frame(cls, data: Any) -> Reference:
        df = as_table(data, "reference")
        columns = [str(c) for c in df.columns.tolist()]
        if all(t == np.float64 for t in df.dtypes):  # the usual case: kinds from one sorted array
            raw = df.to_numpy(dtype=np.float64)
            _check_finite_columns(raw, columns, "reference")
            S = np.sort(raw, axis=0)
            present = ~np.isnan(S)
            distinct = ((S[1:] != S[:-1]) & present[1:]).sum(axis=0) + present[:1].astype(int)
            discrete = (distinct <= DISCRETE_MAX) & (distinct <= present.sum(axis=0) / 2)
            if not discrete.any():
                return cls(columns, ["numeric"] * len(columns), len(df), raw, {})
        kinds = [column_kind(df[c]) for c in df.columns]
        numeric = [c for c, k in zip(df.columns, kinds, strict=True) if k == "numeric"]
        raw = (np.column_stack([to_float(df[c], str(c), "reference") for c in numeric]) if numeric
               else np.zeros((len(df), 0)))
        categories = {i: category_counts(df[c], k, str(c), "reference")
                      for i, (c, k) in enumerate(zip(df.columns, kinds, strict=True)) if k != "numeric"}
        return cls(columns, kinds, len(df), raw, categories)

    # --- persistence: arrays and a JSON header in one npz, read with allow_pickle=False ---

    def arrays(self) -> dict[str, np.ndarray]:
        out = {"raw": self.raw}
        for i, (keys, counts, _) in self.categories.items():
            out[f"keys_{i}"] = keys
            out[f"counts_{i}"] = counts
        return out

    def header(self) -> dict[str, Any]:
        return {"columns": self.columns, "kinds": self.kinds, "rows": self.rows,
                "missing": {str(i): mi for i, (_, _, mi) in self.categories.items()}}

    @classmethod
    def from_arrays(cls, header: dict[str, Any], arrays: Any) -> Reference:
        kinds = list(header["kinds"])
        raw = np.asarray(arrays["raw"], dtype=np.float64)
        categories = {}
        for i, kind in enumerate(kinds):
            if kind != "numeric":
                keys = arrays[f"keys_{i}"]
                keys = keys.astype(np.float64) if kind == "discrete" else keys.astype(str)
                categories[i] = (keys, arrays[f"counts_{i}"].astype(np.int64),
                                 int(header["missing"][str(i)]))
        return cls(list(header["columns"]), kinds, int(header["rows"]), raw, categories)


class Current:
    """The current sample read against a reference: same columns, same kinds."""

    def __init__(self, ref: Reference, data: Any) -> None:
        df = as_table(data, "current")
        names = [str(c) for c in df.columns.tolist()]
        check_columns(ref.columns, names)
        self.rows = len(df)
        position = {name: k for k, name in enumerate(names)}
        numeric = [position[ref.columns[i]] for i in ref.numeric]
        if numeric and all(t == np.float64 for t in df.dtypes):
            # The usual case, a float frame: one array, no per-column Series.
            self.raw = df.to_numpy(dtype=np.float64, copy=False)[:, numeric]
            _check_finite_columns(self.raw, [ref.columns[i] for i in ref.numeric], "current")
        elif numeric:
            self.raw = np.column_stack([to_float(df.iloc[:, k], names[k], "current") for k in numeric])
        else:
            self.raw = np.zeros((len(df), 0))
        self.sorted = np.sort(self.raw, axis=0)
        self.count = (~np.isnan(self.raw)).sum(axis=0)
        self.missing = len(df) - self.count
        self.categories = {i: category_counts(df.iloc[:, position[ref.columns[i]]], ref.kinds[i],
                                              ref.columns[i], "current")
                           for i in ref.categories}


def save(path: str | Path, component: str, params: dict[str, Any], ref: Reference) -> None:
    """Write a fitted test's parameters and reference summary as one npz (no pickle)."""
    header = {"format": FORMAT, "component": component, "params": params, "reference": ref.header()}
    with open(path, "wb") as f:  # a file object, so numpy does not append ".npz"
        np.savez_compressed(f, header=np.array(json.dumps(header)), **ref.arrays())


def load(path: str | Path, component: str) -> tuple[dict[str, Any], Reference]:
    """Parameters and reference summary from ``save``'s file, refusing anything else."""
    from zoo_drift.validate import check_archive, check_params

    check_archive(path)  # declared sizes bounded before numpy allocates (validate.py)
    try:
        with np.load(path, allow_pickle=False) as z:
            header = json.loads(str(z["header"]))
            arrays = {k: z[k] for k in z.files if k != "header"}
    except (ValueError, KeyError, OSError) as exc:
        raise IntegrityError(f"refusing to load {path}: not a zoo-drift test file "
                             f"({type(exc).__name__})") from None
    if header.get("format") != FORMAT or header.get("component") != component:
        raise IntegrityError(f"refusing to load {path}: it holds {header.get('component')!r} in format "
                             f"{header.get('format')!r}, expected {component!r} in {FORMAT!r}")
    check_params(component, header.get("params"))
    return header["params"], Reference.from_arrays(header["reference"], arrays)


# --- per-feature rows ---


def groups(ref: Reference, cur: Current) -> dict[tuple[int, int], list[int]]:
    """Numeric columns (positions in ``ref.numeric``) grouped by their non-missing counts, so
    each group is tested as one block of equally long columns."""
    out: dict[tuple[int, int], list[int]] = {}
    for j, (n, m) in enumerate(zip(ref.count.tolist(), cur.count.tolist(), strict=True)):
        out.setdefault((n, m), []).append(j)
    return out


def missing_part(ref: Reference, cur: Current, j: int) -> dict[str, Any] | None:
    """The missing-rate test of numeric column j, when either sample has missing values."""
    mr, mc = int(ref.missing[j]), int(cur.missing[j])
    if mr == 0 and mc == 0:
        return None
    return {"missing_reference": mr / ref.rows, "missing_current": mc / cur.rows,
            "p_missing": stats.fisher_missing(mr, ref.rows, mc, cur.rows)}


def combine(parts: dict[str, tuple[float | None, float]]) -> tuple[float | None, str | None]:
    """Weighted Bonferroni: min over parts of p / weight, capped at 1, and the part that gave it.

    Parts without a p-value are left out and the others' weights scaled up to sum to 1.
    """
    live = {k: (p, w) for k, (p, w) in parts.items() if p is not None}
    if not live:
        return None, None
    total = sum(w for _, w in live.values())
    best = min(live, key=lambda k: live[k][0] / live[k][1])
    p, w = live[best]
    return min(1.0, p * total / w), best


def numeric_row(name: str, test: str, statistic: float | None, p: float | None,
                missing: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
    """A numeric feature's row, folding in its missing-rate test when there is one."""
    row: dict[str, Any] = {"feature": name, "test": test, "statistic": _num(statistic)}
    if missing is None:
        row["p_value"] = _num(p)
        if p is None:
            row["note"] = "fewer than 2 values in a sample: not tested"
    else:
        row["p_value"], _ = combine({"dist": (p, 1 - MISSING_WEIGHT),
                                     "missing": (missing["p_missing"], MISSING_WEIGHT)})
        row["test"] = f"{test} + missing rate"
        row.update({k: _num(v) for k, v in missing.items()})
    row.update(extra)
    return row


def rank_rows(ref: Reference, cur: Current, which: str, label: str) -> list[dict[str, Any]]:
    """KS, Cramér-von Mises or Anderson-Darling rows for every numeric column."""
    stat = np.full(len(ref.numeric), np.nan)
    p = np.full(len(ref.numeric), np.nan)
    for (n, m), cols in groups(ref, cur).items():
        if n < 2 or m < 2:
            continue
        s, q = stats.rank_test(which, ref.sorted[:n, cols], cur.sorted[:m, cols])
        stat[cols], p[cols] = s, q
    return [numeric_row(ref.columns[i], label, _num(stat[j]), _num(p[j]), missing_part(ref, cur, j))
            for j, i in enumerate(ref.numeric)]


def category_rows(ref: Reference, cur: Current, label: str = "chi2",
                  fallback: bool = False) -> list[dict[str, Any]]:
    """Chi-square rows for the discrete and categorical columns (missing is a category)."""
    rows = []
    for i, (keys_r, counts_r, miss_r) in ref.categories.items():
        keys_c, counts_c, miss_c = cur.categories[i]
        r, c = align_counts(keys_r, counts_r, miss_r, keys_c, counts_c, miss_c)
        result = stats.chi_square(r, c)
        test = f"{label} ({ref.kinds[i]})" if fallback else label
        row = {"feature": ref.columns[i], "test": test, "statistic": _num(result["statistic"]),
               "p_value": _num(result["p_value"]), "df": result["df"],
               "categories": int(len(r) - (miss_r + miss_c == 0))}
        if result.get("method"):
            row["method"] = result["method"]
        rows.append(row)
    return rows


def align_counts(keys_r: np.ndarray, counts_r: np.ndarray, miss_r: int, keys_c: np.ndarray,
                 counts_c: np.ndarray, miss_c: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts of both samples over the union of their categories (missing last)."""
    keys = np.union1d(keys_r, keys_c)
    r = np.zeros(len(keys) + 1, dtype=np.int64)
    c = np.zeros(len(keys) + 1, dtype=np.int64)
    r[np.searchsorted(keys, keys_r)] = counts_r
    c[np.searchsorted(keys, keys_c)] = counts_c
    r[-1], c[-1] = miss_r, miss_c
    if miss_r + miss_c == 0:
        return r[:-1], c[:-1]
    return r, c


def binned_counts(ref: Reference, cur: Current, j: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts of numeric column j in its reference decile bins (plus a missing bin if needed)."""
    edges = ref.edges[j]
    r_vals = ref.sorted[: ref.count[j], j]
    c_vals = cur.sorted[: cur.count[j], j]
    bins = len(edges) + 1
    r = np.bincount(np.searchsorted(edges, r_vals, side="right"), minlength=bins)
    c = np.bincount(np.searchsorted(edges, c_vals, side="right"), minlength=bins)
    mr, mc = int(ref.missing[j]), int(cur.missing[j])
    if mr + mc:
        r, c = np.append(r, mr), np.append(c, mc)
    return r.astype(np.int64), c.astype(np.int64)


def psi_band(value: float) -> str:
    for limit, band in PSI_BANDS:
        if value < limit:
            return band
    return "drift"


def _num(value: Any) -> float | None:
    """A finite Python float, or None."""
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None


def ordered(ref: Reference, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows in the reference's column order, a joint row first."""
    position = {name: i for i, name in enumerate(ref.columns)}
    return sorted(rows, key=lambda r: position.get(r["feature"], -1))


def chi2_rows(ref: Reference, cur: Current) -> list[dict[str, Any]]:
    """Chi-square rows for every column: numeric ones binned at the reference's deciles."""
    rows = category_rows(ref, cur)
    for j, i in enumerate(ref.numeric):
        r, c = binned_counts(ref, cur, j)
        result = stats.chi_square(r, c)
        row = {"feature": ref.columns[i], "test": "chi2 (decile bins)",
               "statistic": _num(result["statistic"]), "p_value": _num(result["p_value"]), "df": result["df"]}
        if result.get("method"):
            row["method"] = result["method"]
        rows.append(row)
    return rows


def psi_rows(ref: Reference, cur: Current, threshold: float) -> list[dict[str, Any]]:
    """PSI rows for every column (numeric: reference decile bins; missing: a bin of its own)."""
    rows = []
    for j, i in enumerate(ref.numeric):
        rows.append((i, *binned_counts(ref, cur, j)))
    for i, (keys_r, counts_r, miss_r) in ref.categories.items():
        keys_c, counts_c, miss_c = cur.categories[i]
        rows.append((i, *align_counts(keys_r, counts_r, miss_r, keys_c, counts_c, miss_c)))
    out = []
    for i, r, c in rows:
        if r.sum() == 0 or c.sum() == 0:
            out.append({"feature": ref.columns[i], "test": "psi", "statistic": None, "p_value": None,
                        "drift": False, "band": None, "note": "no values in a sample: not tested"})
            continue
        value = stats.psi(r / r.sum(), c / c.sum(), PSI_EMPTY_SHARE)
        out.append({"feature": ref.columns[i], "test": "psi", "statistic": value, "p_value": None,
                    "drift": bool(value >= threshold), "band": psi_band(value), "bins": int(len(r))})
    return out


def _subsample(a: np.ndarray, rows: int, rng: np.random.Generator) -> np.ndarray:
    """At most ``rows`` rows of ``a``, in their original order."""
    if len(a) <= rows:
        return a
    return a[np.sort(rng.choice(len(a), rows, replace=False))]


def _null_gaps(n: int, m: int, b: int, seed: int) -> np.ndarray:
    """|F_ref - F_cur| of b random labellings: (N - 1, b) float32."""
    labels = stats.label_sequences(n, m, b, seed)
    return np.abs(stats.ecdf_gap(labels.T, n, m)[:-1]).astype(np.float32)


def wasserstein_rows(ref: Reference, cur: Current, b: int, max_rows: int, seed: int) -> list[dict[str, Any]]:
    """Wasserstein-1 distance per numeric column with a permutation p-value.

    Under the null the pooled values stay where they are and only the labels move, so
    every permutation's distance is ``|F_ref - F_cur|`` (which depends on the labels
    only) dotted with the gaps between pooled values (which depend on the data only): one
    matrix product serves all columns. The p-value uses at most ``max_rows`` rows per
    sample (a seeded subsample); the distance itself uses every row.
    """
    rng = np.random.default_rng(seed)
    stat = np.full(len(ref.numeric), np.nan)
    p = np.full(len(ref.numeric), np.nan)
    for (n, m), cols in groups(ref, cur).items():
        if n < 2 or m < 2:
            continue
        R, C = ref.sorted[:n, cols], cur.sorted[:m, cols]
        stat[cols] = _wasserstein(stats.Ranked(R, C))
        Rs, Cs = _subsample(R, max_rows, rng), _subsample(C, max_rows, rng)
        ranked = stats.Ranked(Rs, Cs)
        gaps = np.diff(ranked.z, axis=0).astype(np.float32)
        observed = np.einsum("ij,ij->j", np.abs(ranked.diff[:-1]).astype(np.float32), gaps)
        null = _null_gaps(len(Rs), len(Cs), b, stats.data_seed(seed, Rs, Cs)).T @ gaps
        p[cols] = stats.permutation_p(observed, null)
    sd = np.sqrt(ref.var)
    return [numeric_row(ref.columns[i], "wasserstein", _num(stat[j]), _num(p[j]), missing_part(ref, cur, j),
                        distance_sd=_num(stat[j] / sd[j]) if sd[j] > 0 else None)
            for j, i in enumerate(ref.numeric)]


def _wasserstein(ranked: stats.Ranked) -> np.ndarray:
    return np.einsum("ij,ij->j", np.abs(ranked.diff[:-1]), np.diff(ranked.z, axis=0))


def _complete_rows(ref: Reference, cur: Current) -> tuple[np.ndarray, np.ndarray]:
    """Numeric rows with no missing value, standardised by the reference's mean and sd."""
    sd = np.sqrt(ref.var)
    sd = np.where(np.isfinite(sd) & (sd > 0), sd, 1.0)
    X = (ref.raw - ref.mean) / sd
    Y = (cur.raw - ref.mean) / sd
    return X[~np.isnan(X).any(axis=1)], Y[~np.isnan(Y).any(axis=1)]


def _joint_name(ref: Reference) -> str:
    return ref.columns[ref.numeric[0]] if len(ref.numeric) == 1 else JOINT


def mmd_row(ref: Reference, cur: Current, b: int, max_rows: int, seed: int) -> list[dict[str, Any]]:
    """One row: an MMD permutation test over all numeric columns together.

    Gaussian (RBF) kernel on the columns standardised by the reference, bandwidth by the
    median heuristic (the median distance between pooled rows). The kernel matrix grows
    with the square of the rows, so each sample is capped at ``max_rows`` rows (a seeded
    subsample); rows with a missing value are left out.
    """
    if not ref.numeric:
        return []
    names = [ref.columns[i] for i in ref.numeric]
    X, Y = _complete_rows(ref, cur)
    rng = np.random.default_rng(seed)
    complete = (len(X), len(Y))
    X, Y = _subsample(X, max_rows, rng), _subsample(Y, max_rows, rng)
    n, m = len(X), len(Y)
    row: dict[str, Any] = {"feature": _joint_name(ref), "test": "mmd", "columns": names,
                           "rows_used": {"reference": n, "current": m}}
    if (n, m) != complete:
        row["note"] = (f"kernel on a seeded sample of at most {max_rows} complete rows per side "
                       f"(of {complete[0]} and {complete[1]}); raise max_rows for more power")
    if n < 2 or m < 2:
        return [{**row, "statistic": None, "p_value": None, "note": "fewer than 2 complete rows"}]
    Z = np.vstack([X, Y]).astype(np.float32)
    sq = (Z * Z).sum(axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * (Z @ Z.T), 0)
    upper = d2[np.triu_indices(len(Z), k=1)]
    scale = float(np.median(upper))
    if scale <= 0:
        scale = float(upper.mean()) or 1.0
    K = np.exp(-d2 / (2 * scale))
    labels = np.vstack([np.r_[np.ones(n, bool), np.zeros(m, bool)][None, :],
                        stats.label_sequences(n, m, b, stats.data_seed(seed, X, Y))])
    A = np.where(labels, np.float32(1 / n), np.float32(-1 / m))
    mmd2 = np.einsum("ij,ij->i", A @ K, A)
    p = float(stats.permutation_p(mmd2[:1], mmd2[1:, None])[0])
    return [{**row, "statistic": _num(mmd2[0]), "p_value": p, "bandwidth": float(np.sqrt(scale))}]


def classifier_row(ref: Reference, cur: Current, max_rows: int, seed: int) -> list[dict[str, Any]]:
    """One row: a classifier two-sample test over all numeric columns together.

    A gradient-boosting classifier learns to tell reference rows from current rows on one
    half of each sample; on the other half its scores are compared with the Mann-Whitney
    test (the held-out AUC against 0.5): with no drift the held-out labels are
    exchangeable given the fitted classifier, so the p-value is exact up to the normal
    approximation. Missing values stay in (the classifier handles them).
    """
    if not ref.numeric:
        return []
    names = [ref.columns[i] for i in ref.numeric]
    rng = np.random.default_rng(seed)
    X, Y = _subsample(ref.raw, max_rows, rng), _subsample(cur.raw, max_rows, rng)
    row: dict[str, Any] = {"feature": _joint_name(ref), "test": "classifier", "columns": names}
    if min(len(X), len(Y)) < 10:
        return [{**row, "statistic": None, "p_value": None, "note": "fewer than 10 rows in a sample"}]
    try:
        from sklearn.ensemble import HistGradientBoostingClassifier
        from threadpoolctl import threadpool_limits
    except ImportError:
        raise DataError("drift.classifier needs scikit-learn: pip install scikit-learn") from None
    train_x, test_x = _halves(X, rng)
    train_y, test_y = _halves(Y, rng)
    features = np.vstack([train_x, train_y])
    target = np.r_[np.zeros(len(train_x)), np.ones(len(train_y))]
    # One thread: OpenMP workers spinning on a shared machine cost more than they give here.
    with threadpool_limits(limits=1):
        model = HistGradientBoostingClassifier(max_iter=100, random_state=seed).fit(features, target)
        held = np.vstack([test_x, test_y])
        scores = model.predict_proba(held)[:, 1]
        auc, p = _auc(scores, len(test_x))
        importance = {}
        for k, name in enumerate(names):
            shuffled = held.copy()
            shuffled[:, k] = rng.permutation(shuffled[:, k])
            importance[name] = max(0.0, auc - _auc(model.predict_proba(shuffled)[:, 1], len(test_x))[0])
    return [{**row, "statistic": auc, "p_value": p, "auc": auc,
             "rows_used": {"reference": len(X), "current": len(Y)}, "importance": importance}]


def _halves(a: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(len(a))
    half = len(a) // 2
    return a[order[:half]], a[order[half:]]


def _auc(scores: np.ndarray, n_ref: int) -> tuple[float, float]:
    """Held-out AUC of current-vs-reference scores and the one-sided Mann-Whitney p-value."""
    from scipy.stats import mannwhitneyu

    ref_scores, cur_scores = scores[:n_ref], scores[n_ref:]
    test = mannwhitneyu(cur_scores, ref_scores, alternative="greater")
    return float(test.statistic / (len(ref_scores) * len(cur_scores))), float(test.pvalue)


#: How auto splits a numeric feature's alpha: mean (Welch t), shape (Anderson-Darling),
#: spread (Brown-Forsythe). A weighted Bonferroni bound, min(p_k / w_k), is a valid p-value.
AUTO_WEIGHTS = {"t": 0.9, "ad": 0.05, "spread": 0.05}
AUTO_LABELS = {"t": "welch t", "ad": "anderson-darling", "spread": "brown-forsythe",
               "missing": "missing rate"}
#: Below ``stats.SMALL`` rows every part is a permutation test; spread is then |log variance ratio|.
AUTO_SMALL_LABELS = {"t": "t (permutation)", "ad": "anderson-darling (permutation)",
                     "spread": "variance ratio (permutation)", "missing": "missing rate"}


def auto_rows(ref: Reference, cur: Current) -> list[dict[str, Any]]:
    """``auto``: per numeric feature a Welch t-test, an Anderson-Darling test and a
    Brown-Forsythe test combined by a weighted Bonferroni bound (permutation forms below
    ``stats.SMALL`` rows); chi-square for discrete and categorical columns."""
    rows = category_rows(ref, cur, label="auto: chi2")
    k = len(ref.numeric)
    if not k:
        return rows
    # Per numeric column: p-value and statistic of each part (NaN: not tested).
    p = {name: np.full(k, np.nan) for name in AUTO_WEIGHTS}
    stat = {name: np.full(k, np.nan) for name in AUTO_WEIGHTS}
    mean_c, sd_c = np.full(k, np.nan), np.full(k, np.nan)
    small = np.zeros(k, dtype=bool)
    for (n, m), cols in groups(ref, cur).items():
        if n < 2 or m < 2:
            continue
        R, C = ref.sorted[:n, cols], cur.sorted[:m, cols]
        stat["ad"][cols], p["ad"][cols] = stats.rank_test("ad", R, C)
        mean, var = C.mean(axis=0), C.var(axis=0, ddof=1)
        mean_c[cols], sd_c[cols] = mean, np.sqrt(var)
        stat["t"][cols], p["t"][cols] = stats.welch(ref.mean[cols], ref.var[cols], n, mean, var, m)
        if min(n, m) < stats.SMALL:  # exact forms: permutation p-values of |t| and |log variance ratio|
            abs_t, ratio = stats.moments_null(np.vstack([R, C]), n)
            p["t"][cols] = stats.permutation_p(abs_t[0], abs_t[1:])
            p["spread"][cols] = stats.permutation_p(ratio[0], ratio[1:])
            stat["spread"][cols] = ratio[0]
            small[cols] = True
        else:
            stat["spread"][cols], p["spread"][cols] = stats.brown_forsythe(
                (ref.spread[0][cols], ref.spread[1][cols]), n, C, stats.sorted_median(C))
    names = list(AUTO_WEIGHTS)
    weights = np.array([AUTO_WEIGHTS[name] for name in names])[:, None]
    P = np.vstack([p[name] for name in names])
    tested = ~np.isnan(P).any(axis=0)
    scaled = np.where(np.isnan(P), np.inf, P / weights)
    best = scaled.argmin(axis=0)
    combined = np.minimum(scaled.min(axis=0), 1.0)
    sd_r = np.sqrt(ref.var)
    shift = ((mean_c - ref.mean) / sd_r).tolist()
    ratio = (sd_c / sd_r).tolist()
    P_list, stat_list = P.T.tolist(), np.vstack([stat[name] for name in names]).T.tolist()
    for j, i in enumerate(ref.numeric):
        labels = AUTO_SMALL_LABELS if small[j] else AUTO_LABELS
        row: dict[str, Any] = {"feature": ref.columns[i]}
        missing = missing_part(ref, cur, j)
        if tested[j]:
            parts = {labels[name]: P_list[j][q] for q, name in enumerate(names)}
            row.update({"test": f"auto: {labels[names[best[j]]]}", "statistic": _num(stat_list[j][best[j]]),
                        "p_value": float(combined[j]), "p_parts": parts,
                        "mean_shift_sd": _num(shift[j]), "sd_ratio": _num(ratio[j])})
        else:
            row.update({"test": "auto", "statistic": None, "p_value": None})
        if missing:
            # The missing rate takes MISSING_WEIGHT of the feature's alpha; the rest keep theirs.
            p_dist = row["p_value"]
            p_value, part = combine({"dist": (p_dist, 1 - MISSING_WEIGHT),
                                     "missing": (missing["p_missing"], MISSING_WEIGHT)})
            row["p_value"] = p_value
            if part == "missing":
                row["test"], row["statistic"] = "auto: missing rate", _num(
                    missing["missing_current"] - missing["missing_reference"])
            row.setdefault("p_parts", {})["missing rate"] = missing["p_missing"]
            row.update({k: _num(v) for k, v in missing.items() if k != "p_missing"})
        if row["p_value"] is None:
            row["note"] = "fewer than 2 values in a sample: not tested"
        rows.append(row)
    return rows
