"""EASE against its closed form worked on paper, and the new-user contract."""

import numpy as np
import scipy.sparse as sp
from helpers import ratings_table

from recsys_utils.models import Queries, Query, people_table
from recsys_utils.models.ease import EASE, ease_weights, gram
from recsys_utils.models.registry import MODELS


def fit_liked(model, X):
    """``model.fit`` on 0/1 rows of liked movies (users and movies numbered from 0)."""
    return model.fit(people_table(X * 5.0, np.arange(X.shape[0]), np.arange(X.shape[1])))


def score_liked(model, H):
    return model.score(Queries.from_matrix(H * 5.0))


def test_ease_3x3_closed_form_on_paper():
    # X^T X + I = [[3,2,1],[2,4,2],[1,2,3]], det 16;
    # P = [[.5,-.25,0],[-.25,.5,-.25],[0,-.25,.5]];  B_ij = -P_ij / P_jj, diag 0
    X = sp.csr_matrix(np.array([[1, 1, 0], [0, 1, 1], [1, 1, 1]], np.float32))
    B = ease_weights(gram(X), 1.0)
    np.testing.assert_allclose(B, [[0, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0]], atol=1e-12)
    m = fit_liked(EASE(lam=1.0), X)
    np.testing.assert_allclose(score_liked(m, X[:1]), [[0.5, 0.5, 0.5]], atol=1e-6)


def test_ease_training_user_equals_new_user_and_low_ratings_do_not_count():
    t = ratings_table(
        [
            (1, 10, 5),
            (1, 11, 4),
            (1, 12, 2),
            (2, 11, 5),
            (2, 12, 4),
            (3, 10, 4),
            (3, 12, 5),
            (4, 13, 4),
            (4, 10, 1),
        ]
    )
    m = EASE(lam=1.0).fit(t)
    assert MODELS["ease"] is EASE
    np.testing.assert_allclose(m.score(Query.new({10: 5, 11: 4})), m.score(Query.known(1)))
    np.testing.assert_allclose(m.score(Query.new({10: 5, 11: 4, 12: 2})), m.score_items([0])[0])
    top = m.recommend(Query.new({10: 5, 11: 4, 12: 2}), k=1)
    assert top.item_id.tolist() == m.recommend(1, k=1).item_id.tolist() == [13]


def test_for_new_users_ease_is_a_pooled_embedding_model_of_rank_n_users():
    from recsys_utils.models.ease import dual_tables

    rng = np.random.default_rng(0)
    X = sp.csr_matrix((rng.random((6, 9)) < 0.4).astype(np.float32))  # 6 users, 9 movies
    H = sp.csr_matrix((rng.random((4, 9)) < 0.3).astype(np.float32))  # 4 new users
    ease = fit_liked(EASE(lam=2.0), X)
    W_in, W_out = dual_tables(X, 2.0)
    assert W_in.shape == W_out.shape == (9, 6)  # 6 dimensions: one per training user
    pooled = (H @ W_in) @ W_out.T
    off = H.toarray() == 0  # the movies a user gave are never recommended
    np.testing.assert_allclose(pooled[off], score_liked(ease, H)[off], rtol=1e-4, atol=1e-6)
    assert not np.allclose(pooled[~off], score_liked(ease, H)[~off])  # only there
