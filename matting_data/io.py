"""Image, alpha and trimap I/O with validation and atomic writes.

Conventions (in memory):

* images: RGB ``float32`` arrays of shape ``(H, W, 3)`` with values in [0, 1];
* alphas and masks: ``float32`` arrays of shape ``(H, W)`` in [0, 1];
* trimaps: ``uint8`` arrays of shape ``(H, W)`` holding only 0, 128 and 255.

On disk images and alphas are PNG (8 or 16 bit) or JPEG.  OpenCV decodes to
BGR(A); the conversion to RGB happens here and nowhere else.

Which channel is the alpha (:func:`read_alpha`):

* 1 channel: that channel;
* 2 channels (grey + alpha PNG): the second (alpha) channel;
* 3 channels: the channels must be equal (a grey matte saved as RGB),
  otherwise :class:`InputError` (pass ``channel=`` to choose one);
* 4 channels (an RGBA cut-out): the A channel;
* ``.npy``: a 2-D float array in [0, 1] (or a 3-D one with a single channel).

Every write goes to a temporary file in the target folder that is renamed over
the final name only once it is complete, so an interrupted write never leaves
a partial file under the final name.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np

from .errors import InputError, MissingFileError, SizeMismatchError

PathLike = str | os.PathLike

TRIMAP_VALUES = (0, 128, 255)
_MAX_BY_DTYPE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")

with contextlib.suppress(Exception):  # quiet libpng/libjpeg chatter on corrupt files
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


# --------------------------------------------------------------------------- header checks
#: The default largest image, in pixels, that the toolkit decodes (100 megapixels: a 12000x8000 photo).
DEFAULT_MAX_PIXELS = 100_000_000
#: Environment variable holding the limit (set by every command's ``--max-pixels``; inherited by workers).
MAX_PIXELS_ENV = "MATTING_DATA_MAX_PIXELS"


def max_pixels() -> int:
    """The largest image (width x height, in pixels) that is decoded: ``$MATTING_DATA_MAX_PIXELS`` or
    :data:`DEFAULT_MAX_PIXELS`.  Commands set it with ``--max-pixels N``."""
    text = os.environ.get(MAX_PIXELS_ENV, "")
    return int(text) if text.isdigit() and int(text) > 0 else DEFAULT_MAX_PIXELS


def _u16(b: bytes, o: int, big: bool) -> int:
    return int.from_bytes(b[o:o + 2], "big" if big else "little")


def _u32(b: bytes, o: int, big: bool) -> int:
    return int.from_bytes(b[o:o + 4], "big" if big else "little")


def _jpeg_size(b: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(b):
        if b[i] != 0xFF:
            return None
        marker = b[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        seg = _u16(b, i + 2, True)
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return _u16(b, i + 7, True), _u16(b, i + 5, True)
        i += 2 + seg
    return None


def _tiff_size(b: bytes) -> tuple[int, int] | None:
    big = b[:2] == b"MM"
    off = _u32(b, 4, big)
    if off + 2 > len(b):
        return None
    n = _u16(b, off, big)
    dims: dict[int, int] = {}
    for k in range(n):
        e = off + 2 + 12 * k
        if e + 12 > len(b):
            break
        tag, typ = _u16(b, e, big), _u16(b, e + 2, big)
        if tag in (256, 257):
            dims[tag] = _u16(b, e + 8, big) if typ == 3 else _u32(b, e + 8, big)
    return (dims[256], dims[257]) if len(dims) == 2 else None


def header_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` read from the header of encoded image bytes (PNG, JPEG, BMP, TIFF, WebP), without
    decoding the pixels; ``None`` when the format is not recognised (the decoder then has the last word)."""
    b = bytes(data[: 1 << 16])
    if b[:8] == b"\x89PNG\r\n\x1a\n" and len(b) >= 24:
        return _u32(b, 16, True), _u32(b, 20, True)
    if b[:2] == b"\xff\xd8":
        return _jpeg_size(b)
    if b[:2] == b"BM" and len(b) >= 26:
        return abs(int.from_bytes(b[18:22], "little", signed=True)), abs(int.from_bytes(b[22:26], "little", signed=True))
    if b[:4] in (b"II*\x00", b"MM\x00*") and len(b) >= 8:
        return _tiff_size(b)
    if b[:4] == b"RIFF" and b[8:12] == b"WEBP" and len(b) >= 30:
        kind = b[12:16]
        if kind == b"VP8X":
            return 1 + int.from_bytes(b[24:27], "little"), 1 + int.from_bytes(b[27:30], "little")
        if kind == b"VP8L":
            v = int.from_bytes(b[21:25], "little")
            return 1 + (v & 0x3FFF), 1 + ((v >> 14) & 0x3FFF)
        if kind == b"VP8 ":
            return _u16(b, 26, False) & 0x3FFF, _u16(b, 28, False) & 0x3FFF
    return None


