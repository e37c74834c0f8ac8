"""The plugin manager: loads built-in and installed plugins, one at a time, and keeps a
report of each so that a broken plugin is listed by ``zoo plugins`` instead of breaking
the CLI.

Controls (environment variables):

- ``ZOO_LOAD_PLUGINS``: comma-separated entry-point names to load; empty loads none.
  Unset loads every installed plugin. Built-in plugins load either way.
- ``ZOO_DISABLE_PLUGINS``: comma-separated plugin names (built-in or installed) not to load.
- ``ZOO_STRICT_PLUGINS=1``: any plugin failure raises ``PluginError`` (for CI).
- ``ZOO_PREFER``: comma-separated plugin names asked first, so their components win
  name clashes. Otherwise the first plugin registered keeps a name, built-ins last.
- ``ZOO_PLUGIN_IMPORT_TIMEOUT``: seconds an installed plugin's import may take (default
  10); a slower one is a broken plugin, so a plugin that hangs cannot hang every command.

An installed plugin cannot take the process over while it loads: an import that raises
anything but ``KeyboardInterrupt`` (``SystemExit`` included) or outlasts the timeout makes
a broken plugin, listed by ``zoo plugins``.
"""

from __future__ import annotations

import contextvars
import functools
import importlib
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from zoo import hookspecs
from zoo.errors import PluginError

ENTRY_POINT_GROUP = "zoo"
#: Built-in plugins by name, registered exactly like installed ones (after them, so that a
#: user's plugin wins a name clash).
DEFAULT_PLUGINS = {
    "zoo.registry": "zoo.default_plugins.registry",
    "zoo.baselines": "zoo.default_plugins.baselines",
    "zoo.evaluate": "zoo.default_plugins.evaluate",
    "zoo.conformal": "zoo.default_plugins.conformal",
    "zoo.explain": "zoo.default_plugins.explain",
    "zoo.tune": "zoo.default_plugins.tune",
    "zoo.sandbox": "zoo.default_plugins.sandbox",
}
#: Built-in plugins' former names, as versions registered before a rename record them.
FORMER_NAMES = {"zoo.builtins": "zoo.baselines"}
#: Events: told after the fact, so a failing listener is warned about and never undoes them.
EVENT_HOOKS = ("version_registered", "batch_predicted")
#: Hooks whose failure marks the plugin broken (it registered something wrong).
REGISTRATION_HOOKS = tuple(name for name in dir(hookspecs) if name.startswith("register_"))

# The plugin whose hook implementation is running, for callbacks that must know who calls.
_CURRENT: contextvars.ContextVar[str | None] = contextvars.ContextVar("zoo_plugin", default=None)


def current_plugin() -> str | None:
    """The name of the plugin whose hook implementation is running now, if any."""
    return _CURRENT.get()


@dataclass
class PluginInfo:
    """What ``zoo plugins`` reports about one plugin."""

    name: str
    version: str
    distribution: str
    builtin: bool = False
    hooks: list[str] = field(default_factory=list)
    error: str | None = None
    #: The distribution's License-Expression (or License) metadata, e.g. "Apache-2.0".
    licence: str = ""

    @property
    def status(self) -> str:
        return "broken" if self.error else "ok"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "distribution": self.distribution,
            "licence": self.licence,
            "builtin": self.builtin,
            "status": self.status,
            "hooks": self.hooks,
            "error": self.error,
        }


