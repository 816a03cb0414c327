"""Shared names and paths (recsys_utils/constants.py)."""

from __future__ import annotations


def test_shown_paths_are_relative_to_the_project_or_the_data_folder(data_home):
    from recsys_utils.constants import PROJECT_ROOT, shown_path

    assert (
        shown_path(PROJECT_ROOT / "data" / "checkpoints" / "mf.json") == "data/checkpoints/mf.json"
    )
    assert shown_path(data_home / "checkpoints" / "mf.json") == "data/checkpoints/mf.json"
    assert shown_path("/somewhere/else/x.json") == "else/x.json"
