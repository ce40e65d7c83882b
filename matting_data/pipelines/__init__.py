"""Pipelines: multi-step jobs built on the core modules (they read and write folders).

* :mod:`.comp_tracks` -- build a COMP track (composites of foregrounds on a background pool);
* :mod:`.evaluate` -- score prediction folders against ground truth;
* :mod:`.leaderboard` -- run models on test tracks and rank them;
* :mod:`.ablation` -- domain-gap grids (compose per recipe, train, test on real photos);
* :mod:`.demo` -- the end-to-end tour on the embedded data.

Layering: ``cli -> pipelines -> core -> infrastructure``; no core module imports a pipeline.
Submodules are imported on use (``from matting_data.pipelines.evaluate import evaluate_dirs``).
"""
