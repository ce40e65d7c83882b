"""Image, alpha and trimap files: decoding, encoding, reading and writing (the one reader, the one writer).

In memory the conventions of :mod:`matting_data.io.arrays` hold (RGB float32 images, float32 alphas,
uint8 0/128/255 trimaps).  On disk images and alphas are PNG (8 or 16 bit) or JPEG.  OpenCV decodes to
BGR(A); the conversion to RGB happens here and nowhere else.

Which channel is the alpha (:func:`read_alpha`):

* 1 channel: that channel;
* 2 channels (grey + alpha PNG): the second (alpha) channel;
* 3 channels: the channels must be equal (a grey matte saved as RGB),
  otherwise :class:`InputError` (pass ``channel=`` to choose one);
* 4 channels (an RGBA cut-out): the A channel;
* ``.npy``: a 2-D float array in [0, 1] (or a 3-D one with a single channel).

Every write is atomic (:func:`matting_data.io.files.write_bytes_atomic`); every
decode is preceded by the header check (:func:`matting_data.io.headers.check_image_header`).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError, MissingFileError
from .arrays import as_2d, check_alpha, check_image, check_trimap, quantize, snap_trimap
from .files import write_bytes_atomic
from .headers import check_image_header
from .paths import PathLike

_MAX_BY_DTYPE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}

with contextlib.suppress(Exception):  # quiet libpng/libjpeg chatter on corrupt files
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


# --------------------------------------------------------------------------- reading
def _decode(path: PathLike) -> np.ndarray:
    """Decode a file with OpenCV, unchanged (bit depth and channels kept), after :func:`check_image_header`."""
    p = Path(path)
    if not p.exists():
        raise MissingFileError(f"{p}: file not found")
    if not p.is_file():
        raise InputError(f"{p}: not a regular file")
    data = p.read_bytes()
    if len(data) == 0:
        raise InputError(f"{p}: empty file (0 bytes)")
    check_image_header(data, str(p))
    try:
        arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        raise InputError(f"{p}: unreadable or corrupt image file (the decoder refused it)") from None
    if arr is None:
        raise InputError(f"{p}: unreadable or corrupt image file")
    if arr.size == 0 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputError(f"{p}: zero-size image {arr.shape}")
    if arr.dtype not in _MAX_BY_DTYPE:
        raise InputError(f"{p}: unsupported pixel type {arr.dtype} (expected 8- or 16-bit)")
    return arr


def _to_unit(arr: np.ndarray) -> np.ndarray:
    return (arr.astype(np.float32) / np.float32(_MAX_BY_DTYPE[arr.dtype])).astype(np.float32)


def read_image(path: PathLike) -> np.ndarray:
    """Read a photo as RGB ``float32`` (H, W, 3) in [0, 1].

    8-bit files are divided by 255, 16-bit files by 65535.  Grey files are
    replicated to three channels; the alpha channel of an RGBA file is dropped
    (use :func:`read_alpha` to get it).
    """
    return _to_unit(read_image_codes(path))


def read_image_codes(path: PathLike) -> np.ndarray:
    """Read a photo as its RGB codes, uint8 or uint16 (H, W, 3): :func:`read_image` before the scaling.

    A quarter (8-bit) of the float32 image's memory; the training loader keeps these and converts
    only the pixels a crop uses (the same values as :func:`read_image`, pixel for pixel).
    """
    arr = _decode(path)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.shape[2] == 2:
        arr = np.repeat(arr[:, :, :1], 3, axis=2)
    elif arr.shape[2] == 4:
        arr = cv2.cvtColor(arr, cv2.COLOR_BGRA2RGB)
    else:
        arr = cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)
    return arr


def _npy_matte(p: Path) -> np.ndarray:
    if not p.exists():
        raise MissingFileError(f"{p}: file not found")
    try:
        arr = np.load(p, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - any failure means a bad file
        raise InputError(f"{p}: unreadable .npy file ({exc})") from None
    arr = as_2d(arr, str(p))
    if not (arr.dtype in _MAX_BY_DTYPE or np.issubdtype(arr.dtype, np.floating)):
        raise InputError(f"{p}: expected a float or 8/16-bit alpha array, got {arr.dtype}")
    return arr


def read_matte(path: PathLike, channel: int | None = None) -> np.ndarray:
    """Read an alpha matte without changing its precision.

    Returns the stored codes as ``uint8`` or ``uint16`` (H, W) for image files,
    or the array as stored for ``.npy`` (float, uint8 or uint16; float values
    are not range-checked here).  The channel rule of the module docstring
    applies.  Use this where exact 8-bit codes matter (metrics); otherwise use
    :func:`read_alpha`.
    """
    p = Path(path)
    if p.suffix.lower() == ".npy":
        return _npy_matte(p)
    arr = _decode(p)
    if arr.ndim == 2:
        if channel not in (None, 0):
            raise InputError(f"{p}: channel {channel} requested but the file has 1 channel")
        return arr
    nch = arr.shape[2]
    if channel is not None:
        if not 0 <= channel < nch:
            raise InputError(f"{p}: channel {channel} requested but the file has {nch} channels")
        order = {3: [2, 1, 0], 4: [2, 1, 0, 3]}.get(nch, list(range(nch)))  # BGR(A) -> RGB(A)
        return np.ascontiguousarray(arr[:, :, order[channel]])
    if nch in (2, 4):
        return np.ascontiguousarray(arr[:, :, nch - 1])
    if nch == 3:
        if not (np.array_equal(arr[:, :, 0], arr[:, :, 1]) and np.array_equal(arr[:, :, 0], arr[:, :, 2])):
            differ = int(np.count_nonzero((arr[:, :, 0] != arr[:, :, 1]) | (arr[:, :, 0] != arr[:, :, 2])))
            raise InputError(
                f"{p}: 3-channel alpha with unequal channels ({differ} pixels differ); "
                "pass channel= to pick one"
            )
        return np.ascontiguousarray(arr[:, :, 0])
    raise InputError(f"{p}: cannot read an alpha from {nch} channels")


def read_alpha(path: PathLike, channel: int | None = None) -> np.ndarray:
    """Read an alpha matte or mask as ``float32`` (H, W) in [0, 1].

    Parameters
    ----------
    path : path to a PNG/JPEG (8 or 16 bit) or a ``.npy`` array.
    channel : force this channel index of a multi-channel file (in the file's
        RGB(A) order).  By default the rule in the module docstring applies.
    """
    arr = read_matte(path, channel)
    if arr.dtype in _MAX_BY_DTYPE:
        return _to_unit(arr)
    return check_alpha(arr.astype(np.float32), name=str(path))


def read_trimap(path: PathLike, snap: bool = False) -> np.ndarray:
    """Read a trimap as ``uint8`` (H, W) with values 0, 128, 255.

    Multi-channel files must have equal colour channels (as for alphas).
    16-bit trimaps are scaled to 8 bit.  Values other than 0/128/255 raise an
    :class:`InputError` that says how many pixels and which values, unless
    ``snap=True``, which maps every value to the nearest label.
    """
    arr = _decode(path)
    if arr.ndim == 3:
        if arr.shape[2] == 4:
            arr = arr[:, :, :3]
        if arr.shape[2] >= 3 and not (
            np.array_equal(arr[:, :, 0], arr[:, :, 1]) and np.array_equal(arr[:, :, 0], arr[:, :, 2])
        ):
            raise InputError(f"{path}: trimap with unequal colour channels")
        arr = np.ascontiguousarray(arr[:, :, 0])
    if arr.dtype == np.uint16:
        arr = np.round(arr.astype(np.float64) / 257.0).astype(np.uint8)
    if snap:
        return snap_trimap(arr)
    return check_trimap(arr, name=str(path))



# --------------------------------------------------------------------------- encoding and writing
def _encode(path: Path, arr: np.ndarray, jpeg_quality: int = 95) -> bytes:
    ext = path.suffix.lower()
    if ext not in (".png", ".jpg", ".jpeg"):
        raise InputError(f"{path}: can only write .png, .jpg or .jpeg")
    if ext != ".png" and arr.dtype != np.uint8:
        raise InputError(f"{path}: JPEG is 8-bit only; use .png for 16-bit output")
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if ext != ".png" else [cv2.IMWRITE_PNG_COMPRESSION, 3]
    ok, buf = cv2.imencode(ext, arr, params)
    if not ok:
        raise InputError(f"{path}: OpenCV could not encode the image")
    return buf.tobytes()


def encode_png(codes: np.ndarray, compression: int = 3, fast: bool = False) -> bytes:
    """PNG bytes of quantised codes: uint8/uint16 (H, W) grey or (H, W, 3) RGB (converted to BGR here).

    ``fast=True`` uses zlib's run-length strategy and a single "up" row filter instead of
    libpng's adaptive choice: the same pixels, about 1.8x faster to encode at 1.5 MP for
    ~4% larger files (measured in ``benchmarks/bench_compose.py``).
    """
    a = np.asarray(codes)
    if a.dtype not in (np.uint8, np.uint16) or a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] != 3):
        raise InputError(f"encode_png: expected uint8/uint16 (H, W) or (H, W, 3) codes, got {a.dtype} {a.shape}")
    if a.ndim == 3:
        a = cv2.cvtColor(a, cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_PNG_COMPRESSION, int(compression)]
    if fast:
        params += [cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
        if hasattr(cv2, "IMWRITE_PNG_FILTER"):  # OpenCV >= 4.10
            params += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP]
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(a), params)
    if not ok:  # pragma: no cover - OpenCV failure
        raise InputError("OpenCV could not encode a PNG")
    return buf.tobytes()


def decode_bytes(data: bytes, name: str = "image bytes") -> np.ndarray | None:
    """Decode encoded image bytes unchanged (OpenCV channel order); ``None`` when they do not decode.

    The header is checked first (:func:`check_image_header`: an over-large image is an :class:`InputError`)."""
    check_image_header(data, name)
    try:
        arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        return None
    return None if arr is None else np.asarray(arr)


def write_image(path: PathLike, image: np.ndarray, bits: int = 8, jpeg_quality: int = 95) -> Path:
    """Write an RGB float image (H, W, 3) in [0, 1] as 8/16-bit PNG or JPEG, atomically."""
    p = Path(path)
    a = check_image(image, name=str(p))
    q = cv2.cvtColor(quantize(a, bits), cv2.COLOR_RGB2BGR)
    return write_bytes_atomic(p, _encode(p, q, jpeg_quality))


def write_alpha(path: PathLike, alpha: np.ndarray, bits: int = 8) -> Path:
    """Write a float alpha (H, W) in [0, 1] as an 8- or 16-bit grey PNG, atomically.

    Values are rounded to the nearest code (``round(alpha * 255)`` for 8 bit),
    so reading back with :func:`read_alpha` and writing again is exact.
    """
    p = Path(path)
    a = check_alpha(alpha, name=str(p))
    return write_bytes_atomic(p, _encode(p, quantize(a, bits)))


def write_trimap(path: PathLike, trimap: np.ndarray) -> Path:
    """Write a uint8 0/128/255 trimap as an 8-bit PNG, atomically."""
    p = Path(path)
    t = check_trimap(trimap, name=str(p))
    return write_bytes_atomic(p, _encode(p, np.ascontiguousarray(t)))


def write_uint8(path: PathLike, arr: np.ndarray) -> Path:
    """Write an already-quantised uint8 array (H, W) or RGB (H, W, 3), atomically."""
    p = Path(path)
    a = np.asarray(arr)
    if a.dtype != np.uint8 or a.ndim not in (2, 3):
        raise InputError(f"{p}: expected a uint8 (H, W) or (H, W, 3) array, got {a.dtype} {a.shape}")
    if a.ndim == 3:
        a = cv2.cvtColor(a, cv2.COLOR_RGB2BGR)
    return write_bytes_atomic(p, _encode(p, np.ascontiguousarray(a)))
