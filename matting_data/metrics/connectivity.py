"""Connectivity error (Conn) with exact 4-connected labelling.

For thresholds t = 0.1 .. 1.0, ``omega_t`` is the largest 4-connected component
of ``(p >= t) & (g >= t)`` (= ``min(p, g) >= t``).  A pixel's level ``l`` is the
previous threshold at the first t where it is not in ``omega_t`` (1 if never);
``phi = 1 - d * [d >= 0.15]`` with ``d = value - l``; the error sums
``|phi_p - phi_g|``.

``dim`` (MATLAB ``compute_connectivity_error``, single precision): 8-bit values
are compared with the integer cut-offs that ``single(x) / 255 >= t`` gives
(26, 51, 77, 102, 128, 153, 179, 204, 230, 255); ties between equally large
components go to the one whose first pixel comes first in column-major order
(``bwconncomp`` + ``max``); an empty intersection gives an empty ``omega``
(the GCA-Matting guard), so every remaining pixel drops there; summed over the
unknown region.

``gfm`` (GFM ``compute_connectivity_loss_whole_image``): float64 values against
``np.arange(0, 1.1, 0.1)`` (so 153/255 drops at 0.6), ties to the component
whose first pixel comes first in row-major order (``skimage.measure.label`` +
``argmax``), thresholds with no component skipped, whole image, / 1000.

Labelling is OpenCV's ``connectedComponents`` (4-connectivity, exact), inside the
bounding box of each thresholded set; the tie rule is applied explicitly, so it
does not depend on OpenCV's label order.  Only the pixels whose level matters
(those where prediction and ground truth differ) are followed.
"""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np

from .inputs import code_top, unit_table

#: thresholds t_0..t_10 (MATLAB ``0:0.1:1`` and numpy ``arange(0, 1.1, 0.1)``).
GFM_THRESHOLDS = np.arange(0, 1.1, 0.1)
DIM_THRESHOLDS = np.array([k / 10 for k in range(11)], dtype=np.float64)


def _dim_cutoffs() -> np.ndarray:
    v = np.arange(256, dtype=np.float32) / np.float32(255)
    return np.array([int(np.argmax(v >= np.float32(t))) for t in DIM_THRESHOLDS[1:]], dtype=np.int32)


#: integer cut-offs: 8-bit value v is ``>= t_k`` in single precision iff ``v >= DIM_CUTOFFS[k - 1]``.
DIM_CUTOFFS = _dim_cutoffs()


_HIST_LIMIT = 1 << 24  # calcHist counts are float32: exact below 2**24 pixels


