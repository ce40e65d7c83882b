"""Stream examples to ``save_to_disk`` Arrow shards and Hub Parquet shards in batches bounded by bytes.

Memory is bounded by the batch (``batch_bytes``), never by the number of examples: each
example is encoded, appended to the batch, and the batch is written to every target
(an Arrow folder and/or a Parquet folder) once adding the next example would pass
``batch_bytes``.  Each target rolls to a new shard once the next batch would pass its
``max_bytes``, so a shard holds at most ``max_bytes`` (or one example, if that is larger).

The files are written by ``datasets``' own writers (``ArrowWriter`` for the Arrow stream
files, ``ParquetWriter`` for Parquet, content-defined chunking and page index on), with
the same schema and metadata as ``Dataset.save_to_disk`` / ``Dataset.to_parquet``:

* Arrow: ``<folder>/data-0000i-of-0000n.arrow`` plus ``state.json`` and ``dataset_info.json``
  (:func:`write_disk_metadata`), and ``dataset_dict.json`` one folder up
  (:func:`write_dataset_dict`): loadable with ``datasets.load_from_disk``;
* Parquet: ``<folder>/<split>-0000i-of-0000n.parquet``, the Hub repository layout.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: default batch: 64 MB of encoded examples (also the Parquet row group size, under the Hub's 100 MB)
BATCH_BYTES = 64 * 2**20


def example_nbytes(ex: dict[str, Any]) -> int:
    """The Arrow size of one encoded example (bytes of its binary/string values, 8 per number/offset)."""
    n = 0
    for v in ex.values():
        if isinstance(v, dict):
            n += sum(len(x) if isinstance(x, (bytes, str)) else 8 for x in v.values() if x is not None) + 16
        elif isinstance(v, (bytes, str)):
            n += len(v) + 4
        else:
            n += 8
    return n


@dataclass
class ShardTarget:
    """One folder of shards ``<stem>-0000i-of-0000n.<ext>``, written by a ``datasets`` writer.

    Parameters
    ----------
    folder : the folder (created); shards are written as hidden ``.part`` files and renamed by
        :meth:`close` once their count is known.
    stem, ext : ``data`` / ``arrow`` for ``save_to_disk``, ``<split>`` / ``parquet`` for the Hub.
    features : ``datasets.Features`` of the rows.
    max_bytes : shard size bound in bytes (Arrow size of the rows, as ``datasets`` counts it).
    """

    folder: Path
    stem: str
    ext: str
    features: Any
    max_bytes: float
    shard_bytes: int = 0
    num_examples: int = 0
    num_bytes: int = 0
    _parts: list[Path] = field(default_factory=list)
    _writer: Any = None

    def full(self, nbytes: int) -> bool:
        """Whether ``nbytes`` more would pass ``max_bytes`` in the open shard."""
        return self.shard_bytes + nbytes > self.max_bytes

    def write(self, table, estimate: int) -> None:
        """Append ``table`` (a ``pyarrow.Table``) to the open shard, opening one when none is."""
        if self._writer is None:
            from datasets.arrow_writer import ArrowWriter, ParquetWriter

            self.folder.mkdir(parents=True, exist_ok=True)
            part = self.folder / f".{self.stem}-{len(self._parts):05d}.{self.ext}.part"
            self._parts.append(part)
            cls = ParquetWriter if self.ext == "parquet" else ArrowWriter
            self._writer = cls(features=self.features, path=str(part))
        self._writer.write_table(table)
        self.shard_bytes += estimate

    def roll(self) -> None:
        """Close the open shard (if any); the next :meth:`write` opens the next one."""
        if self._writer is not None:
            n, nbytes = self._writer.finalize()
            self._writer.close()
            self._writer = None
            self.num_examples += n
            self.num_bytes += nbytes
        self.shard_bytes = 0

    def close(self) -> list[str]:
        """Close the open shard and give every shard its final name; return the file names in order."""
        self.roll()
        if not self._parts:  # no rows: one empty shard, as datasets writes
            self.write(self.features.arrow_schema.empty_table(), 0)
            self.roll()
        names = [f"{self.stem}-{i:05d}-of-{len(self._parts):05d}.{self.ext}" for i in range(len(self._parts))]
        for part, name in zip(self._parts, names, strict=True):
            os.replace(part, self.folder / name)
        return names

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def stream_examples(examples: Iterable[dict[str, Any]], features, targets: Sequence[ShardTarget], *,
                    batch_bytes: float = BATCH_BYTES) -> dict[str, int]:
    """Encode ``examples`` with ``features`` and write them to every target in byte-bounded batches.

    Returns ``{"num_examples": ..., "num_bytes": ..., "max_batch_rows": ..., "batches": ...}``
    (``num_bytes``: the Arrow size, as ``Dataset.data.nbytes`` counts it).  On an error every
    open writer is closed and the error raised; the ``.part`` files are left to the caller's
    staging folder.
    """
    import pyarrow as pa

    schema = features.arrow_schema
    batch: list[dict[str, Any]] = []
    size = 0
    stats = {"max_batch_rows": 0, "batches": 0}

    def flush() -> None:
        nonlocal batch, size
        if batch:
            table = pa.Table.from_pylist(batch, schema=schema)
            for t in targets:
                t.write(table, size)
            stats["max_batch_rows"] = max(stats["max_batch_rows"], len(batch))
            stats["batches"] += 1
            del table
        batch, size = [], 0

    try:
        for ex in examples:
            enc = features.encode_example(ex)
            r = example_nbytes(enc)
            if batch and (size + r > batch_bytes or any(t.full(size + r) for t in targets)):
                flush()
            for t in targets:  # the batch is empty here whenever a target is full
                if t.shard_bytes and t.full(size + r):
                    t.roll()
            batch.append(enc)
            size += r
        flush()
    except BaseException:
        for t in targets:
            t.abort()
        raise
    first = targets[0] if targets else None
    for t in targets:
        t.roll()
    return {"num_examples": first.num_examples if first else 0, "num_bytes": first.num_bytes if first else 0,
            **stats}


def fingerprint(split: str, keys: Iterable[str]) -> str:
    """A 16-hex-digit fingerprint of a split from its rows' keys (ids, paths, hashes): same rows, same print."""
    h = hashlib.sha256(split.encode())
    for k in keys:
        h.update(b"\0" + k.encode())
    return h.hexdigest()[:16]


