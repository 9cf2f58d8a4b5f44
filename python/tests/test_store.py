"""Every Store/Reader function through the C ABI, cross-checked against the strata CLI where it has an equivalent."""
from __future__ import annotations

import datetime as dt
import glob
import json
import os
import subprocess
import threading

import pytest
import strata

from conftest import cli_path, example, read_jsonl, run_cli


def test_append_reports_inserted_then_duplicate_with_the_same_id(tmp_path):
    with strata.Store.open(tmp_path / "s") as s:
        a = s.append(example(1))
        b = s.append(example(1, tags=["other"], source="elsewhere"))  # same content, other metadata
        assert a.inserted and not b.inserted
        assert a.id == b.id and len(a.id) == 32
        assert s.get(a.id)["prompt"] == "question 1"


def test_append_invalid_raises_invalid_input_naming_the_field_and_stores_nothing(tmp_path):
    with strata.Store.open(tmp_path / "s") as s:
        with pytest.raises(strata.InvalidInputError) as e:
            s.append(example(1, quality_score=1.5))
        assert e.value.field == "quality_score" and e.value.code == "invalid-input"
        with pytest.raises(strata.InvalidInputError) as e:
            s.append({"prompt": "p", "domain": "alpha", "timestamp": "2025-01-01T00:00:00Z"})
        assert e.value.field == "response"
        with pytest.raises(strata.InvalidInputError):
            s.append(example(2, metadata={"x": object()}))  # not JSON
        assert list(s.scan()) == []
        assert s.append(example(3)).inserted


def test_datetime_timestamps_are_accepted_and_naive_ones_rejected(tmp_path):
    with strata.Store.open(tmp_path / "s") as s:
        t = dt.datetime(2025, 4, 2, 10, 30, tzinfo=dt.timezone.utc)
        r = s.append(example(1, timestamp=t))
        assert s.get(r.id)["timestamp"] == "2025-04-02T10:30:00.000Z"
        with pytest.raises(strata.InvalidInputError) as e:
            s.append(example(2, timestamp=dt.datetime(2025, 4, 2)))
        assert e.value.field == "timestamp"


def test_append_many_rejects_bad_records_with_their_position_and_stores_the_rest(tmp_path):
    records = [example(i) for i in range(10)]
    records[3] = example(3, quality_score=7)
    records[6] = {"prompt": "no domain", "response": "r", "timestamp": "2025-01-01T00:00:00Z"}
    records[8] = example(8, metadata={"bad": {1, 2}.__class__})  # a type object: not JSON
    records.append(example(0))  # duplicate of the first
    with strata.Store.open(tmp_path / "s") as s:
        sm = s.append_many(iter(records), batch_bytes=300)  # several chunks: positions must stay global
        assert (sm.read, sm.inserted, sm.duplicates, sm.rejected) == (11, 7, 1, 3)
        by_line = {r.line: r for r in sm.rejects}
        assert set(by_line) == {4, 7, 9}
        assert by_line[4].field == "quality_score"
        assert by_line[7].field == "domain"
        assert "JSON" in by_line[9].reason
        assert sorted(e["prompt"] for e in s.scan()) == sorted(f"question {i}" for i in (0, 1, 2, 4, 5, 7, 9))


def test_append_many_is_durable_on_return_under_the_default_policy(tmp_path):
    s = strata.Store.open(tmp_path / "s")
    s.append_many(example(i) for i in range(50))
    with strata.Reader(tmp_path / "s") as r:  # a snapshot sees committed data only
        assert len(list(r.scan())) == 50
    s.close()


def test_manual_policy_commits_only_on_commit(tmp_path):
    with strata.Store.open(tmp_path / "s", commit="manual") as s:
        s.append(example(1))
        s.append_many([example(2), example(3)])
        with strata.Reader(tmp_path / "s") as r:
            assert list(r.scan()) == []
        s.commit()
        with strata.Reader(tmp_path / "s") as r:
            assert len(list(r.scan())) == 3


