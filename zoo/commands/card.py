"""``zoo card``: a Markdown model card from what the registry knows about a version."""

from __future__ import annotations

import click

from zoo.cli import cli, err_console, open_registry


@cli.command()
@click.argument("ref")
@click.argument("data", type=click.Path(dir_okay=False), required=False)
@click.option("--target", help="Label column of DATA (to compute metrics with confidence intervals).")
@click.option("--bootstrap", "n_boot", default=1000, show_default=True,
              help="Resamples for the confidence intervals when DATA is given.")
@click.option("--seed", default=0, show_default=True, help="Seed of the bootstrap.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the card here instead of stdout.")
@click.pass_context
def card(ctx: click.Context, ref: str, data: str | None, target: str | None, n_boot: int, seed: int,
         output: str | None) -> None:
    """Write a Markdown model card for REF: details, intended use, data, metrics, lineage.

    Intended use and limitations come from the tags intended_use, limitations, out_of_scope
    and ethical_considerations (of the version, or of the model). Metrics carry bootstrap
    confidence intervals computed on DATA when given, else those stored at training.
    """
    from pathlib import Path

    from zoo import conformal, evaluation
    from zoo.errors import DataError

    if data and not target:
        raise DataError("DATA needs --target naming its label column")
    if target and not data:
        raise DataError("--target needs DATA: zoo card REF DATA --target COLUMN")
    registry = open_registry(ctx)
    version = registry.get(ref)
    model_tags = next((m["tags"] for m in registry.models() if m["name"] == version["name"]), {})
    scores, source = None, ""
    if data:
        from zoo.data import as_target, fingerprint, read_table

        model = registry.load(ref, observed=False)
        if getattr(model, "kind", "") != "predictor":
            raise DataError(f"{version['ref']} is a {model.kind}: metrics on DATA are for predictors")
        df = read_table(data)
        X, y = evaluation.evaluate_data(model, df, target)

        y = as_target(y, len(X), numeric=model.task == "regression").to_numpy()
        with err_console.status(f"scoring {version['ref']} on {len(X)} rows"):
            scores = evaluation.metric_intervals(model.task, y, evaluation.outputs(model, X),
                                                 getattr(model, "classes_", None), n_boot=n_boot, seed=seed)
        source = f"`{Path(data).name}`, given to `zoo card`"
        if (version.get("data") or {}).get("sha256") == fingerprint(df)["sha256"]:
            source += "; this is the training data, so these metrics are optimistic"
    elif evaluation.ARTIFACT in version["artifacts"]:
        scores = evaluation.read_json_artifact(registry, version, evaluation.ARTIFACT)
        source = "held out at training"
    record = (conformal.load_record(registry, version) if conformal.ARTIFACT in version["artifacts"]
              else None)
    text = evaluation.model_card(version, registry.lineage(ref), model_tags, scores, source, record)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        err_console.print(f"Wrote the model card of {version['ref']} to {output}")
    else:
        click.echo(text, nl=False)
