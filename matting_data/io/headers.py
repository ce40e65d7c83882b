"""Image header checks: the pixel limit, read from the header before anything is decoded.

:func:`header_size` reads ``(width, height)`` from PNG, JPEG, BMP, TIFF and WebP headers;
:func:`check_image_header` refuses an image over :func:`max_pixels` (``--max-pixels``) before it is decoded.
"""

from __future__ import annotations

import os

from ..errors import InputError

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
