"""Batch summaries for monitors, without a registry write per request.

The event loop only appends what it scored to a list (microseconds). A thread reports, once
a second (or sooner past ``max_rows``) and at shutdown, each version's rows as one batch
through ``zoo.batch_predicted``, the event ``zoo predict`` fires per chunk, so zoo-monitor
summarises served traffic exactly as it summarises files. Shadow arms' predictions go the
same way to ``shadow_scored`` listeners (zoo-ab's shadow log).
"""

from __future__ import annotations

import threading
import warnings
from pathlib import Path
from typing import Any

#: Seconds between reports.
EVERY = 1.0
#: Rows after which a report is due at once.
MAX_ROWS = 50_000


class Reporter:
    """Gathers scored batches per version and shadow pairs per experiment arm; reports them
    from its own thread, through a registry connection of that thread."""

    def __init__(self, registry_path: Path, monitor: bool = True, every: float = EVERY) -> None:
        self.path, self.monitor, self.every = registry_path, monitor, every
        self.lock = threading.Lock()
        self.batches: dict[str, tuple[Any, list[tuple[Any, Any, float]]]] = {}
        self.shadows: dict[tuple[str, str, str], list[tuple[Any, Any, float]]] = {}
        self.rows = 0
        self.wake = threading.Event()
        self.stopping = False
        self.thread: threading.Thread | None = None
        self.registry: Any = None
        self.failed = False

    def start(self) -> None:
        """Report from a daemon thread until ``stop``."""
        self.thread = threading.Thread(target=self._run, name="zoo-serve-reporter", daemon=True)
        self.thread.start()

    def scored(self, loaded: Any, rows: Any, out: dict[str, Any], seconds: float) -> None:
        """Remember one scored batch of ``loaded``: its rows as parsed (a float matrix, or row
        dicts) and its outputs (called in the event loop: an append, nothing more)."""
        if not self.monitor or self.failed:
            return
        with self.lock:
            entry = self.batches.get(loaded.ref)
            if entry is None:
                entry = self.batches[loaded.ref] = (loaded, [])
            entry[1].append((rows, out, seconds))
            self.rows += len(rows)
        if self.rows >= MAX_ROWS:
            self.wake.set()

    def shadow(self, experiment: str, arm: str, ref: str, control: Any, shadow: Any,
               seconds: float) -> None:
        """Remember a shadow arm's prediction table beside the control's for the same rows."""
        with self.lock:
            self.shadows.setdefault((experiment, arm, ref), []).append((control, shadow, seconds))

    def stop(self) -> None:
        """Report what is left and stop the thread (at shutdown)."""
        self.stopping = True
        self.wake.set()
        if self.thread is not None:
            self.thread.join(timeout=30)
        else:
            self.report()

    # --- the reporting thread ---

    def _run(self) -> None:
        while not self.stopping:
            self.wake.wait(self.every)
            self.wake.clear()
            self.report()
        self.report()
        if self.registry is not None:
            self.registry.close()

    def report(self) -> None:
        """Fire one ``batch_predicted`` per version and one ``shadow_scored`` per shadow arm for
        everything gathered since the last report."""
        with self.lock:
            batches, self.batches, self.rows = self.batches, {}, 0
            shadows, self.shadows = self.shadows, {}
        if not batches and not shadows:
            return
        registry = self._registry()
        if registry is None:
            return
        import zoo

        with _serve_context():
            for loaded, parts in batches.values():
                try:
                    X, table, seconds = _joined(loaded, parts)
                    zoo.batch_predicted(registry, loaded.version, X, table, seconds)
                except Exception as exc:  # monitoring must never stop the server
                    warnings.warn(f"zoo serve did not report a batch of {loaded.ref}: "
                                  f"{type(exc).__name__}: {exc}", stacklevel=1)
            for (experiment, arm, ref), pairs in shadows.items():
                import pandas as pd

                try:
                    control = pd.concat([c for c, _, _ in pairs], ignore_index=True)
                    shadow = pd.concat([s for _, s, _ in pairs], ignore_index=True)
                    zoo.ask_plugins("shadow_scored", registry=registry, experiment=experiment,
                                    arm=arm, ref=ref, control=control, shadow=shadow,
                                    seconds=sum(t for _, _, t in pairs))
                except Exception as exc:
                    warnings.warn(f"zoo serve did not log shadow arm {arm} of {experiment}: "
                                  f"{type(exc).__name__}: {exc}", stacklevel=1)

    def _registry(self) -> Any:
        """This thread's own connection (sqlite3 connections stay in their thread); None, with
        one warning, when the registry cannot be opened for writing (e.g. read-only)."""
        if self.registry is None and not self.failed:
            from zoo import Registry, ZooError

            try:
                self.registry = Registry(self.path)
                if getattr(self.registry, "read_only", False):
                    raise ZooError(f"{self.path} is read-only here")
            except (ZooError, OSError) as exc:
                self.failed = True
                warnings.warn(f"zoo serve: monitoring is off, the registry cannot be written "
                              f"({str(exc).splitlines()[0]})", stacklevel=1)
                return None
        return self.registry


def _joined(loaded: Any, parts: list[tuple[Any, Any, float]]) -> tuple[Any, Any, float]:
    """One batch from many: inputs stacked, outputs joined, seconds added."""
    import numpy as np
    import pandas as pd

    if any(isinstance(p[0], list) for p in parts):  # row dicts (models with label columns)
        X = pd.DataFrame([r for p in parts for r in p[0]], columns=loaded.schema.features)
    else:
        X = pd.DataFrame(np.concatenate([p[0] for p in parts]), columns=loaded.schema.features)
    out = {k: np.concatenate([p[1][k] for p in parts]) for k in parts[0][1]}
    return X, loaded.table(X, out), float(sum(p[2] for p in parts))


class _serve_context:
    """A click context of ``zoo serve`` around a report, so listeners that say which command
    scored a batch (zoo-monitor's ``source``) say ``zoo serve`` from this thread too."""

    def __enter__(self) -> None:
        import click

        self.ctx = click.Context(click.Command("serve"), info_name="serve",
                                 parent=click.Context(click.Group("zoo"), info_name="zoo"))
        self.ctx.__enter__()

    def __exit__(self, *exc_info: Any) -> None:
        self.ctx.__exit__(*exc_info)

