"""``matting-data report``: rebuild the reports of a finished leaderboard or ablation run, or merge leaderboard
runs, without recomputing."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..run_contract import Contract, register


def add_parser(subparsers) -> None:
    from ..pipelines.report.formats import REGISTRY, formats_help

    p = subparsers.add_parser(
        "report",
        help=f"rebuild a leaderboard or ablation run's reports ({', '.join(REGISTRY)}), or merge leaderboard runs",
        description=(
            "Read the record of a finished run, RUN_DIR/leaderboard.json and its per-image CSVs (`matting-data "
            "leaderboard`) or RUN_DIR/ablation.json (`matting-data ablation`), and write the chosen reports "
            "beside it: " + "; ".join(f"{f.name}: {f.writes}" for f in REGISTRY.values()) + ". "
            "No model is trained or run and nothing is scored again. With several leaderboard RUN_DIRs and "
            "--merge-into OUT, runs on the same track (same protocols, trimap sets and bootstrap settings, "
            "checked) become one leaderboard in OUT."
        ),
    )
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="folder(s) of finished leaderboard or ablation runs")
    p.add_argument("--report", default="all", help=f"formats: {formats_help()} (default: all)")
    p.add_argument("--latex-metrics", default=None, metavar="M1,M2",
                   help="metrics of the LaTeX tables, e.g. sad,mse,grad,conn (default: all, split so each "
                        "table fits a page)")
    p.add_argument("--merge-into", default=None, metavar="OUT",
                   help="merge the leaderboard runs into this new folder (not for ablations)")
    p.add_argument("--screenshot", default=None, metavar="PNG",
                   help="also render the html report (leaderboard.html or ablation.html) to this PNG with headless "
                        "Chromium (e.g. for a README)")
    p.set_defaults(func=run)
    register(p, Contract(inputs=("run_dirs",), out="merge_into", out_required=False))


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..pipelines.benchmark.record import find_record
    from ..pipelines.report import build_reports, parse_formats
    from ..run_contract import damaged_files

    kinds = {find_record(d) for d in args.run_dirs}
    formats = parse_formats(args.report, "ablation" if kinds == {"ablation"} else None)

    for run_dir in args.run_dirs:  # a damaged record or table of a run is named before any work
        bad = damaged_files(Path(run_dir), limit=1)
        if bad:
            raise InputError(f"{bad[0][0]}: {bad[0][1]}; the run {run_dir} cannot be reported")
    if args.merge_into is not None:
        ablations = [d for d in args.run_dirs if find_record(d) == "ablation"]
        if ablations:
            raise InputError(f"--merge-into merges leaderboard runs; {ablations[0]} is an ablation run "
                             "(report it alone: matting-data report RUN_DIR)")
        from ..pipelines.leaderboard import merge_runs

        merge_runs(args.run_dirs, args.merge_into, reports=formats)
        print(f"merged {len(args.run_dirs)} runs into {args.merge_into} ({', '.join(formats)})")
        return 0
    if len(args.run_dirs) != 1:
        raise InputError("give one RUN_DIR, or several with --merge-into OUT")
    if args.screenshot and "html" not in formats:
        raise InputError("--screenshot needs the html report (--report html,...)")
    if args.screenshot:
        shot = Path(args.screenshot)
        if shot.suffix.lower() != ".png":
            raise InputError(f"--screenshot {shot}: a screenshot is a .png file")
        if shot.exists() and not args.overwrite:
            raise InputError(f"--screenshot {shot}: exists; pass --overwrite to replace it")
    chosen = [m.strip() for m in args.latex_metrics.split(",") if m.strip()] if args.latex_metrics else None
    written = build_reports(args.run_dirs[0], formats, latex_metrics=chosen)
    if args.screenshot:
        from ..pipelines.report.html import render_png

        written["png"] = render_png(written["html"], args.screenshot)
    print("wrote " + ", ".join(str(p) for p in written.values()))
    return 0
