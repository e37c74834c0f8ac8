"""``zoo drift``: does CURRENT data depart from a REFERENCE sample, feature by feature?

Imported by the plugin's ``register_commands`` hook whenever the CLI starts, so only click
and zoo's light CLI helpers are imported here; numpy, pandas, matplotlib, the registry and
the drift tests load inside the command. Any installed drift test can be named with
``--test`` (``alibi.ks`` from zoo-alibi-detect too).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

import zoo
from zoo import DataError, NotFoundError, ZooError
from zoo.clitools import (
    console,
    err_console,
    escape,
    json_option,
    make_table,
    open_registry,
    parse_pairs,
    print_json,
)

#: The test used when none is named.
DEFAULT_TEST = "drift.auto"
#: Exit status when drift is found (0: none; 1: an error; 2: a usage error).
DRIFT_EXIT = 3
#: Panels at most in a --plot figure.
MAX_PANELS = 12


@click.command()
@click.argument("reference")
@click.argument("current", type=click.Path(dir_okay=False))
@click.option("--test", "test_name", default="auto", show_default=True,
              help="Drift test: a short name (auto, ks, cvm, ad, chi2, psi, wasserstein, mmd, classifier) "
                   "or a qualified one (drift.ks, alibi.ks); see zoo components --kind drift_test.")
@click.option("--correction", type=click.Choice(["bh", "bonferroni"]), default="bh", show_default=True,
              help="Multiple-testing correction across features: bh (Benjamini-Hochberg, false "
                   "discovery rate) or bonferroni (family-wise error).")
@click.option("--alpha", type=float, default=0.05, show_default=True,
              help="Significance level a corrected p-value must reach to flag drift.")
@click.option("--columns", help="Comma-separated columns to test (default: every column of the reference; "
                                "for a model REF, the features it was trained on).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="Another parameter of the test, e.g. n_permutations=2000; repeatable.")
@click.option("--plot", type=click.Path(dir_okay=False),
              help="Write a PNG overlaying each drifted feature's reference and current distributions.")
@json_option
@click.pass_context
def drift(ctx: click.Context, reference: str, current: str, test_name: str, correction: str, alpha: float,
          columns: str | None, params: tuple[str, ...], plot: str | None, as_json: bool) -> None:
    """Test whether CURRENT (CSV or Parquet) has drifted from REFERENCE.

    REFERENCE is a data file, or a registered model (name, name:3, name@alias) whose
    version keeps a reference sample of its training data. Every feature is tested (by
    default with drift.auto, which picks a test per column by type and size), the
    p-values are corrected across features, and a table shows each feature's statistic,
    p-value, corrected p-value and verdict.

    \b
    Exit status, for shell scripts and CI:
      0  no drift found
      3  drift found in at least one feature
      1  an error (bad file, missing column, unknown test, ...)
      2  a usage error (bad option)
    """
    from zoo.data import by_type, read_table

    info = resolve_test(zoo.build_catalogue(), test_name)
    param_values = parse_pairs(params, "--param")
    for fixed in ("alpha", "correction"):
        if fixed in param_values:
            raise ZooError(f"set {fixed} with --{fixed}, not --param")
    model = info.create(alpha=alpha, correction=correction, **param_values)
    ref_df, default_columns, source, schema = _reference(ctx, reference)
    # Each column by the type the model learnt it as: dates as numbers, categories as text.
    ref_df, cur_df = by_type(ref_df, schema), by_type(read_table(current), schema)
    chosen = _columns(columns, default_columns, list(ref_df.columns))
    ref_df = ref_df[chosen]
    with err_console.status(f"testing {len(chosen)} features with {info.name}"):
        result = model.fit(ref_df).test(cur_df)
    result["reference"] = source
    if plot:
        plot_drift(ref_df, cur_df, result, plot)
    if as_json:
        print_json(result)
    else:
        _print(result, info.name, plot)
    if result["drift"]:
        ctx.exit(DRIFT_EXIT)


def resolve_test(catalogue: Any, name: str) -> Any:
    """The drift test called ``name``: qualified (drift.ks), or short (ks -> drift.ks, or the
    one installed test whose name ends in .ks)."""
    tests = {n: c for n, c in catalogue.components.items() if c.kind == "drift_test"}
    if not tests:
        raise NotFoundError("no drift test installed: run `zoo install zoo-drift`")
    if name in tests:
        return tests[name]
    if "." not in name:
        if f"drift.{name}" in tests:
            return tests[f"drift.{name}"]
        matches = sorted(n for n in tests if n.split(".", 1)[1] == name)
        if len(matches) == 1:
            return tests[matches[0]]
        if matches:
            raise ZooError(f"--test {name} is ambiguous: {', '.join(matches)}; give the qualified name")
        if name == "auto":
            raise NotFoundError(f"the default test {DEFAULT_TEST} is not installed (zoo install zoo-drift); "
                                f"name one with --test: {', '.join(sorted(tests))}")
    return catalogue.get(name, kind="drift_test")


def _reference(ctx: click.Context, reference: str) -> tuple[Any, list[str] | None, str, Any]:
    """The reference table, the columns to test by default, where it came from and the
    model's input schema (None for a data file)."""
    from zoo.data import CSV_SUFFIXES, PARQUET_SUFFIXES, read_table
    from zoo.drift import load_reference

    path = Path(reference)
    if path.is_file() or path.suffix.lower() in CSV_SUFFIXES | PARQUET_SUFFIXES:
        return read_table(path), None, str(path), None
    registry = open_registry(ctx)
    try:
        version = registry.get(reference)
    except NotFoundError:
        raise NotFoundError(f"REFERENCE {reference!r} is neither a data file nor a registered model: "
                            "give a CSV/Parquet file or a ref like name, name:3 or name@alias") from None
    df = load_reference(registry, version)
    features = [str(c) for c in (version.get("metadata") or {}).get("feature_names", [])]
    features = [c for c in features if c in set(map(str, df.columns))]
    schema = (version.get("metadata") or {}).get("input_schema")
    return df, features or None, f"{version['ref']} (its reference sample)", schema


