"""Every model on one contract (``base.Recommender``), the registry by name, and checkpoints.

Modules:
    base: The one model contract: ``Recommender``, the base class every model subclasses.
    registry: The registry of models by name: ``register`` (a class decorator), ``MODELS``, ``make_model``.
    baselines: The baselines: the global mean, bias-only ridge, and popularity.
    torch_models: The torch embedding models: the contract's ``Recommender`` trained by ``training.train``.
    blend: Two blends: ``Blend`` (ratings) and ``ZScoreBlend`` (rankings).
    rules: A rules-based recommender: a user's favourite genres, then the best-rated movies in them.
    checkpoints: Checkpoints: safetensors weights plus a JSON sidecar, written atomically.
    ease: EASE^R (Steck 2019): closed-form item-item linear autoencoder on liked movies.
    fitting: Fitting a registry model with early stopping on a random holdout of its ratings.
    liked: Rankers scored from the movies a person liked: ``LikedRecommender``.
    implicit_peers: The ``implicit`` library's iALS and BPR on the contract.
    content: Rankers from what a movie is (``data.features``): content kNN and popularity within genre.
    ranking: Our ranking model on implicit feedback: a new user needs no gradient step.
    recipes: Recipes: the models the app and commands serve, their settings, how each is trained or loaded.
    hybrid: The hybrid embedding model: movie vectors from features plus their own id vector.

Public names below are loaded from their module on first use, so importing
the package imports nothing heavy (torch, numba, umap, optuna).
"""

from recsys_utils import lazy_exports

_EXPORTS = {
    "ALS": "implicit_peers",
    "APP_MODELS": "recipes",
    "BPR": "implicit_peers",
    "BiasOnly": "baselines",
    "Blend": "blend",
    "Capabilities": "base",
    "CapabilityError": "base",
    "CheckpointError": "checkpoints",
    "CollabFNet": "torch_models",
    "ContentKNN": "content",
    "DEFAULT_BLEND": "blend",
    "DEFAULT_CHECKPOINT": "recipes",
    "EASE": "ease",
    "FALLBACK_DAMPING": "base",
    "FOLD_IN_BIAS_REG": "_foldin",
    "FOLD_IN_OPTIONS": "base",
    "FOLD_IN_REG": "_foldin",
    "FOLD_IN_REG_GRID": "_foldin",
    "FORMAT_VERSION": "checkpoints",
    "FeatureRanker": "content",
    "GIVEN_COL": "base",
    "GenrePopularity": "content",
    "GenreRules": "rules",
    "GlobalMean": "baselines",
    "HybridPooled": "hybrid",
    "ImplicitMF": "torch_models",
    "LikedRecommender": "liked",
    "MF": "torch_models",
    "MODELS": "registry",
    "MODEL_MODULES": "registry",
    "PENALTY": "rules",
    "PooledSoftmax": "ranking",
    "Popularity": "baselines",
    "Queries": "base",
    "Query": "base",
    "Recommender": "base",
    "SMALL_MF": "fitting",
    "TUNED": "recipes",
    "TorchRecommender": "torch_models",
    "ZScoreBlend": "blend",
    "binary_csr": "liked",
    "check_items": "checkpoints",
    "check_out_path": "checkpoints",
    "damped_biases": "base",
    "dual_tables": "ease",
    "ease_weights": "ease",
    "ensure_checkpoint": "recipes",
    "fit_early_stopped": "fitting",
    "gram": "ease",
    "latest": "checkpoints",
    "liked_matrix": "base",
    "load": "checkpoints",
    "load_matching": "recipes",
    "load_or_train": "recipes",
    "make_model": "registry",
    "mf_from_factors": "recipes",
    "novelty_ranking": "base",
    "people_table": "base",
    "randomized_svd": "ranking",
    "read_meta": "checkpoints",
    "register": "registry",
    "require": "base",
    "save": "checkpoints",
    "untrained": "recipes",
    "zscore": "blend",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
