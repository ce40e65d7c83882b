"""Export a manifest (or split) to a HuggingFace ``datasets.DatasetDict``, on disk and as Hub-style Parquet.

Columns: ``id``, ``image`` (``Image()``), ``alpha`` (``Image(mode="L")``), the
foreground and background of COMP tracks ``fg`` and ``bg`` (``Image()``, when the
manifest has them), every trimap set ``trimap``, ``trimap2``, ... and other
trimap-like path columns such as AIM-500's ``usr`` (``Image(mode="L")``),
``category``, ``width``, ``height`` and provenance (``source``, the original
relative paths ``*_path`` and content hashes ``*_hash``, plus any extra manifest
columns as strings).

Split names are HuggingFace's: the manifest's ``val`` is exported as ``validation``,
the same through ``load_from_disk`` and the Parquet layout.

* ``image`` keeps the original file's bytes when it is an 8-bit RGB PNG or
  JPEG (so it decodes to the very same pixels), otherwise it is re-encoded as
  an 8-bit RGB PNG;
* ``alpha`` and ``trimap`` are re-encoded as 8-bit grey PNGs from the values
  :func:`~matting_data.io.read_alpha` / :func:`~matting_data.io.read_trimap`
  read (so an RGBA cut-out or an RGB-saved matte exports its true alpha).
  A 16-bit or float alpha is rounded to 8 bits (``Image(mode="L")`` is 8-bit).

:func:`export_hf` writes ``<out>/hf`` (``save_to_disk``) and/or (``format``) ``<out>/hub``:
``data/<split>-0000i-of-0000n.parquet`` shards plus a dataset card
``README.md`` whose YAML header declares the configs, features, license and
citation, i.e. the layout of a Hub dataset repository.  The rows are streamed
(:mod:`.hf_stream`): encoded and written in batches bounded by bytes, so the
export's memory does not grow with the number of samples.  Publishing is up to
you::

    dd = load_hf("out/hf")
    dd.push_to_hub("user/my-matting-set", private=True)   # needs `huggingface-cli login`

(or upload the ``hub`` folder with ``huggingface_hub.upload_folder``).  The
tests never push.
"""

from __future__ import annotations

import math
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..errors import InputError
from ..io import (
    check_output_dir,
    check_writable_dir,
    decode_bytes,
    encode_png,
    quantize,
    read_alpha,
    read_image,
    read_trimap,
    write_text_atomic,
)
from ..manifest import data_root, manifest_with_root, path_columns, resolve, trimap_columns
from .sources import GFM_BIBTEX

GFM_CITATION = GFM_BIBTEX  # the toolkit's paper, cited by every card
_DISK_SHARD_BYTES = 500e6  # datasets' save_to_disk default shard size (config.MAX_SHARD_SIZE, "500MB")

_SPLIT_OK = re.compile(r"^\w+(\.\w+)*$")
SPLIT_NAMES = {"val": "validation"}  # manifest split name -> HuggingFace split name
_RGB = ("image", "fg", "bg")


def _image_bytes(path: Path) -> bytes:
    """The file's bytes when they decode to 8-bit RGB (PNG/JPEG), else an RGB PNG of its pixels."""
    data = path.read_bytes()
    if path.suffix.lower() in (".png", ".jpg", ".jpeg"):
        arr = decode_bytes(data)
        if arr is not None and arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3:
            return data
    return encode_png(quantize(read_image(path)))


def _text(v: Any) -> str:
    return "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v)


def _encoded(column: str, path: Path, rel: str) -> dict[str, Any]:
    """One image feature value: RGB for ``image``/``fg``/``bg``, 8-bit grey for the alpha and trimaps."""
    if column in _RGB:
        return {"bytes": _image_bytes(path), "path": Path(rel).name}
    grey = quantize(read_alpha(path)) if column == "alpha" else read_trimap(path)
    return {"bytes": encode_png(grey), "path": Path(rel).with_suffix(".png").name}