def test_bad_commit_policy_is_a_usage_error(tmp_path):
    with pytest.raises(strata.UsageError) as e:
        strata.Store.open(tmp_path / "s", commit="weekly")
    assert e.value.field == "commit"
    with strata.Store.open(tmp_path / "s2", commit=0.5) as s:
        assert s.append(example(1)).inserted


def test_ingest_jsonl_file_gives_the_same_store_contents_as_the_cli(tmp_path, corpus):
    with strata.Store.open(tmp_path / "py") as s:
        sm = s.ingest_jsonl(corpus)
    cli = json.loads(run_cli("ingest", str(tmp_path / "cli"), str(corpus), "--json", "--quiet").stdout.strip().splitlines()[-1])
    assert (sm.read, sm.inserted, sm.duplicates, sm.rejected) == (cli["read"], cli["inserted"], cli["duplicates"], cli["rejected"])
    run_cli("export", str(tmp_path / "py"), "--out", str(tmp_path / "e1"))
    run_cli("export", str(tmp_path / "cli"), "--out", str(tmp_path / "e2"))
    assert read_jsonl(tmp_path / "e1" / "data.jsonl") == read_jsonl(tmp_path / "e2" / "data.jsonl")


def test_ingest_jsonl_bytes_with_mapping_and_rejects(tmp_path):
    lines = [
        {"q": "a?", "a": "A", "meta": {"dom": "beta"}, "when": "2025-02-03T00:00:00"},
        {"q": "b?", "meta": {"dom": "beta"}, "when": "2025-02-03T00:00:00"},
        {"q": "c?", "a": "C", "meta": {"dom": "BAD DOMAIN"}, "when": "2025-02-03T00:00:00"},
    ]
    data = b"\n".join(json.dumps(x).encode() for x in lines) + b"\n"
    with strata.Store.open(tmp_path / "s") as s:
        sm = s.ingest_jsonl(data, mapping={"prompt": "q", "response": "a", "domain": "meta.dom", "timestamp": "when"},
                            naive_timestamps_utc=True)
        assert (sm.inserted, sm.rejected) == (1, 2)
        assert [(r.line, r.field) for r in sm.rejects] == [(2, "a"), (3, "meta.dom")]
        [only] = list(s.scan())
        assert only["prompt"] == "a?" and only["domain"] == "beta"
        with pytest.raises(strata.UsageError):
            s.ingest_jsonl(data, mapping={"nonsense": "q"})
        # A missing input file is an I/O failure (exit 74 for the CLI), not a lookup miss.
        with pytest.raises(strata.IOError) as e:
            s.ingest_jsonl(tmp_path / "missing.jsonl")
        assert e.value.path.endswith("missing.jsonl")


def test_get_views_and_annotations_fold(tmp_path):
    with strata.Store.open(tmp_path / "s") as s:
        r = s.append(example(1))
        s.annotate(r.id, feedback="positive", rating=5, comment="good")
        s.annotate(r.id, feedback="negative")
        s.annotate(r.id, correction="a better answer", reason="review")
        assert s.get(r.id)["response"] == "a better answer"
        assert s.get(r.id, raw=True)["response"] == "answer 1"
        row = s.get(r.id, view="export")
        assert (row["feedback_positive"], row["feedback_negative"], row["corrected"]) == (1, 1, "a better answer")
        assert row["response"] == "answer 1" and json.loads(row["metadata"]) == {"n": 1}
        assert s.get("0" * 32) is None
        with pytest.raises(strata.InvalidInputError) as e:
            s.get("not-an-id")
        assert e.value.field == "id"


def test_annotate_errors_name_the_problem(tmp_path):
    with strata.Store.open(tmp_path / "s") as s:
        r = s.append(example(1))
        with pytest.raises(strata.NotFoundError):
            s.annotate("0" * 32, exclude=True)
        with pytest.raises(strata.InvalidInputError) as e:
            s.annotate(r.id, rating=3)
        assert e.value.field == "rating"
        with pytest.raises(strata.InvalidInputError) as e:
            s.annotate(r.id, feedback="meh")
        assert e.value.field == "feedback"
        with pytest.raises(strata.InvalidInputError):
            s.annotate(r.id)
        chat = s.append({"messages": [{"role": "user", "content": "hi"}], "domain": "alpha", "timestamp": "2025-03-01T00:00:00Z"})
        with pytest.raises(strata.InvalidInputError) as e:
            s.annotate(chat.id, correction="no assistant message to correct")
        assert e.value.field == "correction"


