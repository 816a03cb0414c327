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


def test_importing_the_data_layer_pulls_in_no_torch():
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import recsys_utils.data"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    imported = {line.split("|")[-1].strip() for line in out.stderr.splitlines() if "|" in line}
    assert out.returncode == 0 and "recsys_utils.data" in imported
    assert not {"torch", "numba", "umap", "optuna"} & imported


def test_the_readme_module_map_matches_the_package():
    """Every public module (no leading underscore) is in the README's map, and no other."""
    import re

    table = {}
    for line in (REPO / "README.md").read_text().splitlines():
        row = re.match(r"\| `(\w+)/` \| (.*) \|$", line)
        if row:
            table[row.group(1)] = sorted(re.findall(r"`(\w+)`", row.group(2)))
    on_disk = {
        p.name: sorted(m.stem for m in p.glob("*.py") if not m.stem.startswith("_"))
        for p in (REPO / "recsys_utils").iterdir()
        if p.is_dir() and (p / "__init__.py").exists()
    }
    assert table == on_disk


def private_imports_across_subpackages(root: Path) -> list[str]:
    """``file: module [names]`` for each import of a private module or name (a leading
    ``_``) of another subpackage: what a subpackage does not export in ``__all__`` is its own."""
    import ast

    found = []
    for path in sorted((root / "recsys_utils").rglob("*.py")):
        rel = path.relative_to(root / "recsys_utils").parts
        home = rel[0] if len(rel) > 1 else None
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if not (node.module or "").startswith("recsys_utils."):
                    continue
                imports = [(node.module.split(".")[1:], [a.name for a in node.names])]
            elif isinstance(node, ast.Import):
                imports = [
                    (a.name.split(".")[1:], [])
                    for a in node.names
                    if a.name.startswith("recsys_utils.")
                ]
            else:
                continue
            for parts, names in imports:
                if not parts or parts[0] == home:
                    continue
                if any(x.startswith("_") for x in parts + names):
                    found.append(f"{'/'.join(rel)}: {'.'.join(parts)} {names}")
    return found


def test_no_private_name_is_imported_across_subpackages():
    assert private_imports_across_subpackages(REPO) == []


def test_the_private_import_check_can_fail(package_copy):
    probe = package_copy / "recsys_utils" / "cli" / "zz_probe.py"
    probe.write_text("from recsys_utils.models.base import _helper\nimport recsys_utils.data._x\n")
    assert private_imports_across_subpackages(package_copy) == [
        "cli/zz_probe.py: models.base ['_helper']",
        "cli/zz_probe.py: data._x []",
    ]