def _columns(option: str | None, default: list[str] | None, available: list[Any]) -> list[Any]:
    """The reference columns to test, by label."""
    by_name = {str(c): c for c in available}
    if not option:
        return [by_name[c] for c in default] if default else list(available)
    wanted = [c.strip() for c in option.split(",") if c.strip()]
    unknown = [c for c in wanted if c not in by_name]
    if unknown:
        raise DataError(f"the reference has no column {', '.join(map(repr, unknown))}; its columns: "
                        f"{', '.join(list(by_name)[:20])}")
    return [by_name[c] for c in wanted]


def _print(result: dict[str, Any], test: str, plot: str | None) -> None:
    table = make_table("feature", "test", "statistic", "p-value", "adjusted p", "drift",
                       title=f"Drift: {test}, {result['correction']} at alpha {result['alpha']:g}")
    for row in result["features"]:
        flag = "[bold red]yes[/]" if row["drift"] else "[green]no[/]"
        if row.get("band"):  # PSI decides by its bands, not a p-value
            flag += f" ({row['band']})"
        table.add_row(escape(row["feature"]), escape(row["test"]), _fmt(row.get("statistic")),
                      _fmt(row.get("p_value")), _fmt(row.get("p_adjusted")), flag)
    console.print(table)
    rows = result.get("rows", {})
    sizes = f"{rows.get('reference', '?')} reference vs {rows.get('current', '?')} current rows"
    n = len(result["features"])
    if result["drift"]:
        drifted = result["drifted"]
        more = f" and {len(drifted) - 8} more" if len(drifted) > 8 else ""
        shown = escape(", ".join(map(str, drifted[:8]))) + more
        console.print(f"[bold red]Drift[/] in {len(drifted)} of {n} features: {shown} ({sizes}; exit status "
                      f"{DRIFT_EXIT})", highlight=False)
    else:
        smallest = result.get("p_value")
        note = f"; smallest adjusted p = {smallest:.3g}" if smallest is not None else ""
        console.print(f"[green]No drift[/] in {n} features ({sizes}{note})", highlight=False)
    if plot:
        err_console.print(f"Wrote {escape(plot)}", highlight=False)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"
    return str(value)


