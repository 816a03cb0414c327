"""``similar`` and ``recommend`` refusals that docs/robustness.md lists beside those of
``test_similar_unrated``: each is one ``error:`` line and exit 2, with nothing printed on
stdout (fixtures ``fitted`` and ``saved``: tests/cli/conftest.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from recsys_utils.cli import main
from recsys_utils.cli import recommend as cli_recommend


@pytest.fixture
def titled(saved, monkeypatch):
    """The checkpoints of ``saved`` with the data set's movies table: ids 1-23, 21-23 in
    the table but rated by nobody."""
    movies = pd.DataFrame({"item_id": range(1, 24), "title": [f"m{i}" for i in range(1, 24)]})
    monkeypatch.setattr(cli_recommend, "load_movies", lambda model: movies)
    return saved


@pytest.mark.parametrize(
    "argv, message",
    [
        (["similar", "--model", "ease", "--movie", "21"],
         "nobody rated movie 21 in training, so EASE (ease) has no vector for it; "
         "--model hybrid places it from its features"),
        (["similar", "--model", "hybrid", "--movie", "21", "--audience", "-1"],
         "--audience lists users in the table output: a number >= 0, without --json"),
        (["similar", "--model", "hybrid", "--list-tags", "--include-unrated"],
         "--list-tags lists the vocabulary and stops: give it alone"),
        (["similar", "--model", "hybrid", "--list-tags", "--genres", "A"], "give it alone"),
        (["similar", "--model", "hybrid", "--tags", "zombies"],
         "unknown tag 'zombies': this feature table has no tags; --list-tags lists them all"),
        (["similar", "--model", "hybrid", "--genres", ""], "has no features"),
        (["recommend", "--model", "hybrid", "--ratings", "21:5,22:4", "--include-unrated"],
         "none of your --ratings movies was rated in training"),
    ],
)  # fmt: skip
def test_refused_in_one_line_with_exit_2(titled, capsys, argv, message):
    code = main(argv)
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert code == 2 and captured.out == ""
    assert len(errors) == 1 and message in errors[0], errors


def test_an_unrated_movie_with_a_model_that_has_no_vector_for_it_is_refused_not_unknown(
    titled, capsys
):
    """Movie 21 is in the data set: the refusal says why it has no vector (nobody rated
    it) instead of calling it unknown; a movie outside the data set stays unknown."""
    assert main(["similar", "--model", "ease", "--movie", "999"]) == 2
    err = capsys.readouterr().err
    assert "nobody rated" not in err and "999" in err
