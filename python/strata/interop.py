"""Interop with training libraries: Hugging Face ``datasets`` and PyTorch-style streaming.

Neither ``datasets`` nor ``torch`` is imported by ``import strata``; ``to_hf_dataset``
imports ``datasets`` when called, and ``StreamingDataset`` is duck-typed (it has
``__iter__`` and splits work across DataLoader workers through
``torch.utils.data.get_worker_info`` only if torch is already loaded).
"""
from __future__ import annotations

import datetime as _dt
import os
import sys
from typing import Any, Dict, Iterator, Optional, Union

from .store import Reader, Store

StoreOrPath = Union[Store, Reader, str, "os.PathLike[str]"]


def _path(store: StoreOrPath) -> str:
    if isinstance(store, Store):
        store.commit()  # a Reader snapshot sees only committed data
        return store.path
    if isinstance(store, Reader):
        return store.path
    return os.fspath(store)


def _split_of(id_hex: str, split: Dict[str, float]) -> str:
    """The split of an id exactly as ``strata export --split`` assigns it (SplitSpec.index: the
    top 53 of the id's low 64 bits as a fraction in [0, 1), against cumulative fractions)."""
    u = (int(id_hex[16:32], 16) >> 11) * 2.0 ** -53
    acc = 0.0
    names = list(split)
    for name in names[:-1]:
        acc += split[name]
        if u < acc:
            return name
    return names[-1]


def _parse_split(split: Union[str, Dict[str, float], None]) -> Optional[Dict[str, float]]:
    if split is None or isinstance(split, dict):
        return split
    out: Dict[str, float] = {}
    for part in split.split(","):
        k, _, v = part.partition("=")
        out[k.strip()] = float(v)
    return out


def _examples(path: str, filters: Dict[str, Any], split: Optional[Dict[str, float]], want: Optional[str],
              shard: int = 0, num_shards: int = 1, view: str = "folded") -> Iterator[Dict[str, Any]]:
    with Reader(path) as r:
        parts = r.partitions()
        domains = filters.pop("domain", None)
        for i, p in enumerate(parts):
            if i % num_shards != shard:
                continue
            if domains is not None and p["domain"] not in ([domains] if isinstance(domains, str) else domains):
                continue
            lo, hi = filters.get("from_month"), filters.get("to_month")
            if (lo and p["month"] < lo) or (hi and p["month"] > hi):
                continue
            f = {k: v for k, v in filters.items() if k not in ("from_month", "to_month")}
            for ex in r.scan(domain=p["domain"], from_month=p["month"], to_month=p["month"], view=view, **f):
                if split is None or _split_of(ex["id"], split) == want:
                    yield ex


def hf_features() -> Any:
    """The ``datasets.Features`` of ``to_hf_dataset``: the Parquet export's columns (SPEC.md §8.7)."""
    from datasets import Features, Value

    s = Value("string")
    return Features({
        "id": s, "shape": s, "domain": s, "month": s, "timestamp": Value("timestamp[ms, tz=UTC]"),
        "quality_score": Value("float64"), "tags": [s], "source": s, "instruction": s, "input": s, "output": s,
        "prompt": s, "response": s, "messages": [{"role": s, "content": s}], "metadata": s,
        "feedback_positive": Value("int64"), "feedback_negative": Value("int64"), "excluded": Value("bool"), "corrected": s,
    })


def to_hf_dataset(store: StoreOrPath, split: Union[str, Dict[str, float], None] = None, name: Optional[str] = None,
                  **filters: Any) -> Any:
    """A ``datasets.Dataset`` of the store's examples, built with ``Dataset.from_generator``.

    Rows have the columns of the Parquet export (one schema for every shape, see
    ``hf_features``): the content as ingested plus ``corrected``, feedback counts and
    ``excluded``; ``metadata`` is JSON text; ``timestamp`` a UTC timestamp.
    ``filters`` are ``scan``'s (domain, from_month, to_month, min_quality, tags, source,
    shape, include_excluded). With ``split`` (e.g. ``{"train": 0.9, "test": 0.1}`` or
    "train=0.9,test=0.1") returns a ``datasets.DatasetDict`` with the same deterministic
    split as ``strata export --split``; ``name`` picks just one of them.
    """
    import datasets  # imported here: an optional dependency

    path = _path(store)
    sp = _parse_split(split)
    features = hf_features()
    epoch = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)

    def gen(want: Optional[str] = None, fingerprint: str = "") -> Iterator[Dict[str, Any]]:
        for row in _examples(path, dict(filters), sp, want, view="export"):
            row["timestamp"] = epoch + _dt.timedelta(milliseconds=row["timestamp"])
            yield row

    def build(want: Optional[str]) -> Any:
        # The fingerprint keeps datasets' cache from serving an older snapshot.
        key = repr((path, sorted(filters.items()), sp, want, _store_version(path)))
        return datasets.Dataset.from_generator(gen, features=features, gen_kwargs={"want": want, "fingerprint": key})

    if sp is None:
        return build(None)
    if name is not None:
        return build(name)
    return datasets.DatasetDict({n: build(n) for n in sp})


def _store_version(path: str) -> str:
    try:
        st = os.stat(os.path.join(path, "MANIFEST"))
        return f"{st.st_mtime_ns}:{st.st_size}"
    except OSError:
        return ""


class StreamingDataset:
    """An iterable-style dataset over a store, for ``torch.utils.data.DataLoader`` (duck-typed: no torch import).

    Each iteration opens a fresh snapshot and streams the (folded) examples in
    bounded memory. Under a DataLoader with ``num_workers > 1`` the partitions
    (domain × month) are divided among the workers, so every example is yielded
    exactly once. ``transform`` maps each example dict (e.g. to a prompt string
    or token ids); ``split``/``name`` select one deterministic split by id hash.
    """

    def __init__(self, store: StoreOrPath, transform: Optional[Any] = None, split: Union[str, Dict[str, float], None] = None,
                 name: Optional[str] = None, view: str = "folded", **filters: Any) -> None:
        self.path = _path(store)
        self.transform = transform
        self.split = _parse_split(split)
        if self.split is not None and name is None:
            raise ValueError("with split=..., give name= (which split to stream)")
        self.name = name
        self.view = view
        self.filters = filters

    def _worker(self) -> "tuple[int, int]":
        torch = sys.modules.get("torch")
        info = torch.utils.data.get_worker_info() if torch is not None else None
        return (info.id, info.num_workers) if info is not None else (0, 1)

    def __iter__(self) -> Iterator[Any]:
        shard, n = self._worker()
        for ex in _examples(self.path, dict(self.filters), self.split, self.name, shard, n, self.view):
            yield self.transform(ex) if self.transform else ex

    def shard(self, index: int, count: int) -> Iterator[Any]:
        """Iterates only shard ``index`` of ``count`` (partitions dealt round-robin), for hand-rolled parallelism."""
        for ex in _examples(self.path, dict(self.filters), self.split, self.name, index, count, self.view):
            yield self.transform(ex) if self.transform else ex
