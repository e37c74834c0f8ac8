"""The plugin manager: loads built-in and installed plugins, one at a time, and keeps a
report of each so that a broken plugin is listed by ``zoo plugins`` instead of breaking
the CLI.

Controls (environment variables):

- ``ZOO_LOAD_PLUGINS``: comma-separated entry-point names to load; empty loads none.
  Unset loads every installed plugin.
- ``ZOO_STRICT_PLUGINS=1``: any plugin failure raises ``PluginError`` (for CI).
- ``ZOO_PREFER``: comma-separated plugin names asked first, so their components win
  name clashes. Otherwise the first plugin registered keeps a name, built-ins last.
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from zoo import hookspecs
from zoo.errors import PluginError

ENTRY_POINT_GROUP = "zoo"
#: Built-in plugins, registered exactly like installed ones.
DEFAULT_PLUGINS = ("zoo.builtins",)


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

    # --- loading ---

    def load_defaults(self) -> None:
        from zoo import __version__

        for module_name in DEFAULT_PLUGINS:
            module = importlib.import_module(module_name)
            self.register(module, name=module_name, version=__version__,
                          distribution="zoo-ml", builtin=True)

    def load_entry_points(self) -> None:
        wanted = os.environ.get("ZOO_LOAD_PLUGINS")
        names = None if wanted is None else {n.strip() for n in wanted.split(",") if n.strip()}
        for ep in entry_points(ENTRY_POINT_GROUP):
            if names is not None and ep.name not in names:
                continue
            if ep.name in self.infos:
                continue  # the same distribution seen twice on sys.path
            info = PluginInfo(name=ep.name, version=ep.version, distribution=ep.distribution,
                              licence=ep.licence)
            try:
                module = ep.load()
            except BaseException as exc:  # noqa: BLE001 - a plugin may raise anything on import
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
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
        info.hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
        self.infos[name] = info
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

    # --- calling hooks one implementation at a time ---

    def call_each(self, hook_name: str, kwargs_for: Callable[[str], dict[str, Any]]) -> None:
        """Call every implementation of a registration hook with ``kwargs_for(plugin_name)``.

        One that raises marks its plugin broken and the others still run.
        """
        for impl in self._impls(hook_name):
            kwargs = kwargs_for(impl.plugin_name)
            try:
                impl.function(*[kwargs[a] for a in impl.argnames])
            except Exception as exc:
                self.mark_broken(impl.plugin_name, f"{hook_name} raised {_describe(exc)}")

    def fire(self, hook_name: str, **kwargs: Any) -> None:
        """Send an event hook to every plugin; a failing listener is warned about, never fatal."""
        for impl in self._impls(hook_name):
            try:
                impl.function(*[kwargs[a] for a in impl.argnames])
            except Exception as exc:  # the event already happened: never undo it, even in strict mode
                warnings.warn(f"plugin {impl.plugin_name!r}: {hook_name} raised {_describe(exc)}",
                              stacklevel=2)

    def mark_broken(self, plugin_name: str, error: str) -> None:
        """Record a plugin failure found after loading (a hook raised, a bad registration)."""
        info = self.infos.setdefault(plugin_name, PluginInfo(plugin_name, "", ""))
        if info.error:
            info.error += f"; {error}"
            return
        self._fail(info, error)

    def _impls(self, hook_name: str) -> list[Any]:
        """Implementations in the order they are asked: preferred plugins (``ZOO_PREFER``),
        then ``tryfirst`` ones, then the rest in registration order, ``trylast`` (built-ins) last."""
        impls = getattr(self.pm.hook, hook_name).get_hookimpls()  # registration order per group
        prefer = [n.strip() for n in os.environ.get("ZOO_PREFER", "").split(",") if n.strip()]

        def rank(impl: Any) -> tuple[int, int]:
            preferred = prefer.index(impl.plugin_name) if impl.plugin_name in prefer else len(prefer)
            return preferred, 0 if impl.tryfirst else 2 if impl.trylast else 1

        return sorted(impls, key=rank)  # stable: keeps registration order within a rank


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
