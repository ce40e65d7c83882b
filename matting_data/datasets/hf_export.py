"""Export a manifest (or split) to a HuggingFace ``datasets.DatasetDict``, on disk and as Hub-style Parquet.

Columns: ``id``, ``image`` (``Image()``), ``alpha`` and ``trimap``
(``Image(mode="L")``), ``category``, ``width``, ``height`` and provenance
(``source``, the original relative paths ``*_path`` and content hashes
``*_hash``, plus any extra manifest columns as strings).

* ``image`` keeps the original file's bytes when it is an 8-bit RGB PNG or
  JPEG (so it decodes to the very same pixels), otherwise it is re-encoded as
  an 8-bit RGB PNG;
* ``alpha`` and ``trimap`` are re-encoded as 8-bit grey PNGs from the values
  :func:`~matting_data.io.read_alpha` / :func:`~matting_data.io.read_trimap`
  read (so an RGBA cut-out or an RGB-saved matte exports its true alpha).
  A 16-bit or float alpha is rounded to 8 bits (``Image(mode="L")`` is 8-bit).

:func:`export_hf` writes ``<out>/hf`` (``save_to_disk``) and ``<out>/hub``:
``data/<split>-0000i-of-0000n.parquet`` shards plus a dataset card
``README.md`` whose YAML header declares the configs, features, license and
citation, i.e. the layout of a Hub dataset repository.  Publishing is up to
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
import tempfile
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
from ..manifest import PATH_COLUMNS, manifest_with_root, resolve

GFM_CITATION = """@article{li2022bridging,
  title   = {Bridging Composite and Real: Towards End-to-end Deep Image Matting},
  author  = {Li, Jizhizi and Zhang, Jing and Maybank, Stephen J. and Tao, Dacheng},
  journal = {International Journal of Computer Vision},
  volume  = {130},
  number  = {2},
  pages   = {246--266},
  year    = {2022},
  doi     = {10.1007/s11263-021-01541-0}
}"""
_SPLIT_OK = re.compile(r"^\w+(\.\w+)*$")


def _image_bytes(path: Path) -> bytes:
    """The file's bytes when they decode to 8-bit RGB (PNG/JPEG), else an RGB PNG of its pixels."""
    data = path.read_bytes()
    if path.suffix.lower() in (".png", ".jpg", ".jpeg"):
        arr = decode_bytes(data)
        if arr is not None and arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3:
            return data
    return encode_png(quantize(read_image(path)))


def _example(row: dict[str, Any], root: Path, extra: Sequence[str], with_trimap: bool) -> dict[str, Any]:
    img_p = resolve(root, row["image"])
    ex: dict[str, Any] = {
        "id": row["id"],
        "image": {"bytes": _image_bytes(img_p), "path": Path(row["image"]).name},
        "alpha": {"bytes": encode_png(quantize(read_alpha(resolve(root, row["alpha"])))),
                  "path": Path(row["alpha"]).with_suffix(".png").name},
    }
    if with_trimap:
        ex["trimap"] = ({"bytes": encode_png(read_trimap(resolve(root, row["trimap"]))),
                         "path": Path(row["trimap"]).with_suffix(".png").name} if row["trimap"] else None)
    ex |= {"category": row["category"], "width": int(row["width"]), "height": int(row["height"]),
           "source": row["source"]}
    for c in PATH_COLUMNS:
        ex[f"{c}_path"] = row[c]
        ex[f"{c}_hash"] = row[f"{c}_hash"]
    for c in extra:
        ex[c] = "" if pd.isna(row[c]) else str(row[c])
    return ex


def _generate(rows: list[dict[str, Any]], root: str, extra: tuple[str, ...], with_trimap: bool):
    for r in rows:
        yield _example(r, Path(root), extra, with_trimap)


