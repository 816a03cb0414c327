"""Torch modules and the training loop: nets, the loop, row-sparse optimisers, the fused CPU step.

Public API: the epoch loop (``fit``, ``train``, ``TrainConfig``, ``Step``, ``Objective``,
``TrainingDiverged``), devices, batched prediction, the memory check, and the nets the
models wrap (``MFNet``, ``ImplicitMFNet``, ``CollabFNetModule``, ``PooledNet``, ``PooledStep``,
``HybridNet``); that is ``__all__``, loaded from its module on first use so importing the
package imports nothing heavy (torch, numba, umap, optuna). Everything else, the
``_private`` modules and ``_helpers`` included, is internal and may change without notice.
"""

from recsys_utils import lazy_exports

_EXPORTS = {
    "HybridNet": "hybrid_net",
    "device_available": "loop",
    "fit": "loop",
    "HISTORY_COLUMNS": "loop",
    "NDCG100": "loop",
    "Objective": "loop",
    "predict_batched": "loop",
    "RatingStep": "loop",
    "resolve_device": "loop",
    "RMSE": "loop",
    "Step": "loop",
    "to_tensors": "loop",
    "train": "loop",
    "TrainConfig": "loop",
    "TrainingDiverged": "loop",
    "check_embedding_memory": "_memory",
    "CollabFNetModule": "nets",
    "ImplicitMFNet": "nets",
    "MFNet": "nets",
    "PooledStep": "pooled",
    "PooledNet": "ranking_net",
}
_MODULES = ("nets",)
__all__ = sorted([*_EXPORTS, *_MODULES])
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, _MODULES)
