"""A drift test's npz is untrusted bytes too (a registered version, perhaps from a bundle):
an array header declaring far more than the file holds, or ``n_permutations=10**9``, is
refused with one line before numpy allocates or any check runs. Loads run in a child with
a memory cap, so a regression fails instead of exhausting the machine."""

from __future__ import annotations

import io
import re
import resource
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from zoo_drift.validate import check_params

from zoo import IntegrityError, Registry, build_catalogue
from zoo.testing import load_in_subprocess


def fitted():
    rng = np.random.default_rng(0)
    return build_catalogue().get("drift.mmd").create(n_permutations=50).fit(
        pd.DataFrame(rng.normal(size=(40, 3)), columns=list("abc")))


def saved(test, tmp: Path) -> bytes:
    type(test).save(test, tmp / "t.npz")
    return (tmp / "t.npz").read_bytes()


def rewritten(data: bytes, edit) -> bytes:
    """The npz with ``edit(name, member bytes)`` applied to each member."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, edit(info.filename, src.read(info)))
    return out.getvalue()


def lying_shape(name: str, member: bytes) -> bytes:
    if name != "raw.npy":
        return member
    return re.sub(rb"'shape': \(\d+, \d+\)", b"'shape': (100000000, 100000)", member, count=1)


def many_permutations(data: bytes) -> bytes:
    """The npz re-saved with its header's ``n_permutations`` set to 10**9."""
    import json

    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    header = json.loads(str(arrays["header"]))
    header["params"]["n_permutations"] = 10**9
    arrays["header"] = np.array(json.dumps(header))
    out = io.BytesIO()
    np.savez_compressed(out, **arrays)
    return out.getvalue()


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))


def test_crafted_drift_tests_are_refused_in_one_line(registry_path, tmp_path):
    good = saved(fitted(), tmp_path)
    cases = {"shape": (rewritten(good, lying_shape), "raw.npy declares shape (100000000, 100000)"),
             "permutations": (many_permutations(good),
                              "drift.mmd parameter n_permutations=1000000000 is out of bounds")}
    assert all(data != good for data, _ in cases.values())
    refs = {}
    with Registry(registry_path) as registry:
        for name, data in [*((n, d) for n, (d, _) in cases.items()), ("good", good)]:
            test = fitted()
            test.save = lambda path, data=data: Path(path).write_bytes(data)
            refs[name] = registry.register(name, test)["ref"]
    lines = load_in_subprocess(registry_path, refs.values(), preexec_fn=_cap_memory)
    assert lines[refs["good"]].startswith("LOADED"), lines[refs["good"]]
    for name, (_, problem) in cases.items():
        line = lines[refs[name]]
        assert line.startswith("REFUSED") and "<newline>" not in line, line
        assert f"{refs[name]}: crafted or corrupted model: {problem}" in line


@pytest.mark.parametrize("params", [{"max_rows": 0}, {"random_state": True}, []])
def test_out_of_bounds_parameters_are_refused(params):
    with pytest.raises(IntegrityError, match="crafted or corrupted model"):
        check_params("drift.mmd", params)