def _example(row: dict[str, Any], root: Path, extra: Sequence[str], images: Sequence[str],
             paths: Sequence[str]) -> dict[str, Any]:
    ex: dict[str, Any] = {"id": row["id"]}
    for c in images:
        rel = _text(row.get(c))
        ex[c] = _encoded(c, resolve(root, rel), rel) if rel else None
    ex |= {"category": row["category"], "width": int(row["width"]), "height": int(row["height"]),
           "source": row["source"]}
    for c in paths:
        ex[f"{c}_path"] = _text(row.get(c))
        ex[f"{c}_hash"] = _text(row.get(f"{c}_hash"))
    for c in extra:
        ex[c] = _text(row[c])
    return ex


def _generate(rows: list[dict[str, Any]], root: str, extra: tuple[str, ...], images: tuple[str, ...],
              paths: tuple[str, ...]):
    for r in rows:
        yield _example(r, Path(root), extra, images, paths)


def image_columns(df: pd.DataFrame) -> list[str]:
    """The manifest columns exported as ``Image`` features: ``image``, ``alpha``, then ``fg`` and ``bg``
    and every trimap set (``trimap``, ``trimap2``, ...) and other path column (``usr``) with any file."""
    used = [c for c in path_columns(df) if c in ("image", "alpha") or df[c].map(_text).ne("").any()]
    order = ["image", "alpha", "fg", "bg", *trimap_columns(df)]
    return [c for c in order if c in used] + [c for c in used if c not in order]


def _columns(df: pd.DataFrame) -> tuple[list[str], list[str], list[str]]:
    """The manifest's (extra, image, path) columns: images and paths become features, extras stay values."""
    paths = path_columns(df)
    hashes = [f"{c}_hash" for c in paths]
    extra = [c for c in df.columns if c not in (*paths, *hashes, "id", "split", "category", "source",
                                                 "width", "height")]
    return extra, image_columns(df), paths


def _features(extra: Sequence[str], images: Sequence[str], paths: Sequence[str]):
    from datasets import Features, Image, Value

    f: dict[str, Any] = {"id": Value("string")}
    for c in images:
        f[c] = Image() if c in _RGB else Image(mode="L")
    f |= {"category": Value("string"), "width": Value("int64"), "height": Value("int64"), "source": Value("string")}
    for c in paths:
        f[f"{c}_path"] = Value("string")
        f[f"{c}_hash"] = Value("string")
    for c in extra:
        f[c] = Value("string")
    return Features(f)


def to_hf(
    manifest: pd.DataFrame | str | os.PathLike,
    root: str | os.PathLike | None = None,
    *,
    default_split: str = "train",
    splits: Sequence[str] | None = None,
    cache_dir: str | os.PathLike | None = None,
):
    """A ``datasets.DatasetDict`` with one dataset per manifest split (rows without a split go to ``default_split``).

    ``splits`` keeps only those splits.  The examples are generated into
    ``cache_dir`` (Arrow files; default: the HuggingFace cache).
    """
    from datasets import Dataset, DatasetDict

    df, r = manifest_with_root(manifest, root)
    df = _split_frames(df, default_split, splits)
    extra, images, paths = _columns(df)
    feats = _features(extra, images, paths)
    out = {}
    for split, part in df.groupby("split", sort=True):
        rows = part.to_dict(orient="records")
        out[split] = Dataset.from_generator(
            _generate, features=feats, cache_dir=str(cache_dir) if cache_dir else None,
            gen_kwargs={"rows": rows, "root": str(r.resolve()), "extra": tuple(extra), "images": tuple(images),
                        "paths": tuple(paths)},
            split=split,
        )
    return DatasetDict(out)


def _yaml_features(features) -> list[dict[str, Any]]:
    out = []
    for name, f in features.items():
        kind = type(f).__name__
        out.append({"name": name, "dtype": "image" if kind == "Image" else f.dtype})
    return out