def test_exclude_hides_from_scan_and_include_restores(tmp_path):
    with strata.Store.open(tmp_path / "s") as s:
        ids = [s.append(example(i)).id for i in range(3)]
        s.annotate(ids[1], exclude=True, reason="pii")
        assert [e["id"] for e in s.scan()] == [ids[0], ids[2]]
        assert len(list(s.scan(include_excluded=True))) == 3
        s.annotate(ids[1], exclude=False)
        assert len(list(s.scan())) == 3


def test_scan_filters_match_the_cli_scan(tmp_path, corpus):
    with strata.Store.open(tmp_path / "s") as s:
        s.ingest_jsonl(corpus)
        first = next(s.scan())
        cases = [
            {},
            {"domain": first["domain"]},
            {"from_month": "2024-06", "to_month": "2025-03"},
            {"min_quality": 0.8},
            {"tags": first["tags"][:1]} if first["tags"] else {"min_quality": 0.5},
            {"shape": "chat"},
            {"source": first["source"]} if first["source"] else {"shape": "instruction"},
            {"where": 'metadata.record_type = "BloodGlucoseRecord"'},
            {"where": ["metadata.record_count > 100", "quality_score >= 0.5"], "shape": "instruction"},
            {"from_time": "2025-03-01", "to_time": "2025-06-15T12:00:00Z"},
            {"from_time": "2025-01-01T00:00:00Z", "where": "metadata.clinical_insights.trend IN (\"stable\", \"improving\")"},
        ]
        for f in cases:
            args = []
            for k, v in f.items():
                flag = {"domain": "--domain", "from_month": "--from-month", "to_month": "--to-month", "min_quality": "--min-quality",
                        "tags": "--tag", "shape": "--shape", "source": "--source", "where": "--where", "from_time": "--from",
                        "to_time": "--to"}[k]
                for item in (v if isinstance(v, list) else [v]):
                    args += [flag, str(item)]
            s.commit()
            cli = [json.loads(line) for line in run_cli("scan", str(tmp_path / "s"), *args).stdout.splitlines()]
            got = list(s.scan(**f))
            assert got == cli, f
            assert len(got) > 0, f


def test_an_open_scan_blocks_other_calls_on_its_handle_until_closed(tmp_path):
    with strata.Store.open(tmp_path / "s") as s:
        s.append_many(example(i) for i in range(200))
        it = s.scan(batch_bytes=1)  # one example per batch: the scan stays in progress
        assert next(it)["domain"] == "alpha"
        with pytest.raises(strata.UsageError):
            s.append(example(1000))
        it.close()
        assert s.append(example(1000)).inserted
        # Exhausting the iterator releases the handle too.
        assert len(list(s.scan(batch_bytes=1))) == 201
        s.commit()


def test_reader_partitions_and_snapshot_isolation(tmp_path):
    with strata.Store.open(tmp_path / "s") as s:
        s.append(example(1, domain="alpha", month="2025-01"))
        s.append(example(2, domain="beta", month="2025-02"))
        with strata.Reader(tmp_path / "s") as r:
            s.append(example(3, domain="beta", month="2025-03"))
            assert r.partitions() == [{"domain": "alpha", "month": "2025-01"}, {"domain": "beta", "month": "2025-02"}]
            assert len(list(r.scan())) == 2
            assert r.get(s.append(example(1, domain="alpha", month="2025-01")).id)["prompt"] == "question 1"
        with strata.Reader(tmp_path / "s") as r:
            assert len(list(r.scan())) == 3
    with pytest.raises(strata.NotFoundError):
        strata.Reader(tmp_path / "nothing")


