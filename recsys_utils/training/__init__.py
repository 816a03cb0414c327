"""Torch modules and the training loop: nets, the loop, row-sparse optimisers, the fused CPU step.

Modules:
    fused_mf: A fused CPU step for matrix factorisation with the row-sparse optimisers.
    hybrid_net: The net of ``models.hybrid.HybridPooled``: PooledNet with feature-built movie rows.
    loop: The epoch loop every torch model shares: ``fit(net, step, cfg)``.
    memory: Memory estimates made before allocating, so an absurd size fails fast and clearly.
    mf_kernels: The compiled loops behind ``fused_mf``: one MF minibatch step in five passes, and a
    nets: The torch modules behind the embedding models: forward(users, items) -> ratings.
    pooled: The ranking model's step for ``loop.fit``: batches of users, their loss, validation.
    ranking_net: The net of ``models.ranking.PooledSoftmax``: embedding bag in, item table out.
    row_kernels: Compiled row loops for the row-sparse steps (optimiser rows, the ranking net's bag and softmax).
    rowsparse: Row-sparse optimisation: each step reads and writes only the embedding rows a batch uses.

Public names below are loaded from their module on first use, so importing
the package imports nothing heavy (torch, numba, umap, optuna).
"""

from recsys_utils import lazy_exports

_EXPORTS = {
    "AHEAD": "mf_kernels",
    "BYTES_PER_FLOAT": "memory",
    "BagSum": "row_kernels",
    "BatchView": "rowsparse",
    "COPIES_BY_OPTIMIZER": "memory",
    "CollabFNet": "nets",
    "HISTORY_COLUMNS": "loop",
    "HybridNet": "hybrid_net",
    "ImplicitMFNet": "nets",
    "MFNet": "nets",
    "MFStep": "fused_mf",
    "NDCG100": "loop",
    "Objective": "loop",
    "PooledBatch": "ranking_net",
    "PooledNet": "ranking_net",
    "PooledStep": "pooled",
    "RMSE": "loop",
    "RatingStep": "loop",
    "RowSparseOptimizer": "rowsparse",
    "SPARSE_OPTIMIZERS": "rowsparse",
    "SampledHead": "row_kernels",
    "Step": "loop",
    "TrainConfig": "loop",
    "TrainingDiverged": "loop",
    "check_embedding_memory": "memory",
    "default_threads": "loop",
    "device_available": "loop",
    "distinct_rows": "pooled",
    "embedding_bytes": "memory",
    "evaluate": "loop",
    "fit": "loop",
    "hugepage_copy": "fused_mf",
    "log_q": "pooled",
    "make_optimizer": "loop",
    "predict_batched": "loop",
    "resolve_device": "loop",
    "set_threads": "fused_mf",
    "shuffle": "fused_mf",
    "supports": "fused_mf",
    "to_tensors": "loop",
    "train": "loop",
    "usable": "row_kernels",
    "warm_up": "row_kernels",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
