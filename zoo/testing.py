"""The conformance kit: the contract every zoo component keeps, as checks a plugin's tests run
(like scikit-learn's ``check_estimator`` and ``parametrize_with_checks``).

One call runs every check for the component's kind::

    from zoo.testing import check_component

    def test_my_model_keeps_the_contract():
        check_component(MyModel, params={"n_estimators": 10})

or one pytest test per check, each with its own id (``my.model-save_load_round_trip``)::

    from zoo.testing import parametrize_with_checks

    @parametrize_with_checks([MyModel, (MyOtherModel, {"params": {"depth": 2}})])
    def test_contract(component, check):
        check(component)

A check builds its own seeded data with numpy and pandas (nothing is downloaded), fits
fresh components, and raises ``AssertionError`` whose message names the component, the
check and what broke. ``CHECKS`` lists every check; ``checks_for(cls)`` the ones a class
gets (by its kind: predictor, detector, calibrator, drift test or monitor).

Options (keyword arguments of ``check_component``, or the dict beside a class):

- ``params``: ``__init__`` arguments the fitted checks use (a small ``n_estimators``...).
- ``skip``: names of checks not to run (say why in your test).
- ``fit``: ``fit(model, X, y) -> model`` for a predictor whose ``fit`` needs more than
  ``X`` and ``y`` (a calibrated model needs fitted members).
- ``multiclass``: False for a classifier or calibrator of two classes only (default True).
- ``floors``: ``{metric: minimum}`` of higher-is-better metrics (accuracy, roc_auc, f1, r2)
  a predictor must beat on held-out rows of the kit's data (the ``learns`` check, run only
  with this option: the kit's own baselines learn nothing on purpose).
- ``columns``: the data a drift test or monitor takes: ``"numeric"`` (default),
  ``"categorical"``, ``"binary"`` (0/1 and booleans) or ``"mixed"``.
- ``groups``: a calibrator that needs group columns: their names (passed as ``groups=``).
- ``members``: a calibrator of several models' scores: how many score arrays it takes.

A plugin as a whole: ``check_plugin(name, components)`` loads the installed plugin as ``zoo``
does (strict mode, its catalogue entries, an entry module that imports nothing heavy), and
``check_install(source, name, component)`` installs it into a fresh environment and trains
and predicts through the real CLI. ``registered(*classes)`` makes classes that no installed
plugin registers known to the catalogue for a ``with`` block (a small model a test needs
inside a registry); ``predictor_data(task)`` is the kit's seeded data, for a plugin's own tests.

Importing this module is light: numpy and pandas load when a check runs, and pytest only
for ``parametrize_with_checks``.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import itertools
import json
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from zoo.errors import DataError, ZooError
from zoo.hookspecs import hookimpl
from zoo.interfaces import (
    BASES,
    KINDS,
    Component,
    Contributions,
    KeyColumns,
    QuantilePredictor,
    SearchSpace,
)

__all__ = ["CHECKS", "HEAVY", "check_component", "check_install", "check_plugin", "checks_for",
           "load_in_subprocess", "offering", "parametrize_with_checks", "predictor_data", "registered",
           "run_check"]

#: Rows the checks fit on, and rows they predict.
N_FIT, N_NEW = 200, 60
#: A column no data set has, added to see that extra columns are ignored.
EXTRA = "zz_extra"

_KIT_OPTIONS = {"params", "skip", "fit", "multiclass", "columns", "groups", "members", "floors"}
_REGISTRY: dict[str, tuple[Callable[[Any], None], tuple[str, ...]]] = {}


def _check(*kinds: str) -> Callable[[Callable[[Any], None]], Callable[[Any], None]]:
    """Register a check for components of ``kinds`` (every kind when none is given)."""

    def decorate(fn: Callable[[Any], None]) -> Callable[[Any], None]:
        _REGISTRY[fn.__name__.removeprefix("_check_")] = (fn, kinds or KINDS)
        return fn

    return decorate


# --- running the checks ---


class _Case:
    """A component class, the options it is checked with, and the data it is checked on."""

    def __init__(self, component: Any, options: dict[str, Any]) -> None:
        unknown = sorted(set(options) - _KIT_OPTIONS)
        if unknown:
            raise TypeError(f"unknown option {', '.join(unknown)}; the options are "
                            f"{', '.join(sorted(_KIT_OPTIONS))}")
        if isinstance(component, Component):  # an instance: its parameters are the params
            options = {"params": component.get_params(deep=False), **options}
            component = type(component)
        if not (isinstance(component, type) and issubclass(component, Component)):
            raise TypeError(f"check a zoo component class (or instance), not {component!r}")
        self.cls = component
        self.params: dict[str, Any] = dict(options.get("params") or {})
        self.options = options
        self.kind = kind_of(component)
        self.label = component.component or component.__name__

    def new(self, **params: Any) -> Any:
        """A new component with the case's params (and ``params`` over them)."""
        return self.cls(**{**self.params, **params})

    def option(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)

    def fit(self, model: Any, data: Data) -> Any:
        """``model`` fitted on ``data`` as its kind fits; returns what ``fit`` returned."""
        if self.kind == "predictor":
            fit = self.option("fit")
            return fit(model, data.X, data.y) if fit else model.fit(data.X, data.y)
        if self.kind == "calibrator":
            return model.fit(data.X, data.y, **data.kwargs)
        return model.fit(data.X)  # detectors, drift tests and monitors learn from a table alone

    def fitted(self, data: Data, **params: Any) -> Any:
        model = self.new(**params)
        self.fit(model, data)
        return model


def kind_of(cls: type) -> str:
    """The kind of a component class, from the base class it derives from."""
    for kind in KINDS:
        if issubclass(cls, BASES[kind]):
            return kind
    raise TypeError(f"{cls.__name__} derives from none of zoo's bases "
                    f"({', '.join(b.__name__ for b in BASES.values())})")


def checks_for(component: Any, **options: Any) -> list[str]:
    """The names of the checks ``component`` gets (by its kind), less ``options["skip"]``."""
    case = _Case(component, options)
    skip = set(options.get("skip") or ())
    unknown = skip - set(_REGISTRY)
    if unknown:
        raise ValueError(f"skip names no check {', '.join(sorted(unknown))}; the checks are "
                         f"{', '.join(_REGISTRY)}")
    return [name for name, (_, kinds) in _REGISTRY.items()
            if case.kind in kinds and name not in skip and _applies(name, case)]


def run_check(name: str, component: Any, **options: Any) -> None:
    """Run the check ``name`` on ``component``; a failure is an ``AssertionError`` naming both."""
    if name not in _REGISTRY:
        raise ValueError(f"no check is called {name!r}; the checks are {', '.join(_REGISTRY)}")
    case = _Case(component, options)
    fn, _ = _REGISTRY[name]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # libraries' own, not the contract's
            fn(case)
    except AssertionError as exc:
        raise AssertionError(f"{case.label} fails {name}: {exc}") from None
    except Exception as exc:
        text = str(exc).strip().splitlines()
        raise AssertionError(f"{case.label} fails {name}: it raised {type(exc).__name__}"
                             f"{': ' + text[0] if text else ''}") from exc


def check_component(component: Any, **options: Any) -> None:
    """Run every check for ``component``'s kind; raise one ``AssertionError`` listing each
    failing check and why (see the module docstring for ``options``)."""
    failures = []
    for name in checks_for(component, **options):
        try:
            run_check(name, component, **options)
        except AssertionError as exc:
            failures.append(str(exc))
    if failures:
        raise AssertionError(f"{len(failures)} conformance check(s) failed:\n- " + "\n- ".join(failures))