def test_second_writer_raises_locked_and_closed_store_raises_usage(tmp_path):
    s = strata.Store.open(tmp_path / "s")
    with pytest.raises(strata.LockedError) as e:
        strata.Store.open(tmp_path / "s")
    assert e.value.code == "locked"
    s.close()
    s.close()  # idempotent
    with pytest.raises(strata.UsageError):
        s.append(example(1))
    with pytest.raises(strata.NotFoundError):
        strata.Store.open(tmp_path / "absent", create=False)


def test_export_equals_the_cli_export(tmp_path, corpus):
    with strata.Store.open(tmp_path / "s") as s:
        s.ingest_jsonl(corpus)
        ids = [e["id"] for e in s.scan(batch_bytes=1 << 16)]
        s.annotate(ids[0], exclude=True)
        s.annotate(ids[1], feedback="negative")
        for fmt, schema in (("jsonl", "raw"), ("jsonl", "alpaca"), ("parquet", "raw"), ("json", "raw")):
            py = s.export(tmp_path / f"py-{fmt}-{schema}", format=fmt, schema=schema, split="train=0.8,test=0.2",
                          feedback="drop-negative")
            run_cli("export", str(tmp_path / "s"), "--out", str(tmp_path / f"cli-{fmt}-{schema}"), "--format", fmt, "--schema", schema,
                    "--split", "train=0.8,test=0.2", "--feedback", "drop-negative")
            cli_dir = tmp_path / f"cli-{fmt}-{schema}"
            cli_files = {str(p.relative_to(cli_dir)) for p in cli_dir.rglob("*") if p.is_file()}
            assert py.files and set(py.files) <= cli_files
            for f in py.files:
                a = (tmp_path / f"py-{fmt}-{schema}" / f).read_bytes()
                b = (tmp_path / f"cli-{fmt}-{schema}" / f).read_bytes()
                if fmt == "json":  # the document records when it was generated: compare its examples
                    a, b = (json.loads(x)["conversations"] for x in (a, b))
                assert a == b, f
            assert py.rows == len(ids) - 2 or schema != "raw"
        again = s.export(tmp_path / "py-jsonl-raw", format="jsonl", schema="raw", split="train=0.8,test=0.2", feedback="drop-negative")
        assert again.up_to_date
        part = s.export(tmp_path / "part", format="parquet", partitioned=True, min_quality=0.5)
        assert all(f.startswith("data/domain=") for f in part.files)  # Parquet data lives under data/ (SPEC.md §8)
        with pytest.raises(strata.UsageError) as e:
            s.export(tmp_path / "x", format="csv")
        assert e.value.field == "format"


def test_stats_match_the_cli(tmp_path, corpus):
    with strata.Store.open(tmp_path / "s") as s:
        s.ingest_jsonl(corpus)
        live = s.stats()  # commits first, so it counts everything appended
    st = strata.stats(tmp_path / "s")  # after close (sealed segments): the same snapshot the CLI sees
    cli = json.loads(run_cli("stats", str(tmp_path / "s"), "--json").stdout)
    for k in ("records", "by_domain", "by_month", "by_shape", "by_source", "by_tag", "bytes_on_disk", "date_range", "duplicates",
              "partitions", "average_quality_score", "quality_report"):
        assert st[k] == cli[k], k
    assert st["quality"]["histogram"] == [b["count"] for b in cli["quality"]["histogram"]]
    assert live["records"] == st["records"] and live["by_domain"] == st["by_domain"]
    # A selection, rules and lengths: the same report as the CLI's with the same flags.
    rules = ["metadata.record_count > 0", "quality_score is not null"]
    sel = strata.stats(tmp_path / "s", where="metadata.record_type exists", from_time="2025-01-01", rules=rules, min_rows=5, lengths=True)
    failed = subprocess.run([cli_path(), "stats", str(tmp_path / "s"), "--json", "--where", "metadata.record_type exists", "--from",
                             "2025-01-01", "--rule", rules[0], "--rule", rules[1], "--min-rows", "5", "--lengths"], capture_output=True, text=True)
    assert failed.returncode == 65  # a failed rule: the CLI's exit status, Python's checks list
    cli = json.loads(failed.stdout)
    for k in ("records", "by_domain", "by_month", "by_shape", "quality_report"):
        assert sel[k] == cli[k], k
    assert 0 < sel["records"] < st["records"]
    checks = {c["name"]: c["passed"] for c in sel["quality_report"]["checks"]}
    assert len(checks) >= 3 and not all(checks.values())  # some examples have no record_count: that rule fails
    assert "lengths" in sel["quality_report"] and "lengths" not in st["quality_report"]
    with pytest.raises(strata.UsageError) as e:
        strata.stats(tmp_path / "s", rules=["quality_score >"])
    assert e.value.field == "rules"


