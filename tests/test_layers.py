"""The import-linter contracts in pyproject.toml hold, and they do refuse an upward import."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT.exists(), reason="import-linter is not installed")


def lint(root: Path) -> subprocess.CompletedProcess:
    """Run ``lint-imports`` with the project's contracts on the package copy under ``root``."""
    return subprocess.run(
        [str(LINT), "--config", str(REPO / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def package_copy(tmp_path):
    shutil.copytree(
        REPO / "recsys_utils",
        tmp_path / "recsys_utils",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return tmp_path


def test_the_package_keeps_every_contract(package_copy):
    result = lint(package_copy)
    assert result.returncode == 0, result.stdout
    assert "3 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("data/encoding.py", "from recsys_utils.models import base", "Layers"),
        ("models/base.py", "from recsys_utils.app import plots", "Layers"),
        ("data/splits.py", "import torch", "The data layer imports no torch"),
        ("evaluation/metrics.py", "import plotly", "Only the app imports"),
    ],
)
def test_an_upward_or_forbidden_import_is_refused(package_copy, module, line, broken):
    path = package_copy / "recsys_utils" / module
    path.write_text(path.read_text() + f"\n{line}  # planted by the test\n")
    result = lint(package_copy)
    assert result.returncode != 0
    assert f"{broken}" in result.stdout and "BROKEN" in result.stdout


SUBPACKAGES = ("data", "training", "models", "embeddings", "recommend", "evaluation", "tuning",
               "bench", "app")  # fmt: skip


@pytest.mark.parametrize("package", SUBPACKAGES)
def test_every_public_name_of_a_subpackage_resolves_to_its_module(package):
    import importlib

    pkg = importlib.import_module(f"recsys_utils.{package}")
    assert pkg.__all__ == sorted(pkg._EXPORTS)
    for name, module in pkg._EXPORTS.items():
        assert hasattr(importlib.import_module(f"recsys_utils.{package}.{module}"), name), (
            f"recsys_utils.{package} exports {name} from {module}, which has no such name"
        )


def test_importing_the_data_layer_pulls_in_no_torch():
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import recsys_utils.data"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    imported = {line.split("|")[-1].strip() for line in out.stderr.splitlines() if "|" in line}
    assert out.returncode == 0 and "recsys_utils.data" in imported
    assert not {"torch", "numba", "umap", "optuna"} & imported


def test_the_readme_module_map_matches_the_package():
    import re

    table = {}
    for line in (REPO / "README.md").read_text().splitlines():
        row = re.match(r"\| `(\w+)/` \| (.*) \|$", line)
        if row:
            table[row.group(1)] = sorted(re.findall(r"`(\w+)`", row.group(2)))
    on_disk = {
        p.name: sorted(m.stem for m in p.glob("*.py") if m.stem != "__init__")
        for p in (REPO / "recsys_utils").iterdir()
        if p.is_dir() and (p / "__init__.py").exists()
    }
    assert table == on_disk


def test_a_module_over_300_lines_says_why_in_its_docstring():
    import ast

    long = []
    for path in sorted((REPO / "recsys_utils").rglob("*.py")):
        text = path.read_text()
        if text.count("\n") > 300 and "Length:" not in (ast.get_docstring(ast.parse(text)) or ""):
            long.append(str(path.relative_to(REPO)))
    assert long == []


@pytest.mark.parametrize("package", SUBPACKAGES)
def test_every_public_name_of_a_module_is_exported_by_its_subpackage(package):
    """Public = top-level functions, classes and UPPER_CASE constants not starting with _;
    a module added or grown must list them in its subpackage's ``_EXPORTS``."""
    import ast
    import importlib

    exports = importlib.import_module(f"recsys_utils.{package}")._EXPORTS
    missing = []
    for path in sorted((REPO / "recsys_utils" / package).glob("*.py")):
        if path.stem == "__init__":
            continue
        for node in ast.parse(path.read_text()).body:
            names = [getattr(node, "name", None)]
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = [t.id for t in targets if isinstance(t, ast.Name) and t.id.isupper()]
            elif not isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                continue
            missing += [f"{path.stem}.{n}" for n in names if n and not n.startswith("_")
                        and n not in exports]  # fmt: skip
    assert missing == []
