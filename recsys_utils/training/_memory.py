"""Memory estimates made before allocating, so an absurd size fails fast and clearly."""

from __future__ import annotations

import psutil

BYTES_PER_FLOAT = 4
# weights + gradient + two Adam moments
COPIES_BY_OPTIMIZER = {"adam": 4, "adamw": 4, "sgd": 3}


def embedding_bytes(n_users: int, n_items: int, dim: int, optimizer: str = "adamw") -> int:
    """Bytes that user and item tables of width ``dim`` need during training."""
    copies = COPIES_BY_OPTIMIZER.get(optimizer, 4)
    return (n_users + n_items) * (dim + 1) * BYTES_PER_FLOAT * copies


def check_embedding_memory(
    n_users: int, n_items: int, net_params: dict, optimizer: str = "adamw", fraction: float = 0.8
) -> int:
    """Refuse, before allocating, tables that would not fit in available memory.

    The width is the largest of ``n_factors``/``emb_size`` in ``net_params``.

    Returns:
        The estimated bytes.

    Raises:
        ValueError: naming the size, the estimate and the memory available.
    """
    dims = [int(v) for k, v in net_params.items() if k in ("n_factors", "emb_size")]
    dim = max(dims, default=0)
    if dim < 1:
        raise ValueError(f"embedding size must be at least 1, got {dim}")
    need = embedding_bytes(n_users, n_items, dim, optimizer)
    avail = psutil.virtual_memory().available
    if need > fraction * avail:
        raise ValueError(
            f"embedding size {dim} for {n_users:,} users and {n_items:,} movies would need "
            f"about {need / 2**30:.1f} GiB to train, but only {avail / 2**30:.1f} GiB is available; "
            "choose a smaller size"
        )
    return need