def test_stats_read_summaries_not_the_examples(tmp_path, corpus):
    """Cost follows what is touched: plain stats reads segment summaries, a few KB, whatever the store's size."""
    with strata.Store.open(tmp_path / "s") as s:
        s.ingest_jsonl(corpus)
    def bytes_read(fn):
        with open("/proc/self/io") as f:
            before = int(next(l for l in f if l.startswith("rchar:")).split()[1])
        r = fn()
        with open("/proc/self/io") as f:
            return r, int(next(l for l in f if l.startswith("rchar:")).split()[1]) - before
    plain, plain_read = bytes_read(lambda: strata.stats(tmp_path / "s"))
    scanned, scanned_read = bytes_read(lambda: strata.stats(tmp_path / "s", lengths=True))
    assert plain["records"] == scanned["records"] > 0
    assert scanned_read > plain["bytes_on_disk"] // 2           # the scan reads the segments
    assert plain_read < plain["bytes_on_disk"] // 5, plain_read  # summaries and footers: a small part of them
    assert scanned_read > 8 * plain_read


def _flip_a_byte_in_a_segment(store) -> str:
    segs = sorted(glob.glob(os.path.join(store, "domain=*", "month=*", "*")))
    seg = max(segs, key=os.path.getsize)
    with open(seg, "r+b") as f:
        size = os.path.getsize(seg)
        f.seek(size // 2)
        b = f.read(1)
        f.seek(size // 2)
        f.write(bytes([b[0] ^ 0xFF]))
    return seg


def test_damage_is_reported_as_corruption_with_file_and_offset(tmp_path, corpus):
    with strata.Store.open(tmp_path / "s") as s:
        s.ingest_jsonl(corpus)
        assert s.verify()["intact"]
    seg = _flip_a_byte_in_a_segment(str(tmp_path / "s"))
    with pytest.raises(strata.CorruptionError) as e:
        strata.verify(tmp_path / "s")
    assert e.value.path and os.path.basename(seg) in e.value.path and e.value.offset is not None
    assert e.value.report["errors"] >= 1
    with strata.Reader(tmp_path / "s") as r:
        with pytest.raises(strata.CorruptionError) as e:
            for _ in r.scan():
                pass
    assert os.path.basename(seg) in e.value.path and e.value.offset is not None


def test_threads_share_one_store(tmp_path):
    with strata.Store.open(tmp_path / "s", commit="manual") as s:
        def work(t):
            for i in range(100):
                s.append(example(t * 1000 + i))
        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        s.commit()
        assert len(list(s.scan())) == 400


def test_library_calls_release_the_gil(tmp_path, corpus):
    # While one thread is inside a long library call, another Python thread keeps running.
    # Were the GIL held across the call, the other thread would stall for the whole call:
    # the longest pause between its ticks would be about the call's duration.
    import time
    data = corpus.read_bytes() * 8
    done = threading.Event()
    took = []
    with strata.Store.open(tmp_path / "s", commit="manual") as s:
        def work():
            t0 = time.perf_counter()
            s.ingest_jsonl(data)
            took.append(time.perf_counter() - t0)
            done.set()
        t = threading.Thread(target=work)
        last = time.perf_counter()
        longest = 0.0
        t.start()
        while not done.is_set():
            now = time.perf_counter()
            longest = max(longest, now - last)
            last = now
        t.join()
    assert took[0] > 0.05, "the call is long enough to tell"
    assert longest < took[0] / 2, (longest, took[0])


def test_a_store_created_from_python_with_a_dedup_key_keeps_it_and_the_cli_sees_it(tmp_path):
    path = tmp_path / "s"
    with strata.Store.open(path, dedup_key="content+metadata.source_key", normalize="whitespace") as s:
        a = s.append(example(1, metadata={"source_key": "A"}))
        b = s.append(example(1, metadata={"source_key": "B"}))           # same content, other key field: kept
        c = s.append(example(1, prompt=" question\u00a0 1 ", metadata={"source_key": "A"}))  # respaced: a duplicate
        assert a.inserted and b.inserted and a.id != b.id
        assert not c.inserted and c.id == a.id
    # `strata init` with the same key is a no-op and reports it; reopening without options keeps it.
    out = json.loads(run_cli("init", str(path), "--dedup-key", "content+metadata.source_key", "--normalize", "whitespace", "--json").stdout)
    assert out["dedup"] == {"key": "content+fields", "fields": ["metadata.source_key"], "normalize": "whitespace"}
    assert out["records"] == 2
    with strata.Store.open(path) as s:
        assert not s.append(example(1, prompt="question  1", metadata={"source_key": "B"})).inserted


@pytest.mark.parametrize("options,field", [
    ({"dedup_key": "content+nonsense"}, "dedup_key"),
    ({"dedup_key": "fingerprint"}, "dedup_key"),
    ({"normalize": "lowercase"}, "normalize"),
    ({"dedup_key": 3}, "dedup_key"),
])
def test_a_bad_dedup_option_is_a_usage_error_naming_it_and_creates_nothing(tmp_path, options, field):
    with pytest.raises(strata.UsageError) as e:
        strata.Store.open(tmp_path / "s", **options)
    assert e.value.field == field
    assert not (tmp_path / "s").exists()


def test_opening_with_another_dedup_key_fails_and_leaves_the_store_as_it_was(tmp_path):
    path = tmp_path / "s"
    with strata.Store.open(path, dedup_key="prompt_only") as s:
        s.append(example(1))
    before = sorted((p.name, p.stat().st_size) for p in path.rglob("*") if p.is_file())
    for key, norm in (("content", None), ("prompt_only", "casefold")):
        with pytest.raises(strata.UsageError) as e:
            strata.Store.open(path, dedup_key=key, normalize=norm)
        assert e.value.field == "dedup_key" and "cannot change" in str(e.value)
    assert sorted((p.name, p.stat().st_size) for p in path.rglob("*") if p.is_file()) == before
    with strata.Store.open(path) as s:
        assert not s.append(example(1, response="another answer")).inserted  # still keyed on the prompt only


def test_scan_takes_datetimes_and_dates_for_the_time_range_and_rejects_bad_selections(tmp_path):
    with strata.Store.open(tmp_path / "s") as s:
        for i, day in enumerate(["2025-03-13T23:59:59Z", "2025-03-14T00:00:00Z", "2025-03-14T18:00:00Z", "2025-03-15T00:00:00Z"]):
            s.append(example(i, timestamp=day))
        def days(**f):
            return [e["timestamp"][:19] for e in s.scan(**f)]
        assert days(from_time=dt.date(2025, 3, 14), to_time=dt.date(2025, 3, 15)) == ["2025-03-14T00:00:00", "2025-03-14T18:00:00"]
        aware = dt.datetime(2025, 3, 14, 20, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))  # 18:00Z: to is exclusive
        assert days(to_time=aware) == ["2025-03-13T23:59:59", "2025-03-14T00:00:00"]
        with pytest.raises(strata.UsageError) as e:
            list(s.scan(from_time=dt.datetime(2025, 3, 14)))  # naive: which zone?
        assert e.value.field == "from_time"
        with pytest.raises(strata.UsageError) as e:
            list(s.scan(from_time="2025-03-15", to_time="2025-03-14"))
        assert e.value.field == "to_time"
        with pytest.raises(strata.UsageError) as e:
            list(s.scan(where="quality_score >>= 1"))
        assert e.value.field == "where"


def test_export_takes_the_cli_options_a_pipeline_needs_and_writes_what_the_cli_writes(tmp_path, corpus):
    store = tmp_path / "s"
    run_cli("ingest", str(store), str(corpus), "--quiet")
    cases = [
        ({"layout": "etl", "file_name": "health_journal", "schema": "alpaca"},
         ["--layout", "etl", "--file-name", "health_journal", "--schema", "alpaca"]),
        ({"format": "parquet", "file_name": "training", "from_time": "2025-01-01", "to_time": dt.date(2025, 7, 1),
          "where": "metadata.record_count > 10"},
         ["--format", "parquet", "--file-name", "training", "--from", "2025-01-01", "--to", "2025-07-01", "--where", "metadata.record_count > 10"]),
        ({"mode": 0o644}, ["--mode", "644"]),
    ]
    for n, (options, flags) in enumerate(cases):
        py = strata.export(store, tmp_path / f"py{n}", **options)
        run_cli("export", str(store), "--out", str(tmp_path / f"cli{n}"), *flags)
        cli_dir = tmp_path / f"cli{n}"
        cli_files = sorted(str(p.relative_to(cli_dir)) for p in cli_dir.rglob("*") if p.is_file() and p.suffix in (".jsonl", ".parquet"))
        assert sorted(py.files) == cli_files and py.rows > 0, options
        for f in py.files:
            assert (tmp_path / f"py{n}" / f).read_bytes() == (cli_dir / f).read_bytes(), f
            assert (tmp_path / f"py{n}" / f).stat().st_mode & 0o777 == (cli_dir / f).stat().st_mode & 0o777
    assert all(f.count("/") == 3 and f.split("/")[-1].startswith("health_journal_") for f in strata.export(store, tmp_path / "py0", layout="etl", file_name="health_journal", schema="alpaca").files)
    assert (tmp_path / "py2" / py.files[0]).stat().st_mode & 0o777 == 0o644
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    with pytest.raises(strata.Error):
        strata.export(store, tmp_path / "foreign")
    assert strata.export(store, tmp_path / "foreign", force=True).rows > 0
    assert (tmp_path / "foreign" / "notes.txt").read_text() == "mine"
    for bad, field in (({"layout": "flat"}, "layout"), ({"mode": 0o755}, "mode"), ({"where": "nonsense"}, "where")):
        with pytest.raises(strata.UsageError) as e:
            strata.export(store, tmp_path / "bad", **bad)
        assert e.value.field == field, bad


def test_hash_fields_and_unknown_fields_apply_to_every_write_path_as_the_cli_does(tmp_path):
    rec = example(1, metadata={"user_id": "u-4821", "n": 1})
    rec["session"] = "s-9"  # a top-level key no field is read from
    lines = json.dumps(rec).encode() + b"\n"
    (tmp_path / "in.jsonl").write_bytes(lines)
    # The CLI's reference: the same record, the same flags.
    run_cli("ingest", str(tmp_path / "cli"), str(tmp_path / "in.jsonl"), "--hash-field", "metadata.user_id", "--quiet")
    cli = json.loads(run_cli("scan", str(tmp_path / "cli")).stdout.splitlines()[0])
    assert cli["metadata"]["user_id"].startswith("h:") and cli["metadata"]["_extra"] == {"session": "s-9"}
    with strata.Store.open(tmp_path / "py", hash_fields="metadata.user_id") as s:
        a = s.append(rec)
        assert s.get(a.id)["metadata"]["user_id"].startswith("h:") and s.get(a.id)["metadata"]["_extra"] == {"session": "s-9"}
        b = s.append_many([example(2, metadata={"user_id": "u-4821"})])
        c = s.ingest_jsonl(json.dumps(example(3, metadata={"user_id": "u-4821"})).encode())
        assert b.inserted == c.inserted == 1
        pseudonyms = {e["metadata"]["user_id"] for e in s.scan()}
        assert len(pseudonyms) == 1 and "u-4821" not in json.dumps(list(s.scan()))  # one pseudonym, the raw value nowhere
    # Pseudonyms are keyed by the store's secret: another store gives another one, as the CLI's did.
    assert pseudonyms != {cli["metadata"]["user_id"]}
    with strata.Store.open(tmp_path / "strict", unknown_fields="reject") as s:
        with pytest.raises(strata.InvalidInputError) as e:
            s.append(rec)
        assert e.value.field == "session"
        sm = s.ingest_jsonl(lines + json.dumps(example(4)).encode() + b"\n")
        assert (sm.inserted, sm.rejected) == (1, 1) and sm.rejects[0].field == "session"
    with strata.Store.open(tmp_path / "drop", unknown_fields="drop") as s:
        sm = s.ingest_jsonl(lines)
        assert sm.unknown_fields == 1 and "_extra" not in next(s.scan())["metadata"]
    with pytest.raises(strata.UsageError) as e:
        strata.Store.open(tmp_path / "bad", unknown_fields="ignore")
    assert e.value.field == "unknown_fields"
    with strata.Store.open(tmp_path / "bad"):  # the failed open released the store
        pass


def test_default_timestamp_fills_records_without_one(tmp_path):
    with strata.Store.open(tmp_path / "s") as s:
        rec = example(1)
        del rec["timestamp"]
        sm = s.ingest_jsonl(json.dumps(rec).encode(), default_timestamp=dt.date(2025, 3, 14))
        assert sm.inserted == 1 and next(s.scan())["timestamp"].startswith("2025-03-14T00:00:00")
        with pytest.raises(strata.UsageError) as e:
            s.ingest_jsonl(json.dumps(rec).encode(), default_timestamp="yesterday")
        assert e.value.field == "default_timestamp"


def test_external_ids_declared_from_python_find_and_annotate_examples_as_the_cli_does(tmp_path):
    path = tmp_path / "capture"
    with strata.Store.open(path, external_ids=["metadata._extra.id"]) as s:
        for i in range(50):
            s.append({"prompt": f"q{i}", "response": f"a{i}", "domain": "roofing", "timestamp": "2025-03-14T09:30:07Z",
                      "metadata": {"_extra": {"id": f"train_{i:03d}"}}})
        assert [e["prompt"] for e in s.lookup("metadata._extra.id", "train_007")] == ["q7"]  # the open's index + uncovered blocks
        ids = s.annotate(by=("metadata._extra.id", "train_007"), feedback="negative", comment="wrong unit")
        assert len(ids) == 1
        with pytest.raises(strata.NotFoundError):
            s.annotate(by=("metadata._extra.id", "train_999"), feedback="positive")
        with pytest.raises(strata.UsageError):
            s.annotate(feedback="positive")  # neither an id nor by=
    # close refreshed the index: the CLI's lookup of the same id finds the same example, folded with the feedback.
    cli = json.loads(run_cli("get", str(path), "--by", "metadata._extra.id=train_007").stdout)
    with strata.Reader(path) as r:
        got = r.lookup("metadata._extra.id", "train_007")
        assert [e["id"] for e in got] == [cli["id"]] == ids
        assert r.lookup("metadata._extra.id", "train_999") == []
        with pytest.raises(strata.UsageError):
            r.lookup("metadata.user_id", "u1")  # not declared
    out = json.loads(run_cli("init", str(path), "--json").stdout)
    assert out["external_ids"] == ["metadata._extra.id"]
    index = path / "index" / "extid-metadata._extra.id.idx"
    assert index.exists(), sorted(p.name for p in (path / "index").iterdir())
    with pytest.raises(strata.UsageError) as e:
        strata.Store.open(tmp_path / "bad", external_ids=["user_id"])  # not a metadata path
    assert e.value.field == "external_ids"
