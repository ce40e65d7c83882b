"""P3M-style privacy: obfuscate faces except where the matte is a transition (hair stays intact).

P3M-10k obfuscates each face region *minus the matte's transition area*, so
that the obfuscation never touches the pixels a matting model must learn
(hair strands over the face, soft edges).  Here:

1. :func:`detect_faces` finds faces with OpenCV's bundled Haar cascades
   (``cv2.data.haarcascades``; frontal, and optionally profile faces).  P3M's
   own landmark detector is not published; pass your own boxes when you have
   better ones.
2. :func:`face_mask` turns boxes into a face region (an ellipse inscribed in
   each box, enlarged by ``expand``), :func:`transition_mask` marks the
   transition area (``0 < alpha < 1`` on the 8-bit scale, dilated by
   ``margin`` pixels) and the obfuscated area is ``face & ~transition``.
3. :func:`obfuscate` replaces that area by a Gaussian blur, a pixelation or a
   fill, and returns a record of what it did.

:func:`build_privacy_splits` builds, from any manifest, the privacy-preserving
training split (``train_B``, faces obfuscated) and its normal twin
(``train_N``), and the two test splits ``test_P`` (obfuscated) and
``test_NP`` (not obfuscated), with a record of every obfuscation.
:func:`privacy_settings` returns the four train:test settings B:B, B:N, N:B
and N:N as :class:`~.track.TrackPair`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from ..checks import known
from ..errors import InputError
from ..io import (
    array_hash,
    check_alpha,
    check_image,
    check_output_dir,
    check_same_size,
    file_hash,
    quantize,
    read_alpha,
    read_image,
    write_image,
    write_text_atomic,
)
from ..manifest import manifest_with_root, save_manifest, validate_manifest
from ..parallel import run_jobs
from .files import place_files
from .track import Track, TrackPair

METHODS = ("blur", "pixelate", "fill")
CASCADES = {
    "frontal": "haarcascade_frontalface_default.xml",
    "frontal_alt2": "haarcascade_frontalface_alt2.xml",
    "profile": "haarcascade_profileface.xml",
}
PRIVACY_SPLITS = ("train_B", "train_N", "test_P", "test_NP")
SETTINGS = {"B:B": ("train_B", "test_P"), "B:N": ("train_B", "test_NP"),
            "N:B": ("train_N", "test_P"), "N:N": ("train_N", "test_NP")}
RECORD = "privacy_record.json"


# --------------------------------------------------------------------------- detection
def _cascade(name: str) -> cv2.CascadeClassifier:
    if name not in CASCADES:
        raise InputError(f"unknown face detector {name!r}; choose from {', '.join(CASCADES)}")
    # cv2.data is a runtime submodule that OpenCV's stubs do not declare
    folder = cv2.data.haarcascades  # type: ignore[attr-defined]
    c = cv2.CascadeClassifier(os.path.join(folder, CASCADES[name]))
    if c.empty():  # pragma: no cover - broken OpenCV install
        raise InputError(f"OpenCV could not load its bundled cascade {CASCADES[name]}")
    return c


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    return inter / float(a[2] * a[3] + b[2] * b[3] - inter)


def detect_faces(
    image: np.ndarray,
    *,
    detectors: Sequence[str] = ("frontal",),
    scale_factor: float = 1.1,
    min_neighbors: int = 5,
    min_size: int = 24,
) -> np.ndarray:
    """Face boxes ``(N, 4)`` int array of ``x, y, w, h`` in pixels (sorted, overlaps merged).

    ``image`` is RGB float32 (H, W, 3) in [0, 1].  ``detectors`` are keys of
    :data:`CASCADES`; ``"profile"`` also runs on the mirrored image (right-facing).
    """
    img = check_image(image)
    grey = cv2.equalizeHist(cv2.cvtColor(quantize(img), cv2.COLOR_RGB2GRAY))
    boxes: list[np.ndarray] = []
    w_img = grey.shape[1]
    for name in detectors:
        c = _cascade(name)
        for flip in (False, True) if name == "profile" else (False,):
            g = grey[:, ::-1].copy() if flip else grey
            found = c.detectMultiScale(g, scaleFactor=scale_factor, minNeighbors=min_neighbors,
                                       minSize=(min_size, min_size))
            for x, y, w, h in np.asarray(found).reshape(-1, 4):
                box = np.array([w_img - x - w if flip else x, y, w, h])
                if all(_iou(box, b) < 0.3 for b in boxes):
                    boxes.append(box)
    out = np.array(sorted(boxes, key=lambda b: (b[1], b[0])), dtype=np.int64).reshape(-1, 4)
    return out


# --------------------------------------------------------------------------- masks
def face_mask(shape: tuple[int, int], boxes: np.ndarray, expand: float = 0.1) -> np.ndarray:
    """Boolean (H, W) face region: an ellipse inscribed in each box, its axes enlarged by ``expand`` (fraction)."""
    h, w = shape[:2]
    m = np.zeros((h, w), np.uint8)
    for x, y, bw, bh in np.asarray(boxes, dtype=np.float64).reshape(-1, 4):
        centre = (int(round(x + bw / 2)), int(round(y + bh / 2)))
        axes = (max(1, int(round(bw / 2 * (1 + expand)))), max(1, int(round(bh / 2 * (1 + expand)))))
        cv2.ellipse(m, centre, axes, 0, 0, 360, 1, thickness=-1)
    return m.astype(bool)


def transition_mask(alpha: np.ndarray, margin: int = 0) -> np.ndarray:
    """Boolean (H, W): the matte's transition area, ``0 < round(255 * alpha) < 255``, dilated by ``margin`` px."""
    a = check_alpha(alpha)
    q = quantize(a)
    t = (q > 0) & (q < 255)
    if margin > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
        t = cv2.dilate(t.astype(np.uint8), k).astype(bool)
    return t