def provenance(df: pd.DataFrame) -> dict[str, Any]:
    """What a dataset card states about how a manifest was made: its sources, composition recipes and seeds,
    and the split settings (from the manifest's ``source``, ``recipe``, ``seed``, ``split_*`` columns)."""
    def counts(col: str) -> dict[str, int]:
        if col not in df.columns:
            return {}
        vals = df[col].map(_text)
        return {str(k): int(v) for k, v in vals[vals != ""].value_counts().sort_index().items()}

    out: dict[str, Any] = {"sources": counts("source"), "recipes": counts("recipe")}
    out["seeds"] = sorted(counts("seed"), key=lambda x: (len(x), x))
    out["split"] = {k: sorted(counts(f"split_{k}")) for k in ("name", "seed") if counts(f"split_{k}")}
    return out


def _sources_text(prov: dict[str, Any]) -> tuple[str, list[str]]:
    """The card's "Source datasets" section and the BibTeX entries it cites."""
    from .sources import known_source

    lines, cites = [], []
    for src, n in prov.get("sources", {}).items():
        known = known_source(src)
        if known is not None:
            lines.append(f"- **{known.name}** (`{src}`, {n} examples): {known.terms}.")
            cites.append(known.bibtex)
        elif src.startswith("comp:"):
            lines.append(f"- `{src}` ({n} examples): composites made by matting-data recipe `{src[5:]}` from the "
                         "foregrounds and backgrounds named in `fg_id` / `bg_source`; the terms of *their* datasets "
                         "apply.")
        else:
            lines.append(f"- `{src}` ({n} examples): not a public dataset known to matting-data; its terms are "
                         "the owner's (state them in the description).")
    return "\n".join(lines) or "- not recorded (the manifest has no `source`).", cites


def _made_text(prov: dict[str, Any]) -> str:
    recipes = prov.get("recipes", {})
    made = f"- Toolkit: matting-data {__version__}.\n"
    if recipes:
        seeds = ", ".join(prov.get("seeds", [])) or "not recorded"
        made += ("- Composition recipe(s): " + ", ".join(f"`{r}` ({n} examples)" for r, n in recipes.items())
                 + f"; seeds: {seeds}.\n")
    else:
        made += "- Composition recipe: none (the images are the source photos, not composites).\n"
    split = prov.get("split", {})
    if split:
        made += ("- Split: " + "; ".join(f"{k} {', '.join(v)}" for k, v in split.items())
                 + " (see the split's JSON record).\n")
    return made


def _split_sizes(dd, features) -> tuple[dict[str, tuple[int, int]], Any]:
    """``({split: (examples, Arrow bytes)}, features)`` of a ``DatasetDict`` or of such a mapping + features."""
    sizes = {}
    for s, d in dd.items():
        sizes[str(s)] = (int(d[0]), int(d[1])) if isinstance(d, tuple) else (len(d), int(d.data.nbytes))
        if features is None and not isinstance(d, tuple):
            features = d.features
    if features is None:
        raise ValueError("dataset_card: pass features= with a {split: (examples, bytes)} mapping")
    return sizes, features


