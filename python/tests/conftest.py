"""Shared fixtures: the repository (for the CLI, the header and the corpus generator) and small corpora."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(os.environ.get("STRATA_REPO", Path(__file__).resolve().parents[2]))


def cli_path() -> str:
    """The `strata` CLI used to cross-check results (STRATA_CLI, else a build in .build/)."""
    env = os.environ.get("STRATA_CLI")
    if env:
        return env
    for cfg in ("debug", "release"):
        p = REPO / ".build" / cfg / "strata"
        if p.exists():
            return str(p)
    pytest.skip("no strata CLI built (run swift build)")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([cli_path(), *args], capture_output=True, text=True, check=True)


def gen_corpus(path: Path, count: int, seed: int = 1, *extra: str) -> Path:
    subprocess.run([sys.executable, str(REPO / "tools" / "gen_corpus.py"), "--count", str(count), "--seed", str(seed),
                    "--out", str(path), *extra], check=True)
    return path


def read_jsonl(path: Path) -> list:
    with open(path, "rb") as f:
        return [json.loads(line) for line in f if line.strip() and not line.startswith(b'{"_meta"')]


def example(i: int = 0, domain: str = "alpha", month: str = "2025-03", **kw) -> dict:
    d = {"prompt": f"question {i}", "response": f"answer {i}", "domain": domain, "timestamp": f"{month}-01T12:00:00Z",
         "quality_score": round((i % 10) / 10, 1), "tags": ["t%d" % (i % 3)], "source": "unit", "metadata": {"n": i}}
    d.update(kw)
    return d


@pytest.fixture
def corpus(tmp_path_factory) -> Path:
    return gen_corpus(tmp_path_factory.mktemp("corpus") / "corpus.jsonl", 600)