def _features(extra: Sequence[str], with_trimap: bool):
    from datasets import Features, Image, Value

    f: dict[str, Any] = {"id": Value("string"), "image": Image(), "alpha": Image(mode="L")}
    if with_trimap:
        f["trimap"] = Image(mode="L")
    f |= {"category": Value("string"), "width": Value("int64"), "height": Value("int64"), "source": Value("string")}
    for c in PATH_COLUMNS:
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
    df = df.copy()
    df.loc[df["split"] == "", "split"] = default_split
    if splits is not None:
        missing = sorted(set(splits) - set(df["split"]))
        if missing:
            raise InputError(f"split(s) {missing} not in the manifest (it has {sorted(set(df['split']))})")
        df = df[df["split"].isin(splits)]
    if df.empty:
        raise InputError("nothing to export: the manifest is empty")
    bad = sorted(s for s in set(df["split"]) if not _SPLIT_OK.match(s))
    if bad:
        raise InputError(f"split names {bad} are not valid HuggingFace split names (letters, digits, _ and .)")
    hashes = [f"{c}_hash" for c in PATH_COLUMNS]
    extra = [c for c in df.columns if c not in (*PATH_COLUMNS, *hashes, "id", "split", "category", "source",
                                                 "width", "height")]
    with_trimap = bool((df["trimap"] != "").any())
    feats = _features(extra, with_trimap)
    out = {}
    for split, part in df.groupby("split", sort=True):
        rows = part.to_dict(orient="records")
        out[split] = Dataset.from_generator(
            _generate, features=feats, cache_dir=str(cache_dir) if cache_dir else None,
            gen_kwargs={"rows": rows, "root": str(r.resolve()), "extra": tuple(extra), "with_trimap": with_trimap},
            split=split,
        )
    return DatasetDict(out)


def _yaml_features(features) -> list[dict[str, Any]]:
    out = []
    for name, f in features.items():
        kind = type(f).__name__
        out.append({"name": name, "dtype": "image" if kind == "Image" else f.dtype})
    return out


