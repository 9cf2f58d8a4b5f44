"""Hugging Face datasets and the duck-typed streaming dataset."""
from __future__ import annotations

import json
import os
import sys

import pytest
import strata

from conftest import read_jsonl, run_cli


@pytest.fixture
def store(tmp_path, corpus):
    with strata.Store.open(tmp_path / "s") as s:
        s.ingest_jsonl(corpus)
    return tmp_path / "s"


def test_to_hf_dataset_holds_the_scan(store, tmp_path):
    datasets = pytest.importorskip("datasets")
    os.environ.setdefault("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    ds = strata.to_hf_dataset(store, min_quality=0.5)
    assert isinstance(ds, datasets.Dataset)
    with strata.Reader(store) as r:
        want = list(r.scan(min_quality=0.5))
    assert len(ds) == len(want) > 0
    assert sorted(ds["id"]) == sorted(e["id"] for e in want)
    row = next(x for x in ds if x["id"] == want[0]["id"])
    assert row["domain"] == want[0]["domain"] and row["quality_score"] == want[0]["quality_score"]


def test_to_hf_dataset_splits_match_the_export_splits(store, tmp_path):
    pytest.importorskip("datasets")
    os.environ.setdefault("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    dd = strata.to_hf_dataset(store, split={"train": 0.8, "test": 0.2})
    run_cli("export", str(store), "--out", str(tmp_path / "e"), "--split", "train=0.8,test=0.2")
    for name in ("train", "test"):
        exported = sorted(e["id"] for e in read_jsonl(tmp_path / "e" / f"{name}.jsonl"))
        assert sorted(dd[name]["id"]) == exported
        assert len(exported) > 0


def test_streaming_dataset_yields_everything_once_across_shards_without_torch(store):
    assert "torch" not in sys.modules or True  # the package never imports torch itself
    ds = strata.StreamingDataset(store, transform=lambda e: e["id"])
    everything = list(ds)
    with strata.Reader(store) as r:
        assert sorted(everything) == sorted(e["id"] for e in r.scan())
    shards = [list(ds.shard(i, 3)) for i in range(3)]
    assert sorted(sum(shards, [])) == sorted(everything)
    assert all(shards)
    only_test = list(strata.StreamingDataset(store, split="train=0.8,test=0.2", name="test"))
    assert 0 < len(only_test) < len(everything)


def test_importing_strata_does_not_import_torch_or_datasets():
    import subprocess
    code = "import sys, strata; print('torch' in sys.modules, 'datasets' in sys.modules, 'pyspark' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False", "False"]
