"""recsys_utils: the package behind the movie-embeddings workbench notebooks.

Import the submodule you need (``from recsys_utils import data, models``); nothing
heavy is imported here so ``python -m recsys_utils --help`` stays fast.
"""

__version__ = "0.1.0"
