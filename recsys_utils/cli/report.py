"""``python -m recsys_utils report``: run the notebooks and write offline HTML reports.

What ``make report`` runs (``REPORT_ARGS`` pass through). The work is ``app.report``;
this module only parses the command line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers) -> None:
    from recsys_utils.constants import REPORTS_DIR

    parser = subparsers.add_parser(
        "report",
        help="run the notebooks in order and write offline HTML reports to reports/",
        description="Run notebooks/NN_*.ipynb in order and write reports/NN_name.html, "
        "reports/executed/NN_name.ipynb and reports/index.html. A failing notebook "
        "leaves the previous good report in place.",
    )
    parser.add_argument("--keep-code", action="store_true", help="show code cells in the HTML")
    parser.add_argument(
        "--only", nargs="+", metavar="NAME", help="notebooks to run, e.g. 01_data_cleaning"
    )
    parser.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="set a name the notebooks' parameters cell declares; VALUE is a Python "
        "literal (3, 0.1, [1, 2]) or else a string, never run",
    )
    parser.add_argument("--out", type=Path, default=REPORTS_DIR, help="reports folder")
    parser.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    from recsys_utils.app import report

    parameters = {name: report.parse_literal(value) for name, value in args.parameter}
    try:
        report.build_report(args.only, args.out, parameters, keep_code=args.keep_code)
    except report.NotebookError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0
