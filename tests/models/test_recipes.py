"""Recipes: untrained models, matching checkpoints, and the checkpoint trained once under a lock."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from recsys_utils.models import MF, checkpoints, make_model, recipes
from recsys_utils.training import nets

REPO = Path(__file__).resolve().parents[2]


# --- models with nothing learned --------------------------------------------------------------
def test_untrained_is_the_seeded_start_of_training_and_nothing_learned(tiny_ratings):
    model = recipes.untrained(MF(n_factors=2, seed=5, device="cpu", lr=0.5), tiny_ratings)
    torch.manual_seed(5)
    start = nets.MFNet(3, 3, n_factors=2, mu=23 / 7, init_std=0.05)
    for name, value in start.state_dict().items():
        assert torch.allclose(model.net.state_dict()[name], value), name
    assert model.history_ is None and model.get_params()["lr"] == 0.5
    trained = MF(n_factors=2, seed=5, device="cpu", lr=0.5, epochs=1).fit(tiny_ratings)
    assert not torch.allclose(trained.net.item_emb.weight, model.net.item_emb.weight)
    at_zero = recipes.untrained(MF(n_factors=2, seed=5, device="cpu"), tiny_ratings, mu=0.0)
    assert at_zero.net.mu.item() == 0.0
    assert "_fit" not in vars(model)  # nothing patched onto the model


def test_mf_from_factors_scores_with_the_given_vectors(tiny_ratings):
    model = recipes.mf_from_factors(
        tiny_ratings, np.eye(3, 2), [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], mu=3.0
    )
    # user 1 (row 0: [1, 0]) and movie 30 (row 2: [1, 1]): 3 + 0 + 0 + 1
    assert model.predict([1], [30])[0] == pytest.approx(4.0)
    with pytest.raises(ValueError, match="item_vecs has shape"):
        recipes.mf_from_factors(tiny_ratings, np.eye(3, 2), np.eye(2))


def test_load_matching_only_returns_checkpoints_of_this_training_set(tiny_ratings, tmp_path):
    model = recipes.untrained(
        make_model("mf", n_factors=2, device="cpu", progress=False), tiny_ratings
    )
    checkpoints.save(model, tmp_path / "mf", dataset="tiny")
    found = recipes.load_matching("mf", tiny_ratings, "tiny", folder=tmp_path)
    assert found is not None and found.name == "mf"
    assert recipes.load_matching("mf", tiny_ratings, "other", folder=tmp_path) is None
    assert recipes.load_matching("mf", tiny_ratings.iloc[:-2], "tiny", folder=tmp_path) is None
    assert recipes.load_matching("best", tiny_ratings, "tiny", folder=tmp_path) is None


def test_tuned_settings_make_valid_models():
    for name, params in recipes.TUNED.items():
        make_model(name, **params)


# --- the first training of a checkpoint, under a lock -----------------------------------------
def _tiny_movielens(n_users: int = 40, n_movies: int = 25, seed: int = 0) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    rows = [
        (u, m, float(rng.integers(2, 11) / 2), 1000 + u * 100 + m)
        for u in range(1, n_users + 1)
        for m in rng.choice(np.arange(1, n_movies + 1), 12, replace=False)
    ]
    ratings = pd.DataFrame(rows, columns=["userId", "movieId", "rating", "timestamp"])
    movies = pd.DataFrame(
        {"movieId": range(1, n_movies + 1), "title": [f"Movie {m}" for m in range(1, n_movies + 1)]}
    ).assign(genres="Drama")
    return {
        "ml-latest-small/": b"",
        "ml-latest-small/ratings.csv": ratings.to_csv(index=False).encode(),
        "ml-latest-small/movies.csv": movies.to_csv(index=False).encode(),
    }


CHILD = """
import sys
from recsys_utils.models import recipes
recipes.APP_MODELS["ranking"] = (
    "pooled_softmax", {"dim": 4, "max_epochs": 2, "min_epochs": 0, "patience": 1, "seed": 0}
)
echo = lambda line: print(f"note: {line}", file=sys.stderr, flush=True)
print(recipes.ensure_checkpoint("ranking", "ml-latest-small", echo=echo))
"""


def _waiters(lock: Path) -> int:
    """Processes blocked on a lock of ``lock`` (the ``->`` lines of /proc/locks)."""
    inode = f":{os.stat(lock).st_ino} "
    return sum(
        "->" in line and inode in line for line in Path("/proc/locks").read_text().splitlines()
    )


@pytest.mark.skipif(not Path("/proc/locks").is_file(), reason="needs Linux's /proc/locks")
def test_two_commands_train_the_missing_checkpoint_once(data_home, make_mirror, monkeypatch):
    from recsys_utils import data
    from recsys_utils.constants import checkpoint_dir

    mirror = make_mirror(_tiny_movielens())
    monkeypatch.setenv("RECSYS_DATA_MIRROR", str(mirror))
    data.load_dataset("ml-latest-small")  # fetched once here: only the training may race
    folder = checkpoint_dir()
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / "ranking.json.lock"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with open(lock, "a") as held:  # hold the lock so that both commands start before either trains
        import fcntl

        fcntl.flock(held, fcntl.LOCK_EX)
        children = [
            subprocess.Popen(
                [sys.executable, "-c", CHILD],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        deadline = time.monotonic() + 120  # a guard against a hang, not a timing check
        while _waiters(lock) < 2 and all(c.poll() is None for c in children):
            assert time.monotonic() < deadline, "the two commands never waited on the lock"
            time.sleep(0.05)
        fcntl.flock(held, fcntl.LOCK_UN)
    outs = [c.communicate(timeout=300) for c in children]
    assert [c.returncode for c in children] == [0, 0], [err for _, err in outs]
    errs = [err for _, err in outs]
    trained = [e for e in errs if "training pooled_softmax" in e]
    waited = [e for e in errs if "while another process trained" in e]
    assert len(trained) == 1 and len(waited) == 1, errs
    assert "loading that checkpoint" in waited[0] and "trained and saved" in trained[0]
    assert {out.strip() for out, _ in outs} == {str(folder / "ranking.json")}
    assert checkpoints.load(folder / "ranking.json").name == "pooled_softmax"