def plot_drift(reference: Any, current: Any, result: dict[str, Any], path: str) -> None:
    """A PNG with one panel per drifted feature overlaying its reference and current
    distributions: histograms for numeric columns, bars of shares for categories. A joint
    row (MMD, classifier) stands for its columns; with no drift, the features with the
    smallest p-values are shown so the file still answers "how close was it?"."""
    import warnings

    import numpy as np
    import pandas as pd

    from zoo.clitools import pyplot

    by_name = {str(c): c for c in reference.columns}
    drifted = [row for row in result["features"] if row["drift"]]
    chosen = drifted or sorted((r for r in result["features"] if r.get("p_value") is not None),
                               key=lambda r: r["p_value"])[:4]
    names: list[str] = []
    for row in chosen:
        if row["feature"] in by_name:
            names.append(row["feature"])
        else:  # a joint row: its columns, the most important first when the test says
            importance = row.get("importance") or {}
            names += sorted(row.get("columns", []), key=lambda c: -importance.get(c, 0.0))
    names = list(dict.fromkeys(n for n in names if n in by_name))[:MAX_PANELS]
    plt = pyplot()
    cols = min(3, max(1, len(names)))
    rows_n = max(1, -(-len(names) // cols))
    fig, axes = plt.subplots(rows_n, cols, figsize=(4.2 * cols, 3.2 * rows_n), squeeze=False)
    for ax in axes.ravel()[len(names):]:
        ax.axis("off")
    flagged = {r["feature"]: r for r in result["features"]}
    for ax, name in zip(axes.ravel(), names, strict=False):  # fewer names than panels
        if by_name[name] not in current:
            continue
        ref_col, cur_col = reference[by_name[name]], current[by_name[name]]
        numeric = (pd.api.types.is_numeric_dtype(ref_col) and not pd.api.types.is_bool_dtype(ref_col)
                   and ref_col.nunique() > 10)
        if numeric:
            r = ref_col.to_numpy(dtype=float, na_value=np.nan)
            c = pd.to_numeric(cur_col, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            r, c = r[np.isfinite(r)], c[np.isfinite(c)]
            both = np.concatenate([r, c])
            low, high = np.quantile(both, [0.005, 0.995]) if len(both) else (0.0, 1.0)
            bins = np.linspace(low, high, 40) if high > low else 20
            ax.hist(r, bins=bins, density=True, alpha=0.5, label="reference")
            ax.hist(c, bins=bins, density=True, alpha=0.5, label="current")
        else:
            ref_share = ref_col.astype(str).value_counts(normalize=True)
            cur_share = cur_col.astype(str).value_counts(normalize=True)
            keys = list(ref_share.add(cur_share, fill_value=0).sort_values(ascending=False).index[:15])
            x = np.arange(len(keys))
            ax.bar(x - 0.2, [ref_share.get(k, 0.0) for k in keys], width=0.4, label="reference")
            ax.bar(x + 0.2, [cur_share.get(k, 0.0) for k in keys], width=0.4, label="current")
            ax.set_xticks(x, keys, rotation=45, ha="right", fontsize=7)
        row = flagged.get(name, {})
        p = row.get("p_adjusted")
        ax.set_title(f"{name}" + (f" (adj. p {p:.2g})" if p is not None else ""), fontsize=9)
        ax.legend(fontsize=7)
    status = (f"drift in {len(result['drifted'])} feature(s)" if result["drift"]
              else "no drift: the closest features")
    fig.suptitle(f"{result.get('test', 'drift')}: {status}", fontsize=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
    plt.close(fig)


#: The commands this plugin adds (``register_commands``).
COMMANDS = (drift,)
