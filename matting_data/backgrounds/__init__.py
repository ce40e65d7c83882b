"""BG-20k style background curation: explainable signals, a threshold recipe, contact sheets.

Modules, one idea each:

* :mod:`.hashing`: perceptual hash, Hamming distance, duplicate groups;
* :mod:`.quality`: resolution, aspect, contrast (flatness), sharpness;
* :mod:`.saliency`: spectral-residual x colour-contrast saliency and its concentration;
* :mod:`.detectors`: Haar faces, HOG people, user callables, ONNX models;
* :mod:`.filtering`: :class:`FilterRecipe` thresholds -> keep/reject with all reasons;
* :mod:`.sheets`: matplotlib contact sheets;
* :mod:`.scan`: the parallel scan and the whole filter step.
"""

from .detectors import OnnxDetector, count_faces, count_people, detector_score, load_detector
from .filtering import FilterRecipe, apply_filter, load_filter_recipe, rejection_counts, signal_reasons
from .hashing import duplicate_groups, hamming, phash
from .quality import contrast, quality_signals, sharpness
from .saliency import saliency_map, saliency_signals, spectral_residual
from .scan import array_signals, filter_backgrounds, image_signals, scan_backgrounds
from .sheets import contact_sheets

__all__ = [
    "FilterRecipe",
    "OnnxDetector",
    "apply_filter",
    "array_signals",
    "contact_sheets",
    "contrast",
    "count_faces",
    "count_people",
    "detector_score",
    "duplicate_groups",
    "filter_backgrounds",
    "hamming",
    "image_signals",
    "load_detector",
    "load_filter_recipe",
    "phash",
    "quality_signals",
    "rejection_counts",
    "saliency_map",
    "saliency_signals",
    "scan_backgrounds",
    "sharpness",
    "signal_reasons",
    "spectral_residual",
]
