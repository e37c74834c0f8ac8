"""Portable copies of a registry: ``zoo export``, ``zoo import`` and ``zoo backup``."""

from __future__ import annotations

import click

from zoo.cli import cli, console, json_option, open_registry, print_json


@cli.command("export")
@click.argument("refs", nargs=-1, required=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Bundle file to write, e.g. fraud.zoo.")
@json_option
@click.pass_context
def export_command(ctx: click.Context, refs: tuple[str, ...], output: str, as_json: bool) -> None:
    """Write versions (REFS: name for all versions, name:3, name@alias) to a portable bundle."""
    result = open_registry(ctx).export(list(refs), output)
    if as_json:
        print_json(result)
        return
    console.print(f"Exported {len(result['versions'])} versions and {result['artifacts']} artifacts "
                  f"to {result['path']} ({result['bytes']} bytes)")


@cli.command("import")
@click.argument("bundle", type=click.Path(dir_okay=False))
@json_option
@click.pass_context
def import_command(ctx: click.Context, bundle: str, as_json: bool) -> None:
    """Restore a bundle into the registry; every hash is verified before anything is written."""
    result = open_registry(ctx).import_bundle(bundle)
    if as_json:
        print_json(result)
        return
    console.print(f"Imported {len(result['imported'])} versions"
                  + (f", skipped {len(result['skipped'])} already present" if result["skipped"] else ""))
    for ref in result["imported"]:
        console.print(f"  {ref}")


@cli.command("backup")
@click.argument("path", type=click.Path(dir_okay=False))
@json_option
@click.pass_context
def backup_command(ctx: click.Context, path: str, as_json: bool) -> None:
    """Copy the registry and its artifacts to PATH while other processes keep writing."""
    result = open_registry(ctx).backup(path)
    if as_json:
        print_json(result)
        return
    console.print(f"Backed up {result['versions']} versions and {result['artifacts']} artifacts to "
                  f"{result['path']}; use it with --registry {result['path']}")
