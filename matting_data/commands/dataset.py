"""``matting-data dataset ingest|split|privacy|export``: adapters, splits, privacy and HuggingFace export."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import InputError
from ..run_contract import Contract, register
from . import SEED, WORKERS, LazyChoices, add_backend_arguments


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _sizes(text: str) -> dict[str, float | int]:
    out: dict[str, float | int] = {}
    for part in _csv(text):
        if "=" not in part:
            raise InputError(f"--sizes: expected name=value pairs like train=0.9,val=0.1, got {part!r}")
        k, v = part.split("=", 1)
        try:
            out[k.strip()] = int(v) if v.strip().isdigit() else float(v)
        except ValueError:
            raise InputError(f"--sizes: {v!r} is not a number") from None
    return out


#: the face detectors of ``datasets.privacy.CASCADES`` (named here so the CLI starts without that module; tested)
DETECTOR_NAMES = "frontal, frontal_alt2, profile"


def add_parser(sub: argparse._SubParsersAction) -> None:
    layouts = LazyChoices("matting_data.datasets.adapters", "LAYOUTS")
    methods = LazyChoices("matting_data.datasets.privacy", "METHODS")
    schemes = LazyChoices("matting_data.datasets.splits", "TRIMAP_SCHEMES")

    p = sub.add_parser("dataset", help="ingest public dataset layouts, build splits, privacy splits, HF export",
                       description="Dataset tools: ingest a layout into a manifest (with a validation report), "
                       "build seeded stratified splits, build P3M-style privacy splits, export to HuggingFace.")
    dsub = p.add_subparsers(dest="dataset_command", metavar="ACTION")
    dsub.required = True

    q = dsub.add_parser("ingest", help="read a dataset layout into a manifest; report every problem at once")
    q.add_argument("layout", choices=layouts, metavar="LAYOUT", help="dataset layout: %(choices)s")
    q.add_argument("root", help="dataset root folder")
    q.add_argument("--out", help="manifest path, anywhere (default: ROOT/manifest.parquet, or ROOT/NAME.parquet with "
                   "--track NAME); its paths stay relative to ROOT, which the manifest records")
    q.add_argument("--absolute-root", action="store_true",
                   help="record ROOT as an absolute path (default: relative to the manifest's folder)")
    q.add_argument("--report", help="validation report path (.json or .csv; default: beside the manifest)")
    q.add_argument("--allow-problems", action="store_true",
                   help="write the manifest of the good samples even when problems were found")
    q.add_argument("--categories", help="JSON {id: category} or CSV id,category (am2k, folders)")
    q.add_argument("--types-json", help="AIM-500 type/category JSON (default: the one JSON in ROOT)")
    q.add_argument("--resolution", default="lowres", choices=["lowres", "highres"], help="alphamatting set")
    q.add_argument("--trimap", default="Trimap1", choices=["Trimap1", "Trimap2"], help="alphamatting trimap")
    q.add_argument("--split", default="", help="split name for every row (folders layout)")
    q.add_argument("--track", metavar="NAME", help="also save an ORI track: NAME.track.json beside the manifest "
                   "(several tracks may share a folder; an existing track is never replaced by other settings)")
    q.add_argument("--workers", type=int, default=1, help="worker processes for checking files")
    add_backend_arguments(q)
    q.add_argument("--no-progress", action="store_true", help="hide progress bars")
    q.set_defaults(func=run_ingest)
    register(q, Contract(inputs=("root", "categories", "types_json"), out_kind="file", out_required=False,
                         outside_ok=True, bounds={"workers": WORKERS}))

    s = dsub.add_parser("split", help="seeded, category-stratified split with fixed evaluation trimaps")
    s.add_argument("manifest", help="input manifest (.parquet or .csv)")
    s.add_argument("--root", help="folder the manifest's paths are relative to (default: its folder)")
    s.add_argument("--sizes", default="train=0.9,val=0.1", help="fractions or counts (default: %(default)s)")
    s.add_argument("--seed", type=int, default=0, help="split seed (default: %(default)s)")
    s.add_argument("--stratify", default="category", help="column to stratify on, or 'none'")
    s.add_argument("--name", default="split", help="split name: NAME.parquet, NAME.json, NAME_trimaps/")
    s.add_argument("--out-root", help="write the split here (files are hard-linked; default: the root)")
    s.add_argument("--eval-splits", default="val,test", help="splits that get evaluation trimaps")
    s.add_argument("--trimap-scheme", default="tt", choices=schemes, metavar="SCHEME",
                   help="evaluation trimap scheme: %(choices)s (default: %(default)s)")
    s.add_argument("--trimap-kernel", type=int, help="kernel size in px (default: the scheme's)")
    s.add_argument("--workers", type=int, default=1)
    add_backend_arguments(s)
    s.add_argument("--no-progress", action="store_true", help="hide progress bars")
    s.set_defaults(func=run_split)
    register(s, Contract(inputs=("manifest",), roots=("root",), out="out_root",
                         bounds={"seed": SEED, "trimap_kernel": (1, 1001), "workers": WORKERS}))

    v = dsub.add_parser("privacy", help="P3M-style face obfuscation: train_B/train_N/test_P/test_NP splits")
    v.add_argument("manifest", help="input manifest")
    v.add_argument("out", help="output folder (new manifest, obfuscated images, privacy_record.json)")
    v.add_argument("--root", help="folder the manifest's paths are relative to (default: its folder)")
    v.add_argument("--method", default="blur", choices=methods, metavar="METHOD",
                   help="obfuscation: %(choices)s (default: %(default)s)")
    v.add_argument("--strength", type=float, default=1.0, help="obfuscation strength (default: %(default)s)")
    v.add_argument("--expand", type=float, default=0.1, help="enlarge the face ellipse by this fraction")
    v.add_argument("--margin", type=int, default=0, help="grow the kept transition area by this many px")
    v.add_argument("--detectors", default="frontal", help=f"comma list of {DETECTOR_NAMES}")
    v.add_argument("--train-splits", default="train", help="splits used for training (default: %(default)s)")
    v.add_argument("--test-splits", default="test,val", help="splits used for testing (default: %(default)s)")
    v.add_argument("--workers", type=int, default=1)
    add_backend_arguments(v)
    v.add_argument("--no-progress", action="store_true", help="hide progress bars")
    v.set_defaults(func=run_privacy)
    register(v, Contract(inputs=("manifest",), roots=("root",), bounds={"strength": (0, 100), "expand": (0, 10),
                                                                       "margin": (0, 10_000), "workers": WORKERS}))

    e = dsub.add_parser("export", help="export to a HuggingFace DatasetDict (save_to_disk + Hub Parquet + card)")
    e.add_argument("manifest", help="input manifest")
    e.add_argument("out", help="output folder: OUT/hf (save_to_disk) and/or OUT/hub (Parquet shards + README.md)")
    e.add_argument("--format", default="both", choices=["both", "disk", "hub"],
                   help="what to write: disk = OUT/hf only, hub = OUT/hub only, both (default: %(default)s)")
    e.add_argument("--root", help="folder the manifest's paths are relative to (default: its folder)")
    e.add_argument("--name", default="matting-dataset", help="dataset name in the card")
    e.add_argument("--license", default="other", help="license id for the card (default: %(default)s)")
    e.add_argument("--description", default="", help="card description")
    e.add_argument("--splits", help="comma list of splits to export (default: all)")
    e.add_argument("--default-split", default="train", help="split for rows without one")
    e.add_argument("--max-shard-mb", default="500", help="Parquet shard size in MB, > 0 (default: %(default)s)")
    e.add_argument("--no-progress", action="store_true", help="hide progress bars")
    e.set_defaults(func=run_export)
    register(e, Contract(inputs=("manifest",), roots=("root",)))


def run_ingest(args: argparse.Namespace) -> int:
    from ..datasets.adapters import ingest
    from ..datasets.track import ori_track
    from ..manifest import save_manifest

    kw: dict = {"workers": args.workers, "progress": not args.no_progress}
    if args.layout in ("am2k", "folders"):
        kw["categories"] = args.categories
    if args.layout == "folders":
        kw["split"] = args.split
    if args.layout == "aim500":
        kw["types_json"] = args.types_json
    if args.layout == "alphamatting":
        kw |= {"resolution": args.resolution, "trimap": args.trimap}
    default = f"{args.track}.parquet" if args.track else "manifest.parquet"
    out = Path(args.out) if args.out else Path(args.root) / default
    report = Path(args.report) if args.report else out.with_name(out.stem + "_report.json")
    _check_ingest_outputs(args, out, report)
    desc = _check_track_descriptor(args, out)
    ing = ingest(args.layout, args.root, **kw)
    ing.report.save(report)
    if not ing.report.ok:
        print(ing.report.summary(), file=sys.stderr)
        if not args.allow_problems:
            raise InputError(f"{len(ing.report.problems)} problem(s) in {args.root}; report: {report} "
                             "(pass --allow-problems to write the manifest of the good samples)")
    if ing.manifest.empty:
        raise InputError(f"{args.root}: no usable samples found for layout {args.layout}; report: {report}")
    _check_tracks_kept(out, ing.manifest)
    pq, _ = save_manifest(ing.manifest, out, root=ing.root, absolute_root=args.absolute_root)
    print(f"{len(ing.manifest)} samples -> {pq} (paths relative to {ing.root}, recorded in it); report: {report}")
    if args.track and desc is not None:
        ori_track(args.track, ing.root, manifest=Path(pq).name, home=Path(pq).parent, descriptor=desc,
                  absolute_root=args.absolute_root, replace=False)
        print(f"ORI track {args.track!r} -> {desc}")
    return 0


def _check_track_descriptor(args: argparse.Namespace, out: Path) -> Path | None:
    """Before any work: ``--track NAME``'s descriptor ``NAME.track.json`` beside the manifest may exist only
    when it describes this very manifest and data root (a rerun)."""
    from ..datasets.track import load_track, track_file

    if not args.track:
        return None
    desc = track_file(out.parent, args.track)
    if desc.exists():
        old = load_track(desc)
        stem = out.with_suffix("") if out.suffix else out
        same_manifest = Path(old.manifest).with_suffix("").name == stem.name
        if not same_manifest or Path(old.root).resolve() != Path(args.root).resolve():
            raise InputError(f"{desc}: track {args.track!r} already exists over {old.home / old.manifest} "
                             f"(data root {old.root}); not replaced: choose another --track name")
    return desc


def _check_tracks_kept(out: Path, new) -> None:
    """A manifest that a saved track reads is replaced only by the same samples (same files and hashes):
    re-ingesting with other settings (another --trimap) must not silently change a track."""
    import pandas as pd

    from ..datasets.track import tracks_using
    from ..manifest import normalise, path_columns

    users = tracks_using(out)
    pq = (out.with_suffix("") if out.suffix else out).with_suffix(".parquet")
    if not users or not pq.is_file():
        return
    old = normalise(pd.read_parquet(pq))
    cols = sorted({"id", "split", *path_columns(old), *path_columns(new)})
    cols = [c for c in cols if c in old.columns or c in new.columns]
    cols += [f"{c}_hash" for c in cols if f"{c}_hash" in old.columns or f"{c}_hash" in new.columns]

    def key(df: pd.DataFrame) -> list:
        return sorted(tuple(str(r.get(c, "")) for c in cols) for r in df.to_dict("records"))

    if key(old) != key(new):
        names = ", ".join(p.name for p in users)
        raise InputError(f"{pq}: is the manifest of track(s) {names}, and this ingest gives other samples or "
                         "files (e.g. another --trimap); not replaced: pass another --out or --track name")


def _check_ingest_outputs(args: argparse.Namespace, out: Path, report: Path) -> None:
    """Before any work: the manifest's folder (and ROOT for --track) must be writable, and an existing
    manifest is replaced only when it is an earlier ingest's (its report is beside it)."""
    from ..io import check_writable_dir

    if not Path(args.root).is_dir():
        return  # the adapter names the missing folder
    check_writable_dir(out.parent, what="manifest folder" if args.out else
                       "dataset folder (default --out; pass --out DIR/manifest.parquet for a read-only dataset)")
    if out.suffix not in (".parquet", ".csv", ""):
        raise InputError(f"--out {out}: a manifest path ends in .parquet or .csv")
    stem = out.with_suffix("") if out.suffix else out
    for existing in (stem.with_suffix(".parquet"), stem.with_suffix(".csv")):
        if existing.exists() and not report.is_file():
            raise InputError(f"{existing}: exists and is not an earlier ingest's manifest (no {report.name} beside "
                             "it); not overwritten: pass another --out")


