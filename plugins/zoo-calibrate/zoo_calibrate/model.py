"""A calibrated version: one or more fitted classifiers followed by a fitted calibrator.

It is a predictor like any other, so the registry stores, loads and serves it as one
version. Its artifact is a zip holding, for each member, the member's own artifact
bytes, qualified component name, metadata and sha256, plus the calibrator's artifact
(JSON for this plugin's calibrators): nothing in it can run code. ``load`` rebuilds each
member through the catalogue (``build_catalogue().get(component).cls.load``), so a
member may come from any installed plugin.

Columns: ``feature_names`` is every member's features followed by the group columns
(for group-wise calibration); the group columns are ``key_columns``, used as labels,
so ``zoo predict`` checks they are present and passes their text through untouched.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zoo import BaseMLModel, Calibrator, DataError, IntegrityError, NotFoundError, ZooError
from zoo_calibrate._lazy import numpy as np

ARTIFACT_FORMAT = 1
#: A fixed timestamp for every zip entry, so equal content gives equal bytes (and sha256).
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class CalibratedModel(BaseMLModel):
    """Registered classifier(s) plus a fitted calibrator: made by `zoo calibrate`, served like any model.

    ``fit(X, y, members=[...])`` takes the fitted classifiers to calibrate. With
    ``group_columns`` it is a ``zoo.KeyColumns``: ``key_columns`` are the group columns.
    """

    component = "calibrate.calibrated_model"
    task = "classification"
    artifact_format = "zip"

    def __init__(self, method: str = "auto", group_columns: Sequence[str] | None = None,
                 min_group_size: int = 50, shrinkage: float = 50.0, cv: int = 5, seed: int = 0):
        self.store_params(locals())

    # --- columns ---

    @property
    def key_columns(self) -> tuple[str, ...]:
        """The group columns (``zoo.KeyColumns``): needed at predict time, used as labels
        rather than numbers."""
        return tuple(self.group_columns or ())

    @property
    def metadata(self) -> dict[str, Any]:
        meta = super().metadata
        meta["group_columns"] = list(self.key_columns)
        if hasattr(self, "members_"):
            meta["members"] = [_ref(m) for m in self.members_]
            meta["calibrator"] = self.calibrator_.component
        return meta

    def _check(self, X: Any) -> Any:
        from zoo.data import align

        if not hasattr(self, "feature_names_in_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit() first")
        # Members check their own features (types, missing values) when they predict.
        schema = [c for m in getattr(self, "members_", ()) for c in getattr(m, "input_schema_", None) or ()]
        return align(X, self.feature_names, keys=self.key_columns, schema=schema)

    # --- building the calibrator ---

    def make_calibrator(self, n_members: int = 1) -> Calibrator:
        """A new, unfitted calibrator for this model's parameters (unknown methods raise ZooError)."""
        from zoo_calibrate.calibrators import EnsembleCalibrator, make_calibrator, qualified

        group = {"min_group_size": self.min_group_size, "shrinkage": self.shrinkage}
        name = qualified(str(self.method))
        if not name.startswith("calibrate.") and not self.key_columns and n_members == 1:
            # A calibrator from another plugin, used as it is.
            from zoo import build_catalogue

            return build_catalogue().get(name, kind="calibrator").create()
        member = make_calibrator(self.method, self.key_columns, **group)  # validates the method
        if n_members > 1:
            return EnsembleCalibrator(method=name, columns=list(self.key_columns), cv=self.cv,
                                      seed=self.seed, **group)
        return member

    # --- fitting ---

    def fit(self, X: Any, y: Any, members: Sequence[BaseMLModel] | None = None) -> CalibratedModel:
        """Fit the calibrator on held-out ``X``, ``y`` for the fitted classifiers ``members``.

        With several members the calibrated probabilities are averaged with weights fit
        on ``X``, ``y`` (a calibrated ensemble). Returns ``self``.
        """
        import pandas as pd

        from zoo.data import as_target

        if not members:
            raise ZooError(f"{self.component} calibrates registered classifiers: run "
                           "`zoo calibrate REF DATA --target COLUMN`, or pass members=[model]")
        members = list(members)
        self._check_members(members)
        self.members_ = members
        self.classes_ = np.asarray(members[0].classes_)
        names: list[str] = []
        for m in members:
            names += [c for c in m.feature_names if c not in names]
        names += [c for c in self.key_columns if c not in names]
        self.feature_names_in_ = np.asarray(names, dtype=object)
        if not isinstance(X, pd.DataFrame):
            raise DataError("calibration data must be a table (DataFrame) with named columns")
        X = self._check(X)
        y = as_target(y, len(X))
        self.target_name_ = str(y.name) if y.name is not None else getattr(
            members[0], "target_name_", "target")
        y_idx = self.class_indices(y)
        self.calibrator_ = self.make_calibrator(len(members))
        self.calibrator_.fit(self._scores(X), y_idx, **self._group_kwargs(X))
        return self

    def _check_members(self, members: list[BaseMLModel]) -> None:
        for m in members:
            if not isinstance(m, BaseMLModel) or m.task != "classification" or not hasattr(m, "classes_"):
                what = getattr(m, "component", type(m).__name__)
                raise ZooError(f"{_ref(m) or what} is not a fitted classifier ({getattr(m, 'task', '?')}); "
                               "only classifiers' probabilities can be calibrated")
        first = [_plain(c) for c in members[0].classes_]
        for m in members[1:]:
            if [_plain(c) for c in m.classes_] != first:
                raise ZooError(f"ensemble members must predict the same classes: {_ref(members[0])} has "
                               f"{first}, {_ref(m)} has {[_plain(c) for c in m.classes_]}")

    def class_indices(self, y: Any) -> np.ndarray:
        """Each label's index in ``classes_``; a label the members never saw raises DataError."""
        index = {_plain(c): i for i, c in enumerate(self.classes_)}
        # CSV labels "1" against a model trained on 1 (or the reverse) still match by text.
        by_text = {str(k): i for k, i in index.items()}
        out = np.empty(len(y), dtype=int)
        for row, label in enumerate(np.asarray(y).tolist()):
            i = index.get(label, by_text.get(str(label)))
            if i is None:
                raise DataError(f"label {label!r} (row {row + 1}) is not one of the model's classes "
                                f"{list(index)}; calibrate on data labelled like its training data")
            out[row] = i
        return out

    # --- predicting ---

    def _scores(self, X: Any) -> Any:
        """Each member's scores on ``X``: 1-D P(class 1) when binary, else (n, k); a list if several."""
        scores = []
        for m in self.members_:
            proba = np.asarray(m.predict_proba(X[m.feature_names]), dtype=float)
            scores.append(proba[:, 1] if proba.shape[1] == 2 else proba)
        return scores if len(scores) > 1 else scores[0]

    def _group_kwargs(self, X: Any) -> dict[str, Any]:
        return {"groups": X[list(self.key_columns)]} if self.key_columns else {}

    def _predict_proba(self, X: Any) -> np.ndarray:
        return _two_columns(self.calibrator_.transform(self._scores(X), **self._group_kwargs(X)))

    def uncalibrated_proba(self, X: Any) -> np.ndarray:
        """The members' own probabilities (their plain average when several), before calibration."""
        X = self._check(X)
        scores = self._scores(X)
        if isinstance(scores, list):
            scores = np.mean(scores, axis=0)
        return _two_columns(scores)

    def cross_validated_proba(self, X: Any, y: Any) -> np.ndarray:
        """Out-of-fold calibrated probabilities: each of ``cv`` folds from a calibrator fit on the others.

        An honest estimate of the calibrated model's probabilities on the calibration
        data (a calibrator scored on the rows it was fit on looks better than it is).
        """
        from zoo.data import as_target
        from zoo_calibrate.calibrators import out_of_fold, stratified_folds, usable_folds

        X = self._check(X)
        y_idx = self.class_indices(as_target(y, len(X)))
        n_folds = usable_folds(y_idx, int(self.cv))
        if n_folds < 2:
            raise DataError("too few rows of some class to cross-validate the calibration: "
                            "every class needs at least 2 rows")
        folds = stratified_folds(y_idx, n_folds, int(self.seed))
        groups = X[list(self.key_columns)].reset_index(drop=True) if self.key_columns else None
        make = lambda: self.make_calibrator(len(self.members_))  # noqa: E731
        return _two_columns(out_of_fold(make, self._scores(X), y_idx, folds, groups))

    def summary(self) -> dict[str, Any]:
        """What the fitted calibrator chose: the method auto picked, the ensemble weights, group counts."""
        out: dict[str, Any] = {"calibrator": self.calibrator_.component}
        cal = self.calibrator_
        autos = []
        for part in [cal, getattr(cal, "root_", None), *getattr(cal, "members_", [])]:
            autos += [p for p in (part, getattr(part, "root_", None)) if hasattr(p, "chosen_")]
        if autos:  # what auto picked (per ensemble member), and how many bins it rounds to
            out["chosen"] = ",".join(dict.fromkeys(a.chosen_ for a in autos))
            out["bins"] = ",".join(dict.fromkeys(str(a.bins_) for a in autos))
        if hasattr(cal, "weights_"):
            out["weights"] = [round(float(w), 6) for w in cal.weights_]
        for part in [cal, *getattr(cal, "members_", [])]:
            if hasattr(part, "nodes_"):
                out["groups_calibrated"] = out.get("groups_calibrated", 0) + len(part.nodes_)
                out["groups_fallback"] = out.get("groups_fallback", 0) + len(part.skipped_)
        return out

    # --- persistence: a zip of the members' artifacts and the calibrator's ---

    def save(self, path: str | Path) -> None:
        """Write members and calibrator into one zip (no pickle; fixed timestamps)."""
        self.check_fitted()
        entries: dict[str, bytes] = {}
        manifest: dict[str, Any] = {"format": ARTIFACT_FORMAT, "params": _json_params(self.get_params()),
                                    "members": []}
        with tempfile.TemporaryDirectory(prefix="zoo-calibrate-") as tmp:
            for i, member in enumerate(self.members_):
                data = _saved_bytes(member, Path(tmp) / f"member-{i}")
                name = f"members/{i}"
                entries[name] = data
                manifest["members"].append({
                    "component": member.component, "metadata": member.metadata, "ref": _ref(member),
                    "file": name, "sha256": hashlib.sha256(data).hexdigest(),
                })
            data = _saved_bytes(self.calibrator_, Path(tmp) / "calibrator")
            entries["calibrator"] = data
            manifest["calibrator"] = {"component": self.calibrator_.component, "file": "calibrator",
                                      "sha256": hashlib.sha256(data).hexdigest()}
        entries["manifest.json"] = json.dumps(manifest, sort_keys=True, default=_plain).encode()
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name in sorted(entries):
                info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, entries[name])

    @classmethod
    def load(cls, path: str | Path, metadata: dict[str, Any] | None = None) -> CalibratedModel:
        """Rebuild members (through the catalogue, each with its own metadata restored) and the
        calibrator from ``save``'s zip; refuses a file without its metadata (the columns)."""
        from zoo import build_catalogue
        from zoo_calibrate.validate import check_manifest, check_zip

        check_zip(path)
        try:
            with zipfile.ZipFile(path) as zf:
                manifest = json.loads(zf.read("manifest.json"))
                check_manifest(manifest)  # bounds before any part is read (validate.py)
                entries = [*manifest["members"], manifest["calibrator"]]
                blobs = {e["file"]: zf.read(e["file"]) for e in entries}
        except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as exc:
            raise IntegrityError(f"refusing to load {path}: not a calibrated model's zip "
                                 f"({type(exc).__name__}: {exc})") from None
        if manifest.get("format") != ARTIFACT_FORMAT:
            raise IntegrityError(f"refusing to load {path}: artifact format {manifest.get('format')!r} "
                                 f"is not {ARTIFACT_FORMAT}; upgrade zoo-calibrate")
        catalogue = build_catalogue()
        model = cls(**manifest["params"])
        with tempfile.TemporaryDirectory(prefix="zoo-calibrate-") as tmp:
            members = []
            for i, entry in enumerate(manifest["members"]):
                file = _verified(blobs[entry["file"]], entry, Path(tmp) / f"member-{i}", path)
                info = _component(catalogue, entry["component"], "predictor", entry.get("ref"))
                member = info.cls.from_artifact(file, entry["metadata"])
                if entry.get("ref"):
                    name, _, version = entry["ref"].rpartition(":")
                    member.model_name, member.model_version = name, int(version)
                members.append(member)
            entry = manifest["calibrator"]
            file = _verified(blobs[entry["file"]], entry, Path(tmp) / "calibrator", path)
            calibrator = _component(catalogue, entry["component"], "calibrator", None).cls.from_artifact(file)
        if not (metadata or {}).get("feature_names"):
            raise IntegrityError(f"refusing to load {path} without its metadata (feature names)")
        model.members_ = members
        model.calibrator_ = calibrator
        model.classes_ = np.asarray(members[0].classes_)
        return model


def _saved_bytes(component: Any, path: Path) -> bytes:
    component.save(path)
    return path.read_bytes()


def _verified(data: bytes, entry: dict[str, Any], dest: Path, source: Any) -> Path:
    if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
        raise IntegrityError(f"refusing to load {source}: its part {entry['file']} does not match "
                             "the sha256 recorded beside it")
    dest.write_bytes(data)
    return dest


def _component(catalogue: Any, name: str, kind: str, ref: str | None) -> Any:
    try:
        return catalogue.get(name, kind=kind)
    except NotFoundError:
        owner = f" (member {ref})" if ref else ""
        raise NotFoundError(f"this calibrated model needs component {name}{owner}, which no installed "
                            "plugin provides: install that plugin") from None


def _ref(model: Any) -> str | None:
    name, version = getattr(model, "model_name", None), getattr(model, "model_version", None)
    return f"{name}:{version}" if name and version else None


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _json_params(params: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}


def _two_columns(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=float)
    return np.column_stack([1 - scores, scores]) if scores.ndim == 1 else scores

