"""EASE^R (Steck 2019): closed-form item-item linear autoencoder on liked movies.

G = X^T X + lambda I;  P = G^-1;  B = -P / diag(P) (column j divided by P_jj);
diag(B) = 0;  scores = x_user B, x_user the 0/1 row of movies rated >= threshold.

>>> import numpy as np, scipy.sparse as sp
>>> X = sp.csr_matrix(np.array([[1, 1, 0], [0, 1, 1], [1, 1, 1]], np.float32))
>>> (np.round(ease_weights(gram(X), 1.0), 4) + 0.0).tolist()  # worked in tests/models/test_ease.py
[[0.0, 0.5, 0.0], [0.5, 0.0, 0.5], [0.0, 0.5, 0.0]]
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from recsys_utils.models._liked import LikedRecommender
from recsys_utils.models.registry import register


def gram(X: sp.csr_matrix) -> np.ndarray:
    return np.asarray((X.T @ X).toarray(), dtype=np.float64)


def ease_weights(G: np.ndarray, lam: float) -> np.ndarray:
    """B from a Gram matrix, by a Cholesky inverse (G + lambda I is SPD)."""
    A = G.copy()
    A[np.diag_indices_from(A)] += lam
    c, info = scipy.linalg.lapack.dpotrf(A, lower=False, overwrite_a=True)
    if info:
        raise np.linalg.LinAlgError(f"dpotrf failed ({info})")
    P, info = scipy.linalg.lapack.dpotri(c, lower=False, overwrite_c=True)
    if info:
        raise np.linalg.LinAlgError(f"dpotri failed ({info})")
    P = np.triu(P) + np.triu(P, 1).T  # dpotri fills the upper triangle only
    B = -P / np.diag(P)[None, :]
    B[np.diag_indices_from(B)] = 0.0
    return B


def dual_tables(X: sp.csr_matrix, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """EASE for a new user as a pooled embedding model of ``n_users`` dimensions.

    With P = (X^T X + lambda I)^-1 and Woodbury, P = (I - X^T M X) / lambda for
    M = (X X^T + lambda I)^-1, so a row h of liked movies scores every movie it does not hold as

        s_i = (h X^T) . (M X)_{:, i} / (lambda P_ii),  P_ii = (1 - X_{:, i}^T M X_{:, i}) / lambda:

    the sum over the liked movies of an input vector W_in[j] = X_{:, j} (who liked j) dotted
    with an output vector W_out[i]. Returns (W_in, W_out), each (n_items, n_users): on data
    with fewer users than movies EASE is, for new users, an embedding model of that rank
    (the movies in h score differently, but liked movies are never recommended)."""
    Xd = np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float64)
    A = Xd @ Xd.T
    A[np.diag_indices_from(A)] += lam
    MX = np.linalg.solve(A, Xd)  # M X, (n_users, n_items)
    p_diag = (1.0 - (Xd * MX).sum(0)) / lam
    return Xd.T.copy(), (MX / (lam * p_diag)[None, :]).T.copy()


@register
class EASE(LikedRecommender):
    """EASE^R; ``lam`` the ridge weight (chosen on validation users in bench.ranking)."""

    name = "ease"

    def __init__(self, rating_scale=None, threshold: float = 4.0, lam: float = 200.0):
        super().__init__(rating_scale, threshold, lam=float(lam))

    def _fit_liked(self, X, valid_liked=None, valid_targets=None):
        self.B_ = ease_weights(gram(X), self.params["lam"]).astype(np.float32)

    def _score_liked(self, H):
        return np.asarray(H @ self.B_)
