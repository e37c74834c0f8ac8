"""What every drift test shares: multiple-testing corrections and the shape of a result.

A ``DriftTest.test`` returns ``verdict(features, alpha, correction)``: per feature the
test used, its statistic and raw p-value, the corrected p-value and a drift flag; overall
``drift`` is true when any feature is flagged after the correction. Plugins (zoo-drift,
zoo-alibi-detect) build their results with it, so every test reads the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.errors import DataError, ZooError

CORRECTIONS = ("bh", "bonferroni")


def check_correction(correction: str) -> str:
    """``correction`` lower-cased, or a one-line error naming the valid ones."""
    value = str(correction).lower()
    if value not in CORRECTIONS:
        raise ZooError(f"unknown correction {correction!r}: use one of {', '.join(CORRECTIONS)}")
    return value


def check_columns(reference_columns: list[str], current_columns: list[str]) -> None:
    """A one-line ``DataError`` naming the reference columns the current data lacks, if any."""
    have = set(current_columns)
    missing = [c for c in reference_columns if c not in have]
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        names = ", ".join(map(repr, missing[:5])) + more
        raise DataError(f"the current data has no column {names}, which the reference has: add "
                        f"{'it' if len(missing) == 1 else 'them'}, or test only the columns both have "
                        "(zoo drift --columns)")


def as_table(data: Any, what: str, min_rows: int = 1) -> Any:
    """A DataFrame with string column names from a DataFrame or 2-D array (columns x0, x1...),
    with at least one column, ``min_rows`` rows and no duplicated names; ``what`` names it."""
    from zoo.data import _two_d_frame

    data = _two_d_frame(data, f"the {what} data must be a table (2-D)", f"the {what} data has no columns")
    if len(data) < min_rows:
        raise DataError(f"the {what} data has {len(data)} row{'s' if len(data) != 1 else ''}; "
                        f"the test needs at least {min_rows}")
    frame = data.copy(deep=False)
    frame.columns = [str(c) for c in data.columns]
    dupes = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
    if dupes:
        raise DataError(f"the {what} data has duplicated column names: {', '.join(dupes)}; rename them")
    return frame


def adjust(p_values: list[float | None], correction: str = "bh") -> list[float | None]:
    """Corrected p-values: Bonferroni (family-wise error) or Benjamini-Hochberg (false discovery).

    ``None`` marks a feature whose test gives no p-value (PSI, a distance); it is left out of
    the family. Under the global null both keep P(any flag) at or below alpha (BH's first step
    is Simes' test), and BH flags at least as much as Bonferroni.
    """
    correction = check_correction(correction)
    tested = [(i, float(p)) for i, p in enumerate(p_values) if p is not None]
    m = len(tested)
    out: list[float | None] = [None] * len(p_values)
    if correction == "bonferroni":
        for i, p in tested:
            out[i] = min(1.0, p * m)
        return out
    # Step-up: q_(k) = min over j >= k of p_(j) * m / j, walked from the largest p down.
    running = 1.0
    for rank, (i, p) in reversed(list(enumerate(sorted(tested, key=lambda t: t[1]), start=1))):
        running = min(running, p * m / rank)
        out[i] = running
    return out


def verdict(features: list[dict[str, Any]], alpha: float = 0.05,
            correction: str = "bh") -> dict[str, Any]:
    """The result of a drift test from per-feature rows.

    Each row has ``feature``, ``test``, ``statistic`` and ``p_value`` (or ``None`` when the
    test decides by a threshold, in which case the row brings its own ``drift``). Adds
    ``p_adjusted`` and ``drift`` to each row and returns ``{"drift", "alpha", "correction",
    "p_value" (smallest corrected p-value), "drifted" (names), "features"}``.
    """
    if not 0 < alpha < 1:
        raise ZooError(f"alpha must be between 0 and 1, got {alpha}")
    adjusted = adjust([row.get("p_value") for row in features], correction)
    rows = []
    for row, q in zip(features, adjusted, strict=True):
        row = dict(row)
        row["p_adjusted"] = q
        if q is not None:
            row["drift"] = bool(q <= alpha)
        else:
            row["drift"] = bool(row.get("drift", False))
        rows.append(row)
    corrected = [q for q in adjusted if q is not None]
    return {
        "drift": any(row["drift"] for row in rows),
        "alpha": alpha,
        "correction": check_correction(correction),
        "p_value": min(corrected) if corrected else None,
        "drifted": [row["feature"] for row in rows if row["drift"]],
        "features": rows,
    }


# --- the reference sample a trained version keeps for later drift checks ---

#: Artifact name of the training sample ``zoo train`` stores with each version.
REFERENCE_ARTIFACT = "reference.parquet"
#: Rows kept: enough for tests to see a 0.1 sd shift, small enough to store with every version.
REFERENCE_ROWS = 5_000


def write_reference(df: Any, directory: str | Path, seed: int = 0,
                    rows: int = REFERENCE_ROWS) -> Path:
    """A seeded sample of at most ``rows`` rows of ``df`` (training rows, with the target),
    written as ``REFERENCE_ARTIFACT`` in ``directory``."""
    path = Path(directory) / REFERENCE_ARTIFACT
    path.parent.mkdir(parents=True, exist_ok=True)
    sample = df.sample(n=rows, random_state=seed) if len(df) > rows else df
    sample.reset_index(drop=True).to_parquet(path, index=False)
    return path


def load_reference(registry: Any, version: dict[str, Any]) -> Any:
    """The reference sample of ``version`` as a DataFrame, read from a verified copy."""
    import io

    import pandas as pd

    if REFERENCE_ARTIFACT not in version.get("artifacts", {}):
        raise ZooError(f"{version['ref']} keeps no reference sample ({REFERENCE_ARTIFACT}); "
                       "versions trained by `zoo train` have one: pass a reference data file instead")
    return pd.read_parquet(io.BytesIO(registry.read_verified(version, REFERENCE_ARTIFACT)))
