"""Test-load and score untrusted model files in a child process that may crash, hang or run
out of memory without harming the caller.

A built-in plugin (``zoo.sandbox``): its ``import_guard`` gives ``zoo.Registry.import_bundle``
``Sandbox.check``, run on each version of a bundle before its rows commit
(``ZOO_IMPORT_SANDBOX=0`` or ``ZOO_DISABLE_PLUGINS=zoo.sandbox`` turns it off). The child
(``CHILD``) runs under resource limits (address space ``ZOO_SANDBOX_MEMORY_MB``, default 4096;
CPU time; no core file), loads the version through ``zoo.load_version`` (the one load path)
and scores a few synthetic rows. A load that raises a zoo error, or a child that dies,
overruns ``ZOO_SANDBOX_TIMEOUT`` seconds (default 120) or exhausts its memory, refuses the
version with one line. Scoring errors on the synthetic rows are ignored (they need not fit
the model's columns): only crashes, hangs and memory exhaustion count. One child serves a
whole import; it is restarted after a failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from zoo import IntegrityError, NotFoundError, ZooError, hookimpl

#: The child: the one load path (``zoo.load_version``) served over stdin/stdout.
CHILD = "from zoo import load_version; from zoo.default_plugins.sandbox import serve; serve(load_version)"


@hookimpl
def import_guard() -> Any:
    """One sandbox child per import, checking every version before its rows commit."""
    if os.environ.get("ZOO_IMPORT_SANDBOX", "1") == "0":
        return None
    return _guard()


@contextlib.contextmanager
def _guard() -> Iterator[Callable[[dict[str, Any], Path], None]]:
    with Sandbox() as sandbox:
        yield sandbox.check


def _setting(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, "") or default)
    except ValueError:
        return default


class Sandbox:
    """A child process that test-loads versions; use as a context manager."""

    def __init__(self, timeout: float | None = None, memory_mb: float | None = None) -> None:
        self.timeout = timeout or _setting("ZOO_SANDBOX_TIMEOUT", 120.0)
        self.memory_mb = memory_mb or _setting("ZOO_SANDBOX_MEMORY_MB", 4096.0)
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Stop the child, if one runs."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            for pipe in (self.proc.stdin, self.proc.stdout):
                if pipe is not None:
                    pipe.close()
            self.proc = None

    def check(self, version: dict[str, Any], model_path: str | Path) -> None:
        """Refuse (``IntegrityError``) a version that does not load and score safely."""
        ref = version.get("ref") or f"{version.get('name')}:{version.get('version')}"
        if self.proc is None or self.proc.poll() is not None:
            self.close()
            env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE",
                   "ZOO_SANDBOX_MEMORY_MB": str(self.memory_mb)}
            self.proc = subprocess.Popen([sys.executable, "-c", CHILD], env=env,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL)
        request = json.dumps({"version": version, "path": str(model_path)}, default=str) + "\n"
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(request.encode())
            self.proc.stdin.flush()
        except OSError:
            pass  # the child died; reading says how
        line = self._reply()
        if line is None:
            self.close()
            raise IntegrityError(f"{ref}: its model did not load and score within {self.timeout:g} s "
                                 "in a sandbox; refusing the import (a crafted model can hang)")
        if not line:
            code = self.proc.wait()
            self.close()
            how = (f"was killed by {signal.Signals(-code).name}" if code < 0 and -code in
                   signal.valid_signals() else f"exited with code {code}")
            raise IntegrityError(f"{ref}: loading and scoring its model in a sandbox {how}; "
                                 "refusing the import (a crafted or corrupted model)")
        answer = json.loads(line)
        if answer.get("error"):
            error = answer["error"] if ref in answer["error"] else f"{ref}: {answer['error']}"
            raise IntegrityError(f"refusing the import: {error}")

    def _reply(self) -> bytes | None:
        """The child's answer line, b"" if it died, None if it overran the timeout."""
        assert self.proc is not None and self.proc.stdout is not None
        fd, buffer, deadline = self.proc.stdout.fileno(), b"", time.monotonic() + self.timeout
        while not buffer.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return b""
            buffer += chunk
        return buffer


# --- the child ---


def _limit(memory_mb: float, cpu_seconds: int) -> None:
    import resource

    for limit, value in ((resource.RLIMIT_AS, int(memory_mb * 1024 * 1024)),
                         (resource.RLIMIT_CORE, 0), (resource.RLIMIT_CPU, cpu_seconds)):
        try:
            resource.setrlimit(limit, (value, value))
        except (ValueError, OSError):
            pass  # a lower hard limit is already in force


def _sample(version: dict[str, Any]) -> Any:
    """A few rows of numbers in the version's columns: ordinary, extreme and random values."""
    import numpy as np
    import pandas as pd

    names = (version.get("metadata") or {}).get("feature_names") or []
    values = np.vstack([np.zeros(len(names)), np.ones(len(names)), -np.ones(len(names)),
                        np.full(len(names), 1e6),
                        np.random.default_rng(0).normal(size=(4, len(names)))])
    return pd.DataFrame(values, columns=[str(n) for n in names])


def serve(load_version: Any) -> None:
    """The child: answer one JSON line per request on stdout, ``{"ok": true}`` or
    ``{"error": ...}``, after loading the version with ``load_version(version, path)``."""
    _limit(_setting("ZOO_SANDBOX_MEMORY_MB", 4096.0), 3600)
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # a model's prints must not corrupt the answers
    for line in sys.stdin:
        request = json.loads(line)
        version = request["version"]
        answer: dict[str, Any] = {"ok": True}
        try:
            model = load_version(version, request["path"])
        except NotFoundError:
            model = None  # its plugin is not installed here: nothing to run, nothing to harm
        except MemoryError:
            answer = {"error": "loading its model exhausted the sandbox's memory"}
            model = None
        except ZooError as exc:
            answer, model = {"error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}, None
        except Exception as exc:  # noqa: BLE001 - any loader failure refuses the version
            answer, model = {"error": f"its model does not load ({type(exc).__name__})"}, None
        if model is not None and (version.get("metadata") or {}).get("feature_names"):
            for method in ("predict", "predict_proba", "decision_function"):
                if hasattr(model, method):
                    try:
                        getattr(model, method)(_sample(version))
                    except MemoryError:
                        answer = {"error": "scoring its model exhausted the sandbox's memory"}
                    except Exception:  # noqa: BLE001, S110 - synthetic rows may not fit the model
                        pass
        out.write(json.dumps(answer) + "\n")
        out.flush()
