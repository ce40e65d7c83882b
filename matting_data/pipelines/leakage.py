"""Train/test leakage: test samples that are among the training data (by id, file content or perceptual hash).

A domain-gap ablation trains on composites of foregrounds and tests on real
photos; if the test photos are the very photos the foregrounds were cut from,
the test measures memory, not generalisation.  :func:`find_overlaps` compares
the test samples with a training source (foregrounds, a background pool, a
training track) and returns one :class:`Overlap` per matching pair, saying how
it matched:

* ``same id`` -- the sample ids are equal (alone, :data:`ID_ONLY`: reported, but the
  files differ, so a pipeline does not refuse on it: ids repeat across datasets);
* ``same image file`` / ``same alpha file`` -- equal content hashes
  (:func:`matting_data.io.file_hash`);
* ``similar image (phash d=N)`` / ``similar alpha (phash d=N)`` -- 64-bit DCT
  perceptual hashes (:func:`matting_data.backgrounds.hashing.phash`) within
  ``max_distance`` bits: a re-encoded, resized or recoloured copy.  Different
  photos differ in about 32 bits.

:func:`overlap_message` names the overlapping samples; :class:`LeakageError`
is what a pipeline raises when the user did not allow the overlap.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError

PathLike = str | os.PathLike
MAX_DISTANCE = 6
#: How an overlap by id alone reads: the files differ, so it is reported but refuses nothing.
ID_ONLY = "same id only (the files differ)"
#: Background pools larger than this are compared by file content only (perceptual hashes cost a decode each).
MAX_PHASH_POOL = 2000


class LeakageError(InputError):
    """Test samples are among the training data and the user did not allow it."""


@dataclass(frozen=True)
class Fingerprint:
    """What identifies one sample: id, content hashes and perceptual hashes of its image and alpha."""

    id: str
    image_hash: str = ""
    alpha_hash: str = ""
    image_phash: int | None = None
    alpha_phash: int | None = None


@dataclass(frozen=True)
class Overlap:
    """A test sample found in a training source."""

    test_id: str
    source: str
    train_id: str
    how: str

    @property
    def content(self) -> bool:
        """Whether the files match (content or perceptual hash), not just the ids."""
        return self.how != ID_ONLY

    def as_record(self) -> dict[str, str]:
        return {"test": self.test_id, "source": self.source, "train": self.train_id, "how": self.how}


def _job(item: tuple[str, str, str, bool]) -> Fingerprint:
    from ..backgrounds.hashing import phash
    from ..io import file_hash, read_alpha, read_image

    sid, image, alpha, perceptual = item
    ih = file_hash(image) if image else ""
    ah = file_hash(alpha) if alpha else ""
    ip = phash(read_image(image)) if image and perceptual else None
    ap = phash(read_alpha(alpha)) if alpha and perceptual else None
    return Fingerprint(sid, ih, ah, ip, ap)


def fingerprints(rows: Sequence[tuple[str, PathLike | None, PathLike | None]], perceptual: bool = True,
                 workers: int = 1, progress: bool = False, desc: str = "fingerprint") -> list[Fingerprint]:
    """Fingerprints of ``(id, image or None, alpha or None)`` rows (files read once; ``workers`` processes)."""
    from ..parallel import run_jobs

    items = [(str(i), str(im or ""), str(al or ""), perceptual) for i, im, al in rows]
    return run_jobs(_job, items, workers=workers, desc=desc, progress=progress)


def find_overlaps(test: Sequence[Fingerprint], train: Sequence[Fingerprint], source: str,
                  max_distance: int = MAX_DISTANCE, by_id: bool = True) -> list[Overlap]:
    """Every (test, training) pair that matches by id, file content or perceptual hash (see the module doc)."""
    out: list[Overlap] = []
    by_image = {f.image_hash: f.id for f in train if f.image_hash}
    by_alpha = {f.alpha_hash: f.id for f in train if f.alpha_hash}
    ids = {f.id for f in train}

    def near(attr: str) -> dict[str, tuple[str, int]]:
        hits: dict[str, tuple[str, int]] = {}
        th = [(f.id, getattr(f, attr)) for f in train if getattr(f, attr) is not None]
        qs = [(f.id, getattr(f, attr)) for f in test if getattr(f, attr) is not None]
        if not th or not qs:
            return hits
        a = np.array([h for _, h in qs], np.uint64)
        b = np.array([h for _, h in th], np.uint64)
        d = np.bitwise_count(a[:, None] ^ b[None, :])
        for i, (tid, _) in enumerate(qs):
            j = int(np.argmin(d[i]))
            if d[i, j] <= max_distance:
                hits[tid] = (th[j][0], int(d[i, j]))
        return hits

    near_image, near_alpha = near("image_phash"), near("alpha_phash")
    for f in test:
        found: dict[str, list[str]] = {}
        if by_id and f.id in ids:
            found.setdefault(f.id, []).append("same id")
        if f.image_hash in by_image:
            found.setdefault(by_image[f.image_hash], []).append("same image file")
        if f.alpha_hash in by_alpha:
            found.setdefault(by_alpha[f.alpha_hash], []).append("same alpha file")
        for hits, what in ((near_image, "image"), (near_alpha, "alpha")):
            if f.id in hits:
                tid, dist = hits[f.id]
                if not any(h.startswith(f"same {what}") for h in found.get(tid, [])):
                    found.setdefault(tid, []).append(f"similar {what} (phash d={dist})")
        out += [Overlap(f.id, source, tid, ID_ONLY if how == ["same id"] else ", ".join(how))
                for tid, how in found.items()]
    return out


def overlap_message(overlaps: Sequence[Overlap], limit: int = 12) -> str:
    """``3 test samples are in the training data: GT01 = foreground GT01 (same alpha file), ...``."""
    tests = sorted({o.test_id for o in overlaps})
    parts = [f"{o.test_id} = {o.source} {o.train_id} ({o.how})" for o in overlaps[:limit]]
    more = f" and {len(overlaps) - limit} more" if len(overlaps) > limit else ""
    return (f"{len(tests)} test sample{'s' if len(tests) != 1 else ''} ({', '.join(tests[:limit])}) "
            f"{'are' if len(tests) != 1 else 'is'} in the training data: " + "; ".join(parts) + more)


def recorded_training_tracks(weights: PathLike | None) -> list[str]:
    """Training track folders recorded beside a checkpoint trained by this toolkit (``<stem>.state.json``)."""
    import json

    if not weights:
        return []
    w = Path(str(weights))
    state = w.with_name(w.name.removesuffix(".safetensors") + ".state.json")
    if not state.is_file():
        return []
    try:
        cfg: Any = json.loads(state.read_text()).get("config") or {}
    except (OSError, ValueError):
        return []
    train = cfg.get("train") if isinstance(cfg, dict) else None
    return [str(train)] if train and train != "-" else []


def track_fingerprints(track: Any, perceptual: bool = True, workers: int = 1) -> list[Fingerprint]:
    """Fingerprints of a track's samples (image and alpha of each manifest row)."""
    from ..manifest import resolve

    df = track.samples()
    rows = [(str(r["id"]), resolve(track.root, r["image"]), resolve(track.root, r["alpha"]))
            for r in df.to_dict("records")]
    return fingerprints(rows, perceptual, workers)


def model_training_overlaps(weights: PathLike | None, test: Sequence[Fingerprint]) -> list[Overlap]:
    """Overlaps of the test samples with the training track(s) recorded beside a checkpoint."""
    from ..datasets.track import load_track

    out: list[Overlap] = []
    for root in recorded_training_tracks(weights):
        try:
            track = load_track(root)
        except InputError:
            continue  # the training data moved: nothing to compare with
        out += find_overlaps(test, track_fingerprints(track), f"training track {track.name!r} sample")
    return out
