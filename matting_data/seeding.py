"""Per-sample random generators.

Every random choice in the toolkit comes from :func:`rng_for`, which derives a
``numpy.random.Generator`` from the recipe seed, the sample id and an optional
stream name.  Results therefore do not depend on processing order, on the
number of workers or on the backend.
"""

from __future__ import annotations

import hashlib

import numpy as np


def derive_seed(seed: int, *keys: object) -> int:
    """A 128-bit integer derived from ``seed`` and ``keys`` (stable across runs and platforms)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(str(int(seed)).encode())
    for k in keys:
        h.update(b"\x00")
        h.update(str(k).encode())
    return int.from_bytes(h.digest(), "little")


def rng_for(seed: int, sample_id: object, *stream: object) -> np.random.Generator:
    """Generator for one sample (and optionally one named stream of it).

    Parameters
    ----------
    seed : the recipe or command seed.
    sample_id : the sample's stable id (a string such as the file stem).
    stream : optional extra keys (e.g. a step name) for independent streams.
    """
    return np.random.Generator(np.random.PCG64(derive_seed(seed, sample_id, *stream)))
