#!/usr/bin/env python3
"""Benchmarks of the Python package against its peers, measured in the same run.

    python python/bench/bench_python.py --size-mb 50 --reps 3 --cli .build/release/strata

Workloads (each reported as the median of --reps runs, with the ratio to its peer; also
the median CPU seconds of all threads and child processes, steadier than wall-clock
time on a shared machine):
  append_many   Store.append_many(list of dicts) into a new store, vs the seeds' Python
                baseline on the same dicts: json.dumps of the content keys + sha256 + a set
                for dedup, json.dumps of the record to one JSONL file per (domain, month),
                fsync at the end.
  ingest_jsonl  Store.ingest_jsonl(corpus path) vs the CLI `strata ingest` (a process).
  scan          every example of the store into Python dicts (Reader.scan) vs json.loads
                over each line of the store's raw JSONL export (read from the file).
  spark         (with --spark) Spark reading every row and column of the store through
                the "strata" data source (one task per store partition; and grouped,
                --spark-group store partitions per task) vs Spark reading the Parquet
                export (noop sink), local[2].
The corpus comes from tools/gen_corpus.py (deterministic). Not a test: no assertions.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import strata

REPO = Path(__file__).resolve().parents[2]
CONTENT_KEYS = ("instruction", "input", "output", "prompt", "response", "messages")


def _cpu():
    """CPU seconds of this process (all threads, so the library's too) plus its finished children."""
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + c.ru_utime + c.ru_stime


def timed(fn, reps, setup=None):
    """Median wall-clock seconds (and median CPU seconds in CPU_TIMES[fn]) over reps runs."""
    times, cpus, result = [], [], None
    for _ in range(reps):
        if setup:
            setup()
        c0, t0 = _cpu(), time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
        cpus.append(_cpu() - c0)
    LAST_CPU[0] = statistics.median(cpus)
    return statistics.median(times), result


LAST_CPU = [0.0]


def rm(p):
    shutil.rmtree(p, ignore_errors=True)


def baseline_append(records, out_dir):
    """The seeds' pattern: sha256 dedup set + JSONL per domain/month."""
    os.makedirs(out_dir, exist_ok=True)
    seen, files, n = set(), {}, 0
    dumps = json.dumps
    for r in records:
        c = {k: r[k] for k in CONTENT_KEYS if k in r}
        h = hashlib.sha256(dumps(c, sort_keys=True, ensure_ascii=False).encode()).digest()
        if h in seen:
            continue
        seen.add(h)
        key = (r["domain"], r["timestamp"][:7])
        f = files.get(key)
        if f is None:
            d = os.path.join(out_dir, f"domain={key[0]}", f"month={key[1]}")
            os.makedirs(d, exist_ok=True)
            f = files[key] = open(os.path.join(d, "data.jsonl"), "ab", buffering=1 << 20)
        f.write(dumps(r, ensure_ascii=False).encode() + b"\n")
        n += 1
    for f in files.values():
        f.flush()
        os.fsync(f.fileno())
        f.close()
    return n


def strata_append(records, path):
    with strata.Store.open(path) as s:
        return s.append_many(records).inserted


def scan_dicts(path):
    n = 0
    with strata.Reader(path) as r:
        for _ in r.scan():
            n += 1
    return n


def baseline_scan(jsonl):
    n = 0
    loads = json.loads
    with open(jsonl, "rb") as f:
        for line in f:
            loads(line)
            n += 1
    return n


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=float, default=50)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--cli", default=str(REPO / ".build" / "release" / "strata"))
    ap.add_argument("--spark", action="store_true")
    ap.add_argument("--spark-group", type=int, default=32, help="partitionsPerTask of the grouped Spark read")
    ap.add_argument("--work", default=None)
    ap.add_argument("--json", action="store_true", help="print the results as one JSON object")
    a = ap.parse_args(argv)
    work = Path(a.work or tempfile.mkdtemp(prefix="strata-pybench-"))
    work.mkdir(parents=True, exist_ok=True)
    corpus = work / "corpus.jsonl"
    if not corpus.exists():
        subprocess.run([sys.executable, str(REPO / "tools" / "gen_corpus.py"), "--size-mb", str(a.size_mb), "--seed", "7",
                        "--out", str(corpus)], check=True)
    raw = corpus.stat().st_size
    with open(corpus, "rb") as f:
        records = [json.loads(line) for line in f if line.strip()]
    res = {"corpus_bytes": raw, "records": len(records), "reps": a.reps, "python": sys.version.split()[0]}

    def row(name, ours, peer, n, cpu=None):
        res[name] = {"strata_s": ours, "peer_s": peer, "ratio": peer / ours, "items": n}
        line = f"{name:13s} strata {ours:7.3f} s   peer {peer:7.3f} s   ratio {peer / ours:5.2f}x"
        if cpu:
            res[name].update({"strata_cpu_s": cpu[0], "peer_cpu_s": cpu[1], "cpu_ratio": cpu[1] / cpu[0]})
            line += f"   | CPU strata {cpu[0]:7.3f} s  peer {cpu[1]:7.3f} s  ratio {cpu[1] / cpu[0]:5.2f}x"
        print(line + f"   ({n} items)", file=sys.stderr)

    # append_many vs the Python baseline (same dicts in memory).
    t_base, n_base = timed(lambda: baseline_append(records, work / "base"), a.reps, lambda: rm(work / "base"))
    c_base = LAST_CPU[0]
    t_ours, n_ours = timed(lambda: strata_append(records, str(work / "am")), a.reps, lambda: rm(work / "am"))
    row("append_many", t_ours, t_base, len(records), (LAST_CPU[0], c_base))
    res["append_many"]["unique"] = {"strata": n_ours, "baseline": n_base}

    # ingest_jsonl vs the CLI.
    def ingest_py():
        with strata.Store.open(work / "ij") as s:
            return s.ingest_jsonl(corpus).inserted
    t_cli, _ = timed(lambda: subprocess.run([a.cli, "ingest", str(work / "ic"), str(corpus), "--quiet"], check=True,
                                            stdout=subprocess.DEVNULL), a.reps, lambda: rm(work / "ic"))
    c_cli = LAST_CPU[0]
    t_ij, n_ij = timed(ingest_py, a.reps, lambda: rm(work / "ij"))
    row("ingest_jsonl", t_ij, t_cli, n_ij, (LAST_CPU[0], c_cli))

    # scan into dicts vs json.loads over the raw JSONL export.
    rm(work / "export")
    subprocess.run([a.cli, "export", str(work / "ij"), "--out", str(work / "export")], check=True, stdout=subprocess.DEVNULL)
    t_loads, n_loads = timed(lambda: baseline_scan(work / "export" / "data.jsonl"), a.reps)
    c_loads = LAST_CPU[0]
    t_scan, n_scan = timed(lambda: scan_dicts(str(work / "ij")), a.reps)
    row("scan", t_scan, t_loads, n_scan, (LAST_CPU[0], c_loads))
    res["scan"]["export_rows"] = n_loads

    if a.spark:
        from pyspark.sql import SparkSession

        import strata.spark as ss
        os.environ["PYSPARK_PYTHON"] = sys.executable
        spark = (SparkSession.builder.master("local[2]").appName("strata-bench").config("spark.ui.enabled", "false")
                 .config("spark.ui.showConsoleProgress", "false")
                 .config("spark.sql.session.timeZone", "UTC").getOrCreate())
        spark.sparkContext.setLogLevel("ERROR")
        ss.register(spark)
        rm(work / "pq")
        subprocess.run([a.cli, "export", str(work / "ij"), "--out", str(work / "pq"), "--format", "parquet"], check=True,
                       stdout=subprocess.DEVNULL)
        read_store = lambda: spark.read.format("strata").load(str(work / "ij")).write.format("noop").mode("overwrite").save()  # noqa: E731
        read_pq = lambda: spark.read.parquet(str(work / "pq" / "data.parquet")).write.format("noop").mode("overwrite").save()  # noqa: E731
        read_grouped = lambda: (spark.read.format("strata").option("partitionsPerTask", str(a.spark_group))  # noqa: E731
                                .load(str(work / "ij")).write.format("noop").mode("overwrite").save())
        read_store()  # warm-up: JVM, Python workers
        t_sp, _ = timed(read_store, a.reps)
        t_pq, _ = timed(read_pq, a.reps)
        t_gr, _ = timed(read_grouped, a.reps)
        row("spark", t_sp, t_pq, n_scan)
        row("spark_grouped", t_gr, t_pq, n_scan)
        parts = len(strata.Reader(str(work / "ij")).partitions())
        res["spark"]["partitions"] = parts
        res["spark_grouped"]["tasks"] = -(-parts // a.spark_group)
        spark.stop()
    if a.json:
        print(json.dumps(res, indent=1))
    if not a.work:
        rm(work)


if __name__ == "__main__":
    main()