# --------------------------------------------------------------------------- obfuscation
def _blur(img: np.ndarray, box: np.ndarray, strength: float) -> np.ndarray:
    sigma = max(1.0, strength * max(box[2], box[3]) / 8.0)
    return cv2.GaussianBlur(img, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT)


def _pixelate(img: np.ndarray, box: np.ndarray, strength: float) -> np.ndarray:
    block = max(2, int(round(strength * max(box[2], box[3]) / 10.0)))
    h, w = img.shape[:2]
    small = cv2.resize(img, (max(1, w // block), max(1, h // block)), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)


@dataclass(frozen=True)
class Obfuscation:
    """What :func:`obfuscate` did to one image."""

    boxes: list[list[int]]
    method: str
    strength: float
    n_obfuscated: int  # pixels replaced (face minus transition)
    n_kept: int  # face pixels left untouched because they are in the transition area
    mask_hash: str

    def to_dict(self) -> dict[str, Any]:
        return {"boxes": self.boxes, "method": self.method, "strength": self.strength,
                "n_obfuscated": self.n_obfuscated, "n_kept": self.n_kept, "mask_hash": self.mask_hash}


MAX_EXPAND = 2.0
MAX_STRENGTH = 10.0
MIN_COVERAGE = 0.25  # share of a face's ellipse that must be obfuscated
MIN_CHANGE = 2.0  # mean change, in 8-bit codes, of a face's obfuscated pixels (unless the region is flat)
FLAT = 2.0  # a region whose 8-bit codes vary less than this (std) shows no detail to hide


def check_privacy_settings(method: str, strength: float, expand: float, margin: int) -> None:
    """Validate the obfuscation settings before any work (:class:`InputError` names the option)."""
    known(method, METHODS, "obfuscation method", error=InputError)
    if not (np.isfinite(strength) and 0 < strength <= MAX_STRENGTH):
        raise InputError(f"--strength must be > 0 and <= {MAX_STRENGTH:g}, got {strength}")
    if not (np.isfinite(expand) and 0 <= expand <= MAX_EXPAND):
        raise InputError(
            f"--expand must be between 0 and {MAX_EXPAND:g} (a fraction of the face size), got {expand}; "
            "a negative value would shrink the face region and leave the face visible"
        )
    if isinstance(margin, bool) or int(margin) != margin or margin < 0:
        raise InputError(f"--margin must be a whole number of pixels >= 0, got {margin}")


def _verify_face(img: np.ndarray, out: np.ndarray, box: np.ndarray, target: np.ndarray) -> None:
    """Raise unless the face in ``box`` was really obfuscated (enough of it, by a measurable amount)."""
    ellipse = face_mask(img.shape[:2], box[None], 0.0)
    where = f"face at x={box[0]} y={box[1]} w={box[2]} h={box[3]}"
    coverage = float((ellipse & target).sum()) / max(1, int(ellipse.sum()))
    if coverage < MIN_COVERAGE:
        raise InputError(
            f"{where}: only {coverage:.0%} of the face would be obfuscated (the rest is transition area or "
            f"outside the region); lower --margin or raise --expand"
        )
    before, after = quantize(img[target]).astype(np.float64), quantize(out[target]).astype(np.float64)
    change = float(np.abs(after - before).mean())
    if change < MIN_CHANGE and float(before.std(axis=0).mean()) >= FLAT:
        raise InputError(
            f"{where}: obfuscation changed the face by only {change:.2f} codes on average; raise --strength"
        )


def obfuscate(
    image: np.ndarray,
    alpha: np.ndarray,
    boxes: np.ndarray | None = None,
    *,
    method: str = "blur",
    strength: float = 1.0,
    expand: float = 0.1,
    margin: int = 0,
    fill: Sequence[float] | None = None,
    detectors: Sequence[str] = ("frontal",),
) -> tuple[np.ndarray, Obfuscation]:
    """Obfuscate every face of ``image`` except the matte's transition area; return (new image, record).

    Parameters
    ----------
    image : RGB float32 (H, W, 3) in [0, 1] (not modified).
    alpha : its alpha matte, float32 (H, W) in [0, 1].
    boxes : face boxes ``x, y, w, h`` (default: :func:`detect_faces`).
    method : ``"blur"`` (Gaussian, sigma = strength * face size / 8 px),
        ``"pixelate"`` (blocks of strength * face size / 10 px) or ``"fill"``
        (``fill`` RGB colour, default the region's mean colour).
    expand, margin : see :func:`face_mask` and :func:`transition_mask`.
    """
    check_privacy_settings(method, strength, expand, margin)
    img = check_image(image)
    check_same_size(("image", img), ("alpha", check_alpha(alpha)))
    if margin > max(img.shape[:2]):
        raise InputError(f"--margin {margin} px is larger than the {img.shape[1]}x{img.shape[0]} image")
    if boxes is None:
        boxes = detect_faces(img, detectors=detectors)
    boxes = np.asarray(boxes, dtype=np.int64).reshape(-1, 4)
    out = np.array(img, dtype=np.float32, copy=True)
    trans = transition_mask(alpha, margin)
    total = np.zeros(img.shape[:2], bool)
    for box in boxes:
        region = face_mask(img.shape[:2], box[None], expand)
        target = region & ~trans
        total |= target
        if not target.any():
            continue
        if method == "fill":
            colour = np.asarray(fill if fill is not None else img[target].mean(axis=0), np.float32)
            if colour.shape != (3,) or not np.all((colour >= 0) & (colour <= 1)):
                raise InputError(f"fill must be an RGB colour in [0, 1], got {fill}")
            out[target] = colour
            continue
        # work on a padded crop around the face (fast on large photos)
        pad = int(max(box[2], box[3]) * (0.5 + strength))
        y0, y1 = max(0, box[1] - pad), min(img.shape[0], box[1] + box[3] + pad)
        x0, x1 = max(0, box[0] - pad), min(img.shape[1], box[0] + box[2] + pad)
        crop = img[y0:y1, x0:x1]
        done = _blur(crop, box, strength) if method == "blur" else _pixelate(crop, box, strength)
        t = target[y0:y1, x0:x1]
        out[y0:y1, x0:x1][t] = done[t]
    for box in boxes:
        _verify_face(img, np.clip(out, 0.0, 1.0), box, face_mask(img.shape[:2], box[None], expand) & ~trans)
    faces_all = face_mask(img.shape[:2], boxes, expand) if len(boxes) else total
    rec = Obfuscation(boxes.tolist(), method, float(strength), int(total.sum()),
                      int((faces_all & trans).sum()), array_hash(total))
    return np.clip(out, 0.0, 1.0), rec


# --------------------------------------------------------------------------- splits
def _privacy_job(job: dict[str, Any]) -> dict[str, Any]:
    img = read_image(job["image"])
    alpha = read_alpha(job["alpha"])
    try:
        out, rec = obfuscate(img, alpha, job["boxes"], method=job["method"], strength=job["strength"],
                             expand=job["expand"], margin=job["margin"], detectors=job["detectors"])
    except InputError as exc:
        raise InputError(f"{job['image']}: {exc}") from None
    write_image(job["out"], out)
    return {"id": job["id"], "n_faces": len(rec.boxes), **rec.to_dict(), "obfuscated_hash": file_hash(job["out"])}


def build_privacy_splits(
    manifest: pd.DataFrame | str | os.PathLike,
    root: str | os.PathLike | None,
    out_root: str | os.PathLike,
    *,
    train_splits: Sequence[str] = ("train",),
    test_splits: Sequence[str] = ("test", "val"),
    method: str = "blur",
    strength: float = 1.0,
    expand: float = 0.1,
    margin: int = 0,
    detectors: Sequence[str] = ("frontal",),
    boxes: Mapping[str, Sequence[Sequence[int]]] | None = None,
    workers: int = 1,
    progress: bool = False,
) -> pd.DataFrame:
    """Build the P3M-style privacy splits in ``out_root``; return the new manifest.

    Every sample of ``train_splits`` appears twice: ``train_B`` (faces
    obfuscated, id ``<id>-B``) and ``train_N`` (original, id ``<id>-N``);
    every sample of ``test_splits`` appears as ``test_P`` (obfuscated) and
    ``test_NP`` (original).  Obfuscated images are written as PNG under
    ``out_root/obfuscated/``; the other files are hard-linked (else copied).
    ``boxes`` optionally gives face boxes per original id (skipping detection).
    Writes ``manifest.parquet``/``.csv`` and :data:`RECORD` (what was
    obfuscated: boxes, pixel counts, mask hash per image, and the settings).
    Images where no face is found keep their pixels; they are listed in the record.
    """
    check_privacy_settings(method, strength, expand, margin)
    df, root = manifest_with_root(manifest, root, "build_privacy_splits")
    src = manifest if isinstance(manifest, (str, os.PathLike)) else None
    out = check_output_dir(out_root, src, root, what="out")
    for name in detectors:
        _cascade(name)
    chosen = df[df["split"].isin([*train_splits, *test_splits])]
    if chosen.empty:
        raise InputError(f"no samples in splits {[*train_splits, *test_splits]} "
                         f"(the manifest has {sorted(set(df['split']))})")
    place_files(chosen, root, out)
    settings = {"method": method, "strength": strength, "expand": expand, "margin": margin,
                "detectors": list(detectors)}
    jobs = []
    for _, r in chosen.iterrows():
        jobs.append({"id": r["id"], "image": str(out / r["image"]), "alpha": str(out / r["alpha"]),
                     "out": str(out / "obfuscated" / f"{r['id']}.png"),
                     "boxes": None if boxes is None or r["id"] not in boxes else np.asarray(boxes[r["id"]]),
                     **settings})
    records = run_jobs(_privacy_job, jobs, workers=workers, desc="obfuscating faces", progress=progress)
    rec_by_id = {r["id"]: r for r in records}
    rows = []
    for _, r in chosen.iterrows():
        is_train = r["split"] in train_splits
        b_split, n_split = ("train_B", "train_N") if is_train else ("test_P", "test_NP")
        rec = rec_by_id[r["id"]]
        base = r.to_dict()
        rows.append({**base, "id": f"{r['id']}-B", "split": b_split, "image": f"obfuscated/{r['id']}.png",
                     "image_hash": rec["obfuscated_hash"], "privacy": "B", "orig_id": r["id"],
                     "orig_split": r["split"], "n_faces": rec["n_faces"]})
        rows.append({**base, "id": f"{r['id']}-N", "split": n_split, "privacy": "N", "orig_id": r["id"],
                     "orig_split": r["split"], "n_faces": rec["n_faces"]})
    new = validate_manifest(pd.DataFrame(rows), out)
    save_manifest(new, out / "manifest")
    doc = {"settings": settings, "tool": "matting-data", "records": records,
           "no_face_found": sorted(r["id"] for r in records if r["n_faces"] == 0),
           "splits": {s: int((new["split"] == s).sum()) for s in PRIVACY_SPLITS}}
    write_text_atomic(out / RECORD, json.dumps(doc, indent=2) + "\n")
    return new


def privacy_tracks(root: str | os.PathLike, name: str = "privacy") -> dict[str, Track]:
    """The four tracks (``train_B``, ``train_N``, ``test_P``, ``test_NP``) of a privacy build."""
    return {s: Track(name=f"{name}-{s}", kind="ORI", root=Path(root), split=s) for s in PRIVACY_SPLITS}


def privacy_settings(root: str | os.PathLike, name: str = "privacy") -> dict[str, TrackPair]:
    """``{"B:B": TrackPair, "B:N": ..., "N:B": ..., "N:N": ...}`` (train:test, B = blurred, N = normal)."""
    t = privacy_tracks(root, name)
    return {k: TrackPair(t[a], t[b]) for k, (a, b) in SETTINGS.items()}
