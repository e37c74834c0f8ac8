"""The catalogue of components every plugin registered, by qualified name."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

from zoo.errors import NotFoundError
from zoo.interfaces import BASES, Component

#: Registration hook for each kind of component.
HOOKS = {
    "predictor": "register_predictors",
    "detector": "register_detectors",
    "calibrator": "register_calibrators",
    "drift_test": "register_drift_tests",
    "monitor": "register_monitors",
}
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

    def name_of(self, component: Component | type[Component]) -> str:
        """The qualified name under which a component class is registered."""
        cls = component if isinstance(component, type) else type(component)
        for info in self.components.values():
            if info.cls is cls:
                return info.name
        raise NotFoundError(f"{cls.__name__} is not a registered component: register it in a plugin")


def build_catalogue(plugins: Any | None = None) -> Catalogue:
    """Ask every plugin to register its components; bad registrations mark the plugin broken.

    The result is kept until a plugin is registered or unregistered (or ``ZOO_PREFER``
    changes): building it reads every component's signature, which would otherwise be
    most of the cost of a registration. Treat it as read-only.
    """
    import os

    from zoo.plugins import get_plugins

    plugins = plugins or get_plugins()
    key = (plugins.generation, os.environ.get("ZOO_PREFER", ""))
    cached = getattr(plugins, "_catalogue", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    catalogue = Catalogue()
    for kind, hook in HOOKS.items():
        def kwargs_for(plugin_name: str, kind: str = kind) -> dict[str, Any]:
            def register(cls: type) -> None:
                _add(catalogue, plugins, plugin_name, kind, cls)
            return {"register": register}

        plugins.call_each(hook, kwargs_for)
    plugins._catalogue = (key, catalogue)
    return catalogue


def _add(catalogue: Catalogue, plugins: Any, plugin_name: str, kind: str, cls: Any) -> None:
    base = BASES[kind]
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise TypeError(f"{HOOKS[kind]} got {cls!r}, which is not a subclass of zoo.{base.__name__}")
    name = cls.component
    if not _NAME.match(name or ""):
        raise ValueError(f"{cls.__name__}.component must be a dotted lower-case name like "
                         f"'myplugin.my_model', got {name!r}")
    info = plugins.infos.get(plugin_name)
    if name in catalogue.components:
        kept = catalogue.components[name].plugin
        if kept != plugin_name:
            catalogue.conflicts.append((name, kept, plugin_name))
        return
    catalogue.components[name] = ComponentInfo(
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