def parametrize_with_checks(components: Iterable[Any]) -> Any:
    """A ``pytest.mark.parametrize`` over ``(component, check)``: one test per check, with ids
    ``<component>-<check>``. Each item is a class, an instance, or ``(class, options)``
    (``options`` may hold an ``id`` to tell apart two cases of one class); the test calls
    ``check(component)``."""
    import pytest

    cases = []
    for item in components:
        component, options = item if isinstance(item, tuple) else (item, {})
        options = dict(options)
        label = options.pop("id", None) or _Case(component, options).label
        for name in checks_for(component, **options):
            check = functools.partial(run_check, name, **options)
            cases.append(pytest.param(component, check, id=f"{label}-{name}"))
    return pytest.mark.parametrize(("component", "check"), cases)


def _applies(name: str, case: _Case) -> bool:
    """Whether a check of the case's kind applies to this class (monitors may not persist)."""
    if name in ("save_load_round_trip", "registry_round_trip"):
        return _persists(case.cls)
    if name == "learns":
        return bool(case.option("floors"))
    return True


def _persists(cls: type) -> bool:
    """Monitors need not be saved; every other kind is stored in the registry."""
    return kind_of(cls) != "monitor" or getattr(cls, "save", None) is not Component.save


# --- a plugin as a whole ---

#: Libraries no entry module may import: ``zoo --help`` imports every plugin's.
HEAVY = ("numpy", "pandas", "scipy", "sklearn", "pyarrow", "matplotlib")

_CATALOGUE_SCRIPT = """
import json, sys
from zoo.catalogue import build_catalogue
from zoo.plugins import get_plugins
plugins = get_plugins()
info = plugins.infos.get(sys.argv[1])
entries = [dict(c.as_dict(), cls=c.cls.__module__ + "." + c.cls.__qualname__)
           for c in build_catalogue(plugins).of_kind() if c.plugin == sys.argv[1]]
print(json.dumps({"info": info and info.as_dict(), "components": entries, "conflicts": plugins.conflicts}))
"""

_IMPORT_SCRIPT = """
import importlib, sys
from zoo.catalogue import HOOKS
module = importlib.import_module(sys.argv[1])
for hook in HOOKS.values():
    if hasattr(module, hook):
        getattr(module, hook)(register=lambda cls: (cls.description(), cls.param_defaults()))
"""


