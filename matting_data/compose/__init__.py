"""Composition: naive and RSSN composites as recipes of named, seeded, recorded steps.

* :func:`compose` runs a :class:`Recipe` on one foreground/alpha/background;
* the steps themselves are plain functions: :func:`fit_background`,
  :func:`blur_image`, :func:`denoise_image`, :func:`estimate_noise_sigma`,
  :func:`blend`, :func:`quantise`;
* :func:`estimate_foreground` / :func:`cached_foreground` recover F for
  sources that ship only the photo and its alpha;
* :func:`replay` recomposes a sample from its provenance record (every draw forced);
* :func:`check_composite` / :func:`composite_sheets` flag bleed, darkened edges and enlarged backgrounds;
* :func:`pair_backgrounds`, :func:`check_background_pool`: pairing and the pool check for tracks;
* :func:`recipe_differences` / :func:`differing_steps` compare recipes (ablation rows).

Building a whole COMP track (pairing, files, manifest, parallelism) is the
pipeline :mod:`matting_data.pipelines.comp_tracks`.
"""

from .blend import blend, codes_from_float, quantise
from .blur import blur_image, disc_kernel
from .composite import Composite, compose, draws_from_record, replay
from .denoise import DENOISERS, denoise_image
from .fit import fit_background
from .foreground import cached_foreground, estimate_foreground
from .noise import add_noise, estimate_noise_sigma, noise_field, noise_to_add
from .pairing import pair_backgrounds
from .provenance import Provenance
from .quality import check_composite, composite_sheets
from .recipe import (
    Recipe,
    Step,
    check_background_pool,
    differing_steps,
    load_compose_recipe,
    parse_recipe,
    recipe_differences,
)
from .steps import STEPS

__all__ = [
    "DENOISERS", "STEPS", "Composite", "Provenance", "Recipe", "Step", "add_noise", "blend", "blur_image",
    "cached_foreground", "check_background_pool", "check_composite", "composite_sheets", "codes_from_float", "compose", "denoise_image", "differing_steps",
    "disc_kernel", "draws_from_record", "estimate_foreground", "estimate_noise_sigma", "fit_background",
    "load_compose_recipe", "noise_field", "noise_to_add", "pair_backgrounds", "parse_recipe", "quantise",
    "recipe_differences", "replay",
]