class Plugins:
    """A pluggy manager plus the load report of every plugin it tried."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        #: Counts registrations and removals, so a catalogue built earlier knows it is stale.
        self.generation = 0
        self._catalogue: Any = None  # (key, Catalogue) kept by zoo.catalogue.build_catalogue
        self.strict = os.environ.get("ZOO_STRICT_PLUGINS", "") not in ("", "0")
        #: Things two plugins both tried to provide: {"kind", "name", "kept", "refused"}.
        self.conflicts: list[dict[str, str]] = []
        self._order: dict[str, int] = {}
        self._disabled = {n.strip() for n in os.environ.get("ZOO_DISABLE_PLUGINS", "").split(",")
                          if n.strip()}

    # --- loading ---

    def load_defaults(self) -> None:
        from zoo import __version__

        for name, module_name in DEFAULT_PLUGINS.items():
            if name in self._disabled:
                continue
            try:
                module = importlib.import_module(module_name)
            except Exception as exc:
                self._fail(PluginInfo(name, __version__, "zoo-ml", builtin=True),
                           f"import failed: {_describe(exc)}")
                continue
            self.register(module, name=name, version=__version__, distribution="zoo-ml", builtin=True)

    def load_entry_points(self) -> None:
        wanted = os.environ.get("ZOO_LOAD_PLUGINS")
        names = None if wanted is None else {n.strip() for n in wanted.split(",") if n.strip()}
        for ep in entry_points(ENTRY_POINT_GROUP):
            if (names is not None and ep.name not in names) or ep.name in self._disabled:
                continue
            if ep.name in self.infos:
                continue  # the same distribution seen twice on sys.path
            info = PluginInfo(name=ep.name, version=ep.version, distribution=ep.distribution,
                              licence=ep.licence)
            try:
                module = import_bounded(ep.load, import_timeout())
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # noqa: BLE001 - sys.exit() on import is a broken plugin too
                self._fail(info, f"import failed: {_describe(exc)}")
                continue
            self.register(module, name=ep.name, version=info.version,
                          distribution=info.distribution, licence=info.licence)

    def register(self, plugin: Any, name: str, version: str = "", distribution: str = "",
                 builtin: bool = False, licence: str = "") -> None:
        """Register a plugin object (module or instance) under ``name``."""
        info = PluginInfo(name=name, version=version, distribution=distribution, builtin=builtin,
                          licence=licence)
        try:
            self.pm.register(plugin, name=name)
            self.pm.check_pending()
        except Exception as exc:
            if self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            self._fail(info, _describe(exc))
            return
        callers = self.pm.get_hookcallers(plugin) or []
        for caller in callers:
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin and not (impl.wrapper or impl.hookwrapper):
                    impl.function = self._guard(impl, name, caller.name)
        info.hooks = sorted(h.name for h in callers)
        self.infos[name] = info
        self._order.setdefault(name, len(self._order))
        self.generation += 1

    def unregister(self, name: str) -> None:
        """Remove a plugin by name (used by tests to drop throwaway plugins)."""
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin)
        self.infos.pop(name, None)
        self.generation += 1

    def _fail(self, info: PluginInfo, error: str) -> None:
        info.error = error
        self.infos[info.name] = info
        if self.strict:
            raise PluginError(
                f"plugin {info.name!r} is broken: {error} (unset ZOO_STRICT_PLUGINS to skip it)"
            )

    # --- calling hooks: through pluggy, each implementation guarded ---

    def _guard(self, impl: Any, plugin_name: str, hook_name: str) -> Any:
        """``impl.function`` run with ``current_plugin()`` set, its failures kept to its plugin:
        a registration hook that raises marks the plugin broken, an event listener that
        raises is warned about; other hooks' errors (a user's bad input) reach the caller."""
        fn = impl.function

        @functools.wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            token = _CURRENT.set(plugin_name)
            try:
                return fn(*args, **kwargs)
            except PluginError:
                raise
            except SystemExit as exc:  # a hook never ends the process for the command running it
                raise PluginError(f"plugin {plugin_name!r}: {hook_name} called sys.exit"
                                  f"({exc.code!r}); uninstall or disable it (ZOO_DISABLE_PLUGINS)") from None
            except Exception as exc:
                if hook_name in EVENT_HOOKS:  # never undo the event, even in strict mode
                    warnings.warn(f"plugin {plugin_name!r}: {hook_name} raised {_describe(exc)}",
                                  stacklevel=2)
                    return None
                if hook_name in REGISTRATION_HOOKS:
                    self.mark_broken(plugin_name, f"{hook_name} raised {_describe(exc)}")
                    return None
                raise
            finally:
                _CURRENT.reset(token)

        return guarded

    @property
    def hook(self) -> Any:
        """pluggy's hook relay: ``plugins.hook.NAME(**kwargs)`` calls every implementation."""
        return self.pm.hook

    def fire(self, hook_name: str, **kwargs: Any) -> None:
        """Send an event hook to every plugin; a failing listener is warned about, never fatal."""
        caller = getattr(self.pm.hook, hook_name)
        if caller.get_hookimpls():  # most scoring calls have no listener: skip the call
            caller(**kwargs)

    def rank(self, plugin_name: str) -> tuple[int, int, int]:
        """Which plugin wins a clash (lowest first): those in ``ZOO_PREFER``, then installed
        plugins in load order, built-ins last so that a user's plugin overrides them."""
        prefer = [n.strip() for n in os.environ.get("ZOO_PREFER", "").split(",") if n.strip()]
        info = self.infos.get(plugin_name)
        return (prefer.index(plugin_name) if plugin_name in prefer else len(prefer),
                1 if info is not None and info.builtin else 0,
                self._order.get(plugin_name, len(self._order)))

    def conflict(self, kind: str, name: str, kept: str, refused: str) -> None:
        """Record that ``refused`` also tried to provide ``name`` (a component or a command),
        which ``kept`` keeps; an error in strict mode."""
        self.conflicts.append({"kind": kind, "name": name, "kept": kept, "refused": refused})
        if self.strict:
            raise PluginError(f"plugin {refused!r} also provides {kind} {name!r}, which {kept!r} "
                              "provides; uninstall one (unset ZOO_STRICT_PLUGINS to keep the first)")

    def migrations(self) -> dict[str, dict[str, tuple[str, ...]]]:
        """Every plugin's own schema steps (``register_migrations``), by plugin name."""
        steps: dict[str, dict[str, tuple[str, ...]]] = {}

        def register(name: str, statements: Any) -> None:
            plugin = current_plugin() or "unknown"
            if isinstance(statements, str):
                statements = (statements,)
            steps.setdefault(plugin, {})[name] = tuple(statements)

        self.pm.hook.register_migrations(register=register)
        return steps

    def mark_broken(self, plugin_name: str, error: str) -> None:
        """Record a plugin failure found after loading (a hook raised, a bad registration)."""
        info = self.infos.setdefault(plugin_name, PluginInfo(plugin_name, "", ""))
        if info.error:
            info.error += f"; {error}"
            return
        self._fail(info, error)