def check_image_header(data: bytes, name: str) -> tuple[int, int] | None:
    """Refuse, before decoding, an image whose header declares more than :func:`max_pixels` pixels (or none).

    Returns the ``(width, height)`` of the header (``None`` when the format is not recognised).

    Raises
    ------
    InputError
        Naming ``name``, its declared size and the limit (and how to raise it: ``--max-pixels``).
    """
    size = header_size(data)
    if size is None:
        return None
    w, h = size
    if w <= 0 or h <= 0:
        raise InputError(f"{name}: zero-size image {w}x{h} in its header")
    limit = max_pixels()
    if w * h > limit:
        raise InputError(f"{name}: its header says {w}x{h} ({w * h / 1e6:.0f} megapixels), over the limit of "
                         f"{limit / 1e6:g} megapixels; not decoded (raise it with --max-pixels N)")
    return size


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
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim != 2:
        raise InputError(f"{p}: expected a 2-D alpha array, got shape {arr.shape}")
    if arr.size == 0:
        raise InputError(f"{p}: zero-size array {arr.shape}")
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


def snap_trimap(values: np.ndarray) -> np.ndarray:
    """Snap any 8-bit map to the nearest of 0, 128, 255 (ties go to 128)."""
    v = np.asarray(values).astype(np.int16)
    out = np.full(v.shape, 128, np.uint8)
    out[v < 64] = 0
    out[v > 191] = 255
    return out


def check_trimap(trimap: np.ndarray, name: str = "trimap") -> np.ndarray:
    """Raise :class:`InputError` unless ``trimap`` is uint8 (H, W) with only 0/128/255."""
    t = np.asarray(trimap)
    if t.ndim != 2:
        raise InputError(f"{name}: expected a 2-D trimap, got shape {t.shape}")
    if t.dtype != np.uint8:
        raise InputError(f"{name}: expected a uint8 trimap, got {t.dtype}")
    bad = (t != 0) & (t != 128) & (t != 255)
    nbad = int(np.count_nonzero(bad))
    if nbad:
        vals = np.unique(t[bad])
        shown = ", ".join(str(int(x)) for x in vals[:10]) + (" ..." if vals.size > 10 else "")
        raise InputError(
            f"{name}: {nbad} pixels have values other than 0/128/255 ({vals.size} distinct: {shown}); "
            "read it with read_trimap(path, snap=True) to snap them to the nearest label"
        )
    return t


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


