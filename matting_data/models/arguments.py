"""Arguments written as text (``KEY=VALUE``): the one parser, for every command, the trainer and entries files.

``predict``, ``leaderboard``, ``ablation``, ``train`` (``--model-arg``) and leaderboard
entries all read ``KEY=VALUE`` items here, so ``refine=yes train-stage=2`` gives
``{"refine": True, "train_stage": 2}`` wherever it is written.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import InputError


def _typed(text: str, key: str, what: str) -> Any:
    if text[:1] in ("[", "{", '"'):  # a list, a table or a quoted string: JSON
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{what}: {key}={text} is not valid JSON ({exc.msg})") from None
    low = text.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if low in ("none", "null"):
        return None
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def parse_model_args(
    items: list[str] | None, what: str = "--model-arg", keep_text: frozenset[str] | set[str] = frozenset()
) -> dict[str, Any]:
    """``["backbone=r34", "tile=1024", "refine=false"]`` -> ``{"backbone": "r34", "tile": 1024, "refine": False}``.

    Keys: ``-`` reads as ``_`` (``train-stage`` is ``train_stage``).  Values become bool
    (true/false/yes/no/on/off), None (none/null), int, float or str, in that order; a value
    starting with ``[``, ``{`` or ``"`` is JSON (``sizes=[32,64]``, ``name="007"``); the keys in
    ``keep_text`` keep their text.  A key given twice or an item without ``=`` is an
    :class:`InputError` whose message starts with ``what`` (the option or text the items came from).
    """
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise InputError(f"{what}: {item!r} is not KEY=VALUE")
        if key in out:
            raise InputError(f"{what}: {key} given twice")
        out[key] = value if key in keep_text else _typed(value.strip(), key, what)
    return out
