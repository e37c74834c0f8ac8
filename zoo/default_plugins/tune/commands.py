"""``zoo tune``: search a component's parameters with cross-validation, register the best."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from zoo import DataError
from zoo.clitools import console, err_console, escape, json_option, open_registry, parse_pairs, print_json


@click.command()
@click.argument("component")
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--target", required=True, help="Label column.")
@click.option("--name", required=True, help="Model name to register the best version under.")
@click.option("--trials", default=30, show_default=True, help="Parameter sets to try.")
@click.option("--cv", default=5, show_default=True, help="Cross-validation folds per trial.")
@click.option("--metric", help="Metric to optimize (default roc_auc for classifiers, rmse for regressors).")
@click.option("--strategy", type=click.Choice(["kfold", "stratified", "time"]),
              help="Folds: kfold, stratified (default for classifiers) or time (default with "
                   "--time-column: each fold validates only on rows later than its training rows).")
@click.option("--time-column", help="Column ordering the rows in time; it is not used as a feature.")
@click.option("--search", type=click.Choice(["bayes", "random"]), default="bayes", show_default=True,
              help="bayes: Optuna's TPE sampler; random: uniform sampling, no Optuna needed.")
@click.option("--space", "spaces", multiple=True, metavar="NAME=RANGE",
              help="Search range, e.g. max_depth=int:2:10, learning_rate=float:0.01:0.3:log, "
                   "criterion=choice:gini,entropy; repeatable; adds to or replaces the component's own.")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="Fixed parameter, not searched; repeatable.")
@click.option("--test-size", default=0.2, show_default=True,
              help="Share of rows held out from tuning to score, plot and calibrate the best version "
                   "(the latest rows with --time-column).")
@click.option("--seed", default=0, show_default=True, help="Seed of the folds, the split and the search.")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="Where trials run: local (this process, one after another) or dask (a batch at "
                   "once on a Dask cluster).")
@click.option("--scheduler", metavar="ADDRESS",
              help="Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: start a local cluster).")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Version tag; repeatable.")
@click.option("--features", metavar="A,B,...", help="Learn from these columns only.")
@click.option("--drop", metavar="A,B,...", help="Columns not to learn from (IDs, leaks, ...).")
@click.option("--drop-missing-target", is_flag=True, help="Drop rows whose target is missing.")
@json_option
@click.pass_context
def tune(ctx: click.Context, component: str, data: str, target: str, name: str, trials: int,
         cv: int, metric: str | None, strategy: str | None, time_column: str | None, search: str,
         spaces: tuple[str, ...], params: tuple[str, ...], test_size: float, seed: int, engine: str,
         scheduler: str | None, tags: tuple[str, ...], features: str | None, drop: str | None,
         drop_missing_target: bool, as_json: bool) -> None:
    """Tune COMPONENT on DATA: TRIALS parameter sets, each cross-validated; register the best.

    The best parameters are refit on the rows not held out, scored on the held-out rows and
    registered with their plots and conformal calibration, like `zoo train`. Every trial's
    parameters and fold scores are stored with the version as trials.json.
    """
    import json
    import tempfile
    import uuid
    from datetime import datetime, timezone
    from pathlib import Path

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from zoo import TrainResult, build_catalogue, register_trained, split, split_record
    from zoo.data import as_target, choose_columns, fingerprint, read_table
    from zoo.metrics import DEFAULT_METRIC

    from . import tuning

    info = build_catalogue().get(component, kind="predictor")
    fixed = parse_pairs(params, "--param")
    info.create(**fixed)  # reject unknown parameters before reading any data
    space = tuning.search_space(info, tuning.parse_space(spaces), fixed)
    metric = metric or DEFAULT_METRIC[info.task]
    valid = ({"accuracy", "roc_auc", "f1", "log_loss"} if info.task == "classification"
             else {"rmse", "mae", "r2"})
    if metric not in valid:
        raise DataError(f"unknown metric {metric!r} for a {info.task} model: "
                        f"use one of {', '.join(sorted(valid))}")
    if strategy == "time" and not time_column:
        raise DataError("--strategy time needs --time-column naming the column that orders the rows")
    strategy = strategy or ("time" if time_column else
                            "stratified" if info.task == "classification" else "kfold")
    if strategy == "stratified" and info.task != "classification":
        raise DataError("--strategy stratified is for classifiers; use kfold or time")
    tag_values = {k: str(v) for k, v in parse_pairs(tags, "--tag").items()}
    registry = open_registry(ctx)

    if features and time_column:  # the time column orders the rows; it is not a feature
        features = f"{features},{time_column}"
    df = choose_columns(read_table(data), target, features, drop, drop_missing_target)
    for column, what in ((target, "--target"), (time_column, "--time-column")):
        if column is not None and column not in df.columns:
            raise DataError(f"no column {column!r} ({what}) in the data; columns are: "
                            + ", ".join(map(str, list(df.columns)[:20])))
    data_fp = fingerprint(df)
    y = as_target(df[target], len(df), numeric=info.task == "regression")
    times = tuning.parse_times(df[time_column], time_column) if time_column else None
    X = df.drop(columns=[c for c in (target, time_column) if c])
    if times is not None:
        train_idx, test_idx = tuning.time_holdout(times, test_size)
        how = {"kind": "time holdout", "time_column": time_column, "test_size": test_size}
    else:
        stratify = y if info.task == "classification" else None
        train_idx, test_idx = split(len(df), test_size, seed, stratify)
        how = {"kind": "holdout", "seed": seed, "test_size": test_size, "stratified": stratify is not None}
    X_train, y_train = X.iloc[train_idx].reset_index(drop=True), y.iloc[train_idx].reset_index(drop=True)
    fold_list = tuning.folds(len(train_idx), cv, strategy,
                             labels=y_train if strategy == "stratified" else None,
                             times=times[train_idx] if times is not None else None, seed=seed)

    run_id = f"tune-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("best {task.fields[best]}"), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True) as progress:
        bar = progress.add_task(f"tuning {info.name} ({search}, {cv}-fold {strategy})", total=trials,
                                best="-")

        def on_trial(trial: dict[str, Any], result: tuning.TuneResult) -> None:
            best = f"{result.metric} {result.best['mean']:.4g}" if result.best else "-"
            progress.update(bar, advance=1, best=best)

        with _engine(engine, scheduler) as runner:
            result = tuning.tune(info, X_train, y_train, space, trials, fold_list, metric,
                                 search=search, fixed=fixed, seed=seed, engine=runner,
                                 on_trial=on_trial)
        best_params = result.best["params"]
        progress.update(bar, description=f"refitting the best of {trials} trials")
        model = info.create(**best_params)
        model.fit(X_train, y_train)
        # The rows the model learned from (features and target; the time column is neither)
        # become its reference sample for drift checks, as with `zoo train`.
        reference = df.iloc[train_idx]
        trained = TrainResult(model=model, metrics={f"cv_{metric}": result.best["mean"]}, data=data_fp,
                              n_train=len(train_idx), n_test=len(test_idx), seed=seed,
                              reference=reference.drop(columns=time_column) if time_column else reference)
        if len(test_idx):
            trained.X_test, trained.y_test = X.iloc[test_idx], y.iloc[test_idx]
            trained.metrics.update(model.validate(trained.X_test, trained.y_test))
            trained.split = split_record(how, test_idx, data_fp)
        with tempfile.TemporaryDirectory(prefix="zoo-tune-") as tmp:
            trials_path = Path(tmp) / "trials.json"
            trials_path.write_text(json.dumps({
                "run": run_id, "component": info.name, "search": search, "engine": engine,
                "metric": metric, "direction": result.direction, "cv": cv, "strategy": strategy,
                "time_column": time_column, "seed": seed, "space": space, "fixed": fixed,
                "best": result.best["number"], "trials": result.trials}, default=str))
            # The registry's lineage links versions; a tuning run is not one, so the version
            # names its run in a tag (filterable: --where "tags.tune_run = '...'"), in its
            # description and in trials.json.
            version = register_trained(
                registry, name, trained, tags={"tune_run": run_id, **tag_values},
                description=(f"Best of {trials} trials of tuning run {run_id} ({search} search, "
                             f"{cv}-fold {strategy} CV on {metric})"),
                artifacts={"trials.json": trials_path},
                step=lambda label: progress.update(bar, description=label),
            )
    completed = sum(t["state"] == "complete" for t in result.trials)
    if as_json:
        print_json({"version": version, "run": run_id, "best": result.best, "trials": result.trials})
        return
    console.print(f"Tuning run [bold]{run_id}[/]: {completed}/{trials} trials completed; best "
                  f"{metric} {result.best['mean']:.4f} ± {result.best['std']:.4f} (trial "
                  f"{result.best['number']})")
    console.print("Best parameters: " + escape(", ".join(f"{k}={v!r}" for k, v in best_params.items())))
    console.print(f"Registered [bold]{version['ref']}[/] ({len(train_idx)} tuning / {len(test_idx)} "
                  "held-out rows); every trial is in its artifact trials.json")
    held_out = {k: v for k, v in version["metrics"].items() if not k.startswith("cv_")}
    if held_out:
        console.print("Held-out metrics: " + ", ".join(f"{k} {v:.4f}" for k, v in held_out.items()))


@contextmanager
def _engine(name: str, scheduler: str | None) -> Iterator[Any]:
    """The engine object for --engine: the local one, or one on a Dask cluster."""
    if name != "dask":
        if scheduler:
            raise DataError("--scheduler needs --engine dask")
        yield name
        return
    from .distributed import DaskEngine, dask_client

    with dask_client(scheduler) as client:
        yield DaskEngine(client)
