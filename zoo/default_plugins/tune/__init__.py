"""zoo.tune: hyper-parameter search and Dask.

- ``zoo tune`` searches a component's parameters with cross-validation (Optuna's TPE or
  random search), then refits the best and registers it through ``zoo.register_trained``
  like ``zoo train``, with every trial in its ``trials.json`` artifact.
- ``zoo predict --engine dask`` (``predict_with_engine``) scores partitioned data on a
  ``dask.distributed`` cluster; ``zoo tune --engine dask`` runs trials there.

The search is in ``tuning``, the cluster work in ``distributed``, the command in
``commands``; each is imported when used, so this entry module stays light.
"""

from __future__ import annotations

from typing import Any

from zoo import hookimpl


@hookimpl
def register_commands(cli: Any) -> None:
    """``zoo tune``."""
    from .commands import tune

    cli.add_command(tune)


@hookimpl
def predict_with_engine(engine: str, registry: Any, version: dict[str, Any], data: str,
                        output: str | None, options: dict[str, Any]) -> list[dict[str, Any]] | None:
    """``zoo predict --engine dask``: every file of ``data`` scored on a Dask cluster into the
    ``output`` directory; None for any other engine."""
    if engine != "dask":
        return None
    from .distributed import predict_on_dask

    return predict_on_dask(registry, version, data, output, options)
