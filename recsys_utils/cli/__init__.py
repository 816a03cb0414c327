"""The command line: ``python -m recsys_utils {data|train|sweep|recommend|similar|bench|report} ...``.

Each command group lives in its own module of this package and exposes
``register(subparsers)``, which adds its parsers and sets ``func(args) -> int``.
Modules are imported only to build the parser; heavy imports (torch, optuna) happen
inside the command functions so ``--help`` stays quick. Public API: ``main`` (what
``python -m recsys_utils`` runs) and ``build_parser``; everything else, the command
modules included, is internal: the commands themselves are the interface.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from recsys_utils.constants import printable

__all__ = ["build_parser", "main"]

COMMAND_MODULES = ("data", "train", "sweep", "recommend", "bench", "report")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m recsys_utils",
        description="Movie-embeddings workbench: data, training, sweeps, recommendations, benchmarks.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as err:  # a command group not written yet
            if err.name != f"{__name__}.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the command; user errors print one line and return 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, KeyError, FileNotFoundError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"error: {printable(message)}", file=sys.stderr)  # titles in it are data
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