class ImportTimeout(BaseException):
    """A plugin's import outlasted ``ZOO_PLUGIN_IMPORT_TIMEOUT`` (a BaseException, so the
    plugin's own ``except Exception`` cannot swallow it)."""


def import_timeout() -> float:
    """Seconds a plugin's import may take: ``ZOO_PLUGIN_IMPORT_TIMEOUT``, default 10."""
    try:
        return max(float(os.environ.get("ZOO_PLUGIN_IMPORT_TIMEOUT", "") or 10.0), 0.01)
    except ValueError:
        return 10.0


def import_bounded(load: Callable[[], Any], seconds: float) -> Any:
    """``load()``, stopped with ``ImportTimeout`` after ``seconds``.

    In the main thread a SIGALRM timer raises inside the import, so a plugin sleeping or
    looping in Python is stopped and unwound. Elsewhere (a server's worker thread, or a
    timer already in use) the import runs in a daemon thread that is abandoned when late:
    the command goes on, and that plugin's module is never used.
    """
    main = threading.current_thread() is threading.main_thread()
    if main and hasattr(signal, "setitimer") and signal.getitimer(signal.ITIMER_REAL)[0] == 0:
        def expire(_signum: int, _frame: Any) -> None:
            raise ImportTimeout(f"import took longer than {seconds:g} s")

        previous = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return load()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = load()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="zoo-plugin-import", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise ImportTimeout(f"import took longer than {seconds:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@dataclass(frozen=True)
class EntryPoint:
    """One ``name = module:attr`` line of an installed distribution's entry points."""

    name: str
    value: str
    distribution: str
    version: str
    licence: str = ""

    def load(self) -> Any:
        """Import the module and follow ``:attr.sub`` if the value names one."""
        module_name, _, attrs = self.value.partition(":")
        obj = importlib.import_module(module_name.strip())
        for attr in filter(None, attrs.strip().split(".")):
            obj = getattr(obj, attr)
        return obj


def entry_points(group: str) -> list[EntryPoint]:
    """Entry points of ``group`` from the ``*.dist-info`` folders on ``sys.path``.

    The same answer as ``importlib.metadata.entry_points(group=...)`` (a test checks it),
    without importing importlib.metadata, which with the email parser it loads costs
    ~25 ms: a third of ``zoo --help``. The first copy of a distribution on sys.path wins.
    """
    found: list[EntryPoint] = []
    seen: set[str] = set()
    for folder in sys.path:
        try:
            listing = sorted(os.listdir(folder or "."))
        except OSError:
            continue
        for entry in listing:
            if not entry.endswith(".dist-info"):
                continue
            key = entry[: -len(".dist-info")].rsplit("-", 1)[0].lower().replace("-", "_")
            if key in seen:
                continue
            seen.add(key)
            path = os.path.join(folder or ".", entry)
            try:
                with open(os.path.join(path, "entry_points.txt"), encoding="utf-8") as f:
                    lines = f.read().splitlines()
            except OSError:
                continue
            pairs = _section(lines, group)
            if pairs:
                name, version, licence = _distribution_header(path)
                found += [EntryPoint(k, v, name, version, licence) for k, v in pairs]
    return found


def _section(lines: list[str], group: str) -> list[tuple[str, str]]:
    pairs, inside = [], False
    for raw in lines:
        line = raw.strip()
        if line.startswith("["):
            inside = line == f"[{group}]"
        elif inside and "=" in line and not line.startswith(("#", ";")):
            key, _, value = line.partition("=")
            pairs.append((key.strip(), value.strip()))
    return pairs


def _distribution_header(dist_info: str) -> tuple[str, str, str]:
    """Name, Version and licence from the METADATA header (it ends at the first blank line).

    The licence is License-Expression (SPDX, PEP 639) or else the first line of License.
    """
    name = version = expression = text = ""
    try:
        with open(os.path.join(dist_info, "METADATA"), encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    break
                if line.startswith("Name:"):
                    name = line[5:].strip()
                elif line.startswith("Version:"):
                    version = line[8:].strip()
                elif line.startswith("License-Expression:"):
                    expression = line[19:].strip()
                elif line.startswith("License:"):
                    text = line[8:].strip()
    except OSError:
        pass
    return name, version, expression or ("" if text == "UNKNOWN" else text)


_plugins: Plugins | None = None


def get_plugins() -> Plugins:
    """The process-wide plugin manager, loaded on first use."""
    global _plugins
    if _plugins is None:
        plugins = Plugins()
        plugins.load_defaults()
        if os.environ.get("ZOO_LOAD_PLUGINS") != "":
            plugins.load_entry_points()
        _plugins = plugins
    return _plugins


def reset() -> None:
    """Forget the loaded plugins; the next ``get_plugins()`` loads them again."""
    global _plugins
    _plugins = None


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
