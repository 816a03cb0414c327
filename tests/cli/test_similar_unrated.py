"""``similar`` and ``recommend`` with the hybrid checkpoint: movies nobody rated, a new
movie described by hand, and the flags refused in one line (exit 2)."""

from __future__ import annotations

import json

import pytest

from recsys_utils.cli import main
from recsys_utils.models import checkpoints

# fixtures ``fitted`` and ``saved`` (the hybrid and EASE checkpoints): tests/cli/conftest.py


def _run(capsys, *argv) -> tuple[int, str, list[str]]:
    code = main(list(argv))
    cap = capsys.readouterr()
    return code, cap.out, [line for line in cap.err.splitlines() if line.startswith("error:")]


def test_similar_for_a_movie_nobody_rated_says_its_vector_comes_from_its_features(saved, capsys):
    code, out, _ = _run(capsys, "similar", "--model", "hybrid", "--movie", "21", "--k", "3",
                        "--min-ratings", "0")  # fmt: skip
    assert code == 0
    heading, *lines = out.splitlines()
    assert "movies like 21; its vector comes from its features only (nobody rated it" in heading
    rows = lines[:3]
    assert all(int(r.split()[2]) in range(1, 11) for r in rows)  # its neighbours are A movies
    assert all("ratings+features" in r for r in rows)
    assert "who would like it most" in out
    users = [int(r.split()[1]) for r in lines if r.strip().startswith("user ")]
    assert len(users) == 5 and set(users) <= set(range(1, 21))  # the A lovers


def test_unrated_neighbours_only_when_asked(saved, capsys):
    argv = ["similar", "--model", "hybrid", "--movie", "1", "--k", "11", "--min-ratings", "0"]
    code, out, _ = _run(capsys, *argv, "--json")
    assert code == 0
    assert {r["vector_from"] for r in json.loads(out)} == {"ratings+features"}
    code, out, _ = _run(capsys, *argv, "--json", "--include-unrated")
    records = json.loads(out)
    assert {"item_id": 21, "vector_from": "features only"}.items() <= next(
        r for r in records if r["item_id"] == 21
    ).items()
    code, out, _ = _run(capsys, *argv, "--include-unrated")
    heading = out.splitlines()[0]
    assert "its vector from ratings+features" in heading and "movies nobody rated" in heading


def test_similar_describes_a_new_movie(saved, capsys):
    features, hybrid = saved
    argv = ["similar", "--model", "hybrid", "--genres", "b", "--year", "1995", "--k", "4"]
    code, out, _ = _run(capsys, *argv, "--min-ratings", "0", "--json")
    assert code == 0
    expected = hybrid.neighbours(features.describe(genres=["B"], year=1995), k=4)
    assert [r["item_id"] for r in json.loads(out)] == expected["item_id"].tolist()
    code, out, _ = _run(capsys, *argv, "--min-ratings", "0", "--audience", "2")
    assert "movies like a new movie (B; 1995); its vector comes from its features only" in out
    users = [int(r.split()[1]) for r in out.splitlines() if r.strip().startswith("user ")]
    assert len(users) == 2 and set(users) <= set(range(21, 41))


