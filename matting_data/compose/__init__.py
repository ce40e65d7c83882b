"""Composition: naive and RSSN composites as recipes of named, seeded, recorded steps.

* :func:`compose` runs a :class:`Recipe` on one foreground/alpha/background;
* the steps themselves are plain functions: :func:`fit_background`,
  :func:`blur_image`, :func:`denoise_image`, :func:`estimate_noise_sigma`,
  :func:`blend`, :func:`quantise`;
* :func:`estimate_foreground` / :func:`cached_foreground` recover F for
  sources that ship only the photo and its alpha.

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
    "cached_foreground", "check_background_pool", "codes_from_float", "compose", "denoise_image", "differing_steps",
    "disc_kernel", "draws_from_record", "estimate_foreground", "estimate_noise_sigma", "fit_background",
    "load_compose_recipe", "noise_field", "noise_to_add", "pair_backgrounds", "parse_recipe", "quantise",
    "recipe_differences", "replay",
]
