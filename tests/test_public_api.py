"""What a user may touch: each subpackage's curated ``__all__``, and nobody reaching past it.

Every subpackage's ``__init__`` states its public API in an explicit ``__all__``; every name
in it resolves; and every name another subpackage, a notebook or a code block of the docs
takes from a subpackage is in that subpackage's ``__all__`` (or read off a module that is).
What is not in ``__all__`` is the subpackage's own, free to change.
"""

from __future__ import annotations

import ast
import importlib
import re
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "recsys_utils"
SUBPACKAGES = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists())


def public_api() -> dict[str, set[str]]:
    """Subpackage -> its ``__all__``, imported from the package."""
    return {s: set(importlib.import_module(f"recsys_utils.{s}").__all__) for s in SUBPACKAGES}


def _references(tree: ast.AST, home: str | None, subpackages: set[str]):
    """(line, subpackage, module or None, name or None) for what ``tree`` takes from a
    subpackage other than ``home``: an import of a name, or an attribute read off an
    imported subpackage or module (``plots.learning_curves``)."""
    aliases: dict[str, tuple[str, str | None]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "recsys_utils":
            parts = node.module.split(".")[1:]
            for alias in node.names:
                local = alias.asname or alias.name
                if not parts:  # from recsys_utils import data
                    if alias.name in subpackages and alias.name != home:
                        aliases[local] = (alias.name, None)
                    continue
                if parts[0] == home or parts[0] not in subpackages:
                    continue
                module = parts[1] if len(parts) > 1 else None
                if module is None and (PACKAGE / parts[0] / f"{alias.name}.py").exists():
                    aliases[local] = (parts[0], alias.name)  # from recsys_utils.app import plots
                    yield node.lineno, parts[0], alias.name, None
                else:
                    yield node.lineno, parts[0], module, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")[1:]
                if alias.name.split(".")[0] != "recsys_utils" or not parts:
                    continue
                if parts[0] == home or parts[0] not in subpackages:
                    continue
                yield node.lineno, parts[0], parts[1] if len(parts) > 1 else None, None
                if alias.asname:
                    aliases[alias.asname] = (parts[0], parts[1] if len(parts) > 1 else None)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id in aliases:
                sub, module = aliases[node.value.id]
                yield node.lineno, sub, module, node.attr


def _sources(root: Path):
    """(label, home subpackage or None, source) for the package, the notebooks and the docs'
    Python code blocks."""
    for path in sorted((root / "recsys_utils").rglob("*.py")):
        rel = path.relative_to(root / "recsys_utils").parts
        yield "/".join(rel), rel[0] if len(rel) > 1 else None, path.read_text()
    for path in sorted((root / "notebooks").glob("*.py")):
        yield f"notebooks/{path.name}", None, path.read_text()
    for path in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        for block in re.findall(r"```python\n(.*?)```", path.read_text(), re.S):
            if "recsys_utils" in block:  # sketches of a signature need not parse
                yield str(path.relative_to(root)), None, block


def reaching_past_all(root: Path, api: dict[str, set[str]]) -> list[str]:
    """``file:line: subpackage.module.name`` for each thing taken from another subpackage
    that is neither in its ``__all__`` nor read off a module in it, and each private one."""
    found = []
    for label, home, source in _sources(root):
        for line, sub, module, name in _references(ast.parse(source), home, set(api)):
            public = api[sub]
            private = any(x.startswith("_") for x in (module or "", name or ""))
            if module is not None and name is None:  # the module itself
                ok = not private
            else:
                ok = not private and (name in public or module in public)
            if not ok:
                found.append(f"{label}:{line}: {'.'.join(x for x in (sub, module, name) if x)}")
    return found


def test_every_subpackage_states_its_public_api_in_an_explicit_all():
    for sub in [*SUBPACKAGES, None]:
        init = PACKAGE / sub / "__init__.py" if sub else PACKAGE / "__init__.py"
        tree = ast.parse(init.read_text())
        assigned = {
            t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
            if isinstance(t, ast.Name)
        }  # fmt: skip
        assert "__all__" in assigned, f"{init.relative_to(REPO)} has no __all__"
        doc = ast.get_docstring(tree) or ""
        assert "Public API" in doc and "internal" in doc, (
            f"{init.relative_to(REPO)}: say what is public"
        )


@pytest.mark.parametrize("sub", SUBPACKAGES)
def test_every_name_in_all_resolves_and_dir_is_all(sub):
    pkg = importlib.import_module(f"recsys_utils.{sub}")
    assert pkg.__all__ == sorted(set(pkg.__all__)), "sorted, once each"
    for name in pkg.__all__:
        assert not name.startswith("_"), f"recsys_utils.{sub} exports the private {name}"
        assert getattr(pkg, name) is not None
    exports = getattr(pkg, "_EXPORTS", {})
    for name, module in exports.items():
        assert (PACKAGE / sub / f"{module}.py").exists(), f"{name}: no module {module}"
    if hasattr(pkg, "_EXPORTS"):
        assert dir(pkg) == pkg.__all__


def test_the_top_level_exports_the_subpackages():
    import recsys_utils

    assert set(recsys_utils.__all__) == {*SUBPACKAGES, "constants", "__version__"}
    for name in recsys_utils.__all__:
        assert getattr(recsys_utils, name) is not None


def test_a_missing_name_is_an_attribute_error():
    import recsys_utils.models as models

    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        models.no_such_name  # noqa: B018


def test_nothing_reaches_past_a_subpackages_all():
    assert reaching_past_all(REPO, public_api()) == []


@pytest.mark.parametrize(
    ("where", "planted", "reported"),
    [
        ("recsys_utils/cli/zz_probe.py", "from recsys_utils.models.base import damped_biases\n",
         "cli/zz_probe.py:1: models.base.damped_biases"),
        ("recsys_utils/bench/zz_probe.py", "from recsys_utils.training import loop\nloop.make_optimizer\n",
         "bench/zz_probe.py:2: training.loop.make_optimizer"),
        ("notebooks/zz_probe.py", "from recsys_utils import data\ndata.md5sum\n",
         "notebooks/zz_probe.py:2: data.md5sum"),
        ("recsys_utils/app/zz_probe.py", "import recsys_utils.models._foldin\n",
         "app/zz_probe.py:1: models._foldin"),
    ],
)  # fmt: skip
def test_reaching_past_all_is_reported(tmp_path, where, planted, reported):
    for folder in ("recsys_utils", "notebooks", "docs"):
        shutil.copytree(
            REPO / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(REPO / "README.md", tmp_path / "README.md")
    assert reaching_past_all(tmp_path, public_api()) == []
    (tmp_path / where).write_text(planted)
    assert reaching_past_all(tmp_path, public_api()) == [reported]
