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
