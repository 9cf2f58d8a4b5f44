"""The examples in python/examples run and produce what they say."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import strata

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(name, *args):
    return subprocess.run([sys.executable, str(EXAMPLES / name), *map(str, args)], capture_output=True, text=True, check=True).stdout


def test_collector_captures_annotates_and_exports_a_training_set(tmp_path):
    out = run("collector.py", tmp_path / "s", tmp_path / "out")
    assert "captured 40" in out
    rows = [json.loads(line) for f in ("train.jsonl", "validation.jsonl") for line in (tmp_path / "out" / f).read_text().splitlines()]
    # 40 captured, one excluded, one with negative feedback dropped.
    assert len(rows) == 38
    answers = [r["messages"][-1]["content"] for r in rows]
    assert "Settings → Security → API keys → Rotate." in answers  # the correction is what gets trained on
    assert not any("key #1?" in r["messages"][0]["content"] or "key #3?" in r["messages"][0]["content"] for r in rows)
    assert len((EXAMPLES / "collector.py").read_text().splitlines()) < 100


def test_etl_step_appends_per_record_and_exports_per_domain_and_month(tmp_path):
    out = run("etl_step.py", tmp_path / "s", tmp_path / "out")
    assert "duplicates" in out
    files = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("health_journal_*.jsonl"))
    assert len(files) == 9  # 3 domains x 3 months, DOMAIN/YYYY/MM/health_journal_YYYY_MM.jsonl
    with strata.Reader(tmp_path / "s") as r:
        for f in files:
            domain, year, mm, name = f.split("/")
            month = f"{year}-{mm}"
            assert name == f"health_journal_{year}_{mm}.jsonl"
            n = len((tmp_path / "out" / f).read_text().splitlines())
            assert n == len(list(r.scan(domain=domain, from_month=month, to_month=month, min_quality=0.3))), f


def test_the_readme_python_example_runs(tmp_path):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    start = readme.index("```python\nimport strata\n") + len("```python\n")
    code = readme[start:readme.index("```", start)]
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert "2 response" in out
    assert "At least 2.5 inches. / 2.5 inches minimum" in out
    assert out.strip().splitlines()[-2] == "3 True" and out.strip().splitlines()[-1] == "1"
