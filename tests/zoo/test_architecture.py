"""The layers of docs/architecture.md, checked on the source: which module may import which.

- ``registry/`` (installed as ``zoo_registry``) imports nothing from zoo but ``zoo.errors``;
- no import cycles between the modules of ``zoo/``, ``registry/`` and ``plugins/``, counting
  imports inside functions too (they run, so they close a cycle as well);
- plugins, built-in or installed, import only the documented public API: the modules in
  ``PUBLIC_MODULES``, names that do not start with ``_``, and from ``zoo`` itself only what
  ``zoo.__all__`` exports; a built-in plugin never imports another one's modules.

Each rule is a function tested twice: on the repository, and on a made-up example that
breaks it, so a rule that can no longer fail is noticed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: What plugins may import (docs/plugins.md documents each).
PUBLIC_MODULES = {"zoo", "zoo.clitools", "zoo.data", "zoo.drift", "zoo.metrics", "zoo.testing",
                  "zoo_registry", "zoo_registry.rows"}


def _module_files() -> dict[str, Path]:
    """Every first-party module by its import name."""
    files: dict[str, Path] = {}

    def add(package_dir: Path, package: str) -> None:
        for path in sorted(package_dir.rglob("*.py")):
            parts = list(path.relative_to(package_dir).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            files[".".join([package, *parts])] = path

    add(ROOT / "zoo", "zoo")
    add(ROOT / "registry", "zoo_registry")
    for plugin in sorted((ROOT / "plugins").iterdir()):
        for package_dir in plugin.glob("zoo_*"):
            if (package_dir / "__init__.py").exists():
                add(package_dir, package_dir.name)
    return files


def imports_of(source: str, module: str, known: set[str]) -> list[tuple[str, str | None, int]]:
    """``(imported module, imported name or None, line)`` for every import in ``source``,
    at any depth; ``from package import submodule`` counts as importing the submodule."""
    found = []
    package = module if module in {m.rsplit(".", 1)[0] for m in known if "." in m} else \
        module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, None, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                parent = parent[: len(parent) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.append((sub, None, node.lineno) if sub in known
                             else (base, alias.name, node.lineno))
    return found


def graph(files: dict[str, str]) -> dict[str, set[str]]:
    """Module -> first-party modules it imports, from ``{module: source}``."""
    known = set(files)
    edges: dict[str, set[str]] = {}
    for module, source in files.items():
        targets = set()
        for name, _, _ in imports_of(source, module, known):
            while name and name not in known:  # `import a.b.c` of a first-party module
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        edges[module] = targets
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def registry_violations(files: dict[str, str]) -> list[str]:
    """Imports of zoo modules other than ``zoo.errors`` from the registry's modules."""
    known = set(files)
    bad = []
    for module, source in files.items():
        if not module.startswith("zoo_registry"):
            continue
        for name, _attr, line in imports_of(source, module, known):
            if (name == "zoo" or name.startswith("zoo.")) and name != "zoo.errors":
                bad.append(f"{module}:{line} imports {name}")
    return bad


def plugin_violations(files: dict[str, str], exported: set[str]) -> list[str]:
    """Imports from plugins (installed ``zoo_*`` packages and ``zoo.default_plugins.*``) that
    reach past the public API."""
    known = set(files)
    bad = []
    for module, source in files.items():
        builtin = module.startswith("zoo.default_plugins.")
        if not (builtin or (module.startswith("zoo_") and not module.startswith("zoo_registry"))):
            continue
        own = ".".join(module.split(".")[:3]) if builtin else module.split(".")[0]
        for name, attr, line in imports_of(source, module, known):
            where = f"{module}:{line}"
            if name == own or name.startswith(own + "."):
                continue  # the plugin's own modules
            first_party = name in ("zoo", "zoo_registry") or name.startswith(("zoo.", "zoo_"))
            if not first_party:
                continue
            if name not in PUBLIC_MODULES:
                bad.append(f"{where} imports {name}, which is not public API")
            elif attr is not None and attr.startswith("_"):
                bad.append(f"{where} imports the private name {name}.{attr}")
            elif name == "zoo" and attr is not None and attr not in exported:
                bad.append(f"{where} imports zoo.{attr}, which zoo.__all__ does not export")
    return bad


