"""Torch modules and the training loop: nets, the loop, row-sparse optimisers, the fused CPU step.

Modules:
    fused_mf: A fused CPU step for matrix factorisation with the row-sparse optimisers.
    loop: The minibatch training loop every torch model shares.
    memory: Memory estimates made before allocating, so an absurd size fails fast and clearly.
    mf_kernels: The compiled loops behind ``fused_mf``: one MF minibatch step in five passes, and a
    nets: The torch modules behind the embedding models: forward(users, items) -> ratings.
    ranking_net: The net of ``models.ranking.PooledSoftmax``: embedding bag in, item table out.
    rowsparse: Row-sparse optimisation: each step reads and writes only the embedding rows a batch uses.

Public names below are loaded from their module on first use, so importing
the package imports nothing heavy (torch, numba, umap, optuna).
"""

from recsys_utils import lazy_exports

_EXPORTS = {
    "AHEAD": "mf_kernels",
    "BYTES_PER_FLOAT": "memory",
    "BatchView": "rowsparse",
    "COPIES_BY_OPTIMIZER": "memory",
    "CollabFNet": "nets",
    "HISTORY_COLUMNS": "loop",
    "ImplicitMFNet": "nets",
    "MFNet": "nets",
    "MFStep": "fused_mf",
    "PooledNet": "ranking_net",
    "RowSparseOptimizer": "rowsparse",
    "SPARSE_OPTIMIZERS": "rowsparse",
    "TrainConfig": "loop",
    "TrainingDiverged": "loop",
    "check_embedding_memory": "memory",
    "default_threads": "loop",
    "device_available": "loop",
    "embedding_bytes": "memory",
    "evaluate": "loop",
    "hugepage_copy": "fused_mf",
    "predict_batched": "loop",
    "resolve_device": "loop",
    "set_threads": "fused_mf",
    "shuffle": "fused_mf",
    "supports": "fused_mf",
    "to_tensors": "loop",
    "train": "loop",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