def _label(mask8: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """4-connected labels of a contiguous uint8 0/1 mask and the pixel count of each label."""
    try:  # 16-bit labels are faster; OpenCV raises when there are more than 65535 components
        n, labels = cv2.connectedComponents(mask8, connectivity=4, ltype=cv2.CV_16U)
    except cv2.error:
        n, labels = cv2.connectedComponents(mask8, connectivity=4, ltype=cv2.CV_32S)
        return n, labels, np.bincount(labels.ravel(), minlength=n)
    if n <= 2:  # at most one component: its area is the mask's count
        cnt = int(cv2.countNonZero(mask8))
        return n, labels, np.array([mask8.size - cnt, cnt][:n], np.int64)
    if labels.size < _HIST_LIMIT:
        areas = cv2.calcHist([labels], [0], None, [n], [0, n]).ravel().astype(np.int64)
    else:
        areas = np.bincount(labels.ravel(), minlength=n)
    return n, labels, areas


def label_largest(mask: np.ndarray, order: str = "F") -> tuple[np.ndarray, int]:
    """4-connected labels of ``mask`` and the label of its largest component.

    Parameters
    ----------
    mask : bool or uint8 (H, W); non-zero pixels are foreground.
    order : tie rule between equally large components: ``"F"`` picks the one
        whose first pixel comes first in column-major order (MATLAB), ``"C"`` in
        row-major order (scikit-image).

    Returns
    -------
    ``(labels, best)``: label image (uint16 or int32, 0 = background) and the
    chosen label, or ``best = 0`` when the mask is empty.
    """
    if order not in ("F", "C"):
        raise ValueError(f"order must be 'F' or 'C', got {order!r}")
    m = np.asarray(mask)
    m8 = m.view(np.uint8) if m.dtype == np.bool_ else (m != 0).view(np.uint8)
    n, labels, areas = _label(np.ascontiguousarray(m8))
    if n <= 1:
        return labels, 0
    areas[0] = -1
    best = int(np.argmax(areas))
    tied = np.flatnonzero(areas == areas[best])
    return labels, best if tied.size == 1 else _tie_winner(labels, tied, n, order)


def _tie_winner(labels: np.ndarray, tied: np.ndarray, n: int, order: str) -> int:
    """The label, among ``tied``, that owns the first pixel of all the tied components in ``order``."""
    lut = np.zeros(n, bool)
    lut[tied] = True
    hit = lut[labels]
    if order == "F":
        col, row = divmod(int(np.argmax(hit.T.ravel())), labels.shape[0])
    else:
        row, col = divmod(int(np.argmax(hit.ravel())), labels.shape[1])
    return int(labels[row, col])


def largest_component(mask: np.ndarray, order: str = "F") -> np.ndarray:
    """Bool mask of the largest 4-connected component (empty if ``mask`` is); see :func:`label_largest`."""
    labels, best = label_largest(mask, order)
    if best == 0:
        return np.zeros(labels.shape, bool)
    return labels == best


def _largest(mask8: np.ndarray, order: str) -> tuple[np.ndarray, int, int, np.ndarray, int]:
    """The largest 4-connected component of a contiguous uint8 0/1 mask.

    Returns ``(omega, area, other, labels, best)``: ``omega`` the component as a
    uint8 0/1 mask (``mask8`` itself when it is the only one), its area, the
    largest other area, the label image and the component's label (``best = 0``,
    areas 0 when the mask is empty).  Ties follow ``order`` as in :func:`label_largest`.
    """
    n, labels, areas = _label(mask8)
    if n <= 2:  # empty, or one component: the mask itself
        return mask8, int(areas[1]) if n == 2 else 0, 0, labels, n - 1
    areas[0] = -1
    best = int(np.argmax(areas))
    area = int(areas[best])
    tied = np.flatnonzero(areas == area)
    if tied.size > 1:
        best = _tie_winner(labels, tied, n, order)
    areas[best] = -1
    return _equal(labels, best), area, max(int(areas.max()), 0), labels, best


Box = tuple[int, int, int, int]


def _box(mask8: np.ndarray) -> Box:
    """``(r0, r1, c0, c1)`` of the non-zero pixels of a uint8 image (``r1 == r0`` when there is none)."""
    x, y, bw, bh = cv2.boundingRect(mask8)
    return y, y + bh, x, x + bw


def _crop(a: np.ndarray, box: Box) -> np.ndarray:
    return a[box[0] : box[1], box[2] : box[3]]


def _equal(labels: np.ndarray, best: int) -> np.ndarray:
    """uint8 0/1 mask of ``labels == best`` (OpenCV takes a 1x1 image for a scalar: numpy there)."""
    if labels.size < 16:
        return (labels == best).view(np.uint8)
    out: np.ndarray = cv2.compare(labels, np.array([float(best)]), cv2.CMP_EQ)
    out >>= 7
    return out


def _at_least(passed: np.ndarray, k: int) -> np.ndarray:
    """uint8 0/1 mask of ``passed >= k`` (the set at threshold k)."""
    return cv2.threshold(passed, k - 1, 1, cv2.THRESH_BINARY)[1]


def _seed_component(mask8: np.ndarray, seed: tuple[int, int]) -> tuple[np.ndarray, int, int] | None:
    """The component of ``mask8`` holding ``seed`` when it holds more than half of the mask's pixels.

    Such a component is larger than all the others together, so it is the
    largest with no tie, and ``rest`` (the other pixels) bounds every other
    component.  One flood fill finds it, several times cheaper than labelling
    the mask.  Returns ``(omega, area, rest)`` -- ``omega`` is ``mask8`` itself,
    rewritten as the component's 0/1 mask -- or None (``mask8`` unchanged)
    when the seed is outside the mask or its component is not that large.
    """
    r, c = seed
    if not (0 <= r < mask8.shape[0] and 0 <= c < mask8.shape[1]) or mask8[r, c] == 0:
        return None
    total = int(cv2.countNonZero(mask8))
    area = int(cv2.floodFill(mask8, None, (c, r), 2, 0, 0, 4)[0])  # 4-connected, exact value 1
    if 2 * area > total:
        np.right_shift(mask8, 1, out=mask8)  # 2 -> 1 (the component), 1 -> 0 (the others)
        return mask8, area, total - area
    np.minimum(mask8, 1, out=mask8)  # undo: 2 -> 1
    return None


def _largest_from(mask8: np.ndarray, seed: tuple[int, int], order: str) -> tuple[np.ndarray, int, int]:
    """``(omega, area, bound)``: the largest component and an upper bound of every other one.

    Tries :func:`_seed_component` first (the bound is then the other pixels'
    count), else labels the mask (the bound is the second largest area).
    """
    found = _seed_component(mask8, seed)
    if found is not None:
        return found
    omega, area, other, _, _ = _largest(mask8, order)
    return omega, area, other


def _next_omega(
    passed: np.ndarray, k: int, box: Box, omega: np.ndarray, bound: int, order: str, seed: tuple[int, int]
) -> tuple[np.ndarray, Box, int] | None:
    """``omega_k`` from ``omega_{k-1}`` (0/1 in ``box`` coordinates), or None where the chain breaks.

    Returns ``(omega, box, bound)`` for threshold k; see :func:`level_map`.
    """
    cand = cv2.bitwise_and(_at_least(_crop(passed, box), k), omega)
    sub = _box(cand)
    if sub[1] == sub[0]:  # S_k (not empty) misses omega_{k-1}: omega_k lies elsewhere
        return None
    inner = (box[0] + sub[0], box[0] + sub[1], box[2] + sub[2], box[2] + sub[3])
    local = (seed[0] - inner[0], seed[1] - inner[2])
    omega, area, other = _largest_from(np.ascontiguousarray(_crop(cand, sub)), local, order)
    if area > bound:
        return omega, inner, max(bound, other)
    # a component of S_k outside omega_{k-1} may be as large: label S_k whole, as the definition says
    whole = _at_least(passed, k)
    wbox = _box(whole)
    _, _, wother, wlabels, wbest = _largest(np.ascontiguousarray(_crop(whole, wbox)), order)
    r, c = divmod(int(np.argmax(omega.ravel())), omega.shape[1])  # a pixel of the candidate
    if wlabels[inner[0] + r - wbox[0], inner[2] + c - wbox[2]] != wbest:
        return None
    return omega, inner, wother


def level_map(
    passed: np.ndarray, order: str = "F", skip_empty: bool = False, n_thresholds: int = 10, last: int | None = None
) -> np.ndarray:
    """Level index ``k`` (0..10) of every pixel as uint8 (H, W); see :func:`connectivity_levels`.

    ``last``: follow the thresholds up to ``last`` only; the levels are then
    exact for the pixels with ``passed <= last`` (a pixel is never in a set
    above its own ``passed``), which is all the callers need.

    One sweep over the thresholds that labels only what can still matter.  With
    ``S_k = {passed >= k}`` and ``omega_k`` its largest component: ``omega_k``
    is a connected subset of ``S_{k-1}``, so it lies inside ``omega_{k-1}`` or
    is disjoint from it.  The pixels not yet dropped after threshold k are
    therefore ``omega_k`` while the chain ``omega_1 >= omega_2 >= ...`` holds,
    and none from its first break on; a pixel's level is the number of
    ``omega_k`` of the unbroken chain that hold it.  So ``omega_k`` is searched
    inside ``omega_{k-1}`` (``S_k & omega_{k-1}`` in its bounding box): the
    largest component found there is ``omega_k`` when it is strictly larger
    than ``bound``, an upper bound of every component of ``S_k`` outside
    ``omega_{k-1}`` (each lies in a component of ``S_{k-1}`` other than
    ``omega_{k-1}``); otherwise ``S_k`` is labelled whole to decide.
    """
    level = np.zeros(passed.shape, np.uint8)
    top = min(int(passed.max()), n_thresholds)  # S_k is empty for every k > top
    if top == 0:  # S_1 empty: dim drops every pixel at t_1, gfm skips every threshold
        return level + np.uint8(n_thresholds) if skip_empty else level
    box = _box(passed)
    seed = divmod(int(np.argmax(passed)), passed.shape[1])  # a deepest pixel: likely in every omega_k
    omega, _, bound = _largest_from(
        _at_least(np.ascontiguousarray(_crop(passed, box)), 1), (seed[0] - box[0], seed[1] - box[2]), order
    )
    stop = top if last is None else min(top, max(last, 1))
    for k in range(1, stop + 1):
        if k > 1:
            nxt = _next_omega(passed, k, box, omega, bound, order, seed)
            if nxt is None:
                return level
            omega, box, bound = nxt
        region = _crop(level, box)
        region += omega
    if skip_empty and stop == top < n_thresholds:  # gfm: the empty thresholds are skipped, omega_top never drops
        region += omega * np.uint8(n_thresholds - top)
    return level


def connectivity_levels(
    passed: np.ndarray,
    sel: np.ndarray | None = None,
    order: str = "F",
    skip_empty: bool = False,
    n_thresholds: int = 10,
) -> np.ndarray:
    """Level index ``k`` (0..10) of each selected pixel: ``l = thresholds[k]`` (10 = never dropped).

    Parameters
    ----------
    passed : uint8 (H, W), the number of thresholds each pixel passes, i.e.
        ``#{k : min(p, g) >= t_k}``; the set at threshold k is ``passed >= k``.
    sel : flat indices of the pixels whose level is wanted (None = all).
    order : tie rule (see :func:`label_largest`).
    skip_empty : ``True`` skips a threshold whose intersection is empty (gfm);
        ``False`` treats it as an empty ``omega`` (dim, GCA guard).
    n_thresholds : number of thresholds (10 for step 0.1).

    Returns int8 levels, one per selected pixel (see :func:`level_map` for the method).
    """
    if order not in ("F", "C"):
        raise ValueError(f"order must be 'F' or 'C', got {order!r}")
    passed = np.ascontiguousarray(passed, dtype=np.uint8)
    if sel is None:
        return level_map(passed, order, skip_empty, n_thresholds).ravel().view(np.int8)
    if sel.size == 0:
        return np.zeros(0, np.int8)
    last = int(passed.ravel()[sel].max())  # thresholds above it hold no selected pixel
    return level_map(passed, order, skip_empty, n_thresholds, last).ravel()[sel].view(np.int8)


#: ``_DIM_PASSED[v]`` = number of dim thresholds an 8-bit value v passes.
_DIM_PASSED = np.searchsorted(DIM_CUTOFFS, np.arange(256), side="right").astype(np.uint8)


def dim_passed(m8: np.ndarray) -> np.ndarray:
    """uint8 map of how many ``dim`` thresholds each 8-bit value passes (integer cut-offs)."""
    return cv2.LUT(m8, _DIM_PASSED)


def gfm_passed(m: np.ndarray) -> np.ndarray:
    """uint8 map of how many ``gfm`` thresholds (float64 ``arange(0, 1.1, 0.1)``) each value passes.

    ``m``: float64 in [0, 1] -- one exact float64 comparison per threshold,
    counted in uint8 (several times faster than a binary search per pixel) --
    or uint8 / uint16 codes ``v`` standing for ``v / top`` (a table of the same comparisons).
    """
    if m.dtype == np.uint8:
        return cv2.LUT(m, _gfm_passed_table(255))
    if m.dtype == np.uint16:
        return np.take(_gfm_passed_table(65535), m)
    m64 = np.asarray(m, dtype=np.float64)
    acc = np.zeros(m64.shape, np.uint8)
    ge = np.empty(m64.shape, bool)  # one work buffer, not a fresh mask per threshold
    for t in GFM_THRESHOLDS[1:]:
        np.greater_equal(m64, t, out=ge)
        acc += ge
    return acc


@cache
def _gfm_passed_table(top: int) -> np.ndarray:
    """Number of ``gfm`` thresholds ``v / top`` passes, for every code v (float64 comparisons)."""
    values = unit_table(top)
    return np.searchsorted(GFM_THRESHOLDS[1:], values, side="right").astype(np.uint8)


_DIM_L32 = DIM_THRESHOLDS.astype(np.float32)
_GFM_L32 = GFM_THRESHOLDS.astype(np.float32)


def dim_conn(p8: np.ndarray, g8: np.ndarray, unknown: np.ndarray) -> float:
    """Raw ``dim`` Conn: sum over ``unknown`` of |phi_p - phi_g| (single precision; papers print / 1000).

    ``p8``, ``g8``: uint8 (H, W) 0..255; ``unknown``: bool (H, W).
    """
    sel = np.flatnonzero(unknown & (p8 != g8))  # equal values give equal phi: no contribution
    if sel.size == 0:
        return 0.0
    passed = dim_passed(np.minimum(p8, g8))
    level = connectivity_levels(passed, sel, order="F", skip_empty=False)
    lv = _DIM_L32[level]
    t = np.float32(0.15)
    p = p8.ravel()[sel].astype(np.float32) / np.float32(255)
    g = g8.ravel()[sel].astype(np.float32) / np.float32(255)
    dp = p - lv
    dg = g - lv
    phi_p = np.float32(1) - dp * (dp >= t)
    phi_g = np.float32(1) - dg * (dg >= t)
    return float(np.abs(phi_p - phi_g).sum(dtype=np.float64))


@cache
def _gfm_phi_table(top: int) -> np.ndarray:
    """gfm's ``phi = 1 - d * [d >= 0.15]``, ``d = v / top - l_k``, for every (level k, code v), flattened k-major.

    The same float64 operations as on float mattes; indexed by ``(k << bits) | v``
    (bits = 8 or 16).  11 x 256 entries for 8-bit codes, 11 x 65536 (5.8 MB) for 16-bit.
    """
    d = unit_table(top)[None, :] - _GFM_L32.astype(np.float64)[:, None]
    table = (1.0 - d * (d >= 0.15)).ravel()
    table.flags.writeable = False
    return table


def gfm_conn(p: np.ndarray, g: np.ndarray) -> float:
    """Raw ``gfm`` Conn: whole-image sum of |phi_p - phi_g| / 1000.

    ``p``, ``g``: (H, W) float64 in [0, 1], or both uint8 (uint16) codes standing
    for ``v / 255`` (``v / 65535``): then each phi is read from a table of the
    same float64 operations indexed by (level, code) -- an identical result.
    """
    top = code_top(p, g)
    sel = np.flatnonzero(p != g)  # equal values give equal phi: no contribution
    if sel.size == 0:
        return 0.0
    passed = gfm_passed(np.minimum(p, g))
    level = connectivity_levels(passed, sel, order="C", skip_empty=True)
    if top is not None:  # codes: phi from a table indexed by (level, code)
        bits, key_type = (8, np.uint16) if top == 255 else (16, np.uint32)
        key = level.view(np.uint8).astype(key_type) << bits
        table = _gfm_phi_table(top)
        phi_p = table[key | p.ravel()[sel]]
        phi_p -= table[key | g.ravel()[sel]]
        return float(np.abs(phi_p, out=phi_p).sum()) / 1000.0
    lv = _GFM_L32[level].astype(np.float64)
    dp = p.ravel()[sel] - lv
    dg = g.ravel()[sel] - lv
    phi_p = 1.0 - dp * (dp >= 0.15)
    phi_g = 1.0 - dg * (dg >= 0.15)
    return float(np.abs(phi_p - phi_g).sum()) / 1000.0