def dataset_card(
    dd, *, name: str, license: str = "other", description: str = "", citation: str = GFM_CITATION,
    source: str = "", provenance: dict[str, Any] | None = None, features=None,
) -> str:
    """The dataset card ``README.md``: YAML metadata (license, configs, features, splits) and the text.

    ``dd``: a ``DatasetDict``, or ``{split: (number of examples, Arrow bytes)}`` with ``features``
    (what the streaming export knows without holding the data).  With ``provenance`` (see
    :func:`provenance`) the card cites every source dataset with its terms of use, and states the
    toolkit version and the composition recipes and seeds.
    """
    import yaml

    sizes, features = _split_sizes(dd, features)
    splits = list(sizes)
    n = sum(k for k, _ in sizes.values())
    size = ("n<1K" if n < 1000 else "1K<n<10K" if n < 10_000 else "10K<n<100K" if n < 100_000 else "100K<n<1M")
    meta = {
        "license": license,
        "pretty_name": name,
        "task_categories": ["image-segmentation"],
        "tags": ["image-matting", "alpha-matte", "matting-data"],
        "size_categories": [size],
        "configs": [{"config_name": "default",
                     "data_files": [{"split": s, "path": f"data/{s}-*"} for s in splits]}],
        "dataset_info": {"features": _yaml_features(features),
                         "splits": [{"name": s, "num_bytes": sizes[s][1], "num_examples": sizes[s][0]}
                                    for s in splits]},
    }
    prov = provenance or {"sources": {s: 0 for s in source.split(", ") if s}}
    sources, cites = _sources_text(prov)
    bib = [citation.strip()] + [c for c in dict.fromkeys(cites) if c.strip() != citation.strip()]
    grey = [c for c, f in features.items() if type(f).__name__ == "Image" and c not in ("image", "alpha")]
    counts = "\n".join(f"| {s} | {sizes[s][0]} |" for s in splits)
    return (
        "---\n" + yaml.safe_dump(meta, sort_keys=False) + "---\n\n"
        f"# {name}\n\n{description or 'An image-matting dataset exported with matting-data.'}\n\n"
        f"Exported with matting-data {__version__}.\n\n"
        "## Source datasets\n\n" + sources + "\n\n"
        "## How it was made\n\n" + _made_text(prov) + "\n"
        "## Splits\n\n| split | examples |\n|---|---|\n" + counts + "\n\n"
        "The manifest's `val` split is named `validation` here (HuggingFace's name), in `save_to_disk` and "
        "Parquet alike.\n\n"
        "## Columns\n\n"
        "- `image`: the photo or composite (RGB); `alpha`: the alpha matte (8-bit grey, 255 = opaque).\n"
        + (f"- Also images: {', '.join(f'`{c}`' for c in grey)} (`fg`/`bg`: a composite's foreground and "
           "background, RGB; `trimap`, `trimap2`, ...: one trimap set each, 0 background, 128 unknown, "
           "255 foreground).\n" if grey else "")
        + "- `category`, `width`, `height`; provenance: `source`, `*_path` (original relative paths) and\n"
        "  `*_hash` (sha256 of the original files).\n\n"
        "## Usage\n\n```python\nfrom datasets import load_dataset\n"
        "dd = load_dataset(\"path/to/this/folder\")  # or the Hub repo id after push_to_hub\n```\n\n"
        f"## License\n\nThis export: `{license}`. The source datasets' own terms (above) apply to their images "
        "and mattes: check them before redistributing.\n\n"
        "## Citation\n\n```bibtex\n" + "\n\n".join(bib) + "\n```\n"
    )


EXPORT_MARKER = ".matting-data-export"
MARKER_TEXT = "written by matting-data dataset export; the folder is replaced by the next export\n"


def _check_own_export(folder: Path) -> None:
    """Refuse to replace ``folder`` unless it is absent or an earlier export (it holds the marker file)."""
    if not (folder.exists() or folder.is_symlink()):
        return
    if folder.is_symlink() or not folder.is_dir() or not (folder / EXPORT_MARKER).is_file():
        raise InputError(
            f"{folder}: exists and is not an earlier matting-data export (no {EXPORT_MARKER} file); "
            "it is not replaced: choose another output folder or move it away"
        )


