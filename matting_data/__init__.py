"""matting-data: build image-matting datasets and benchmark matting models.

Core modules (arrays and paths in, arrays and paths out): :mod:`.io`,
:mod:`.trimap`, :mod:`.compose`, :mod:`.backgrounds`, :mod:`.metrics`,
:mod:`.datasets`, :mod:`.models`.  Pipelines built on them: :mod:`.tracks`,
:mod:`.evaluate`, :mod:`.leaderboard`, :mod:`.ablation`.  The CLI is
:mod:`.cli`.
"""

__version__ = "0.1.0"
