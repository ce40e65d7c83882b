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
* :mod:`.files` -- bring a manifest's files under a new root (hard link or copy).
"""
