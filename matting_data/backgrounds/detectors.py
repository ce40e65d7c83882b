"""Face and person detectors that ship with OpenCV 4.x, and pluggable user detectors.

* :func:`count_faces`: Haar cascades (Viola-Jones) for frontal and profile
  faces, from ``cv2.data.haarcascades``;
* :func:`count_people`: OpenCV's HOG + linear SVM pedestrian detector (Dalal
  and Triggs), for standing people;
* any user callable ``detector(image) -> score`` (:func:`detector_score`),
  e.g. a wrapper around a deep model; or :class:`OnnxDetector` for an ONNX
  model when ``onnxruntime`` is installed.

Detectors run on a copy resized so that its long side is at most
``work_size`` pixels (the cascades and HOG are slow on full-resolution
photos).  OpenCV 5 wheels no longer ship the Haar/HOG data (moved to
contrib); then :func:`count_faces` raises :class:`MattingDataError`.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import InputError, MattingDataError
from ..io import quantize
from ..optional import require

FACE_CASCADES = ("haarcascade_frontalface_default.xml", "haarcascade_profileface.xml")
# Detection thresholds, chosen on the labelled set of benchmarks/bench_backgrounds.py (results/backgrounds.md):
# Haar faces min_neighbors 15 has the best F1 there (10 also fired on the moon and on two toys); a HOG window
# needs an SVM weight of 1.0 (object photos score up to 0.93: the rocket 0.93, a logo 0.81, as high as a person).
FACE_MIN_NEIGHBORS = 15
PEOPLE_MIN_WEIGHT = 1.0
Detector = Callable[[np.ndarray], Any]


def _grey_u8(image: np.ndarray, work_size: int) -> np.ndarray:
    a = np.asarray(image, dtype=np.float32)
    g = a.mean(axis=2) if a.ndim == 3 else a
    h, w = g.shape
    s = work_size / max(h, w)
    if s < 1.0:
        g = cv2.resize(g, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return quantize(g)


@cache
def _cascade(name: str) -> cv2.CascadeClassifier:
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if folder is None or not (Path(folder) / name).is_file():
        raise MattingDataError(
            f"OpenCV has no Haar cascade {name} (OpenCV 5 moved them to contrib); "
            "install opencv-python-headless<5 or disable faces in the recipe"
        )
    c = cv2.CascadeClassifier(str(Path(folder) / name))
    if c.empty():
        raise MattingDataError(f"could not load the Haar cascade {Path(folder) / name}")
    return c


@cache
def _hog() -> cv2.HOGDescriptor:
    hog = cv2.HOGDescriptor()
    # a runtime alias of HOGDescriptor.getDefaultPeopleDetector that OpenCV's stubs do not declare
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())  # type: ignore[attr-defined]
    return hog


def detect_faces(
    image: np.ndarray, work_size: int = 512, min_neighbors: int = FACE_MIN_NEIGHBORS, min_size: float = 0.08
) -> list[tuple[int, int, int, int]]:
    """Face boxes ``(x, y, w, h)`` in the resized frame (long side ``work_size``).

    ``min_size`` is the smallest face side as a fraction of the short image
    side: tiny faces in a crowd scene are missed, large ones that would show
    behind a composited foreground are not.  Frontal faces and profiles
    (both directions) are searched.  The default ``min_neighbors``
    (:data:`FACE_MIN_NEIGHBORS`) was chosen on a labelled set; lower values find
    more faces and also fire on toys, animals, coins and the moon.
    """
    g = cv2.equalizeHist(_grey_u8(image, work_size))
    side = max(20, int(min_size * min(g.shape)))
    boxes: list[tuple[int, int, int, int]] = []
    for name in FACE_CASCADES:
        cascade = _cascade(name)
        frames = [(g, False)] + ([(cv2.flip(g, 1), True)] if "profile" in name else [])
        for frame, flipped in frames:
            found = cascade.detectMultiScale(
                frame, scaleFactor=1.1, minNeighbors=min_neighbors, minSize=(side, side)
            )
            for x, y, w, h in np.reshape(found, (-1, 4)).tolist():
                boxes.append((g.shape[1] - x - w if flipped else x, y, w, h))
    return _merge(boxes)


def _merge(boxes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Drop boxes whose centre lies inside an earlier (larger) box."""
    kept: list[tuple[int, int, int, int]] = []
    for b in sorted(boxes, key=lambda b: -b[2] * b[3]):
        cx, cy = b[0] + b[2] / 2, b[1] + b[3] / 2
        if not any(k[0] <= cx <= k[0] + k[2] and k[1] <= cy <= k[1] + k[3] for k in kept):
            kept.append(b)
    return kept


def count_faces(image: np.ndarray, work_size: int = 512) -> int:
    """Number of faces found by the Haar cascades (see :func:`detect_faces`)."""
    return len(detect_faces(image, work_size))