@pytest.mark.parametrize(
    "argv, message",
    [
        (["similar", "--model", "hybrid"], "similar needs --movie ID, or a new movie"),
        (["similar", "--model", "hybrid", "--movie", "1", "--genres", "A"], "not both"),
        (["similar", "--model", "ease", "--genres", "A"],
         "--genres/--tags/--year needs a model that places movies nobody rated"),
        (["similar", "--model", "ease", "--movie", "1", "--include-unrated"],
         "--include-unrated needs a model that places movies nobody rated"),
        (["recommend", "--model", "ease", "--ratings", "1:5", "--include-unrated"],
         "--include-unrated needs a model that places movies nobody rated"),
        (["similar", "--model", "hybrid", "--genres", "C"],
         "unknown genre 'C'; genres: A, B; --list-tags lists them all"),
        (["similar", "--model", "hybrid", "--list-tags", "--movie", "1"], "give it alone"),
        (["similar", "--model", "ease", "--list-tags"], "--list-tags needs a model that places"),
        (["similar", "--model", "hybrid", "--genres", "A", "--year", "3000"], "year 3000 is outside"),
        (["similar", "--model", "hybrid", "--genres", "A", "--json", "--audience", "3"],
         "--audience lists users in the table output"),
        (["similar", "--model", "hybrid", "--movie", "23"],
         "movie 23 has no ratings in training and no features"),
        (["similar", "--model", "hybrid", "--movie", "1", "--k", "40", "--min-ratings", "0"],
         "k=40 exceeds the 19 eligible"),
        (["recommend", "--model", "hybrid", "--ratings", "21:5"],
         "none of your --ratings movies was rated in training"),
    ],
)  # fmt: skip
def test_incompatible_flags_exit_2_with_one_line(saved, capsys, argv, message):
    code, _, errors = _run(capsys, *argv)
    assert code == 2
    assert len(errors) == 1 and message in errors[0], errors


def test_recommend_includes_unrated_movies_when_asked(saved, capsys):
    argv = ["recommend", "--model", "hybrid", "--ratings", "1:5,2:5,3:5", "--k", "8"]
    code, out, _ = _run(capsys, *argv, "--json")
    assert code == 0 and 21 not in {r["item_id"] for r in json.loads(out)}
    code, out, _ = _run(capsys, *argv, "--json", "--include-unrated")
    records = {r["item_id"]: r for r in json.loads(out)}
    assert 21 in records and records[21]["vector_from"] == "features only"
    assert records[21]["because"] == "nobody rated it; its features: A; 1995-1999"
    assert 22 not in records  # the B movie nobody rated is not for an A lover
    code, out, _ = _run(capsys, *argv, "--include-unrated")
    assert "movies nobody rated are included" in out.splitlines()[0]
    # an unrated movie among the ratings: left out of the person, with a note
    code = main(["recommend", "--model", "hybrid", "--ratings", "21:5,1:5", "--json"])
    err = capsys.readouterr().err
    assert code == 0 and "nobody rated 21 in training" in err


def test_the_hybrid_checkpoint_is_trained_on_the_data_sets_features_when_missing(
    data_home, mirror_dir, monkeypatch, capsys
):
    from recsys_utils.models import recipes

    monkeypatch.setenv("RECSYS_DATA_MIRROR", str(mirror_dir))
    tiny = {"dim": 8, "max_epochs": 2, "min_epochs": 0, "batch_size": 256, "patience": 1}
    monkeypatch.setitem(recipes.APP_MODELS, "hybrid", ("hybrid_pooled", tiny))
    argv = ["similar", "--model", "hybrid", "--genres", "Horror", "--year", "1990", "--k", "3"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "no hybrid checkpoint" in captured.err and "training hybrid_pooled" in captured.err
    assert "its vector comes from its features only" in captured.out
    model = checkpoints.load(data_home / "checkpoints" / "hybrid.json")
    assert model.features.n_movies > len(model.item_map)  # the whole table came with it
    assert main(argv) == 0 and "training" not in capsys.readouterr().err


def test_list_tags_prints_the_vocabulary(saved, capsys):
    code, out, _ = _run(capsys, "similar", "--model", "hybrid", "--list-tags", "--json")
    assert code == 0 and json.loads(out) == {"genre": {"A": 11, "B": 11}, "tag": {}}
    code, out, _ = _run(capsys, "similar", "--model", "hybrid", "--list-tags")
    assert out.splitlines()[0] == "genres, with the movies carrying each: A (11), B (11)"


def test_a_year_no_training_movie_has_is_noted(saved, capsys):
    argv = ["similar", "--model", "hybrid", "--genres", "A", "--k", "2", "--min-ratings", "0"]
    assert main([*argv, "--year", "2025"]) == 0
    assert "note: no movie the model was trained on has year:2020s" in capsys.readouterr().err
    assert main([*argv, "--year", "1995"]) == 0
    assert "no movie the model was trained on" not in capsys.readouterr().err