def run_split(args: argparse.Namespace) -> int:
    from ..datasets.splits import build_split

    stratify = None if args.stratify.lower() == "none" else args.stratify
    sp = build_split(args.manifest, args.root, sizes=_sizes(args.sizes), seed=args.seed, stratify=stratify,
                     name=args.name, out_root=args.out_root, eval_splits=_csv(args.eval_splits),
                     trimap_scheme=args.trimap_scheme, trimap_kernel=args.trimap_kernel, workers=args.workers,
                     progress=not args.no_progress)
    counts = ", ".join(f"{k} {v}" for k, v in sp.info["counts"].items())
    print(f"split {args.name!r} (seed {args.seed}): {counts}; {sp.info['stratify_note']} -> {sp.path}")
    return 0


def run_privacy(args: argparse.Namespace) -> int:
    from ..datasets.privacy import RECORD, build_privacy_splits

    df = build_privacy_splits(args.manifest, args.root, args.out, train_splits=_csv(args.train_splits),
                              test_splits=_csv(args.test_splits), method=args.method, strength=args.strength,
                              expand=args.expand, margin=args.margin, detectors=_csv(args.detectors),
                              workers=args.workers, progress=not args.no_progress)
    counts = ", ".join(f"{k} {v}" for k, v in df.groupby("split").size().items())
    print(f"privacy splits: {counts} -> {Path(args.out) / 'manifest.parquet'}; record: {Path(args.out) / RECORD}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from ..datasets.hf_export import export_hf

    try:
        shard_mb = float(args.max_shard_mb)
    except ValueError:
        raise InputError(f"--max-shard-mb must be a number > 0, got {args.max_shard_mb!r}") from None
    paths = export_hf(args.manifest, args.root, args.out, name=args.name, license=args.license,
                      description=args.description, default_split=args.default_split,
                      splits=_csv(args.splits) if args.splits else None, max_shard_mb=shard_mb,
                      format=args.format, progress=not args.no_progress)
    wrote = [f"{paths['disk']} (save_to_disk)"] if "disk" in paths else []
    wrote += [f"{paths['hub']} (Parquet + dataset card)"] if "hub" in paths else []
    print(f"exported: {', '.join(wrote)}")
    return 0
