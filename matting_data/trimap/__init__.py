"""Trimaps, transition masks and GFM targets: one package for the trimap idea.

* :mod:`.schemes` -- trimaps of every common scheme from a ground-truth alpha (GFM TT,
  DIM/mmagic, distance transform, P3M, AIM SO/STM/NS, MODNet boundary) and the
  8-bit rule (:func:`quantize_alpha`);
* :mod:`.gfm_targets` -- GFM's TT/FT/BT glance and focus targets and their exact
  collaborative-matting fusion (:func:`fuse`);
* :mod:`.morphology` -- elliptical erosion/dilation equal to OpenCV pixel for pixel
  (run-length path for large kernels) and the Euclidean disc;
* :mod:`.files` -- writing trimaps / targets for a folder or a manifest, in parallel,
  and the fixed evaluation trimaps of a test split.

>>> import numpy as np
>>> from matting_data.trimap import tt_trimap
>>> alpha = np.zeros((32, 32), np.float32); alpha[8:24, 8:24] = 1.0
>>> t = tt_trimap(alpha, kernel=3)
>>> sorted(np.unique(t).tolist())
[0, 128, 255]
"""

from .files import (
    TRIMAP_SCHEMES,
    TrimapJob,
    alphas_in_folder,
    alphas_in_manifest,
    run_trimap_job,
    scheme_outputs,
    scheme_suffixes,
    write_eval_trimaps,
    write_trimaps,
)
from .gfm_targets import DEFAULT_KERNEL, REPRESENTATIONS, GlanceFocusTargets, fuse, gfm_targets
from .morphology import (
    KERNEL_SHAPES,
    as_mask,
    check_size,
    dilate,
    disc_radius,
    distance_to,
    erode,
    kernel_difference,
    structuring_element,
)
from .schemes import (
    AIM_KERNEL,
    AIM_TYPES,
    BT_KERNEL,
    DIM_KERNEL_RANGE,
    DIST_THRESHOLD,
    FT_KERNEL,
    MODNET_KERNEL,
    P3M_KERNEL_RANGE,
    PRE_2021_KERNEL_RANGE,
    SCHEMES,
    TT_KERNEL,
    aim_trimap,
    alpha_regions,
    dim_trimap,
    dist_trimap,
    draw_size,
    erode_dilate_trimap,
    modnet_boundary,
    p3m_trimap,
    quantize_alpha,
    trimap_from_masks,
    tt_trimap,
)

__all__ = [
    "AIM_KERNEL", "AIM_TYPES", "BT_KERNEL", "DEFAULT_KERNEL", "DIM_KERNEL_RANGE", "DIST_THRESHOLD", "FT_KERNEL",
    "KERNEL_SHAPES", "MODNET_KERNEL", "P3M_KERNEL_RANGE", "PRE_2021_KERNEL_RANGE", "REPRESENTATIONS", "SCHEMES",
    "TRIMAP_SCHEMES", "TT_KERNEL", "GlanceFocusTargets", "TrimapJob", "aim_trimap", "alpha_regions",
    "alphas_in_folder", "alphas_in_manifest", "as_mask", "check_size", "dilate", "dim_trimap", "disc_radius",
    "dist_trimap", "distance_to", "draw_size", "erode", "erode_dilate_trimap", "fuse", "gfm_targets",
    "kernel_difference", "modnet_boundary", "p3m_trimap", "quantize_alpha", "run_trimap_job", "scheme_outputs",
    "scheme_suffixes", "structuring_element", "trimap_from_masks", "tt_trimap", "write_eval_trimaps",
    "write_trimaps",
]