@pytest.fixture(scope="module")
def sources() -> dict[str, str]:
    return {module: path.read_text() for module, path in _module_files().items()}


def test_the_scan_sees_every_layer(sources):
    assert {"zoo.cli", "zoo.models", "zoo_registry.store", "zoo_sklearn", "zoo_monitor"} <= set(sources)


def test_registry_imports_nothing_from_zoo_but_errors(sources):
    assert registry_violations(sources) == []


def test_registry_rule_fails_when_broken():
    example = {"zoo_registry.store": "def load():\n    from zoo.catalogue import build_catalogue\n",
               "zoo.catalogue": "", "zoo.errors": ""}
    assert registry_violations(example) == ["zoo_registry.store:2 imports zoo.catalogue"]


def test_no_import_cycles(sources):
    assert cycles(graph(sources)) == []


def test_cycle_rule_fails_when_broken():
    example = {"zoo.a": "from zoo.b import x\n", "zoo.b": "def f():\n    import zoo.c\n",
               "zoo.c": "from zoo import a\n", "zoo": ""}
    assert cycles(graph(example)) == [["zoo.a", "zoo.b", "zoo.c"]]


def test_plugins_import_only_the_public_api(sources):
    import zoo

    assert plugin_violations(sources, set(zoo.__all__)) == []


def test_public_api_rule_fails_when_broken():
    example = {
        "zoo_example": ("from zoo import hookimpl, _private, Registry, nothing_exported\n"
                        "from zoo.cli import open_registry\nfrom zoo.clitools import _fail\n"
                        "from zoo_example.models import Model\n"),
        "zoo_example.models": "", "zoo": "", "zoo.cli": "", "zoo.clitools": "",
        "zoo.default_plugins.tune": "from zoo.default_plugins.evaluate import score\n",
        "zoo.default_plugins.evaluate": "",
    }
    assert plugin_violations(example, {"hookimpl", "Registry"}) == [
        "zoo_example:1 imports the private name zoo._private",
        "zoo_example:1 imports zoo.nothing_exported, which zoo.__all__ does not export",
        "zoo_example:2 imports zoo.cli, which is not public API",
        "zoo_example:3 imports the private name zoo.clitools._fail",
        "zoo.default_plugins.tune:1 imports zoo.default_plugins.evaluate, which is not public API",
    ]


def test_every_public_module_and_name_exists():
    import importlib

    import zoo

    for module in PUBLIC_MODULES:
        importlib.import_module(module)
    missing = [name for name in zoo.__all__ if not hasattr(zoo, name)]
    assert missing == []


#: The kernel's budget (issue 12), in lines of code: not blank, not only a comment, not part of
#: a docstring. The kernel is every module of zoo/ but the built-in plugins and the conformance
#: kit (zoo/testing.py, a tool for plugin authors' test suites that the CLI never imports).
KERNEL_BUDGET = 2500


def code_lines(source: str) -> int:
    """Lines holding code, the way cloc counts them, with docstrings counted as comments."""
    import io
    import tokenize

    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)):
                docstrings.update(range(first.lineno, first.end_lineno + 1))
    lines: set[int] = set()
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
            tokenize.ENDMARKER}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in skip:
            lines.update(range(token.start[0], token.end[0] + 1))
    return len(lines - docstrings)


def kernel_files() -> list[Path]:
    return sorted(p for p in (ROOT / "zoo").glob("*.py") if p.name != "testing.py")


def test_the_kernel_stays_within_its_budget():
    sizes = {p.name: code_lines(p.read_text()) for p in kernel_files()}
    assert sum(sizes.values()) <= KERNEL_BUDGET, sizes


def test_code_lines_leave_out_docstrings_comments_and_blank_lines():
    source = '"""Module doc."""\n\n# a comment\ndef f(x):\n    """Doc\n    on two lines."""\n' \
             '    return (x +\n            1)  # why\n'
    assert code_lines(source) == 3
