"""``python -m recsys_utils ...``: see ``recsys_utils.cli``."""

from recsys_utils.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