def dataset_card(
    dd, *, name: str, license: str = "other", description: str = "", citation: str = GFM_CITATION,
    source: str = "",
) -> str:
    """The dataset card ``README.md``: YAML metadata (license, configs, features, splits) and a short text."""
    import yaml

    splits = list(dd.keys())
    n = sum(len(d) for d in dd.values())
    size = ("n<1K" if n < 1000 else "1K<n<10K" if n < 10_000 else "10K<n<100K" if n < 100_000 else "100K<n<1M")
    meta = {
        "license": license,
        "pretty_name": name,
        "task_categories": ["image-segmentation"],
        "tags": ["image-matting", "alpha-matte", "matting-data"],
        "size_categories": [size],
        "configs": [{"config_name": "default",
                     "data_files": [{"split": s, "path": f"data/{s}-*"} for s in splits]}],
        "dataset_info": {"features": _yaml_features(dd[splits[0]].features),
                         "splits": [{"name": s, "num_bytes": int(dd[s].data.nbytes), "num_examples": len(dd[s])}
                                    for s in splits]},
    }
    counts = "\n".join(f"| {s} | {len(dd[s])} |" for s in splits)
    return (
        "---\n" + yaml.safe_dump(meta, sort_keys=False) + "---\n\n"
        f"# {name}\n\n{description or 'An image-matting dataset exported with matting-data.'}\n\n"
        f"Source: {source or 'see the `source` column'}. Exported with matting-data {__version__}.\n\n"
        "## Splits\n\n| split | examples |\n|---|---|\n" + counts + "\n\n"
        "## Columns\n\n"
        "- `image`: the photo or composite (RGB); `alpha`: the alpha matte (8-bit grey, 255 = opaque);\n"
        "  `trimap`: evaluation trimap (0 background, 128 unknown, 255 foreground) when present.\n"
        "- `category`, `width`, `height`; provenance: `source`, `*_path` (original relative paths) and\n"
        "  `*_hash` (sha256 of the original files).\n\n"
        "## Usage\n\n```python\nfrom datasets import load_dataset\n"
        "dd = load_dataset(\"path/to/this/folder\")  # or the Hub repo id after push_to_hub\n```\n\n"
        f"## License\n\n`{license}`: check the license of the original dataset before redistributing.\n\n"
        "## Citation\n\n```bibtex\n" + citation.strip() + "\n```\n"
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
) -> dict[str, Path]:
    """Export to ``<out_dir>/hf`` (``save_to_disk``) and ``<out_dir>/hub`` (Parquet shards + ``README.md``).

    Shards hold at most about ``max_shard_mb`` MB each.  Returns
    ``{"disk": ..., "hub": ..., "card": ...}``.  An earlier export (its folders carry the
    :data:`EXPORT_MARKER` file) is replaced; ``hf``/``hub`` folders without the marker are
    the user's and are never deleted (:class:`InputError`).  ``out_dir`` may not be, hold
    or lie inside the manifest or its root.
    """
    from datasets import load_from_disk

    if not (isinstance(max_shard_mb, (int, float)) and math.isfinite(max_shard_mb) and max_shard_mb > 0):
        raise InputError(f"--max-shard-mb must be a number > 0, got {max_shard_mb!r}")
    src = manifest if isinstance(manifest, (str, os.PathLike)) else None
    check_output_dir(out_dir, src, root if root is not None else (Path(src).parent if src else None), what="out")
    out = check_writable_dir(out_dir, what="out")
    disk, hub = out / "hf", out / "hub"
    for folder in (disk, hub, out / ".hf.part", out / ".hub.part"):
        _check_own_export(folder)
    with tempfile.TemporaryDirectory(dir=out, prefix=".cache-") as tmp:
        dd = to_hf(manifest, root, default_split=default_split, splits=splits, cache_dir=tmp)
        src = dd.get(next(iter(dd)))
        source = ", ".join(sorted(set(src["source"]))) if len(src) else ""
        staging = out / ".hf.part"
        shutil.rmtree(staging, ignore_errors=True)
        dd.save_to_disk(str(staging))
        (staging / EXPORT_MARKER).write_text(MARKER_TEXT)
        shutil.rmtree(disk, ignore_errors=True)
        os.replace(staging, disk)
        del dd
    dd = load_from_disk(str(disk))
    hub_part = out / ".hub.part"
    shutil.rmtree(hub_part, ignore_errors=True)
    (hub_part / "data").mkdir(parents=True)
    (hub_part / EXPORT_MARKER).write_text(MARKER_TEXT)
    for split, ds in dd.items():
        n_shards = max(1, math.ceil(ds.data.nbytes / (max_shard_mb * 1e6)))
        n_shards = min(n_shards, max(1, len(ds)))
        for i in range(n_shards):
            ds.shard(n_shards, i, contiguous=True).to_parquet(
                str(hub_part / "data" / f"{split}-{i:05d}-of-{n_shards:05d}.parquet"))
    write_text_atomic(hub_part / "README.md", dataset_card(dd, name=name, license=license, description=description,
                                                           citation=citation, source=source))
    shutil.rmtree(hub, ignore_errors=True)
    os.replace(hub_part, hub)
    return {"disk": disk, "hub": hub, "card": hub / "README.md"}


def load_hf(path: str | os.PathLike, cache_dir: str | os.PathLike | None = None):
    """Load an export back: a ``save_to_disk`` folder, or a Hub-layout folder (Parquet + README.md)."""
    from datasets import load_dataset, load_from_disk

    p = Path(path)
    if (p / "dataset_dict.json").is_file() or (p / "dataset_info.json").is_file():
        return load_from_disk(str(p))
    if (p / "README.md").is_file() and (p / "data").is_dir():
        return load_dataset(str(p), cache_dir=str(cache_dir) if cache_dir else None)
    raise InputError(f"{p}: neither a save_to_disk folder nor a Hub-layout export (README.md + data/)")
