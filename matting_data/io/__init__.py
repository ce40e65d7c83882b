"""Image, alpha and trimap I/O with validation, atomic writes, hashing and path guards.

One module per idea; every name is importable from here (``from matting_data.io import read_alpha``):

=========================================  ====================================================================
:mod:`matting_data.io.images`              decode / encode image files; ``read_image``, ``read_alpha``,
                                           ``read_matte``, ``read_trimap``, ``write_image``, ``write_alpha``,
                                           ``write_trimap``, ``write_uint8``, ``encode_png``, ``decode_bytes``
:mod:`matting_data.io.headers`             the pixel limit checked on the header before decoding
                                           (``check_image_header``, ``header_size``, ``max_pixels``)
:mod:`matting_data.io.arrays`              the in-memory conventions: ``check_image``, ``check_alpha``,
                                           ``check_trimap``, ``check_unit_range``, ``check_same_size``,
                                           ``as_2d``, ``snap_trimap`` and the one quantiser ``quantize``
:mod:`matting_data.io.files`               atomic writes (``atomic_open``, ``write_bytes_atomic``,
                                           ``write_text_atomic``), hashes (``file_hash``, ``array_hash``),
                                           the one CSV and JSON writers (``write_csv``, ``write_json``,
                                           ``to_jsonable``)
:mod:`matting_data.io.paths`               the path guard ``confine``, output folder checks
                                           (``check_output_dir``, ``check_writable_dir``), folder listings
                                           (``list_images``, ``index_by_stem``) and ``link_file``
=========================================  ====================================================================

Conventions (in memory): images RGB ``float32`` (H, W, 3) in [0, 1]; alphas ``float32`` (H, W) in [0, 1];
trimaps ``uint8`` (H, W) holding only 0, 128 and 255.  OpenCV's BGR order is converted in
:mod:`~matting_data.io.images` and nowhere else.

A test that replaces a function replaces it where it is looked up: in the submodule that calls it
(``monkeypatch.setattr(matting_data.io.files, ...)``), not here.
"""

from __future__ import annotations

from .arrays import (
    TRIMAP_VALUES,
    as_2d,
    check_alpha,
    check_image,
    check_same_size,
    check_trimap,
    check_unit_range,
    quantize,
    snap_trimap,
)
from .files import (
    array_hash,
    atomic_open,
    file_hash,
    to_jsonable,
    write_bytes_atomic,
    write_csv,
    write_json,
    write_text_atomic,
)
from .headers import DEFAULT_MAX_PIXELS, MAX_PIXELS_ENV, check_image_header, header_size, max_pixels
from .images import (
    decode_bytes,
    encode_png,
    read_alpha,
    read_image,
    read_image_codes,
    read_matte,
    read_trimap,
    write_alpha,
    write_image,
    write_trimap,
    write_uint8,
)
from .paths import (
    IMAGE_SUFFIXES,
    PathLike,
    check_output_dir,
    check_writable_dir,
    confine,
    index_by_stem,
    link_file,
    list_images,
)

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_SUFFIXES",
    "MAX_PIXELS_ENV",
    "TRIMAP_VALUES",
    "PathLike",
    "array_hash",
    "as_2d",
    "atomic_open",
    "check_alpha",
    "check_image",
    "check_image_header",
    "check_output_dir",
    "check_same_size",
    "check_trimap",
    "check_unit_range",
    "check_writable_dir",
    "confine",
    "decode_bytes",
    "encode_png",
    "file_hash",
    "header_size",
    "index_by_stem",
    "link_file",
    "list_images",
    "max_pixels",
    "quantize",
    "read_alpha",
    "read_image",
    "read_image_codes",
    "read_matte",
    "read_trimap",
    "snap_trimap",
    "to_jsonable",
    "write_alpha",
    "write_bytes_atomic",
    "write_csv",
    "write_image",
    "write_json",
    "write_text_atomic",
    "write_trimap",
    "write_uint8",
]
