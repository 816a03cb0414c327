"""The command line's names, which users script against, and its one-line errors.

The commands' behaviour is tested beside what they run: ``data`` in
``tests/data/test_bad_inputs.py`` and ``test_download.py``, ``train`` and ``bench`` in
``tests/bench/``, ``sweep`` in ``tests/tuning/test_run.py``, ``recommend`` and
``similar`` in ``tests/recommend/test_foldin.py``.
"""

import subprocess
import sys

import pytest

from recsys_utils.cli import build_parser, main

COMMANDS = {
    "data": {"fetch", "validate"},
    "train": set(),
    "sweep": set(),
    "recommend": set(),
    "similar": set(),
    "bench": {"peers", "scale", "ranking", "personalisation", "embeddings"},
}


def _subcommands(parser):
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return action.choices


def test_every_documented_command_exists():
    top = _subcommands(build_parser())
    assert set(COMMANDS) <= set(top)
    for name, subs in COMMANDS.items():
        if subs:
            assert subs <= set(_subcommands(top[name])), name


def test_an_unknown_command_exits_2_and_help_is_quick():
    with pytest.raises(SystemExit) as stop:
        main(["no-such-command"])
    assert stop.value.code == 2
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "recsys_utils", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0 and "bench" in out.stdout
    imported = {line.split("|")[-1].strip() for line in out.stderr.splitlines() if "|" in line}
    assert not {"torch", "numba", "umap", "optuna"} & imported
