"""matting-data: build image-matting datasets and benchmark matting models.

The main entry points are importable from the top level (loaded on first use, so
``import matting_data`` stays light); each also lives in its own module:

========================  ==========================================================
I/O                       :func:`read_image`, :func:`read_alpha`, :func:`read_trimap`,
                          :func:`write_image`, :func:`write_alpha`, :func:`write_trimap`,
                          :func:`quantize` (:mod:`matting_data.io`)
Trimaps and GFM targets   :func:`tt_trimap`, :func:`dim_trimap`, :func:`p3m_trimap`,
                          :func:`gfm_targets`, :func:`fuse`, :func:`write_trimaps`
                          (:mod:`matting_data.trimap`)
Composition               :func:`compose`, :func:`load_compose_recipe`
                          (:mod:`matting_data.compose`), :func:`build_comp_track`
Metrics                   :func:`evaluate_arrays`, :func:`evaluate_batch`,
                          :class:`MetricAccumulator` (:mod:`matting_data.metrics`)
Models                    :func:`get_model`, :func:`list_models`, :func:`predict_checked`
                          (:mod:`matting_data.models`), :func:`predict_images`
Tracks and benchmarks     :class:`Track`, :func:`load_track`, :func:`evaluate_dirs`,
                          :func:`run_leaderboard`, :func:`run_ablation`
========================  ==========================================================

Layers: :mod:`.cli` -> :mod:`.pipelines` -> core (:mod:`.trimap`, :mod:`.compose`,
:mod:`.backgrounds`, :mod:`.metrics`, :mod:`.datasets`, :mod:`.models`,
:mod:`.training`) -> infrastructure (:mod:`.errors`, :mod:`.io`, :mod:`.seeding`,
:mod:`.parallel`, :mod:`.recipes`, :mod:`.records`, :mod:`.tables`).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

#: public name -> module that defines it
_EXPORTS: dict[str, str] = {
    **{n: "matting_data.io" for n in (
        "read_image", "read_alpha", "read_matte", "read_trimap", "write_image", "write_alpha", "write_trimap",
        "quantize")},
    **{n: "matting_data.trimap" for n in (
        "tt_trimap", "dim_trimap", "p3m_trimap", "aim_trimap", "dist_trimap", "modnet_boundary", "gfm_targets",
        "fuse", "write_trimaps", "write_eval_trimaps")},
    **{n: "matting_data.compose" for n in ("compose", "load_compose_recipe", "Recipe")},
    **{n: "matting_data.metrics" for n in ("evaluate_arrays", "MetricAccumulator")},
    "evaluate_batch": "matting_data.metrics.torch_backend",
    **{n: "matting_data.models" for n in (
        "get_model", "list_models", "register_model", "predict_checked", "MattingModel")},
    **{n: "matting_data.datasets.track" for n in ("Track", "load_track")},
    "MattingDataError": "matting_data.errors",
    "InputError": "matting_data.errors",
    "build_comp_track": "matting_data.pipelines.comp_tracks",
    "evaluate_dirs": "matting_data.pipelines.evaluate",
    "run_leaderboard": "matting_data.pipelines.leaderboard",
    "run_ablation": "matting_data.pipelines.ablation",
    "predict_images": "matting_data.pipelines.predict",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'matting_data' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
