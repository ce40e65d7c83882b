"""``matting-data report``: rebuild the reports of a finished leaderboard run, or merge runs, without recomputing."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "report",
        help="rebuild a leaderboard run's reports (html, latex, md, csv, json), or merge runs",
        description=(
            "Read RUN_DIR/leaderboard.json and the per-image CSVs of a finished `matting-data leaderboard` "
            "run and write the chosen reports beside them: leaderboard.md, leaderboard.csv (+ groups.csv), "
            "leaderboard.html (self-contained page with plots and per-image thumbnails), leaderboard.tex "
            "(booktabs). No model is run and nothing is scored again. With several RUN_DIRs and "
            "--merge-into OUT, runs on the same track (same protocols, trimap sets and bootstrap settings, "
            "checked) become one leaderboard in OUT."
        ),
    )
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="folder(s) of finished leaderboard runs")
    p.add_argument("--report", default="html,latex,md,csv,json", help="formats (default: all)")
    p.add_argument("--latex-metrics", default=None, metavar="M1,M2",
                   help="metrics of the LaTeX tables, e.g. sad,mse,grad,conn (default: all, split so each "
                        "table fits a page)")
    p.add_argument("--merge-into", default=None, metavar="OUT", help="merge the runs into this new folder")
    p.add_argument("--screenshot", default=None, metavar="PNG",
                   help="also render leaderboard.html to this PNG with headless Chromium (e.g. for a README)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..pipelines.report import build_reports, parse_formats

    formats = parse_formats(args.report)
    if args.merge_into is not None:
        from ..pipelines.leaderboard import merge_runs

        merge_runs(args.run_dirs, args.merge_into, reports=formats)
        print(f"merged {len(args.run_dirs)} runs into {args.merge_into} ({', '.join(formats)})")
        return 0
    if len(args.run_dirs) != 1:
        raise InputError("give one RUN_DIR, or several with --merge-into OUT")
    if args.screenshot and "html" not in formats:
        raise InputError("--screenshot needs the html report (--report html,...)")
    chosen = [m.strip() for m in args.latex_metrics.split(",") if m.strip()] if args.latex_metrics else None
    written = build_reports(args.run_dirs[0], formats, latex_metrics=chosen)
    if args.screenshot:
        from ..pipelines.report.html import render_png

        written["png"] = render_png(written["html"], args.screenshot)
    print("wrote " + ", ".join(str(p) for p in written.values()))
    return 0
