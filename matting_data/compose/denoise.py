"""Denoise an image before compositing (the noise step of RSSN).

Methods (all take and return RGB float32 in [0, 1]):

* ``wavelet``: scikit-image BayesShrink wavelet denoising in YCbCr (fast,
  about 0.2 s per megapixel);
* ``nlm``: scikit-image non-local means, fast mode, ``h = strength * sigma``
  (default 0.6: 0.2-1.7 dB better than 0.8 at sigma 10-20, benchmarks/results/compose.md),
  patch 5, search distance 6 (about 1-2 s per megapixel, quality close to BM3D);
* ``opencv-nlm``: OpenCV ``fastNlMeansDenoisingColored`` on 8-bit codes;
* ``bm3d``: the optional ``bm3d`` package (non-commercial licence, very slow),
  only if the user installed it; RGB images go through ``bm3d.bm3d_rgb``.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from ..errors import RecipeError
from ..optional import require
from .noise import estimate_noise_sigma

DENOISERS = ("wavelet", "nlm", "opencv-nlm", "bm3d")


def denoise_image(
    image: np.ndarray,
    method: str = "wavelet",
    sigma: float | None = None,
    strength: float = 0.6,
    patch_size: int = 5,
    patch_distance: int = 6,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Denoise ``image``; return a new float32 array and a record of what was done.

    ``sigma`` is the noise level on the 0..255 scale (estimated with
    :func:`estimate_noise_sigma` when ``None``; the wavelet method estimates
    its own per-channel thresholds).  ``strength`` scales the NLM filter
    strength ``h`` relative to ``sigma``.
    """
    if method not in DENOISERS:
        raise RecipeError(f"unknown denoise method {method!r}; choose one of {', '.join(DENOISERS)}")
    img = np.asarray(image, np.float32)
    info: dict[str, Any] = {"method": method}
    if method == "wavelet":
        from skimage.restoration import denoise_wavelet

        s = None if sigma is None else sigma / 255.0
        out = denoise_wavelet(
            img, sigma=s, method="BayesShrink", mode="soft", channel_axis=-1, convert2ycbcr=True, rescale_sigma=True
        )
    else:
        if sigma is None:
            sigma = estimate_noise_sigma(img)
        info["sigma"] = round(float(sigma), 4)
        if sigma <= 0:
            return img.copy(), info
        if method == "nlm":
            from skimage.restoration import denoise_nl_means

            s = sigma / 255.0
            out = denoise_nl_means(
                img, h=strength * s, sigma=s, patch_size=patch_size, patch_distance=patch_distance,
                fast_mode=True, channel_axis=-1,
            )
        elif method == "opencv-nlm":
            u8 = np.rint(np.clip(img, 0.0, 1.0) * 255.0).astype(np.uint8)
            h = float(strength * sigma)
            out = cv2.fastNlMeansDenoisingColored(u8, None, h, h, patch_size, 2 * patch_distance + 1)
            out = out.astype(np.float32) / np.float32(255.0)
        else:
            bm3d = require("bm3d", "denoise method 'bm3d' (non-commercial licence, about 90 s per megapixel; "
                           "or use method = 'nlm' or 'wavelet')")
            # colour BM3D (opponent colour space, shared grouping) for RGB; plain bm3d per channel loses 0.6-1.1 dB
            if img.ndim == 3 and img.shape[2] == 3:
                out = bm3d.bm3d_rgb(img, sigma_psd=sigma / 255.0)
            else:
                out = bm3d.bm3d(img, sigma_psd=sigma / 255.0)
    out = np.asarray(out, dtype=np.float32)
    np.clip(out, 0.0, 1.0, out=out)
    return out, info