def write_disk_metadata(folder: Path, split: str, files: Sequence[str], features, num_examples: int,
                        num_bytes: int, fingerprint: str) -> None:
    """``state.json`` and ``dataset_info.json`` of one split folder, as ``Dataset.save_to_disk`` writes them."""
    from datasets import DatasetInfo, SplitDict, SplitInfo
    from datasets.utils.py_utils import asdict

    state: dict[str, Any] = {"_data_files": [{"filename": f} for f in files], "_fingerprint": fingerprint,
             "_format_columns": None, "_format_kwargs": {}, "_format_type": None, "_output_all_columns": False,
             "_split": split}
    splits = SplitDict()
    splits.add(SplitInfo(name=split, num_bytes=num_bytes, num_examples=num_examples))
    info = asdict(DatasetInfo(features=features, splits=splits, dataset_size=num_bytes, size_in_bytes=num_bytes,
                              download_size=0, config_name="default", version="0.0.0"))
    with open(folder / "state.json", "w", encoding="utf-8") as f:
        json.dump(state, f, indent=2, sort_keys=True)
    with open(folder / "dataset_info.json", "w", encoding="utf-8") as f:
        json.dump({k: info[k] for k in sorted(info)}, f, indent=2)


def write_dataset_dict(folder: Path, splits: Sequence[str]) -> None:
    """``dataset_dict.json``: the split names of a ``DatasetDict.save_to_disk`` folder."""
    with open(folder / "dataset_dict.json", "w", encoding="utf-8") as f:
        json.dump({"splits": list(splits)}, f)
