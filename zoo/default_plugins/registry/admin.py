"""``zoo register``, ``verify``, ``gc``, ``delete``, ``export``, ``import`` and ``backup``: what
enters, leaves and is checked in the registry. Like every command module they use only the
public API; heavy libraries are imported inside the commands."""

from __future__ import annotations

import sys
from typing import Any

import click

import zoo
from zoo import DataError, NotFoundError, ZooError
from zoo.clitools import (
    confirm,
    console,
    escape,
    json_option,
    open_registry,
    parse_pairs,
    print_json,
    print_metrics,
    yes_option,
)

#: Components tried, in order, for a model file's suffix when `zoo register` gets no --component.
REGISTER_GUESSES = {
    ".skops": ("sklearn.classifier", "sklearn.regressor"),
    ".ubj": ("xgboost.classifier", "xgboost.regressor"),
    ".json": ("xgboost.classifier", "xgboost.regressor"),
    ".txt": ("lightgbm.classifier", "lightgbm.regressor"),
    ".lgb": ("lightgbm.classifier", "lightgbm.regressor"),
}


@click.command("register")
@click.argument("name")
@click.argument("model_file", type=click.Path(dir_okay=False))
@click.option("--component", help="Component that loads the file (default: by its suffix: .skops "
                                   "sklearn, .ubj/.json xgboost, .txt lightgbm).")
@click.option("--eval", "eval_data", type=click.Path(dir_okay=False),
              help="Held-out rows (CSV or Parquet) to record metrics, plots, the reference "
                   "sample and the conformal record from; needs --target.")
@click.option("--target", help="Label column of --eval.")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Version tag; repeatable.")
@click.option("--description", help="Free text stored with the version.")
@json_option
@click.pass_context
def register_file(ctx: click.Context, name: str, model_file: str, component: str | None,
                  eval_data: str | None, target: str | None, tags: tuple[str, ...],
                  description: str | None, as_json: bool) -> None:
    """Register MODEL_FILE, a model fitted outside zoo, as the next version of NAME.

    The file is loaded the way its plugin loads a version (the same format and safety
    checks), so only what loads there registers.
    """
    import stat
    from pathlib import Path

    from zoo.data import choose_columns, read_table

    path = Path(model_file)
    try:
        regular = stat.S_ISREG(path.stat().st_mode)  # a FIFO would hang the read, a device never end
    except FileNotFoundError:
        raise NotFoundError(f"no such file: {path}") from None
    if not regular:
        raise DataError(f"cannot read {path}: not a regular file; give the model file itself")
    if (eval_data is None) != (target is None):
        raise DataError("--eval and --target go together: the held-out rows and their label column")
    catalogue = zoo.build_catalogue()
    guesses = (component,) if component else REGISTER_GUESSES.get(path.suffix.lower(), ())
    if not guesses:
        raise DataError(f"cannot tell which component loads {path.name}: pass --component "
                        "(e.g. sklearn.classifier, xgboost.regressor, lightgbm.classifier)")
    model, errors = None, []
    for guess in guesses:
        info = catalogue.get(guess)
        try:
            model = info.cls.from_artifact(path, None)
            break
        except ZooError as exc:
            errors.append(str(exc))
        except Exception as exc:  # a loader choking on bytes that are not its format
            errors.append(f"{guess}: {type(exc).__name__}")
    if model is None:
        raise DataError(f"{path.name} does not load as {' or '.join(guesses)}: {errors[-1]}")
    evaluation = None
    if eval_data is not None:
        df = choose_columns(read_table(eval_data), target)
        evaluation = (df.drop(columns=[target]), df[target])
    tag_values = {k: str(v) for k, v in parse_pairs(tags, "--tag").items()}
    version = open_registry(ctx).register(name, model, tags=tag_values, description=description,
                                          eval_data=evaluation)
    if as_json:
        print_json(version)
        return
    console.print(f"Registered [bold]{escape(version['ref'])}[/] ({escape(version['component'])}, "
                  f"from {escape(path.name)})")
    print_metrics(version["metrics"])


@click.command()
@json_option
@click.pass_context
def verify(ctx: click.Context, as_json: bool) -> None:
    """Re-hash every artifact; report corrupted, missing and orphaned files (exit 1 if any)."""
    report = open_registry(ctx).verify()
    problems = len(report["corrupted"]) + len(report["missing"]) + len(report["orphans"])
    _print_result(report, as_json, f"Checked {report['checked']} artifacts: {report['ok']} ok",
                  *(f"[red]{problem}[/] {escape(item['sha256'][:16])}… used by "
                    f"{escape(', '.join(item['refs']))}"
                    for problem in ("corrupted", "missing") for item in report[problem]),
                  *(f"[yellow]orphan[/] {escape(path)}" for path in report["orphans"]))
    if problems:
        sys.exit(1)


