"""``matting-data report``: rebuild the reports of a finished leaderboard run, without recomputing anything."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "report",
        help="rebuild a leaderboard run's reports (html, latex, md, csv, json) from its folder",
        description=(
            "Read RUN_DIR/leaderboard.json and the per-image CSVs of a finished `matting-data leaderboard` "
            "run and write the chosen reports beside them: leaderboard.md, leaderboard.csv (+ groups.csv), "
            "leaderboard.html (self-contained page with plots and per-image thumbnails), leaderboard.tex "
            "(booktabs). No model is run and nothing is scored again."
        ),
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="folder of a finished leaderboard run")
    p.add_argument("--report", default="html,latex,md,csv,json", help="formats (default: all)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..pipelines.report import build_reports

    written = build_reports(args.run_dir, args.report)
    print("wrote " + ", ".join(str(p) for p in written.values()))
    return 0