def export_hf(
    manifest: pd.DataFrame | str | os.PathLike,
    root: str | os.PathLike | None,
    out_dir: str | os.PathLike,
    *,
    name: str = "matting-dataset",
    license: str = "other",
    description: str = "",
    citation: str = GFM_CITATION,
    default_split: str = "train",
    splits: Sequence[str] | None = None,
    max_shard_mb: float = 500.0,
    format: str = "both",
    batch_mb: float = 64.0,
    progress: bool = True,
) -> dict[str, Any]:
    """Export to ``<out_dir>/hf`` (``save_to_disk``) and/or ``<out_dir>/hub`` (Parquet shards + ``README.md``).

    Parameters
    ----------
    format : ``"both"`` (default), ``"disk"`` (only ``hf``, loadable with ``datasets.load_from_disk``)
        or ``"hub"`` (only ``hub``: Parquet shards and the dataset card, the layout of a Hub dataset
        repository).  The folder not asked for is neither written nor touched.
    max_shard_mb : Parquet shards hold at most about this many MB each (Arrow size of their rows;
        one example larger than that gets a shard of its own).  ``save_to_disk`` shards: 500 MB,
        as ``datasets`` writes them.
    batch_mb : the examples are encoded and written in batches of at most about this many MB
        (at least one example), the bound on the memory the export holds: peak memory does not
        grow with the number of examples.  It is also the Parquet row group size.

    Returns ``{"disk": ..., "hub": ..., "card": ..., "stats": {"max_batch_rows": ...}}`` (the
    paths of what was written).  An earlier export (its folders carry the :data:`EXPORT_MARKER`
    file) is replaced; ``hf``/``hub`` folders without the marker are the user's and are never
    deleted (:class:`InputError`).  ``out_dir`` may not be, hold or lie inside the manifest or
    its root (by default the root the manifest records).  The card cites the source datasets and
    states the recipes (:func:`provenance`).  ``progress=False`` hides the progress bars.
    """
    for what, v in (("--max-shard-mb", max_shard_mb), ("batch_mb", batch_mb)):
        if not (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0):
            raise InputError(f"{what} must be a number > 0, got {v!r}")
    if format not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}, got {format!r}")
    src = manifest if isinstance(manifest, (str, os.PathLike)) else None
    check_output_dir(out_dir, src, root if root is not None else (data_root(src)[0] if src else None), what="out")
    out = check_writable_dir(out_dir, what="out")
    kinds = {"both": ("hf", "hub"), "disk": ("hf",), "hub": ("hub",)}[format]
    for k in kinds:
        for folder in (out / k, out / f".{k}.part"):
            _check_own_export(folder)
    df, r = manifest_with_root(manifest, root, "export")
    kept = df.assign(split=df["split"].replace("", default_split).replace(SPLIT_NAMES))
    if splits is not None:
        kept = kept[kept["split"].isin([SPLIT_NAMES.get(x, x) for x in splits])]
    return _export(df, r, out, provenance(kept), name=name, license=license, description=description,
                   citation=citation, default_split=default_split, splits=splits, max_shard_mb=max_shard_mb,
                   fmt=format, batch_bytes=batch_mb * 2**20, progress=progress)


FORMATS = ("both", "disk", "hub")  #: what :func:`export_hf` writes: ``hf`` and ``hub``, or one of them


def _rows(part: pd.DataFrame, chunk: int = 1000):
    """The rows of ``part`` as dicts, ``chunk`` at a time (never all of them at once)."""
    for i in range(0, len(part), chunk):
        yield from part.iloc[i:i + chunk].to_dict(orient="records")


def _split_frames(df: pd.DataFrame, default_split: str, splits: Sequence[str] | None) -> pd.DataFrame:
    """``df`` with HuggingFace split names, only ``splits``; checked as :func:`to_hf` checks it."""
    df = df.copy()
    df.loc[df["split"] == "", "split"] = default_split
    df["split"] = df["split"].replace(SPLIT_NAMES)
    if splits is not None:
        wanted = [SPLIT_NAMES.get(s, s) for s in splits]
        missing = sorted(set(wanted) - set(df["split"]))
        if missing:
            raise InputError(f"split(s) {missing} not in the manifest (it has {sorted(set(df['split']))})")
        df = df[df["split"].isin(wanted)]
    if df.empty:
        raise InputError("nothing to export: the manifest is empty")
    bad = sorted(s for s in set(df["split"]) if not _SPLIT_OK.match(s))
    if bad:
        raise InputError(f"split names {bad} are not valid HuggingFace split names (letters, digits, _ and .)")
    return df


