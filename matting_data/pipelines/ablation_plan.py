"""Before an ablation composes or trains anything: validate it, guard against leakage, print the plan.

:func:`check_ablation` is called by :func:`matting_data.pipelines.ablation.run_ablation`
after the grid is parsed and before the first COMP track is built:

1. the grid's model is built once with seeded random weights (its ``model_args`` are
   checked by the model's own factory) and so is every baseline (``--max-side`` caps the
   slow classical ones, as in a leaderboard: :func:`.plan.build_models`);
2. every test sample has its image, ground truth and trimap (:func:`.plan.check_inputs`);
3. leakage (:mod:`matting_data.pipelines.leakage`): test samples that are among the
   training foregrounds (id, file content or perceptual hash of image and alpha), the
   background pools (file content, and perceptual hash for pools up to
   :data:`~matting_data.pipelines.leakage.MAX_PHASH_POOL` images) or the ORI training
   track refuse the run with a :class:`~matting_data.pipelines.leakage.LeakageError`
   naming them, unless ``allow_leakage``; then the report says so;
4. the plan: rows x seeds x test tracks (cells done / to do), and the estimated
   prediction time of each cell from a speed probe (training time is measured by the
   first trained cell and is not estimated here).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..tables import fmt_seconds
from .leakage import (
    MAX_PHASH_POOL,
    LeakageError,
    Overlap,
    find_overlaps,
    fingerprints,
    overlap_message,
    track_fingerprints,
)
from .plan import build_models, check_inputs, megapixels, probe_speed


def leakage_overlaps(tests: Sequence[Any], foregrounds: Any, pools: Mapping[str, str], ori: Any | None,
                     workers: int = 1, progress: bool = False,
                     fg_root: Any | None = None) -> tuple[list[Overlap], list[str]]:
    """Overlaps of every test track with the training foregrounds, background pools and ORI track.

    ``fg_root``: the folder the foreground manifest's paths are relative to (as ``--root``).

    Returns the overlaps and notes on what was compared (e.g. a large pool compared by content only).
    """
    from ..compose.sources import list_backgrounds, load_foregrounds

    fgs = load_foregrounds(foregrounds, fg_root)
    train_fg = fingerprints([(r["id"], r["image"] or r["fg"], r["alpha"]) for r in fgs], workers=workers,
                            progress=progress, desc="fingerprint foregrounds")
    notes = [f"{len(fgs)} training foregrounds compared by id, file content and perceptual hash"]
    pool_prints: dict[str, list[Any]] = {}
    for pool in dict.fromkeys(pools.values()):
        files = list_backgrounds(pool)
        perceptual = len(files) <= MAX_PHASH_POOL
        pool_prints[pool] = fingerprints([(f.name, f, None) for f in files], perceptual, workers, progress,
                                         "fingerprint backgrounds")
        notes.append(f"background pool {pool} ({len(files)} images) compared by file content"
                     + (" and perceptual hash" if perceptual else f" only (over {MAX_PHASH_POOL} images)"))
    ori_prints = track_fingerprints(ori, workers=workers) if ori is not None else []
    out: list[Overlap] = []
    for t in tests:
        test = track_fingerprints(t, workers=workers)
        out += find_overlaps(test, train_fg, "training foreground")
        for pool, prints in pool_prints.items():
            out += find_overlaps(test, prints, f"background ({Path(pool).name})", by_id=False)
        if ori is not None and ori_prints:
            out += find_overlaps(test, ori_prints, f"ORI training sample ({ori.name})")
    return out, notes


def check_ablation(
    grid: Any, foregrounds: Any, pools: Mapping[str, str], tests: Sequence[Any], ori: Any | None, out: Path,
    *, allow_leakage: bool = False, max_side: int | None = None, workers: int = 1, progress: bool = False,
    probe: bool = True, say: Callable[[str], None] | None = None, cells_done: int = 0,
    fg_root: Any | None = None,
) -> dict[str, Any]:
    """Validate, guard and plan an ablation (see the module docstring); return the record for ``ablation.json``.

    Raises
    ------
    InputError
        A bad model argument or baseline, or a missing test input (nothing was composed or trained).
    LeakageError
        Test samples are among the training data and ``allow_leakage`` is false.
    """
    from .benchmark.entries import Entry
    from .benchmark.samples import eval_samples

    say = say or (lambda line: None)
    cfg = grid.train_config()
    entries = [Entry("grid-model", model=cfg.model, kwargs={**cfg.model_args, "seed": 0}),
               *[Entry(b.replace(":", "_"), model=b) for b in grid.baselines]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the untrained build only checks the arguments
        models = build_models(entries, max_side)
    baseline_kwargs = {e.model: dict(e.kwargs) for e in entries[1:] if e.kwargs}
    # leakage first: a refused run writes nothing (the evaluation trimaps come after)
    overlaps, notes = leakage_overlaps(tests, foregrounds, pools, ori, workers, progress, fg_root)
    leaks = [o for o in overlaps if o.content]
    if leaks and not allow_leakage:
        raise LeakageError(f"ablation {grid.name!r}: " + overlap_message(leaks)
                           + ". A domain-gap test on its own training photos measures memory: use another test "
                           "track, or pass --allow-leakage (allow_leakage=True) and the report will say so")
    samples = {}
    for t in tests:
        s, _ = eval_samples(t, out / "eval" / _safe(t.name), grid.trimap_seed, "dim", workers, progress)
        check_inputs({"trimap": s}, models)
        samples[t.name] = s
    n_trained = len(grid.recipes) + (1 if ori is not None else 0)
    total = len(tests) * (n_trained * len(grid.seeds) + len(grid.baselines))
    lines = [f"plan: ablation {grid.name!r}: {n_trained} trained rows x {len(grid.seeds)} seeds + "
             f"{len(grid.baselines)} baselines, x {len(tests)} test tracks = {total} cells "
             f"({cells_done} done), model {cfg.model}, {cfg.steps} steps per training run"]
    speeds: dict[str, float] = {}
    for name, m in models.items():
        first = next(iter(samples.values()))[0]
        sp = probe_speed(m, first)["s_per_mp"] if probe else float("nan")
        speeds[name] = sp
        mp = sum(megapixels(x.image) for v in samples.values() for x in v)
        per_test = sp * mp
        cap = f", capped at max side {m.max_side} px" if getattr(m, "max_side", None) else ""
        slow = "  SLOW" if getattr(m, "slow", False) else ""
        label = f"{cfg.model} (each trained cell)" if name == "grid-model" else f"baseline {name}"
        lines.append(f"  {label}: prediction {sp:.3g} s/MP x {mp:.2f} MP of test images = "
                     f"~{fmt_seconds(per_test)} per seed{cap}{slow}")
    lines.append("  training time is not estimated here: the first trained cell prints it (log.csv)")
    lines += [f"  leakage check: {n}" for n in notes]
    if leaks:
        lines.append("  LEAKAGE ALLOWED (--allow-leakage): " + overlap_message(leaks))
    same_ids = [o for o in overlaps if not o.content]
    if same_ids:
        lines.append("  note: " + overlap_message(same_ids).replace("are in the training data", "share ids with "
                                                                    "the training data (different files)"))
    for line in lines:
        say(line)
    return {"plan": lines, "s_per_mp": speeds, "baseline_kwargs": baseline_kwargs,
            "leakage": [o.as_record() for o in leaks], "leakage_allowed": bool(allow_leakage and leaks),
            "same_ids": [o.as_record() for o in same_ids],
            "leakage_checked": notes}


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._+-" else "_" for c in name)