@click.command()
@click.option("--dry-run", is_flag=True, help="List what would be removed, remove nothing.")
@click.option("--grace", "grace_seconds", type=click.FloatRange(min=0), default=900, show_default=True,
              help="Keep orphans younger than this many seconds: a write may be in progress.")
@json_option
@click.pass_context
def gc(ctx: click.Context, dry_run: bool, grace_seconds: float, as_json: bool) -> None:
    """Remove orphaned artifact files (left by a crash) and stale temp files from the store."""
    report = open_registry(ctx).gc(dry_run=dry_run, grace_seconds=grace_seconds)
    verb = "Would remove" if dry_run else "Removed"
    _print_result(report, as_json, f"{verb} {len(report['removed'])} orphaned files "
                  f"({report['bytes']} bytes)", *(f"  {escape(path)}" for path in report["removed"]))


@click.command()
@click.argument("ref")
@click.option("--force", is_flag=True,
              help="Delete even a version an alias, a lineage child or a plugin (A/B arm) needs.")
@yes_option
@click.pass_context
def delete(ctx: click.Context, ref: str, force: bool, yes: bool) -> None:
    """Delete a version (name:3, name@alias) or a whole model (name) and its unshared artifacts."""
    registry = open_registry(ctx)
    whole_model = ":" not in ref and "@" not in ref
    what = f"model {ref} and all its versions" if whole_model else ref
    # Fail on an unknown ref before asking; a model may exist with no versions left.
    if not whole_model or ref not in {m["name"] for m in registry.models()}:
        registry.get(ref)
    confirm(f"Delete {what}?", yes)
    deleted = registry.delete(ref, force=force)
    console.print(f"Deleted {escape(', '.join(deleted.get('refs', [ref])))}")
    for link in deleted["unlinked"]:
        console.print(f"  [yellow]unlinked[/] {escape(link)}")


@click.command("export")
@click.argument("refs", nargs=-1, required=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Bundle file to write, e.g. fraud.zoo.")
@json_option
@click.pass_context
def export_command(ctx: click.Context, refs: tuple[str, ...], output: str, as_json: bool) -> None:
    """Write versions (REFS: name for all versions, name:3, name@alias) to a portable bundle."""
    result = open_registry(ctx).export(list(refs), output)
    _print_result(result, as_json, f"Exported {len(result['versions'])} versions and {result['artifacts']} "
                  f"artifacts to {escape(result['path'])} ({result['bytes']} bytes)")


@click.command("import")
@click.argument("bundle", type=click.Path(dir_okay=False))
@click.option("--move-aliases", is_flag=True,
              help="Move existing aliases to the bundle's versions (default: keep them).")
@json_option
@click.pass_context
def import_command(ctx: click.Context, bundle: str, move_aliases: bool, as_json: bool) -> None:
    """Restore a bundle into the registry; every hash is verified before anything is written."""
    result = open_registry(ctx).import_bundle(bundle, move_aliases=move_aliases)
    result.pop("imported_versions")
    aliases = result["aliases"]
    skipped = f", skipped {len(result['skipped'])} already present" if result["skipped"] else ""
    _print_result(result, as_json, f"Imported {len(result['imported'])} versions{skipped}",
                  *(f"  {escape(ref)}" for ref in result["imported"]),
                  *(f"  alias {escape(line)}" for line in aliases["set"] + aliases["moved"]),
                  *(f"  [yellow]kept[/] alias {escape(line)}" for line in aliases["kept"]),
                  *(["  (--move-aliases moves them)"] if aliases["kept"] else []))


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False))
@json_option
@click.pass_context
def backup_command(ctx: click.Context, path: str, as_json: bool) -> None:
    """Copy the registry and its artifacts to PATH while other processes keep writing."""
    result = open_registry(ctx).backup(path)
    _print_result(result, as_json, f"Backed up {result['versions']} versions and {result['artifacts']} "
                  f"artifacts to {escape(result['path'])}; use it with --registry {escape(result['path'])}")


def _print_result(result: Any, as_json: bool, *lines: str) -> None:
    """A registry-wide command's ``result`` as JSON with --json, else its ``lines`` of text."""
    if as_json:
        print_json(result)
        return
    for line in lines:
        console.print(line)


COMMANDS = (register_file, verify, gc, delete, export_command, import_command, backup_command)
