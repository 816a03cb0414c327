"""The pinned environment: requirements/lock.txt, pyproject.toml's ranges, environment.yml.

``make setup`` installs the lock (torch apart); conda users get ``environment.yml``, whose
pins must be the lock's versions, or the two set-ups test different environments.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
LOCK = REPO / "requirements" / "lock.txt"
ENVIRONMENT = REPO / "environment.yml"


def lock_pins(text: str) -> dict[str, str]:
    """Package (normalised name) -> version, from a pip-compile style lock file."""
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            req = Requirement(line)
            (spec,) = req.specifier  # one exact pin per line
            assert spec.operator == "==", line
            pins[canonicalize_name(req.name)] = spec.version
    return pins


def conda_pins(env: dict) -> dict[str, str]:
    """Conda package -> its version spec (the text after the name; '' if none)."""
    pins = {}
    for dep in env["dependencies"]:
        if isinstance(dep, str):
            name, spec = re.fullmatch(r"([A-Za-z0-9._-]+)\s*(.*)", dep.strip()).groups()
            pins[canonicalize_name(name)] = spec.strip()
    return pins


def disagreements(env: dict, lock: dict[str, str]) -> list[str]:
    """Conda pins of locked packages that are not exactly the lock's version."""
    return [
        f"{name}: environment.yml has {spec or 'no pin'!r}, the lock =={lock[name]}"
        for name, spec in conda_pins(env).items()
        if name in lock and spec != f"=={lock[name]}"
    ]


def test_environment_yml_pins_are_the_lock_versions():
    env, lock = yaml.safe_load(ENVIRONMENT.read_text()), lock_pins(LOCK.read_text())
    shared = set(conda_pins(env)) & set(lock)
    assert {"numpy", "pandas", "umap-learn", "numba", "optuna", "scikit-learn"} <= shared
    assert disagreements(env, lock) == []
    # the pip step installs the same lock, and conda's python is the one the lock is for
    (pip,) = [dep["pip"] for dep in env["dependencies"] if isinstance(dep, dict)]
    assert "-r requirements/lock.txt" in pip
    lock_python = re.search(r"^LOCK_PYTHON := (\S+)$", (REPO / "Makefile").read_text(), re.M)
    assert f"python={lock_python.group(1)}" in env["dependencies"]


def test_a_drifted_pin_is_caught():
    env = {"dependencies": ["python=3.11", "numpy==2.0.0", "pandas>=2.1", "ruff==0.1", "tqdm"]}
    lock = {"numpy": "2.4.6", "pandas": "3.1.1", "tqdm": "4.70.1"}
    found = disagreements(env, lock)
    assert len(found) == 3 and all(f.split(":")[0] in lock for f in found)


def test_the_lock_satisfies_pyproject_and_leaves_torch_out():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+, as the lock
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    lock = lock_pins(LOCK.read_text())
    wanted = [Requirement(r) for r in project["dependencies"] + extras["dev"] + extras["bench"]]
    outside = [
        f"{req} (lock: {lock.get(canonicalize_name(req.name), 'missing')})"
        for req in wanted
        if req.name != "torch"
        and not req.specifier.contains(lock.get(canonicalize_name(req.name), "0.dev0"))
    ]
    assert outside == [], "run `make lock`: the lock no longer fits pyproject.toml"
    assert not [n for n in lock if n == "torch" or n.startswith(("nvidia-", "triton", "cuda-"))]