def check_plugin(name: str, components: Iterable[type] = (),
                 heavy: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Check the installed plugin ``name`` as ``zoo`` loads it, each in a fresh interpreter.

    Loaded alone (``ZOO_LOAD_PLUGINS=name``, ``ZOO_STRICT_PLUGINS=1``) it has no error nor
    clash, and every class of ``components`` is in the catalogue under ``name``, with its
    description, ``__init__`` defaults and artifact format. Importing its entry module and
    running its registration hooks, as ``zoo --help`` and the catalogue do, imports none of
    ``HEAVY`` and ``heavy``. Returns the catalogue entries of its components (as
    ``zoo components --json`` shows them, plus ``cls``) for plugin-specific asserts.
    """
    import os
    import subprocess
    import sys

    from zoo.plugins import ENTRY_POINT_GROUP, entry_points

    env = {**os.environ, "ZOO_LOAD_PLUGINS": name, "ZOO_STRICT_PLUGINS": "1"}
    proc = subprocess.run([sys.executable, "-c", _CATALOGUE_SCRIPT, name], capture_output=True,
                          text=True, env=env, timeout=300)
    _expect(proc.returncode == 0, f"plugin {name!r} does not load in strict mode:\n{proc.stderr[-2000:]}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    _expect(report["info"] is not None, f"no installed plugin is called {name!r}: pip install it")
    _expect(report["info"]["status"] == "ok", f"plugin {name!r} is broken: {report['info']['error']}")
    _expect(not report["conflicts"], f"plugin {name!r} clashes: {report['conflicts']}")
    entries = {e["name"]: e for e in report["components"]}
    for cls in components:
        entry = entries.get(cls.component)
        _expect(entry is not None, f"{cls.__name__} ({cls.component}) is not in the catalogue under {name!r}")
        got = (entry["cls"], entry["description"], entry["params"], entry["artifact_format"])
        want = (f"{cls.__module__}.{cls.__qualname__}", cls.description(),
                json.loads(json.dumps(cls.param_defaults(), default=repr)), cls.artifact_format)
        _expect(got == want, f"the catalogue shows {cls.component} as {got}, not {want}")
    module = next((ep.value.partition(":")[0].strip() for ep in entry_points(ENTRY_POINT_GROUP)
                   if ep.name == name), None)
    _expect(module, f"no {ENTRY_POINT_GROUP!r} entry point is called {name!r}")
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", _IMPORT_SCRIPT, module],
                          capture_output=True, text=True, timeout=300)
    _expect(proc.returncode == 0, f"importing {module} failed:\n{proc.stderr[-2000:]}")
    banned = {*HEAVY, *heavy}
    imported = [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:")]
    loaded = sorted({m for m in imported if m.split(".")[0] in banned})
    _expect(not loaded, f"importing {module} and registering its components imports {loaded}: "
                        "import them inside the methods that need them")
    return list(entries.values())


def check_install(source: str | Path, name: str, component: type,
                  params: dict[str, Any] | None = None) -> None:
    """``zoo install SOURCE`` into a fresh virtual environment gives plugin ``name`` in working
    order: its module comes from the new install, ``zoo plugins`` shows it ok (strict mode),
    ``zoo train`` fits the predictor ``component`` (with ``params``) on the kit's data and
    ``zoo predict`` scores the same bits as the version loaded in this process.

    The environment borrows this one's libraries (read-only), so nothing is downloaded; it
    takes some seconds: mark the test slow.
    """
    import os
    import shutil
    import subprocess
    import sys
    import sysconfig

    import pandas as pd

    from zoo.models import Registry

    with tempfile.TemporaryDirectory(prefix="zoo-install-") as tmp:
        root = Path(tmp)
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], check=True)
        python = root / "venv" / "bin" / "python"
        where_lib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
        purelib = subprocess.run([str(python), "-c", where_lib],
                                 capture_output=True, text=True, check=True).stdout.strip()
        # Its own site-packages comes first on sys.path, so what `zoo install` puts there wins.
        parent = sysconfig.get_paths()["purelib"]
        Path(purelib, "zoo_borrow_parent.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
        # PIP_NO_BUILD_ISOLATION=0 turns build isolation off (pip reads "no-" options inverted),
        # so the build uses this environment's setuptools instead of downloading one.
        env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0",
               "ZOO_REGISTRY": str(root / "r.db"), "ZOO_STRICT_PLUGINS": "1"}

        def run(*args: str) -> str:
            proc = subprocess.run([str(python), *args], capture_output=True, text=True, env=env, timeout=600)
            _expect(proc.returncode == 0, f"{' '.join(args[:4])} failed:\n{proc.stderr[-2000:]}")
            return proc.stdout

        # Built from a copy, so setuptools' build files never land in the source tree.
        copy = shutil.copytree(source, root / "source", ignore=shutil.ignore_patterns(
            "build", "*.egg-info", "__pycache__", "tests"))
        run("-m", "zoo", "install", str(copy))
        where = run("-c", "import importlib; from zoo.plugins import entry_points\n"
                          f"ep = next(e for e in entry_points('zoo') if e.name == {name!r})\n"
                          "print(importlib.import_module(ep.value.partition(':')[0]).__file__)")
        _expect(where.startswith(str(root / "venv")),
                f"{name} is imported from {where.strip()}, not the new install")
        plugins = {p["name"]: p for p in json.loads(run("-m", "zoo", "plugins", "--json"))["plugins"]}
        _expect(plugins.get(name, {}).get("status") == "ok", f"zoo plugins shows {plugins.get(name)}")
        data = predictor_data(component.task)[-1]
        data.X.assign(**{data.y.name: data.y}).to_csv(root / "train.csv", index=False)
        data.new.to_csv(root / "new.csv", index=False)
        pairs = [arg for k, v in (params or {}).items() for arg in ("--param", f"{k}={v}")]
        run("-m", "zoo", "train", component.component, str(root / "train.csv"), "--target", str(data.y.name),
            "--name", "kit", *pairs)
        run("-m", "zoo", "predict", "kit:1", str(root / "new.csv"), "-o", str(root / "scored.parquet"))
        scored = pd.read_parquet(root / "scored.parquet")
        with Registry(root / "r.db") as registry:
            model = registry.load("kit:1", observed=False)
            new = pd.read_csv(root / "new.csv")
            if component.task == "classification":
                columns, here = [f"proba_{c}" for c in model.classes_], model.predict_proba(new)
            else:
                columns, here = ["prediction"], model.predict(new)[:, None]
        _expect(scored[columns].to_numpy().tolist() == here.tolist(),
                "zoo predict in the new environment and the version loaded here score differently")


# --- loading untrusted versions where a crash cannot take the test run down ---

#: The child of ``load_in_subprocess``: loads each ref (scoring the rows file when given) and
#: prints one line per ref.
_LOAD_EACH = """
import sys
import pandas as pd
from zoo import Registry, ZooError
rows = pd.read_parquet(sys.argv[2]) if sys.argv[2] else None
with Registry(sys.argv[1]) as reg:
    for ref in sys.argv[3:]:
        try:
            model = reg.load(ref, observed=False)
            if rows is not None:
                model.predict(rows)
            print("LOADED", ref, flush=True)
        except ZooError as exc:
            print("REFUSED", ref, str(exc).replace(chr(10), "<newline>"), flush=True)
"""


def load_in_subprocess(registry_path: str | Path, refs: Iterable[str], rows: Any = None, *,
                       timeout: float = 120, preexec_fn: Callable[[], None] | None = None) -> dict[str, str]:
    """Load each of ``refs`` from the registry (and predict ``rows``, a DataFrame, with it) in a
    child process, so that a crafted model that crashes or hangs its loader fails the calling
    test instead of killing it. Returns the child's line per ref: ``"LOADED ref"`` or
    ``"REFUSED ref message"`` (the message's newlines shown as ``<newline>``)."""
    import subprocess
    import sys

    refs = list(refs)
    with tempfile.TemporaryDirectory(prefix="zoo-load-") as tmp:
        rows_file = ""
        if rows is not None:
            rows_file = str(Path(tmp) / "rows.parquet")
            rows.to_parquet(rows_file)
        proc = subprocess.run([sys.executable, "-c", _LOAD_EACH, str(registry_path), rows_file, *refs],
                              capture_output=True, text=True, timeout=timeout, preexec_fn=preexec_fn)
    _expect(proc.returncode == 0, f"loading crashed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    lines = {line.split()[1]: line for line in proc.stdout.splitlines() if line.split()[:1] in
             (["LOADED"], ["REFUSED"])}
    _expect(set(lines) == set(refs), f"the loading child answered for {sorted(lines)}, not {refs}")
    return lines


# --- a throwaway plugin, so that a registry can store classes no installed plugin offers ---

_THROWAWAY = itertools.count()


def offering(*classes: type) -> Any:
    """A plugin object whose registration hooks offer ``classes``, each under its kind's hook
    (``register_predictors`` for predictors, ...): register it with a name to try them out."""
    import types

    from zoo.catalogue import HOOKS

    plugin = types.SimpleNamespace()
    for kind, hook in HOOKS.items():
        def offer(register: Callable[[type], None], kind: str = kind) -> None:
            for cls in classes:
                if kind_of(cls) == kind:
                    register(cls)

        setattr(plugin, hook, hookimpl(offer))
    return plugin


@contextlib.contextmanager
def registered(*classes: type) -> Iterator[None]:
    """Within the block, ``classes`` are in the catalogue, offered by a throwaway plugin
    (``zoo-testing-N``), so a ``zoo.Registry`` can register and load them. For tests."""
    from zoo.catalogue import build_catalogue
    from zoo.plugins import get_plugins

    plugins = get_plugins()
    name = f"zoo-testing-{next(_THROWAWAY)}"
    plugins.register(offering(*classes), name=name, version="0", distribution=name)
    strict, plugins.strict = plugins.strict, False  # a clash is reported below, as a failure
    try:
        try:
            catalogue = build_catalogue(plugins)
        finally:
            plugins.strict = strict
        for cls in classes:
            taken = catalogue.components.get(cls.component)
            if taken is None or taken.cls is not cls:
                raise AssertionError(f"{cls.__name__} could not join the catalogue as "
                                     f"{cls.component!r}: " + (f"{taken.cls.__name__} of plugin "
                                     f"{taken.plugin!r} has that name" if taken else
                                     f"plugin errors: {plugins.infos[name].error}"))
        yield
    finally:
        plugins.unregister(name)


@contextlib.contextmanager
def _in_catalogue(cls: type) -> Iterator[None]:
    from zoo.catalogue import build_catalogue
    from zoo.errors import NotFoundError

    try:
        build_catalogue().of_class(cls)
    except NotFoundError:
        with registered(cls):
            yield
        return
    yield


# --- data: seeded, numpy and pandas only ---


class Data:
    """What a check fits on and predicts: ``X`` (and ``y``) to fit, ``new`` to predict,
    ``kwargs`` for a calibrator's ``fit``/``transform`` (``groups``)."""

    def __init__(self, X: Any, y: Any = None, new: Any = None, kwargs: dict[str, Any] | None = None,
                 name: str = "", new_kwargs: dict[str, Any] | None = None, new_y: Any = None) -> None:
        self.X, self.y, self.new, self.new_y = X, y, new, new_y
        self.kwargs, self.new_kwargs = kwargs or {}, new_kwargs or {}
        self.name = name


def _rng(salt: int) -> Any:
    import numpy as np

    return np.random.default_rng(20240 + salt)


def _features(rng: Any, n: int) -> Any:
    """The predictors' and detectors' columns: names with a space and brackets, and an integer
    column, on purpose (libraries that keep feature names choke on some)."""
    import pandas as pd

    return pd.DataFrame({"a": rng.normal(size=n), "b c": rng.normal(size=n),
                         "d[0]": rng.normal(2.0, 3.0, size=n), "count": rng.integers(0, 10, size=n)})


def _signal(X: Any) -> Any:
    return 1.5 * X["a"] - 1.0 * X["b c"] + 0.3 * X["d[0]"] + 0.1 * X["count"]


def predictor_data(task: str, multiclass: bool = True) -> list[Data]:
    """Seeded tables for a predictor: binary 0/1 and (if ``multiclass``) three string classes
    for a classifier, a noisy linear target for a regressor."""
    import numpy as np
    import pandas as pd

    rng = _rng(1)
    X = _features(rng, N_FIT + N_NEW)
    signal = _signal(X) + rng.normal(0, 0.7, size=len(X))
    if task != "classification":
        targets = {"regression": pd.Series(signal.to_numpy(), name="target")}
    else:
        targets = {"binary": pd.Series((signal > signal.median()).astype(int).to_numpy(), name="label")}
        if multiclass:
            # Named so that sorted order (high, low, mid) is not the order of the signal.
            grade = np.array(["low", "mid", "high"])[np.digitize(signal, np.quantile(signal, [1 / 3, 2 / 3]))]
            targets["multiclass"] = pd.Series(grade, name="grade")
    fit, new = slice(0, N_FIT), slice(N_FIT, None)
    return [Data(X.iloc[fit].reset_index(drop=True), y.iloc[fit].reset_index(drop=True),
                 X.iloc[new].reset_index(drop=True), name=name, new_y=y.iloc[new].reset_index(drop=True))
            for name, y in targets.items()]


def detector_data() -> Data:
    rng = _rng(2)
    X = _features(rng, N_FIT + N_NEW)
    return Data(X.iloc[:N_FIT].reset_index(drop=True), new=X.iloc[N_FIT:].reset_index(drop=True),
                name="gaussian")


def calibrator_data(multiclass: bool = True, groups: Iterable[str] = (), members: int = 1) -> list[Data]:
    """Overconfident scores with labels drawn from the true probabilities: 1-D P(class 1),
    and (if ``multiclass``) (n, 3) probabilities; a list of ``members`` arrays if more than one."""
    import pandas as pd

    rng = _rng(3)
    n = 2 * N_FIT + N_NEW
    out = []
    for k in (2, 3) if multiclass else (2,):
        logits = rng.normal(0, 1.5, size=(n, k))
        truth = _softmax(logits)
        y = (rng.random(n)[:, None] < truth.cumsum(axis=1)).argmax(axis=1)
        arrays = [_softmax(power * logits) for power in (2.5, 1.5, 0.7)[:max(members, 1)]]
        scores = [a[:, 1] if k == 2 else a for a in arrays]
        table = pd.DataFrame({g: rng.choice(["g1", "g2", "g3"], size=n) for g in groups})
        fit_rows, new_rows = slice(0, 2 * N_FIT), slice(2 * N_FIT, n)

        def part(rows: slice, scores: list[Any] = scores) -> Any:
            parts = [s[rows] for s in scores]
            return parts if members > 1 else parts[0]

        def kwargs(rows: slice, table: Any = table) -> dict[str, Any]:
            return {"groups": table.iloc[rows].reset_index(drop=True)} if groups else {}

        out.append(Data(part(fit_rows), y[fit_rows], part(new_rows), kwargs(fit_rows),
                        "binary" if k == 2 else "multiclass", kwargs(new_rows)))
    return out


def _softmax(z: Any) -> Any:
    import numpy as np

    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def table_data(columns: str = "numeric", shift: bool = False, salt: int = 0) -> Any:
    """A reference-like table for a drift test or monitor (``columns`` as the option), and
    with ``shift`` the same distribution with its first column moved far."""
    import numpy as np
    import pandas as pd

    rng = _rng(4 + salt)
    n = 300
    if columns == "numeric":
        frame = pd.DataFrame(rng.normal(size=(n, 3)), columns=["f0", "f1", "f2"])
        if shift:
            frame["f0"] += 2.0
    elif columns == "categorical":
        colour = [0.7, 0.2, 0.1] if shift else [1 / 3, 1 / 3, 1 / 3]
        frame = pd.DataFrame({"colour": rng.choice(["red", "green", "blue"], size=n, p=colour),
                              "shape": rng.choice(["circle", "square"], size=n)})
    elif columns == "binary":
        frame = pd.DataFrame({"flag": rng.random(n) < (0.8 if shift else 0.3),
                              "bit": (rng.random(n) < 0.5).astype(int)})
    elif columns == "mixed":
        frame = pd.DataFrame({"x": rng.normal(2.0 if shift else 0.0, 1.0, size=n),
                              "colour": rng.choice(["red", "green", "blue"], size=n),
                              "size": rng.integers(1, 4, size=n)})
    else:
        raise ValueError(f"columns must be numeric, categorical, binary or mixed, got {columns!r}")
    return frame.astype({c: np.float64 for c in frame.columns if frame[c].dtype.kind == "f"})


def _data(case: _Case) -> list[Data]:
    """The data sets a case is checked on, by kind."""
    if case.kind == "predictor":
        return predictor_data(case.cls.task, case.option("multiclass", True))
    if case.kind == "detector":
        return [detector_data()]
    if case.kind == "calibrator":
        return calibrator_data(case.option("multiclass", True), case.option("groups") or (),
                               case.option("members") or 1)
    columns = case.option("columns") or "numeric"
    reference = table_data(columns)
    return [Data(reference, new=table_data(columns, salt=1), name=columns)]


# --- what a fitted component computes, for bit-for-bit comparisons ---


def _outputs(case: _Case, model: Any, data: Data) -> dict[str, Any]:
    """Every output of ``model`` on ``data.new``, by name."""
    new = data.new
    if case.kind == "calibrator":
        return {"transform": model.transform(new, **data.new_kwargs)}
    if case.kind == "drift_test":
        return {"test": json.dumps(model.test(new), sort_keys=True, default=str)}
    if case.kind == "monitor":
        return {"observe": json.dumps(model.observe(new), sort_keys=True, default=str)}
    out: dict[str, Any] = {"predict": model.predict(new)}
    if case.kind == "detector":
        out["decision_function"] = model.decision_function(new)
        with contextlib.suppress(NotImplementedError):
            out["explain"] = model.explain(new)
        return out
    if model.task == "classification":
        out["predict_proba"] = model.predict_proba(new)
    if callable(getattr(type(model), "decision_function", None)):
        out["decision_function"] = model.decision_function(new)
    if isinstance(model, Contributions):
        out["contributions"] = model.contributions(new)
    if isinstance(model, QuantilePredictor):
        out["predict_quantiles"] = model.predict_quantiles(new)
    return out


def _same_outputs(a: dict[str, Any], b: dict[str, Any], what: str) -> None:
    """``a`` and ``b`` hold the same outputs, bit for bit (labels may differ in string dtype)."""
    import numpy as np
    import pandas as pd

    _expect(a.keys() == b.keys(), f"{what}: outputs {sorted(b)} instead of {sorted(a)}")
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, pd.DataFrame):
            try:
                pd.testing.assert_frame_equal(x, y, check_exact=True)
            except AssertionError as exc:
                raise AssertionError(f"{what}: {key} differs: {str(exc).splitlines()[0]}") from None
            continue
        if isinstance(x, str):
            _expect(x == y, f"{what}: {key} differs:\n  before {x[:300]}\n  after  {y[:300]}")
            continue
        x, y = np.asarray(x), np.asarray(y)
        if x.dtype.kind in "fc" or y.dtype.kind in "fc":
            _expect(x.dtype == y.dtype, f"{what}: {key} comes back as {y.dtype}, not {x.dtype}")
        _expect(x.shape == y.shape and np.array_equal(x, y, equal_nan=x.dtype.kind in "fc"),
                f"{what}: {key} differs (shape {x.shape} vs {y.shape}; first values "
                f"{x.ravel()[:3].tolist()} vs {y.ravel()[:3].tolist()})")


# --- small helpers ---


def _expect(condition: Any, message: str) -> None:
    """``assert`` that survives ``python -O``."""
    if not condition:
        raise AssertionError(message)


def _raises(types: Any, fn: Callable[..., Any], *args: Any, what: str, **kwargs: Any) -> BaseException:
    """The exception ``fn(*args)`` raises, which must be one of ``types``."""
    names = " or ".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
    try:
        fn(*args, **kwargs)
    except types as exc:
        return exc
    except Exception as exc:
        raise AssertionError(f"{what}: expected {names}, got {type(exc).__name__}: "
                             f"{str(exc)[:200]}") from None
    raise AssertionError(f"{what}: expected {names}, nothing was raised")


def _json(value: Any) -> Any:
    """``value`` after a trip through JSON, as the registry stores it."""
    return json.loads(json.dumps(value, allow_nan=False))


def _probabilities(values: Any) -> bool:
    import numpy as np

    return bool(values.dtype.kind == "f" and np.isfinite(values).all()
                and values.min() >= 0 and values.max() <= 1)


def _fitted_attributes(model: Any) -> list[str]:
    return sorted(k for k in vars(model) if k.endswith("_") and not k.startswith("_"))


def _quietly(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# --- checks for every kind ---


@_check()
def _check_declared(case: _Case) -> None:
    """Class attributes the catalogue shows: a dotted lower-case name, the kind, a task, a
    one-line description, the artifact format."""
    from zoo.catalogue import check_component_class as registrable

    cls = case.cls
    registrable(case.kind, cls)  # the catalogue's own rule: a subclass of the kind's base, a good name
    _expect(cls.kind == case.kind,
            f"kind is {cls.kind!r}, but it derives from zoo.{BASES[case.kind].__name__}")
    _expect(cls.task, "task is empty; say what it does (classification, regression, anomaly, ...)")
    if case.kind == "predictor":
        _expect(cls.task in ("classification", "regression"),
                f"a predictor's task is classification or regression, not {cls.task!r}")
    _expect(cls.description(), "the class has no docstring: its first line is its catalogue description")
    if _persists(cls):
        _expect(cls.artifact_format, "artifact_format is empty: name the format save() writes")


@_check()
def _check_init_stores_params(case: _Case) -> None:
    """``__init__`` has a default for every argument and only stores each one, unchanged."""
    cls = case.cls
    defaults = cls.param_defaults()
    required = [n for n, p in inspect.signature(cls.__init__).parameters.items()
                if n != "self" and p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    _expect(not required, f"__init__ arguments {required} have no default; every one needs one")
    model = cls()
    got = model.get_params(deep=False)
    changed = [n for n in defaults if got.get(n) is not defaults[n]]
    _expect(not changed, f"{cls.__name__}() does not keep the defaults of {changed} as they are")
    _expect(not _fitted_attributes(model),
            f"__init__ sets fitted attributes {_fitted_attributes(model)}; set them in fit()")
    sentinels = {name: object() for name in defaults}
    made = cls(**sentinels)
    moved = [n for n, v in sentinels.items() if getattr(made, n, None) is not v]
    _expect(not moved, f"__init__ changes or drops arguments {moved}: store each as self.<name> "
                       "unchanged (validate in fit)")
    repr(model)


@_check()
def _check_params_round_trip(case: _Case) -> None:
    """``set_params`` sets every parameter and returns ``self``; ``get_params`` reads them
    back; unknown and badly nested names are a ``ValueError`` naming them."""
    model = case.cls()
    for name in case.cls.param_defaults():
        value = object()
        back = model.set_params(**{name: value})
        _expect(back is model, "set_params must return self")
        _expect(model.get_params(deep=False)[name] is value and getattr(model, name) is value,
                f"set_params({name}=...) did not set it (get_params or the attribute shows "
                f"{model.get_params(deep=False)[name]!r})")
    deep, shallow = model.get_params(deep=True), model.get_params(deep=False)
    _expect(shallow.items() <= deep.items(),
            "get_params(deep=True) must hold every get_params(deep=False) item")
    exc = _raises(ValueError, model.set_params, what="set_params(no_such_parameter=1)", no_such_parameter=1)
    _expect("no_such_parameter" in str(exc), f"the error does not name the parameter: {exc}")
    plain = [n for n, v in case.cls.param_defaults().items() if not hasattr(v, "set_params")]
    if plain:
        _raises(ValueError, case.cls().set_params, what=f"set_params({plain[0]}__x=1)",
                **{f"{plain[0]}__x": 1})


@_check()
def _check_clone(case: _Case) -> None:
    """``sklearn.base.clone`` (when scikit-learn is installed; else the same rule) gives an
    unfitted copy with equal parameters, which fits to the same outputs."""
    data = _data(case)[0]
    model = case.fitted(data)
    try:
        from sklearn.base import clone
    except ImportError:  # the rule clone applies: type(model)(**get_params(deep=False))
        def clone(m: Any) -> Any:
            return type(m)(**m.get_params(deep=False))
    copy = clone(model)
    _expect(type(copy) is type(model) and copy is not model,
            "clone must return a new object of the same class")
    _expect(_fitted_attributes(copy) == [], f"the clone carries fitted state {_fitted_attributes(copy)}")
    _expect(copy.get_params(deep=False) == model.get_params(deep=False),
            "the clone's parameters differ from the original's")
    case.fit(copy, data)
    _same_outputs(_outputs(case, model, data), _outputs(case, copy, data), "the refitted clone")


@_check()
def _check_fit_returns_self(case: _Case) -> None:
    """``fit`` returns the component itself, fitted."""
    model = case.new()
    returned = case.fit(model, _data(case)[0])
    _expect(returned is model, f"fit returned {type(returned).__name__} {returned!r:.60}, not self")
    _expect(_fitted_attributes(model), "fit set no fitted attribute (names ending in '_')")


@_check()
def _check_fit_is_reproducible(case: _Case) -> None:
    """The same data and parameters give the same outputs, bit for bit (seed any randomness)."""
    data = _data(case)[0]
    _same_outputs(_outputs(case, case.fitted(data), data), _outputs(case, case.fitted(data), data),
                  "a second fit on the same data")


#: The method each kind answers with once fitted.
_SCORING = {"predictor": "predict", "detector": "decision_function", "calibrator": "transform",
            "drift_test": "test", "monitor": "observe"}


@_check()
def _check_not_fitted(case: _Case) -> None:
    """Using or saving a component before ``fit`` is an error that says to fit it."""
    data = _data(case)[0]
    model = case.new()
    use = getattr(model, _SCORING[case.kind])
    exc = _raises((RuntimeError, ZooError, ValueError), use, data.new, what="scoring before fit")
    _expect("fit" in str(exc), f"the error does not say to fit first: {exc}")
    if _persists(case.cls):
        with tempfile.TemporaryDirectory(prefix="zoo-check-") as tmp:
            exc = _raises((RuntimeError, ZooError, ValueError), model.save, Path(tmp) / "artifact",
                          what="save before fit")
        _expect("fit" in str(exc), f"save's error does not say to fit first: {exc}")


@_check()
def _check_metadata_json(case: _Case) -> None:
    """``metadata`` is JSON (no NaN) before and after fit, and names the task and features."""
    data = _data(case)[0]
    model = case.new()
    for when in ("before fit", "after fit"):
        if when == "after fit":
            case.fit(model, data)
        try:
            meta = _json(model.metadata)
        except (TypeError, ValueError) as exc:
            raise AssertionError(f"metadata is not JSON {when}: {exc}") from None
    if case.kind in ("predictor", "detector"):
        _expect(meta.get("task") == case.cls.task, f"metadata['task'] is {meta.get('task')!r}")
        _expect(meta.get("feature_names") == [str(c) for c in data.X.columns],
                f"metadata['feature_names'] is {meta.get('feature_names')!r}, not the fitted columns")
    if case.kind == "predictor" and case.cls.task == "classification":
        _expect(meta.get("classes") == _json([_plain(c) for c in model.classes_]),
                f"metadata['classes'] is {meta.get('classes')!r}")


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


@_check()
def _check_save_load_round_trip(case: _Case) -> None:
    """``save`` then ``from_artifact`` (``load`` and ``restore_metadata``, as the registry loads
    a version, with the metadata after a trip through JSON) gives the same class, parameters,
    metadata and outputs, bit for bit; the artifact is not a pickle."""
    for data in _data(case):
        model = case.fitted(data)
        before = _outputs(case, model, data)
        with tempfile.TemporaryDirectory(prefix="zoo-check-") as tmp:
            path = Path(tmp) / "artifact"
            model.save(path)
            _expect(path.is_file(), f"save({path.name}) wrote no file there")
            _not_pickle(path)
            metadata = _json(model.metadata)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                loaded = case.cls.from_artifact(path, metadata)
        shown = [f"{w.category.__name__}: {w.message}" for w in caught
                 if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning))]
        _expect(not shown, f"loading the file just saved warns: {shown[:3]}")
        _expect(type(loaded) is case.cls, f"load returned a {type(loaded).__name__}")
        _expect(loaded.get_params(deep=False) == model.get_params(deep=False),
                f"parameters differ after loading: {loaded.get_params(deep=False)} "
                f"vs {model.get_params(deep=False)}")
        _expect(_json(loaded.metadata) == metadata, f"metadata differs after loading ({data.name} data)")
        _same_outputs(before, _outputs(case, loaded, data), f"the loaded copy ({data.name} data)")


def _not_pickle(path: Path) -> None:
    """The artifact is no pickle, nor a zip (npz, skops, ...) holding one or an object array."""
    import zipfile

    import numpy as np

    _expect(path.read_bytes()[:1] != b"\x80",
            "the artifact is a pickle: save in a format that cannot run code")
    if not zipfile.is_zipfile(path):
        return
    pickled = []
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            with zf.open(name) as f:
                head = f.read(6)
            if head[:1] == b"\x80" or name.endswith((".pkl", ".pickle")):
                pickled.append(name)
            elif head == b"\x93NUMPY":  # an .npy, whose object arrays are pickles inside
                with zf.open(name) as f:
                    major, _ = np.lib.format.read_magic(f)
                    read = np.lib.format.read_array_header_1_0 if major == 1 else \
                        np.lib.format.read_array_header_2_0
                    if read(f)[2].hasobject:
                        pickled.append(name)
    _expect(not pickled, f"the artifact's zip holds pickles (or object arrays) {pickled}")


@_check()
def _check_registry_round_trip(case: _Case) -> None:
    """Registered in a real ``zoo.Registry`` and loaded back (sha256 checked, through the
    catalogue), the component gives the same outputs; the version records its class."""
    from zoo.models import Registry

    data = _data(case)[0]
    model = case.fitted(data)
    before = _outputs(case, model, data)
    with tempfile.TemporaryDirectory(prefix="zoo-check-") as tmp, _in_catalogue(case.cls):
        with Registry(Path(tmp) / "registry.db") as registry:
            version = registry.register("conformance", model)
            loaded = registry.load(version["ref"], observed=False)
    got = {k: version[k] for k in ("component", "kind", "artifact_format")}
    want = {"component": case.cls.component, "kind": case.kind, "artifact_format": case.cls.artifact_format}
    _expect(got == want, f"the version records {got}, not {want}")
    _expect(version["metadata"] == _json(model.metadata), "the version's metadata is not the model's")
    _same_outputs(before, _outputs(case, loaded, data), "the version loaded from the registry")


# --- predictors and detectors: tables in ---


@_check("predictor", "detector")
def _check_missing_column(case: _Case) -> None:
    """A column the model was fitted on, missing at predict time, is a ``DataError`` naming it."""
    data = _data(case)[0]
    model = case.fitted(data)
    exc = _raises(DataError, model.predict, data.new.drop(columns=["b c"]),
                  what="predict without column 'b c'")
    _expect("'b c'" in str(exc), f"the error does not name the missing column 'b c': {exc}")


@_check("predictor", "detector")
def _check_non_numeric_column(case: _Case) -> None:
    """Text in a column that held numbers at fit is a ``DataError`` naming the column at
    predict; a text column at fit is learnt as categories, and a level never seen at fit
    is predicted (or, for a model that cannot take missing values, a ``DataError`` naming it)."""
    import numpy as np

    data = _data(case)[0]
    bad = data.new.astype({"d[0]": object})
    bad.loc[3, "d[0]"] = "oops"
    model = case.fitted(data)
    exc = _raises(DataError, model.predict, bad, what="predict with text in column 'd[0]'")
    _expect("d[0]" in str(exc), f"the error does not name column 'd[0]': {exc}")
    levels = np.asarray(["red", "green", "blue"], dtype=object)
    X = data.X.assign(**{"d[0]": levels[np.arange(len(data.X)) % 3]})
    model = case.fitted(Data(X, data.y))
    new = data.new.assign(**{"d[0]": levels[np.arange(len(data.new)) % 3]})
    pred = np.asarray(model.predict(new))
    _expect(pred.shape == (len(new),), "a table with a text column was not predicted row by row")
    new.loc[new.index[0], "d[0]"] = "violet"
    try:
        unseen = np.asarray(model.predict(new))
    except DataError as exc:
        _expect("d[0]" in str(exc), f"the error for an unseen level does not name column 'd[0]': {exc}")
    else:
        _expect(unseen.shape == (len(new),), "a row with an unseen level was not predicted")


@_check("predictor", "detector")
def _check_missing_values(case: _Case) -> None:
    """NaN is a ``DataError`` naming its column unless the model allows missing values (then
    it predicts them); an infinite value is always a ``DataError``."""
    import numpy as np

    data = _data(case)[0]
    model = case.fitted(data)
    holes = data.new.copy()
    holes.loc[[1, 4], "a"] = np.nan
    if model.allow_missing:
        X = data.X.copy()
        X.loc[::10, "a"] = np.nan
        model = case.fitted(Data(X, data.y))
        pred = np.asarray(_outputs(case, model, Data(X, new=holes.assign(**{"b c": np.nan})))["predict"])
        _expect(pred.shape == (len(holes),), "rows with NaN were not all predicted")
        _expect(pred.dtype.kind not in "fc" or np.isfinite(pred).all(), "rows with NaN predict NaN")
    else:
        exc = _raises(DataError, model.predict, holes, what="predict with NaN in column 'a'")
        _expect("'a'" in str(exc), f"the error does not name column 'a': {exc}")
        X = data.X.copy()
        X.loc[[2], "a"] = np.nan
        exc = _raises(DataError, case.fit, case.new(), Data(X, data.y), what="fit with NaN in column 'a'")
        _expect("'a'" in str(exc), f"fit's error does not name column 'a': {exc}")
    infinite = data.new.copy()
    infinite.loc[2, "a"] = np.inf
    exc = _raises(DataError, model.predict, infinite, what="predict with inf in column 'a'")
    _expect("'a'" in str(exc), f"the error does not name column 'a': {exc}")


@_check("predictor", "detector", "drift_test", "monitor")
def _check_column_order(case: _Case) -> None:
    """Columns are matched by name: reordered columns plus an extra one give the same outputs
    (a predictor or detector warns that it ignores the extra column)."""
    from zoo.data import ExtraColumnsWarning

    data = _data(case)[0]
    model = case.fitted(data)
    shuffled = data.new[list(data.new.columns)[::-1]].assign(**{EXTRA: 1.0})
    if case.kind in ("predictor", "detector"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.predict(shuffled)
        _expect(any(issubclass(w.category, ExtraColumnsWarning) for w in caught),
                f"no ExtraColumnsWarning for the extra column {EXTRA!r}")
    _same_outputs(_outputs(case, model, data), _quietly(_outputs, case, model, Data(data.X, new=shuffled)),
                  "reordered columns plus an extra one")


@_check("predictor", "detector")
def _check_predicts_without_warnings(case: _Case) -> None:
    """Scoring rows that have the fitted columns raises no warning (e.g. scikit-learn's
    "X does not have valid feature names")."""
    data = _data(case)[0]
    model = case.fitted(data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _outputs(case, model, data)
    shown = [f"{w.category.__name__}: {w.message}" for w in caught
             if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning))]
    _expect(not shown, f"scoring well-formed rows warns: {shown[:3]}")


# --- predictors ---


@_check("predictor")
def _check_predict_shapes(case: _Case) -> None:
    """``predict`` gives one label or value per row; a classifier's ``classes_`` are the sorted
    labels (strings stay strings) and ``predict_proba`` is (rows, classes) of probabilities
    whose most probable column is ``predict``; a regressor has no ``predict_proba``."""
    import numpy as np

    for data in _data(case):
        model = case.fitted(data)
        n = len(data.new)
        pred = np.asarray(model.predict(data.new))
        _expect(pred.shape == (n,), f"predict gave shape {pred.shape} for {n} rows ({data.name})")
        if case.cls.task == "regression":
            _expect(pred.dtype.kind == "f" and np.isfinite(pred).all(), "a regressor predicts finite floats")
            _raises(AttributeError, model.predict_proba, data.new, what="a regressor's predict_proba")
            continue
        labels = sorted(set(data.y.tolist()))
        _expect([_plain(c) for c in model.classes_] == labels,
                f"classes_ is {list(model.classes_)}, not the sorted labels {labels} ({data.name})")
        _expect(set(pred.tolist()) <= set(labels),
                f"predict gave labels outside {labels}: {set(pred.tolist())}")
        proba = np.asarray(model.predict_proba(data.new))
        _expect(proba.shape == (n, len(labels)),
                f"predict_proba gave shape {proba.shape}, not {(n, len(labels))}")
        _expect(_probabilities(proba), "predict_proba must be probabilities: finite floats in [0, 1]")
        _expect(np.allclose(proba.sum(axis=1), 1.0, atol=1e-6), "predict_proba's rows must sum to 1")
        top = np.asarray(model.classes_)[proba.argmax(axis=1)]
        _expect([_plain(v) for v in top] == [_plain(v) for v in pred],
                "predict is not the most probable class of predict_proba (columns in classes_ order)")


@_check("predictor")
def _check_validate_metrics(case: _Case) -> None:
    """``validate`` scores labelled rows with the task's metrics, all finite."""
    import math

    data = _data(case)[0]
    model = case.fitted(data)
    scores = model.validate(data.X, data.y)
    want = ({"accuracy", "roc_auc", "f1", "log_loss"} if case.cls.task == "classification"
            else {"rmse", "mae", "r2"})
    _expect(set(scores) == want, f"validate gave {sorted(scores)}, not {sorted(want)}")
    _expect(all(math.isfinite(v) for v in scores.values()), f"validate gave non-finite scores {scores}")


@_check("predictor")
def _check_learns(case: _Case) -> None:
    """With the ``floors`` option, ``validate`` on held-out rows of each data set beats them."""
    floors = case.option("floors")
    seen = set()
    for data in _data(case):
        scores = case.fitted(data).validate(data.new, data.new_y)
        seen |= set(scores)
        low = {k: round(scores[k], 4) for k, v in floors.items() if k in scores and not scores[k] > v}
        _expect(not low, f"on held-out {data.name} rows it scores {low}, below the floors {floors}")
    _expect(set(floors) <= seen, f"floors name metrics validate never gives: {sorted(set(floors) - seen)}")


@_check("predictor")
def _check_bad_targets(case: _Case) -> None:
    """A classifier refuses one class or continuous values, a regressor text: ``DataError``s."""
    import pandas as pd

    data = _data(case)[0]
    if case.cls.task == "classification":
        one = pd.Series(["x"] * len(data.X), name="label")
        _raises(DataError, case.fit, case.new(), Data(data.X, one), what="fit a classifier on one class")
        continuous = pd.Series(data.X["a"].to_numpy() + 0.5, name="label")
        _raises(DataError, case.fit, case.new(), Data(data.X, continuous),
                what="fit a classifier on continuous values")
    else:
        text = pd.Series(["low", "high"] * (len(data.X) // 2), name="target")
        _raises(DataError, case.fit, case.new(), Data(data.X, text), what="fit a regressor on text")


@_check("predictor")
def _check_capabilities(case: _Case) -> None:
    """Each optional capability the component has keeps its Protocol's shape (zoo.Contributions,
    zoo.QuantilePredictor, zoo.SearchSpace, zoo.KeyColumns)."""
    import numpy as np

    if isinstance(case.cls, SearchSpace):
        space = case.cls.search_space()
        params = case.cls.param_defaults()
        _expect(set(space) <= set(params), f"search_space names {sorted(set(space) - set(params))}, "
                                           "which are not __init__ parameters")
        for name, spec in space.items():
            _valid_spec(name, spec)
    for data in _data(case):
        model = case.fitted(data)
        n, p = data.new.shape
        if isinstance(model, Contributions):
            parts = np.asarray(model.contributions(data.new))
            _expect(parts.ndim in (2, 3) and parts.shape[0] == n and parts.shape[-1] == p + 1,
                    f"contributions gave shape {parts.shape}, not (n, p + 1) or (n, k, p + 1) "
                    f"with n = {n}, p = {p}")
            _expect(np.isfinite(parts).all(), "contributions are not all finite")
            if callable(getattr(type(model), "decision_function", None)):
                margin = np.asarray(model.decision_function(data.new), dtype=float)
                total = parts.astype(float).sum(axis=-1)
                tol = 1e-4 * max(1.0, float(np.abs(margin).max()))
                _expect(total.shape == margin.shape and np.abs(total - margin).max() <= tol,
                        "contributions (with the bias column) do not sum to decision_function")
        if isinstance(model, QuantilePredictor):
            band = np.asarray(model.predict_quantiles(data.new))
            _expect(band.shape == (n, 2), f"predict_quantiles gave shape {band.shape}, not {(n, 2)}")
            _expect(np.isfinite(band).all() and (band[:, 0] <= band[:, 1]).all(),
                    "predict_quantiles must be finite with lower <= upper")
        if isinstance(model, KeyColumns):
            keys = list(model.key_columns)
            _expect(set(keys) <= set(model.feature_names), f"key_columns {keys} are not among feature_names")


def _valid_spec(name: str, spec: Any) -> None:
    kind = spec.get("type") if isinstance(spec, dict) else None
    if kind == "choice":
        _expect(isinstance(spec.get("choices"), list) and spec["choices"],
                f"search_space[{name!r}] is a choice with no choices list")
        return
    _expect(kind in ("int", "float"), f"search_space[{name!r}] type is {kind!r}, not int, float or choice")
    low, high = spec.get("low"), spec.get("high")
    _expect(isinstance(low, (int, float)) and isinstance(high, (int, float)) and low < high,
            f"search_space[{name!r}] needs numbers low < high, got {low!r}, {high!r}")
    if spec.get("log"):
        _expect(low > 0, f"search_space[{name!r}] is log-scaled, so low must be above 0")


# --- detectors ---


@_check("detector")
def _check_detector_scores(case: _Case) -> None:
    """``decision_function`` is a float per row; ``decision_scores_`` are the training rows'
    scores from it; ``predict`` is 0/1, 1 above ``threshold_``, which flags the contamination
    share of the training rows (the closest count ties allow); ``set_contamination`` moves it."""
    import numpy as np

    data = _data(case)[0]
    model = case.fitted(data)
    scores = np.asarray(model.decision_function(data.new))
    _expect(scores.shape == (len(data.new),) and scores.dtype.kind == "f" and np.isfinite(scores).all(),
            f"decision_function must give one finite float per row, got {scores.dtype} {scores.shape}")
    train = np.asarray(model.decision_scores_)
    _expect(np.array_equal(train, model.decision_function(data.X)),
            "decision_scores_ are not decision_function of the training rows")
    pred = np.asarray(model.predict(data.new))
    _expect(pred.dtype.kind in "iu" and set(pred.tolist()) <= {0, 1}, "predict must give 0/1 integers")
    _expect(np.array_equal(pred, (scores > model.threshold_).astype(int)),
            "predict is not decision_function > threshold_")
    contamination = float(model.get_params(deep=False).get("contamination", 0.1))
    for share in (contamination, 0.05):
        if share != contamination:
            model.set_contamination(share)
        flagged = int((train > model.threshold_).sum())
        target = share * len(train)
        best = min(abs(int((train > t).sum()) - target) for t in np.unique(train))
        _expect(abs(flagged - target) <= best + 1e-9,
                f"at contamination {share} the threshold flags {flagged} of {len(train)} training rows")
    _expect(_json(model.metadata).get("contamination") == 0.05, "metadata does not record the contamination")
    try:
        shares = model.explain(data.new)
    except NotImplementedError:
        return
    _explained(shares, data.new, list(data.X.columns))


def _explained(shares: Any, X: Any, columns: list[str]) -> None:
    """``Detector.explain``'s shape: rows x features, each row's shares in [0, 1] summing to 1
    (or all 0 when no feature makes the row more anomalous)."""
    import numpy as np
    import pandas as pd

    _expect(isinstance(shares, pd.DataFrame), f"explain must return a DataFrame, not {type(shares).__name__}")
    _expect(list(shares.columns) == columns and list(shares.index) == list(X.index),
            "explain's columns must be the features and its index the input's")
    values = shares.to_numpy(dtype=float)
    sums = values.sum(axis=1)
    _expect(np.isfinite(values).all() and values.min() >= 0 and values.max() <= 1,
            "explain's shares must be finite and in [0, 1]")
    _expect(np.all(np.isclose(sums, 1.0) | np.isclose(sums, 0.0)), "explain's rows must sum to 1 (or 0)")


@_check("detector")
def _check_scores_do_not_depend_on_the_batch(case: _Case) -> None:
    """A row scores the same alone as in a batch: its score depends on it and the model only."""
    import numpy as np

    data = _data(case)[0]
    model = case.fitted(data)
    batch = np.asarray(model.decision_function(data.new))
    alone = [float(model.decision_function(data.new.iloc[[i]])[0]) for i in range(0, len(data.new), 7)]
    _expect(np.array_equal(batch[::7], alone),
            "rows scored one at a time differ from the same rows in a batch")


@_check("detector")
def _check_bad_contamination(case: _Case) -> None:
    """A contamination outside (0, 0.5] is a ``DataError`` at fit."""
    if "contamination" not in case.cls.param_defaults():
        return
    exc = _raises(DataError, case.fit, case.new(contamination=0.8), _data(case)[0],
                  what="fit with contamination=0.8")
    _expect("contamination" in str(exc), f"the error does not name contamination: {exc}")


# --- calibrators ---


@_check("calibrator")
def _check_calibrator_shapes(case: _Case) -> None:
    """``transform`` answers in the shape it is given: 1-D P(class 1) for binary scores,
    (rows, classes) with rows summing to 1 for multiclass; all probabilities in [0, 1]."""
    import numpy as np

    for data in _data(case):
        model = case.fitted(data)
        out = np.asarray(model.transform(data.new, **data.new_kwargs))
        first = np.asarray(data.new[0] if isinstance(data.new, list) else data.new)
        _expect(out.shape == first.shape,
                f"transform gave shape {out.shape} for scores of shape {first.shape}")
        _expect(_probabilities(out), "transform must give finite probabilities in [0, 1]")
        if out.ndim == 2:
            _expect(np.allclose(out.sum(axis=1), 1.0, atol=1e-6), "multiclass rows must sum to 1")


@_check("calibrator")
def _check_calibrator_bad_input(case: _Case) -> None:
    """NaN scores, or a number of labels other than of scores, are ``DataError``s at fit."""
    import numpy as np

    data = _data(case)[0]
    arrays = [np.array(s, dtype=float) for s in (data.X if isinstance(data.X, list) else [data.X])]
    arrays[0][3] = np.nan
    nan = arrays if isinstance(data.X, list) else arrays[0]
    _raises(DataError, case.new().fit, nan, data.y, what="fit on NaN scores", **data.kwargs)
    _raises(DataError, case.new().fit, data.X, data.y[:-1], what="fit with one label too few", **data.kwargs)


# --- drift tests ---

_VERDICT = {"drift", "alpha", "correction", "p_value", "drifted", "features"}
_ROW = {"feature", "test", "statistic", "p_value", "p_adjusted", "drift"}


@_check("drift_test")
def _check_drift_result(case: _Case) -> None:
    """``test`` returns ``zoo.drift.verdict``'s shape: ``drift``, ``alpha``, ``correction``,
    ``p_value``, ``drifted`` and a row per feature (or one joint row listing its ``columns``)
    with ``feature``, ``test``, ``statistic``, ``p_value``, ``p_adjusted`` and ``drift``; as JSON."""
    data = _data(case)[0]
    model = case.fitted(data)
    result = model.test(table_data(data.name, shift=True, salt=2))
    _expect(_VERDICT <= set(result), f"the result lacks {sorted(_VERDICT - set(result))}")
    try:
        json.dumps(result, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"the result is not JSON: {exc}") from None
    rows = result["features"]
    for row in rows:
        _expect(_ROW <= set(row), f"row {row.get('feature')!r} lacks {sorted(_ROW - set(row))}")
    columns = [str(c) for c in data.X.columns]
    covered = {r["feature"] for r in rows} | {c for r in rows for c in r.get("columns", [])}
    _expect(set(columns) <= covered, f"columns {sorted(set(columns) - covered)} have no row")
    strays = [r["feature"] for r in rows if r["feature"] not in columns and not r.get("columns")]
    _expect(not strays, f"rows {strays} are neither columns nor joint rows listing their columns")
    _expect(result["drifted"] == [r["feature"] for r in rows if r["drift"]],
            "drifted is not the list of flagged rows")
    _expect(result["drift"] == any(r["drift"] for r in rows), "drift is not whether any row is flagged")
    _expect(result["alpha"] == float(model.alpha) and result["correction"] == model.correction,
            f"alpha/correction {result['alpha']!r}/{result['correction']!r} are not the parameters'")


@_check("drift_test")
def _check_drift_detects_shift(case: _Case) -> None:
    """A large shift of one column is flagged, and the reference tested against itself is not."""
    data = _data(case)[0]
    model = case.fitted(data)
    shifted = model.test(table_data(data.name, shift=True, salt=2))
    first = str(data.X.columns[0])
    named = first in shifted["drifted"] or any(r["drift"] and first in r.get("columns", [])
                                               for r in shifted["features"])
    _expect(shifted["drift"] and named, f"column {first!r}, moved far, is not flagged: {shifted['drifted']}")
    same = model.test(data.X)
    _expect(not same["drift"], f"the reference against itself is flagged: {same['drifted']}")


@_check("drift_test")
def _check_drift_params(case: _Case) -> None:
    """``__init__`` takes ``alpha`` (0.05) and ``correction`` ("bh"); a bad one is a one-line
    ``ZooError`` at fit naming it."""
    defaults = case.cls.param_defaults()
    _expect(defaults.get("alpha") == 0.05 and defaults.get("correction") == "bh",
            f"__init__ must take alpha=0.05 and correction='bh', has {defaults}")
    data = _data(case)[0]
    for bad, word in (({"correction": "holm"}, "correction"), ({"alpha": 5}, "alpha")):
        exc = _raises(ZooError, case.fit, case.new(**bad), data, what=f"fit with {bad}")
        _expect(word in str(exc) and "\n" not in str(exc), f"the error is not one line naming {word}: {exc}")


@_check("drift_test", "monitor")
def _check_missing_table_column(case: _Case) -> None:
    """Current data without a reference column is a ``DataError`` naming it."""
    data = _data(case)[0]
    model = case.fitted(data)
    gone = str(data.X.columns[1])
    use = model.test if case.kind == "drift_test" else model.observe
    exc = _raises(DataError, use, data.new.drop(columns=[gone]), what=f"current data without {gone!r}")
    _expect(repr(gone) in str(exc), f"the error does not name column {gone!r}: {exc}")


# --- monitors ---


@_check("monitor")
def _check_monitor_health(case: _Case) -> None:
    """``observe`` returns at least ``health`` from 0 to 100, as JSON; a drifted batch never
    scores healthier than a clean one."""
    import math

    data = _data(case)[0]
    model = case.fitted(data)
    clean = model.observe(data.new)
    _expect(isinstance(clean, dict) and "health" in clean, "observe must return a dict with 'health'")
    json.dumps(clean, allow_nan=False, default=str)
    health = clean["health"]
    _expect(isinstance(health, (int, float)) and math.isfinite(health) and 0 <= health <= 100,
            f"health must be a number from 0 to 100, got {health!r}")
    drifted = model.observe(table_data(data.name, shift=True, salt=2))
    _expect(drifted["health"] <= health, f"a drifted batch scores healthier ({drifted['health']}) "
                                         f"than a clean one ({health})")


#: Every check's name, in the order ``check_component`` runs them.
CHECKS: tuple[str, ...] = tuple(_REGISTRY)