def _write_splits(df: pd.DataFrame, root: Path, disk_part: Path | None, hub_part: Path | None, feats,
                  columns: tuple[list[str], list[str], list[str]], *, max_shard_mb: float, batch_bytes: float,
                  progress: bool) -> tuple[dict[str, tuple[int, int]], dict[str, Any]]:
    """Stream every split of ``df`` into the staging folders; ``({split: (examples, bytes)}, stats)``."""
    from tqdm.auto import tqdm

    from .hf_stream import ShardTarget, fingerprint, stream_examples, write_disk_metadata

    extra, images, paths = columns
    hashes = [f"{c}_hash" for c in paths if f"{c}_hash" in df.columns]
    sizes: dict[str, tuple[int, int]] = {}
    stats: dict[str, Any] = {"max_batch_rows": 0}
    for split, part_df in df.groupby("split", sort=True):
        split = str(split)
        targets = []
        if disk_part is not None:
            targets.append(ShardTarget(disk_part / split, "data", "arrow", feats, _DISK_SHARD_BYTES))
        if hub_part is not None:
            targets.append(ShardTarget(hub_part / "data", split, "parquet", feats, max_shard_mb * 1e6))
        examples = (_example(r, root, extra, images, paths) for r in _rows(part_df))
        bar = tqdm(examples, total=len(part_df), desc=f"export {split}", unit="example", disable=not progress)
        st = stream_examples(bar, feats, targets, batch_bytes=batch_bytes)
        stats["max_batch_rows"] = max(stats["max_batch_rows"], st["max_batch_rows"])
        sizes[split] = (st["num_examples"], st["num_bytes"])
        files = [t.close() for t in targets]
        if disk_part is not None:
            keys = (str(v) for r in _rows(part_df[["id", *paths, *hashes]]) for v in r.values())
            write_disk_metadata(disk_part / split, split, files[0], feats, *sizes[split], fingerprint(split, keys))
    return sizes, stats


def _export(df: pd.DataFrame, root: Path, out: Path, prov: dict[str, Any], *, name: str, license: str,
            description: str, citation: str, default_split: str, splits: Sequence[str] | None,
            max_shard_mb: float, fmt: str, batch_bytes: float, progress: bool) -> dict[str, Any]:
    """The writing half of :func:`export_hf` (its checks done): one pass over the images, streamed."""
    from .hf_stream import write_dataset_dict

    df = _split_frames(df, default_split, splits)
    extra, images, paths = _columns(df)
    feats = _features(extra, images, paths)
    disk_part = out / ".hf.part" if fmt in ("both", "disk") else None
    hub_part = out / ".hub.part" if fmt in ("both", "hub") else None
    for part in (disk_part, hub_part):
        if part is not None:
            shutil.rmtree(part, ignore_errors=True)
            part.mkdir()
            (part / EXPORT_MARKER).write_text(MARKER_TEXT)
    try:
        sizes, stats = _write_splits(df, root.resolve(), disk_part, hub_part, feats, (extra, images, paths),
                                     max_shard_mb=max_shard_mb, batch_bytes=batch_bytes, progress=progress)
    except BaseException:
        for part in (disk_part, hub_part):
            if part is not None:
                shutil.rmtree(part, ignore_errors=True)
        raise
    result: dict[str, Any] = {"stats": stats}
    if disk_part is not None:
        write_dataset_dict(disk_part, list(sizes))
        shutil.rmtree(out / "hf", ignore_errors=True)
        os.replace(disk_part, out / "hf")
        result["disk"] = out / "hf"
    if hub_part is not None:
        write_text_atomic(hub_part / "README.md", dataset_card(sizes, features=feats, name=name, license=license,
                                                               description=description, citation=citation,
                                                               provenance=prov))
        shutil.rmtree(out / "hub", ignore_errors=True)
        os.replace(hub_part, out / "hub")
        result |= {"hub": out / "hub", "card": out / "hub" / "README.md"}
    return result


def load_hf(path: str | os.PathLike, cache_dir: str | os.PathLike | None = None):
    """Load an export back: a ``save_to_disk`` folder, or a Hub-layout folder (Parquet + README.md)."""
    from datasets import load_dataset, load_from_disk

    p = Path(path)
    if (p / "dataset_dict.json").is_file() or (p / "dataset_info.json").is_file():
        return load_from_disk(str(p))
    if (p / "README.md").is_file() and (p / "data").is_dir():
        return load_dataset(str(p), cache_dir=str(cache_dir) if cache_dir else None)
    raise InputError(f"{p}: neither a save_to_disk folder nor a Hub-layout export (README.md + data/)")
