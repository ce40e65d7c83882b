"""Dataset adapters, splits, privacy obfuscation, tracks and HuggingFace export.

Modules (import the one you need; nothing heavy is imported here):

* :mod:`.adapters` -- AM-2k, BG-20k, P3M-10k, AIM-500, Composition-1k,
  Distinctions-646, PPM-100, alphamatting.com and generic folders -> manifest;
* :mod:`.report` / :mod:`.scan` -- the validation report (every problem at once)
  and the pairing/checking engine behind the adapters;
* :mod:`.splits` -- seeded, category-stratified splits with fixed evaluation trimaps;
* :mod:`.privacy` -- P3M-style face obfuscation and the B/N, P/NP splits;
* :mod:`.track` -- ORI and COMP tracks (stored anywhere, with their data root;
  several per folder as ``<name>.track.json``), "train on X, test on Y" pairs;
* :mod:`.sources` -- the public datasets' papers and terms, cited by the dataset card;
* :mod:`.hf_export` -- HuggingFace ``DatasetDict`` export (disk + Hub Parquet + card);
* :mod:`.hf_stream` -- the export's writer: rows streamed to Arrow / Parquet shards in byte-bounded batches;
* :mod:`.files` -- bring a manifest's files under a new root (hard link or copy).
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> submodule (imported on first use: pandas / datasets are heavy)
_EXPORTS: dict[str, str] = {
    **{n: "adapters" for n in ("Ingested", "ingest", "am2k", "bg20k", "p3m10k", "aim500", "composition1k",
                                "distinctions646", "ppm100", "alphamatting", "from_folders")},
    **{n: "splits" for n in ("Split", "build_split", "assign_splits")},
    **{n: "privacy" for n in ("Obfuscation", "obfuscate", "detect_faces", "build_privacy_splits", "privacy_tracks")},
    **{n: "hf_export" for n in ("export_hf", "load_hf", "to_hf", "dataset_card")},
    **{n: "track" for n in ("Track", "TrackPair", "load_track", "save_track", "ori_track", "comp_track",
                             "benchmark_pairs")},
    **{n: "report" for n in ("ValidationReport", "Problem")},
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
