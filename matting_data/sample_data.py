"""Embedded sample data: synthetic furry foregrounds and real background photos.

Nothing is downloaded.  The **foregrounds are synthetic**: a deterministic
procedural generator draws an animal-like cut-out with an opaque body, a soft
(defocused) rim, holes, and hundreds of thin hair strands whose sub-pixel width
gives genuinely fractional alpha, coloured with a fur-like texture.  They are
meant for demos and tests, not for training a production model.

The **backgrounds are real photographs** that scikit-image ships inside its
package (loaded from ``skimage/data`` with no network access): see
:data:`BACKGROUND_PHOTOS`.  Some of them contain salient objects (a person, a
cat, a rocket) on purpose, so that the background curation step has something
to reject.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np

from .errors import InputError
from .io import file_hash, write_alpha, write_image, write_text_atomic
from .manifest import new_manifest, save_manifest
from .seeding import derive_seed, rng_for

# name -> skimage.data loader name; all are bundled with scikit-image (no fetch)
BACKGROUND_PHOTOS = {
    "astronaut": "astronaut",  # portrait: a face and a person
    "chelsea": "chelsea",  # a cat: salient animal
    "coffee": "coffee",  # cup on a table
    "rocket": "rocket",  # rocket on the launch pad
    "motorcycle": "stereo_motorcycle",  # motorcycle in a shed
    "hubble": "hubble_deep_field",  # star field
    "brick": "brick",  # grey texture
    "grass": "grass",  # grey texture
    "gravel": "gravel",  # grey texture
    "retina": "retina",  # fundus photo
}
SAMPLE_RECORD = "sample.json"
_SUPER = 4  # supersampling factor used to rasterise sub-pixel strands


def load_background_photo(name: str) -> np.ndarray:
    """One of :data:`BACKGROUND_PHOTOS` as RGB float32 (H, W, 3) in [0, 1]."""
    import skimage.data

    if name not in BACKGROUND_PHOTOS:
        raise KeyError(f"unknown sample background {name!r}; known: {', '.join(BACKGROUND_PHOTOS)}")
    img = getattr(skimage.data, BACKGROUND_PHOTOS[name])()
    if isinstance(img, tuple):  # stereo pair
        img = img[0]
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    return (img[:, :, :3].astype(np.float32) / 255.0).astype(np.float32)


def sample_backgrounds(names: list[str] | None = None) -> dict[str, np.ndarray]:
    """The background pool: ``{name: RGB float32}`` for ``names`` (default: all)."""
    return {n: load_background_photo(n) for n in (names or list(BACKGROUND_PHOTOS))}


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    f = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), sigma)
    f -= f.min()
    return f / max(float(f.max()), 1e-6)


def _body_polygon(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    cy, cx = h * rng.uniform(0.5, 0.6), w * rng.uniform(0.45, 0.55)
    ry, rx = h * rng.uniform(0.22, 0.3), w * rng.uniform(0.2, 0.3)
    theta = np.linspace(0, 2 * np.pi, 720, endpoint=False)
    wobble = np.ones_like(theta)
    for k in range(2, 7):
        wobble += rng.uniform(0.0, 0.12 / k * 2) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    ys = cy + ry * wobble * np.sin(theta)
    xs = cx + rx * wobble * np.cos(theta)
    return np.stack([xs, ys], axis=1)


def make_foreground(
    seed: int, size: tuple[int, int] = (320, 320), n_strands: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic furry foreground and its alpha.

    Parameters
    ----------
    seed : integer seed; the same seed gives identical arrays.
    size : (height, width) in pixels.
    n_strands : number of hair strands (default: proportional to the perimeter).

    Returns
    -------
    fg : RGB float32 (H, W, 3) in [0, 1], defined everywhere (not premultiplied).
    alpha : float32 (H, W) in [0, 1] with an opaque body (alpha = 1), fractional
        hair and rim pixels and background (alpha = 0).
    """
    h, w = size
    rng = rng_for(seed, "sample-foreground", h, w)
    H, W = h * _SUPER, w * _SUPER
    poly = _body_polygon(rng, h, w)
    body = np.zeros((H, W), np.uint8)
    cv2.fillPoly(body, [np.round(poly * _SUPER).astype(np.int32)], 255)
    # holes through the body (e.g. between legs), some semi-transparent
    hole_layer = np.zeros((H, W), np.uint8)
    for _ in range(int(rng.integers(1, 4))):
        k = int(rng.integers(0, len(poly)))
        c = poly.mean(axis=0) * 0.5 + poly[k] * 0.5
        axes = (int(rng.uniform(0.03, 0.07) * w * _SUPER), int(rng.uniform(0.03, 0.07) * h * _SUPER))
        cv2.ellipse(hole_layer, (int(c[0] * _SUPER), int(c[1] * _SUPER)), axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)
    body_a: np.ndarray = cv2.resize(body, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    holes = cv2.resize(hole_layer, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    body_a = body_a * (1.0 - holes * float(rng.uniform(0.7, 1.0)))
    # soft, slightly defocused rim
    body_a = cv2.GaussianBlur(body_a, (0, 0), float(rng.uniform(0.6, 1.2)))
    # hair strands: random walks leaving the boundary outward, 1 px at 4x => 1/4 px wide
    centre = poly.mean(axis=0)
    perim = float(np.sum(np.hypot(*np.diff(poly, axis=0).T)))
    n = n_strands if n_strands is not None else int(perim * 0.8)
    strands = np.zeros((H, W), np.float32)
    for _ in range(n):
        p = poly[int(rng.integers(0, len(poly)))].copy()
        out = p - centre
        ang = np.arctan2(out[1], out[0]) + rng.normal(0, 0.35)
        length = rng.uniform(0.03, 0.12) * min(h, w)
        steps = max(int(length / 1.5), 3)
        curv = rng.normal(0, 0.06)
        pts = [p - 4 * np.array([np.cos(ang), np.sin(ang)])]  # start inside the body
        for _ in range(steps):
            ang += curv + rng.normal(0, 0.05)
            p = p + 1.5 * np.array([np.cos(ang), np.sin(ang)])
            pts.append(p.copy())
        thick = int(rng.integers(1, 3))
        ipts = np.round(np.array(pts) * _SUPER).astype(np.int32)
        x0, y0 = np.maximum(ipts.min(axis=0) - 4, 0)
        x1, y1 = np.minimum(ipts.max(axis=0) + 5, (W, H))
        if x1 <= x0 or y1 <= y0:
            continue
        layer = np.zeros((y1 - y0, x1 - x0), np.uint8)  # draw in the strand's bounding box only
        cv2.polylines(layer, [ipts - (x0, y0)], False, 255, thick, cv2.LINE_AA)
        roi = strands[y0:y1, x0:x1]
        np.maximum(roi, layer.astype(np.float32) * float(rng.uniform(0.5, 1.0)) / 255.0, out=roi)
    hair = cv2.resize(strands, (w, h), interpolation=cv2.INTER_AREA)
    alpha = 1.0 - (1.0 - body_a) * (1.0 - hair)
    alpha = np.clip(alpha, 0.0, 1.0)
    alpha[alpha < 1.0 / 512] = 0.0
    alpha[alpha > 1.0 - 1.0 / 512] = 1.0
    # fur-like colour: base hue, smooth shading, fine anisotropic streaks, lighter hair tips
    base = rng.uniform(0.15, 0.85, size=3).astype(np.float32)
    shade = _smooth_noise(rng, (h, w), max(h, w) / 12)
    streak_src = rng.standard_normal((h, w)).astype(np.float32)
    streaks = cv2.GaussianBlur(streak_src, (0, 0), sigmaX=0.6, sigmaY=3.0)
    streaks = (streaks - streaks.min()) / max(float(np.ptp(streaks)), 1e-6)
    fg = base[None, None, :] * (0.55 + 0.45 * shade[:, :, None]) * (0.75 + 0.5 * streaks[:, :, None])
    tips = (hair * (1.0 - body_a))[:, :, None]
    fg = fg * (1.0 - 0.5 * tips) + 0.5 * tips * np.clip(base * 1.4, 0, 1)
    return np.clip(fg, 0.0, 1.0).astype(np.float32), alpha.astype(np.float32)


MAX_SIDE = 8192
MAX_N = 10000


def _check_sample_size(n: int, size: tuple[int, int]) -> None:
    """Refuse absurd sizes before anything is allocated."""
    if not 1 <= int(n) <= MAX_N:
        raise InputError(f"-n must be between 1 and {MAX_N}, got {n}")
    if len(size) != 2 or not all(16 <= int(v) <= MAX_SIDE for v in size):
        raise InputError(f"--size must be two sides between 16 and {MAX_SIDE} px, got {tuple(size)}")


def _refuse_foreign_files(fg_root: Path, n: int) -> None:
    names = ["manifest.parquet", "manifest.csv"]
    names += [f"{sub}/fg_{i:03d}.png" for i in range(n) for sub in ("fg", "alpha")]
    for name in names:
        if (fg_root / name).exists():
            raise InputError(
                f"{fg_root / name}: exists but was not written by matting-data sample (no {SAMPLE_RECORD}); "
                "not overwritten: choose another --out"
            )


def build_sample_dataset(
    out_dir: str | os.PathLike,
    n: int = 6,
    seed: int = 0,
    size: tuple[int, int] = (320, 320),
    backgrounds: list[str] | None = None,
) -> dict[str, Path]:
    """Write the embedded sample data to ``out_dir`` and return its paths.

    Layout::

        out_dir/foregrounds/{fg,alpha}/fg_000.png ...   synthetic cut-outs
        out_dir/foregrounds/manifest.{parquet,csv}      foreground manifest (image = fg)
        out_dir/backgrounds/<name>.png                  scikit-image photos

    Existing files are kept (the generator is deterministic), so reruns are cheap.
    The seed and size are recorded in ``out_dir/foregrounds/sample.json``; a rerun
    with another seed or size into the same folder raises :class:`InputError`
    instead of keeping foregrounds that do not match its arguments.
    """
    _check_sample_size(n, size)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a folder")
    fg_root = out / "foregrounds"
    rec = {"seed": int(seed), "size": [int(size[0]), int(size[1])]}
    rec_path = fg_root / SAMPLE_RECORD
    if rec_path.is_file():
        try:
            old = json.loads(rec_path.read_text(encoding="utf-8"))
        except ValueError:
            old = None
        if old != rec:
            raise InputError(
                f"{fg_root}: sample foregrounds there were made with {old}, not {rec}; use another folder"
            )
        keep = True
    else:  # no record: files there are of unknown origin (someone else's): never overwrite them
        _refuse_foreign_files(fg_root, n)
        keep = False
        write_text_atomic(rec_path, json.dumps(rec) + "\n")
    rows = []
    for i in range(n):
        sid = f"fg_{i:03d}"
        fg_p, a_p = fg_root / "fg" / f"{sid}.png", fg_root / "alpha" / f"{sid}.png"
        if not (keep and fg_p.exists() and a_p.exists()):
            fg, alpha = make_foreground(derive_seed(seed, "sample-dataset", i) % 2**63, size)
            write_image(fg_p, fg)
            write_alpha(a_p, alpha)
        rows.append(
            {
                "id": sid, "split": "train", "image": f"fg/{sid}.png", "alpha": f"alpha/{sid}.png",
                "fg": f"fg/{sid}.png", "category": "synthetic-fur", "source": "matting-data synthetic",
                "width": size[1], "height": size[0],
                "image_hash": file_hash(fg_p), "alpha_hash": file_hash(a_p), "fg_hash": file_hash(fg_p),
            }
        )
    manifest_path, _ = save_manifest(new_manifest(rows), fg_root / "manifest")
    bg_dir = out / "backgrounds"
    for name in backgrounds or list(BACKGROUND_PHOTOS):
        p = bg_dir / f"{name}.png"
        if not p.exists():
            write_image(p, load_background_photo(name))
    return {"root": out, "foregrounds": fg_root, "manifest": manifest_path, "backgrounds": bg_dir}
