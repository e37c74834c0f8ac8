"""The catalogue of components every plugin registered, by qualified name."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

from zoo.errors import NotFoundError
from zoo.interfaces import BASES, KINDS, Component

#: Registration hook for each kind of component: register_predictors, ..., register_monitors.
HOOKS = {kind: f"register_{kind}s" for kind in KINDS}
_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


@dataclass(frozen=True)
class ComponentInfo:
    """One catalogue entry."""

    name: str
    kind: str
    task: str
    plugin: str
    plugin_version: str
    description: str
    params: dict[str, Any]
    artifact_format: str
    cls: type[Component]
    #: The licence of the plugin's distribution (``PluginInfo.licence``).
    licence: str = ""

    def create(self, **params: Any) -> Component:
        """A new, unfitted instance with ``params`` overriding the defaults."""
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            raise NotFoundError(
                f"{self.name} has no parameter {', '.join(map(repr, unknown))}; "
                f"valid: {', '.join(sorted(self.params)) or 'none'}"
            )
        return self.cls(**params)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "task": self.task,
            "plugin": self.plugin,
            "plugin_version": self.plugin_version,
            "licence": self.licence,
            "description": self.description,
            "params": {k: _jsonable(v) for k, v in self.params.items()},
            "artifact_format": self.artifact_format,
        }


@dataclass
class Catalogue:
    """Every registered component, plus the name clashes seen while building it."""

    components: dict[str, ComponentInfo] = field(default_factory=dict)
    #: (name, plugin that kept it, plugin that was refused)
    conflicts: list[tuple[str, str, str]] = field(default_factory=list)
    _by_class: dict[type, ComponentInfo] = field(default_factory=dict, repr=False)

    def get(self, name: str, kind: str | None = None) -> ComponentInfo:
        """The component called ``name``; the error suggests close names."""
        info = self.components.get(name)
        if info is None or (kind and info.kind != kind):
            pool = [n for n, c in self.components.items() if not kind or c.kind == kind]
            close = difflib.get_close_matches(name, pool, n=3)
            hint = f"did you mean {', '.join(close)}?" if close else "run `zoo components` to list them"
            what = (kind or "component").replace("_", " ")
            raise NotFoundError(f"unknown {what} {name!r}: {hint}")
        return info

    def of_kind(self, kind: str | None = None) -> list[ComponentInfo]:
        """Components of one kind (all when ``kind`` is None), sorted by name."""
        return sorted((c for c in self.components.values() if kind in (None, c.kind)),
                      key=lambda c: c.name)

    def of_class(self, cls: type[Component]) -> ComponentInfo:
        """The entry under which a component class is registered."""
        info = self._by_class.get(cls)
        if info is None:
            raise NotFoundError(f"{cls.__name__} is not a registered component: register it "
                                "in a plugin")
        return info

    def name_of(self, component: Component | type[Component]) -> str:
        """The qualified name under which a component class is registered."""
        return self.of_class(component if isinstance(component, type) else type(component)).name


def build_catalogue(plugins: Any | None = None) -> Catalogue:
    """Ask every plugin to register its components; bad registrations mark the plugin broken.

    When two plugins register one name, the plugin that ranks first (``Plugins.rank``:
    ``ZOO_PREFER``, then load order, built-ins last) keeps it and the clash is recorded.
    The result is kept until a plugin is registered or unregistered (or ``ZOO_PREFER``
    changes): building it reads every component's signature, which would otherwise be
    most of the cost of a registration. Treat it as read-only.
    """
    import os

    from zoo.plugins import current_plugin, get_plugins

    plugins = plugins or get_plugins()
    key = (plugins.generation, os.environ.get("ZOO_PREFER", ""))
    cached = getattr(plugins, "_catalogue", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    plugins.conflicts[:] = [c for c in plugins.conflicts if c["kind"] != "component"]
    offers: list[tuple[Any, int, str, str, type]] = []  # (rank, order, plugin, kind, cls)
    for kind, hook in HOOKS.items():
        def register(cls: type, kind: str = kind) -> None:
            plugin = current_plugin() or "unknown"
            check_component_class(kind, cls)
            offers.append((plugins.rank(plugin), len(offers), plugin, kind, cls))

        getattr(plugins.hook, hook)(register=register)
    catalogue = Catalogue()
    for _, _, plugin, kind, cls in sorted(offers, key=lambda o: o[:2]):
        _add(catalogue, plugins, plugin, kind, cls)
    plugins._catalogue = (key, catalogue)
    return catalogue


def check_component_class(kind: str, cls: Any) -> None:
    """The catalogue's rule for a registered class: a subclass of the kind's base class with a
    dotted lower-case ``component`` name; raises ``TypeError``/``ValueError`` otherwise."""
    base = BASES[kind]
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise TypeError(f"{HOOKS[kind]} got {cls!r}, which is not a subclass of zoo.{base.__name__}")
    if not _NAME.match(cls.component or ""):
        raise ValueError(f"{cls.__name__}.component must be a dotted lower-case name like "
                         f"'myplugin.my_model', got {cls.component!r}")


def _add(catalogue: Catalogue, plugins: Any, plugin_name: str, kind: str, cls: Any) -> None:
    name = cls.component
    info = plugins.infos.get(plugin_name)
    if name in catalogue.components:
        kept = catalogue.components[name].plugin
        if kept != plugin_name:
            catalogue.conflicts.append((name, kept, plugin_name))
            plugins.conflict("component", name, kept, plugin_name)
        return
    catalogue.components[name] = catalogue._by_class[cls] = ComponentInfo(
        name=name,
        kind=kind,
        task=cls.task,
        plugin=plugin_name,
        plugin_version=info.version if info else "",
        description=cls.description(),
        params=cls.param_defaults(),
        artifact_format=cls.artifact_format,
        cls=cls,
        licence=info.licence if info else "",
    )


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return repr(value)
