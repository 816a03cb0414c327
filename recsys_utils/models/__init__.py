"""Every model on one contract (``Recommender``), the registry by name, and checkpoints.

Public API: the contract (``Recommender``, ``Capabilities``, ``CapabilityError``,
``require``, ``Query``, ``Queries``, ``people_table``, ``novelty_ranking``), the registry
(``register``, ``MODELS``, ``make_model``), every model class, ``fit_early_stopped``, the
fold-in regularisation defaults, and the ``checkpoints`` and ``recipes`` modules; that is
``__all__``, loaded from its module on first use so importing the package imports nothing
heavy (torch, numba, umap, optuna). Everything else, the ``_private`` modules and
``_helpers`` included, is internal and may change without notice.
"""

from recsys_utils import lazy_exports

_EXPORTS = {
    "FOLD_IN_BIAS_REG": "_foldin",
    "FOLD_IN_REG": "_foldin",
    "FOLD_IN_REG_GRID": "_foldin",
    "Capabilities": "base",
    "CapabilityError": "base",
    "novelty_ranking": "base",
    "people_table": "base",
    "Queries": "base",
    "Query": "base",
    "Recommender": "base",
    "require": "base",
    "BiasOnly": "baselines",
    "GlobalMean": "baselines",
    "Popularity": "baselines",
    "Blend": "blend",
    "zscore": "blend",
    "ZScoreBlend": "blend",
    "CheckpointError": "checkpoints",
    "ContentKNN": "content",
    "GenrePopularity": "content",
    "dual_tables": "ease",
    "EASE": "ease",
    "fit_early_stopped": "fitting",
    "HybridPooled": "hybrid",
    "ALS": "implicit_peers",
    "BPR": "implicit_peers",
    "PooledSoftmax": "ranking",
    "make_model": "registry",
    "MODELS": "registry",
    "register": "registry",
    "GenreRules": "rules",
    "CollabFNet": "torch_models",
    "ImplicitMF": "torch_models",
    "MF": "torch_models",
    "TorchRecommender": "torch_models",
}
_MODULES = ("checkpoints", "recipes")
__all__ = sorted([*_EXPORTS, *_MODULES])
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, _MODULES)
