#!/usr/bin/env python3
"""Plain-assert tests for tools/ (no pytest):  python3 tools/test_tools.py"""
import hashlib
import io
import json
import os
import stat
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_corpus  # noqa: E402

GEN = os.path.join(HERE, "gen_corpus.py")
CMP = os.path.join(HERE, "compare.py")


def gen_bytes(*args):
    return subprocess.run([sys.executable, GEN, *args], check=True, capture_output=True).stdout


def lines_of(b):
    return [json.loads(l) for l in b.decode("utf-8").splitlines()]


def test_deterministic():
    a = gen_bytes("--count", "3000", "--seed", "7")
    b = gen_bytes("--count", "3000", "--seed", "7")
    assert a == b, "same args must give identical bytes"
    assert hashlib.sha256(a).digest() != hashlib.sha256(gen_bytes("--count", "3000", "--seed", "8")).digest()
    # in-process and via --out identical to stdout
    buf = io.BytesIO()
    gen_corpus.generate(buf, count=3000, seed=7)
    assert buf.getvalue() == a
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "x.jsonl")
        subprocess.run([sys.executable, GEN, "--count", "3000", "--seed", "7", "--out", p], check=True)
        assert open(p, "rb").read() == a
    # size-mb is deterministic too and approximately right
    s1 = gen_bytes("--size-mb", "2", "--seed", "3")
    assert s1 == gen_bytes("--size-mb", "2", "--seed", "3")
    assert 2_000_000 <= len(s1) < 2_000_000 + 20_000, len(s1)


def test_valid_and_shapes():
    recs = lines_of(gen_bytes("--count", "5000", "--seed", "1"))
    assert len(recs) == 5000
    shapes = {"instruction": 0, "prompt_response": 0, "chat": 0}
    domains = set()
    for r in recs:
        assert isinstance(r, dict)
        if "messages" in r:
            shapes["chat"] += 1
            assert r["messages"] and all(set(m) == {"role", "content"} for m in r["messages"])
            roles = [m["role"] for m in r["messages"]]
            assert set(roles) <= {"system", "user", "assistant", "tool"}
            assert "user" in roles and "assistant" in roles
        elif "instruction" in r:
            shapes["instruction"] += 1
            assert {"instruction", "input", "output"} <= set(r)
        else:
            shapes["prompt_response"] += 1
            assert {"prompt", "response"} <= set(r)
        assert r["timestamp"].endswith("Z") and r["timestamp"][4] == "-" and r["timestamp"][10] == "T"
        assert isinstance(r["tags"], list) and len(r["tags"]) <= 4
        if "quality_score" in r:
            assert isinstance(r["quality_score"], float) and 0.0 <= r["quality_score"] <= 1.0
        assert isinstance(r["metadata"], dict)
        domains.add(r["domain"])
    assert all(v > 500 for v in shapes.values()), shapes
    assert len(domains) >= 10, domains
    assert any("quality_score" not in r for r in recs)
    assert any("source" not in r for r in recs)
    months = {r["timestamp"][:7] for r in recs}
    assert len(months) >= 20, months
    for shape in ("instruction", "prompt_response", "chat"):
        only = lines_of(gen_bytes("--count", "200", "--shape", shape))
        key = {"instruction": "instruction", "prompt_response": "prompt", "chat": "messages"}[shape]
        assert all(key in r for r in only), shape


def test_duplicates_and_non_ascii():
    raw = gen_bytes("--count", "10000", "--seed", "2")
    recs = lines_of(raw)
    seen = set()
    dups = 0
    for r in recs:
        k = gen_corpus.content_key(r)
        dups += k in seen
        seen.add(k)
    rate = dups / len(recs)
    assert 0.08 <= rate <= 0.12, rate
    none = lines_of(gen_bytes("--count", "2000", "--dup-rate", "0"))
    assert len({gen_corpus.content_key(r) for r in none}) == 2000
    non_ascii = sum(any(ord(c) > 127 for c in gen_corpus.content_key(r)) for r in recs)
    assert 0.01 <= non_ascii / len(recs) <= 0.10, non_ascii
    assert any(ord(c) > 0xFFFF for r in recs for c in gen_corpus.content_key(r)), "emoji expected"
    assert any(0x4E00 <= ord(c) <= 0x9FFF for r in recs for c in gen_corpus.content_key(r)), "CJK expected"
    # strata format writes UTF-8 raw
    assert "é".encode() in raw or "📦".encode() in raw or any(b > 127 for b in raw)