# --------------------------------------------------------------------------- validation
def _check_float(arr: np.ndarray, name: str, ndim: tuple[int, ...]) -> np.ndarray:
    a = np.asarray(arr)
    if a.size == 0:
        raise InputError(f"{name}: zero-size array {a.shape}")
    if a.ndim not in ndim:
        raise InputError(f"{name}: expected {' or '.join(map(str, ndim))}-D array, got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.floating):
        raise InputError(f"{name}: expected a float array in [0, 1], got dtype {a.dtype}")
    check_unit_range(a, name)
    return a


def check_unit_range(a: np.ndarray, name: str, hint: str = "") -> None:
    """Raise :class:`InputError` if float array ``a`` has NaN/inf or values outside [0, 1].

    The message names ``name``, counts the bad values or gives min and max,
    and ends with ``hint`` (e.g. "; clip predictions first") when given.
    """
    finite = np.isfinite(a)
    if not finite.all():
        n = int(a.size - np.count_nonzero(finite))
        raise InputError(f"{name}: {n} NaN or infinite values{hint}")
    lo, hi = float(a.min()), float(a.max())
    if lo < 0.0 or hi > 1.0:
        raise InputError(f"{name}: values out of [0, 1] (min {lo:.6g}, max {hi:.6g}){hint}")


def check_image(image: np.ndarray, name: str = "image") -> np.ndarray:
    """Validate an RGB float image (H, W, 3) in [0, 1]; return it unchanged."""
    a = _check_float(image, name, (3,))
    if a.shape[2] != 3:
        raise InputError(f"{name}: expected 3 channels (RGB), got shape {a.shape}")
    return a


def check_alpha(alpha: np.ndarray, name: str = "alpha") -> np.ndarray:
    """Validate a float alpha (H, W) in [0, 1]; return it unchanged."""
    return _check_float(alpha, name, (2,))


def check_same_size(*named: tuple[str, np.ndarray]) -> None:
    """Raise :class:`SizeMismatchError` unless all arrays share height and width.

    ``named`` are ``(name, array)`` pairs; the message names each with its size.
    """
    sizes = [(n, tuple(np.shape(a)[:2])) for n, a in named]
    if len({s for _, s in sizes}) > 1:
        desc = ", ".join(f"{n} is {s[1]}x{s[0]}" for n, s in sizes)
        raise SizeMismatchError(f"size mismatch (width x height): {desc}")


# --------------------------------------------------------------------------- writing
def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_open(path: PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it to ``path`` on success.

    On any exception (or interruption) the temporary file is removed and
    ``path`` is left as it was.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".part", dir=p.parent)
    try:
        # mkstemp creates 0600; give the final file the usual mode (0666 minus the umask)
        os.chmod(tmp, 0o666 & ~_current_umask())
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_bytes_atomic(path: PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; return the path."""
    with atomic_open(path, "wb") as fh:
        fh.write(data)
    return Path(path)


def write_text_atomic(path: PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically; return the path."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def quantize(values: np.ndarray, bits: int = 8) -> np.ndarray:
    """Float values in [0, 1] -> the nearest 8- or 16-bit code: the toolkit's one quantiser.

    The rule is ``rint(float64(values) * (2**bits - 1))`` (round half to even),
    clipped to the code range.  The product is taken in float64 so that a float32
    value and its float64 twin give the same code (a float32 product rounds
    ``0.6098039 * 255`` up to 155.5 and then to 156; in float64 it is 155.49999 -> 155).
    Every writer, the trimap 8-bit rule and the metrics' 8-bit view use it, so a
    float prediction and the 8-bit PNG written from it score the same.

    Parameters
    ----------
    values : ndarray of float, any shape
        Values in [0, 1] (outside values are clipped).
    bits : {8, 16}

    Returns
    -------
    ndarray of uint8 (``bits=8``) or uint16 (``bits=16``), same shape.

    Examples
    --------
    >>> import numpy as np
    >>> quantize(np.array([0.0, 0.6098039, 1.0], np.float32)).tolist()
    [0, 155, 255]
    >>> quantize(np.array([0.5, 1.0]), bits=16).tolist()
    [32768, 65535]
    """
    if bits not in (8, 16):
        raise InputError(f"bits must be 8 or 16, got {bits}")
    top = 255.0 if bits == 8 else 65535.0
    codes = np.rint(np.asarray(values, dtype=np.float64) * top)
    return np.clip(codes, 0.0, top).astype(np.uint8 if bits == 8 else np.uint16)


_quantise = quantize


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
    q = cv2.cvtColor(_quantise(a, bits), cv2.COLOR_RGB2BGR)
    return write_bytes_atomic(p, _encode(p, q, jpeg_quality))


def write_alpha(path: PathLike, alpha: np.ndarray, bits: int = 8) -> Path:
    """Write a float alpha (H, W) in [0, 1] as an 8- or 16-bit grey PNG, atomically.

    Values are rounded to the nearest code (``round(alpha * 255)`` for 8 bit),
    so reading back with :func:`read_alpha` and writing again is exact.
    """
    p = Path(path)
    a = check_alpha(alpha, name=str(p))
    return write_bytes_atomic(p, _encode(p, _quantise(a, bits)))


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


# --------------------------------------------------------------------------- misc
def file_hash(path: PathLike, algorithm: str = "sha256", chunk: int = 1 << 20) -> str:
    """Content hash of a file as ``"<algorithm>:<hex digest>"``."""
    p = Path(path)
    if not p.exists():
        raise MissingFileError(f"{p}: file not found")
    h = hashlib.new(algorithm)
    with open(p, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return f"{algorithm}:{h.hexdigest()}"


def array_hash(arr: np.ndarray) -> str:
    """Content hash of an array (dtype, shape and bytes) as ``"sha256:<hex>"``."""
    a = np.ascontiguousarray(arr)
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.tobytes())
    return f"sha256:{h.hexdigest()}"


def list_images(folder: PathLike, suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> list[Path]:
    """Sorted image files (by name) directly inside ``folder``.

    A name with an image suffix that is a broken symbolic link or a symlink loop is an
    :class:`InputError` (never skipped without a word); sub-folders are not entered.
    """
    d = Path(folder)
    if not d.is_dir():
        raise MissingFileError(f"{d}: folder not found")
    try:
        entries = sorted(p for p in d.iterdir() if p.suffix.lower() in suffixes)
    except OSError as exc:
        raise InputError(f"{d}: cannot list the folder ({exc.strerror or exc})") from None
    for p in entries:
        if p.is_symlink() and not p.exists():
            raise InputError(f"{p}: broken symbolic link or symlink loop")
    return [p for p in entries if p.is_file()]


def index_by_stem(folder: PathLike, what: str, suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> dict[str, Path]:
    """``{stem: path}`` of the files of ``suffixes`` directly inside ``folder``: the one stem indexer.

    Raises
    ------
    MissingFileError
        ``folder`` does not exist (the message says which ``what`` folder).
    InputError
        Two files share a stem (``a.png`` and ``a.jpg``): which one is meant is ambiguous.
    """
    d = Path(folder)
    if not d.is_dir():
        raise MissingFileError(f"{what} folder {d} not found")
    out: dict[str, Path] = {}
    for f in list_images(d, suffixes):
        if f.stem in out:
            raise InputError(f"{what} folder {d}: two files share the stem {f.stem!r}: {out[f.stem].name}, {f.name}")
        out[f.stem] = f
    return out


def write_csv(path: PathLike, table: Any) -> Path:
    """Write a table as CSV (no index, ``%.10g`` floats, NaN empty), atomically: the one CSV writer.

    ``table``: a pandas DataFrame, or rows -- a sequence of dicts with the same keys, in column order (a
    command that has no DataFrame need not import pandas); the same table gives the same bytes either way.
    """
    if hasattr(table, "to_csv"):
        return write_text_atomic(path, table.to_csv(index=False, float_format="%.10g"))
    import csv
    import io

    rows = list(table)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    columns = list(rows[0]) if rows else []
    writer.writerow(columns)
    writer.writerows([_csv_cell(r.get(c)) for c in columns] for r in rows)
    return write_text_atomic(path, buf.getvalue())


def _csv_cell(v: Any) -> str:
    """One cell as pandas writes it with ``float_format="%.10g"``: NaN and None empty."""
    if v is None:
        return ""
    if isinstance(v, (float, np.floating)):
        return "" if v != v else f"{float(v):.10g}"  # what pandas writes with float_format="%.10g"
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return str(v)


def to_jsonable(obj: Any) -> Any:
    """``obj`` with NaN -> ``None``, paths and other objects -> ``str``, numpy scalars -> Python."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and obj != obj:
        return None
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return str(obj)


def write_json(path: PathLike, obj: Any) -> Path:
    """Write ``obj`` (see :func:`to_jsonable`) as indented, key-sorted JSON, atomically: the one JSON writer."""
    import json

    return write_text_atomic(path, json.dumps(to_jsonable(obj), indent=2, sort_keys=True) + "\n")


def link_file(target: PathLike, link: PathLike, within: PathLike | None = None) -> Path:
    """Make ``link`` a symbolic link to ``target`` (a copy where links are not possible): the one link writer.

    The link text never depends on the working directory: it is relative to the link's own
    folder when the target lies inside ``within`` (a run folder that may be moved as a whole),
    otherwise the target's absolute path.  A link that already points at ``target`` is kept.

    Parameters
    ----------
    target : the existing file the link points to (any spelling: relative to the cwd, absolute).
    link : the link to write (its folder is created).
    within : the folder that holds both the link and, when relative links are wanted, the target.
    """
    dest = Path(link)
    src = Path(os.path.abspath(target))
    text = str(src)
    if within is not None:
        base = Path(os.path.abspath(within))
        if base == src or base in src.parents:
            text = os.path.relpath(src, Path(os.path.abspath(dest.parent)))
    if dest.is_symlink() and os.readlink(dest) == text:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_symlink() or dest.exists():
        dest.unlink()
    try:
        dest.symlink_to(text)
    except OSError:
        import shutil

        shutil.copyfile(src, dest)
    return dest


# --------------------------------------------------------------------------- path guards
def confine(root: PathLike, relative: PathLike, what: str = "path") -> Path:
    """``root / relative``, refused unless it stays inside ``root``: the one path guard.

    Use it wherever a path comes from data (manifest ids and paths, ``track.json``,
    background lists, recipes, leaderboard ids).  Refused, with an :class:`InputError`
    naming ``what``, the value and the root, before anything is read or written:

    * an empty value, an absolute path or one with a drive (``/etc/x``, ``C:x``);
    * any ``..`` component (even one that would come back inside the root);
    * a path that, with symlinks resolved, lies outside the resolved root
      (a symlink inside the root pointing out of it, or a symlink loop).

    The returned path is ``root / relative`` (not resolved), so names stay as the
    user wrote them; the target need not exist.

    Examples
    --------
    >>> confine("/data", "fg/a.png").as_posix()
    '/data/fg/a.png'
    """
    raw = os.fspath(relative)
    text = raw.replace("\\", "/")
    if text.strip() == "":
        raise InputError(f"{what} is empty (expected a path inside {root})")
    if "\x00" in text:
        raise InputError(f"{what} {raw!r}: contains a NUL character")
    if text.startswith("/") or Path(raw).is_absolute() or (len(text) > 1 and text[1] == ":"):
        raise InputError(f"{what} {raw!r}: absolute paths are not allowed (expected a path inside {root})")
    if ".." in text.split("/"):
        raise InputError(f"{what} {raw!r}: '..' is not allowed (it would leave {root})")
    base = Path(root)
    target = base / text
    try:
        real_root = base.resolve(strict=False)
        real = target.resolve(strict=False)
    except (OSError, RuntimeError) as exc:  # symlink loop
        raise InputError(f"{what} {raw!r}: cannot resolve inside {root} ({type(exc).__name__}: symlink loop?)") from None
    if real != real_root and real_root not in real.parents:
        raise InputError(f"{what} {raw!r}: resolves to {real}, outside {root} (a symlink leaves the root)")
    return target


def _real(path: PathLike) -> Path:
    try:
        return Path(path).expanduser().resolve(strict=False)
    except (OSError, RuntimeError):
        return Path(os.path.abspath(path))


def check_output_dir(out: PathLike, *inputs: PathLike | None, what: str = "--out") -> Path:
    """Refuse an output folder that would overwrite or mix with the inputs; return it.

    For every input (a folder or a file; ``None`` entries are skipped) the output
    folder ``out`` may not be the input, lie inside an input folder, or contain the
    input (a folder or file), compared with symlinks resolved.  ``out`` may also not
    be an existing non-folder.  Nothing is created; the error (:class:`InputError`)
    names ``what``, the output and the input.
    """
    o = Path(out)
    if o.exists() and not o.is_dir():
        raise InputError(f"{what} {o}: exists and is not a folder")
    ro = _real(o)
    for inp in inputs:
        if inp is None:
            continue
        ri = _real(inp)
        if ro == ri:
            raise InputError(f"{what} {o}: is the input {inp} itself; choose a separate output folder")
        if ri in ro.parents and Path(inp).is_dir():
            raise InputError(f"{what} {o}: lies inside the input folder {inp}; choose a folder outside it")
        if ro in ri.parents:
            raise InputError(f"{what} {o}: contains the input {inp}; choose a folder that does not hold the inputs")
    return o


def check_writable_dir(out: PathLike, what: str = "--out") -> Path:
    """Create ``out`` (with parents) and check a file can be written there; :class:`InputError` otherwise."""
    o = Path(out)
    if o.exists() and not o.is_dir():
        raise InputError(f"{what} {o}: exists and is not a folder")
    try:
        o.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".write-test.", dir=o)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise InputError(f"{what} {o}: cannot write there ({exc.strerror or exc})") from None
    return o