def _hog_windows(image: np.ndarray, work_size: int) -> tuple[np.ndarray, np.ndarray]:
    """HOG people windows ``(n, 4)`` and their SVM weights ``(n,)`` (OpenCV's own threshold 0 applied)."""
    g = _grey_u8(image, work_size)
    if g.shape[0] < 128 or g.shape[1] < 64:
        return np.zeros((0, 4), int), np.zeros(0)
    rects, weights = _hog().detectMultiScale(g, winStride=(8, 8), padding=(8, 8), scale=1.05)
    w = np.ravel(weights).astype(np.float64) if len(weights) else np.zeros(0)
    return np.reshape(rects, (-1, 4)), w


def people_score(image: np.ndarray, work_size: int = 640) -> float:
    """The strongest HOG people window's SVM weight (0.0 when no window passes OpenCV's threshold 0)."""
    _, w = _hog_windows(image, work_size)
    return float(w.max()) if w.size else 0.0


def detect_people(
    image: np.ndarray, work_size: int = 640, min_weight: float = PEOPLE_MIN_WEIGHT
) -> list[tuple[int, int, int, int]]:
    """Standing-person boxes ``(x, y, w, h)`` from OpenCV's HOG people detector.

    ``min_weight`` is the SVM weight a window needs (0 is OpenCV's default).  The default
    :data:`PEOPLE_MIN_WEIGHT` was chosen on a labelled set (``benchmarks/bench_backgrounds.py``,
    ``benchmarks/results/backgrounds.md``): object photos such as scikit-image's rocket score up
    to 0.93, as high as a real person, so only stronger windows count.
    """
    rects, w = _hog_windows(image, work_size)
    boxes = [(int(r[0]), int(r[1]), int(r[2]), int(r[3])) for r, s in zip(rects, w, strict=True) if s >= min_weight]
    return _merge(boxes)


def count_people(image: np.ndarray, work_size: int = 640) -> int:
    """Number of standing people found by the HOG detector (see :func:`detect_people`)."""
    return len(detect_people(image, work_size))


def detector_score(detector: Detector, image: np.ndarray) -> float:
    """Run a user detector and reduce its answer to one score (higher = more likely an object).

    The callable receives an RGB float32 (H, W, 3) copy in [0, 1] and may
    return a number, a bool, or a sequence of numbers (their maximum is taken;
    an empty sequence scores 0).
    """
    out = detector(np.array(image, dtype=np.float32, copy=True))
    if isinstance(out, bool | int | float | np.number):
        return float(out)
    vals = np.asarray(list(out) if isinstance(out, Iterable) else out, dtype=np.float64).ravel()
    return float(vals.max()) if vals.size else 0.0


def load_detector(spec: str) -> Detector:
    """A detector from ``"module:function"`` (importable) or a path to an ``.onnx`` model."""
    if spec.endswith(".onnx"):
        return OnnxDetector(spec)
    mod, sep, attr = spec.partition(":")
    if not sep or not mod or not attr:
        raise InputError(f"detector {spec!r}: expected 'module:function' or a path to an .onnx file")
    try:
        obj = getattr(importlib.import_module(mod), attr)
    except (ImportError, AttributeError) as exc:
        raise InputError(f"detector {spec!r}: cannot import ({exc})") from None
    if not callable(obj):
        raise InputError(f"detector {spec!r}: {attr} is not callable")
    return obj


class OnnxDetector:
    """An ONNX model used as a detector (needs ``pip install onnxruntime``).

    The image is resized to ``input_size`` (width, height) and fed as a
    float32 NCHW RGB tensor in [0, 1] (``mean``/``std`` normalisation
    optional); the score is the maximum of output ``output_index`` (e.g. the
    person-class probability of a classifier, or the detection confidences).
    Picklable: the session is created lazily in each worker.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        input_size: tuple[int, int] = (224, 224),
        output_index: int = 0,
        mean: tuple[float, float, float] = (0.0, 0.0, 0.0),
        std: tuple[float, float, float] = (1.0, 1.0, 1.0),
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"{self.path}: ONNX model not found")
        require("onnxruntime", f"{self.path}: ONNX detectors")
        self.input_size, self.output_index = tuple(input_size), int(output_index)
        self.mean, self.std = np.array(mean, dtype=np.float32), np.array(std, dtype=np.float32)
        self._session: Any = self._open()

    def _open(self) -> Any:
        """An onnxruntime session on the model; a file that is not an ONNX model is an :class:`InputError`."""
        ort = require("onnxruntime", f"{self.path}: ONNX detectors")
        try:
            return ort.InferenceSession(str(self.path), providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types for a bad file
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"{self.path}: not a readable ONNX model ({first})") from None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_session": None}

    def __call__(self, image: np.ndarray) -> float:  # pragma: no cover - needs onnxruntime
        if self._session is None:
            self._session = self._open()
        x = cv2.resize(np.asarray(image, np.float32), self.input_size, interpolation=cv2.INTER_AREA)
        x = ((x - self.mean) / self.std).transpose(2, 0, 1)[None].astype(np.float32)
        name = self._session.get_inputs()[0].name
        out = self._session.run(None, {name: x})[self.output_index]
        return float(np.max(out))