def test_sizes():
    raw = gen_bytes("--count", "5000", "--seed", "4")
    ls = sorted(len(l) for l in raw.splitlines())
    med = ls[len(ls) // 2]
    assert 1000 <= med <= 2200, med
    recs = lines_of(raw)
    flen = []
    for r in recs:
        for k in ("output", "response"):
            if k in r:
                flen.append(len(r[k].encode()))
    assert min(flen) >= 50 and max(flen) <= 9000, (min(flen), max(flen))


def test_etl_module_format():
    raw = gen_bytes("--count", "500", "--format", "etl", "--seed", "5")
    assert all(b < 128 for b in raw), "ETL module files use json.dumps defaults (ASCII escapes)"
    for line in raw.decode().splitlines():
        assert line.startswith('{"instruction": '), line[:40]  # json.dumps default separators
        r = json.loads(line)
        assert list(r) == ["instruction", "input", "output", "metadata"]
        assert list(r["metadata"]) == ["record_type", "user_id", "correlation_id", "processing_timestamp",
                                       "source_bucket", "source_key", "quality_score", "record_count",
                                       "processing_duration_seconds", "clinical_insights", "health_domain"]
        md = r["metadata"]
        assert md["processing_timestamp"].endswith("Z")
        assert md["source_key"].startswith("raw/" + md["record_type"] + "/")
        assert md["health_domain"] == gen_corpus._etl_domain(md["record_type"])
        assert r["instruction"].startswith("Analyze this ")
        assert isinstance(md["clinical_insights"], dict)


def test_production_capture_format():
    raw = gen_bytes("--count", "500", "--format", "capture", "--seed", "6")
    for line in raw.decode().splitlines():
        r = json.loads(line)
        assert list(r) == ["id", "timestamp", "source", "prompt", "response", "metadata", "quality",
                           "tags", "project_context", "include_in_training"]
        assert r["id"].startswith("train_")
        ts = r["timestamp"]
        assert not ts.endswith("Z") and "+" not in ts and len(ts) == 26, ts  # naive isoformat()
        assert set(r["quality"]) == {"user_feedback", "was_corrected", "verified_accurate",
                                     "domain_relevance", "auto_score"}
        assert {"skill_used", "tier_handled", "latency_ms", "user_id", "prompt_tokens",
                "response_tokens"} == set(r["metadata"])
        assert r["tags"]


def test_compare_with_stub_strata():
    """compare.py: a stub `strata` whose ingest works and other commands are unknown."""
    with tempfile.TemporaryDirectory() as d:
        corpus = os.path.join(d, "c.jsonl")
        with open(corpus, "wb") as f:
            gen_corpus.generate(f, count=300, seed=9)
        stub = os.path.join(d, "strata")
        with open(stub, "w") as f:
            f.write("#!/bin/sh\n"
                    "if [ \"$1\" = ingest ]; then mkdir -p \"$2\"; cp \"$3\" \"$2/seg\"; "
                    "echo '{\"records\": 300, \"new\": 270, \"duplicates\": 30}'; exit 0; fi\n"
                    "echo \"error: unknown command '$1'\" >&2; exit 64\n")
        os.chmod(stub, os.stat(stub).st_mode | stat.S_IEXEC)
        out = subprocess.run([sys.executable, CMP, "--corpus", corpus, "--reps", "2", "--strata", stub,
                              "--only", "strata_ingest,strata_export_jsonl,strata_compact,py_jsonl_sha256,lz4",
                              "--json", "--workdir", os.path.join(d, "w")],
                             check=True, capture_output=True, text=True).stdout
        res = json.loads(out)
        by = {s["name"]: s for s in res["steps"]}
        assert by["strata_ingest"]["status"] == "ok", by["strata_ingest"]
        assert by["strata_ingest"]["strata_json"]["new"] == 270
        assert by["strata_ingest"]["reps"] == 2
        assert by["strata_export_jsonl"]["status"] == "not available"
        assert by["strata_compact"]["status"] == "not available"
        assert by["py_jsonl_sha256"]["records_out"] == len({gen_corpus.content_key(json.loads(l))
                                                            for l in open(corpus, "rb")})
        md = subprocess.run([sys.executable, CMP, "--corpus", corpus, "--reps", "1", "--strata",
                             os.path.join(d, "missing"), "--only", "strata_ingest,lz4"],
                            check=True, capture_output=True, text=True).stdout
        assert "not available" in md and "| lz4 |" in md


def test_compare_peers_at_their_best_do_the_same_job():
    """The fast peer configurations keep exactly the unique examples, and the
    one-partition readers return the rows of the corpus's largest partition."""
    with tempfile.TemporaryDirectory() as d:
        corpus = os.path.join(d, "c.jsonl")
        with open(corpus, "wb") as f:
            gen_corpus.generate(f, count=600, seed=11)
        out = subprocess.run([sys.executable, CMP, "--corpus", corpus, "--reps", "1", "--strata", os.path.join(d, "missing"),
                              "--only", "py_jsonl_sha256,sqlite,pyarrow_parquet,duckdb_fast,sqlite_partition",
                              "--json", "--workdir", os.path.join(d, "w")],
                             check=True, capture_output=True, text=True).stdout
        by = {s["name"]: s for s in json.loads(out)["steps"]}
        rows = [json.loads(l) for l in open(corpus, "rb")]
        unique = len({gen_corpus.content_key(o) for o in rows})
        for name in ("py_jsonl_sha256", "sqlite", "pyarrow_parquet", "duckdb_fast"):
            assert by[name]["status"] == "ok", by[name]
            assert by[name]["records_out"] == unique, (name, by[name]["records_out"], unique)
        counts = {}
        for o in rows:
            k = (o["domain"], o["timestamp"][:7])
            counts[k] = counts.get(k, 0) + 1
        (dom, month), _ = max(counts.items(), key=lambda kv: kv[1])
        seen, want = set(), 0
        for o in rows:  # the sqlite peer keeps the first of each content
            k = gen_corpus.content_key(o)
            if k in seen:
                continue
            seen.add(k)
            want += (o["domain"], o["timestamp"][:7]) == (dom, month)
        assert by["sqlite_partition"]["status"] == "ok", by["sqlite_partition"]
        assert by["sqlite_partition"]["records_out"] == want, (by["sqlite_partition"]["records_out"], want)


if __name__ == "__main__":
    tests = [(k, v) for k, v in list(globals().items()) if k.startswith("test_") and callable(v)]
    for name, fn in tests:
        fn()
        print("ok", name)
    print(f"{len(tests)} tests passed")
