#!/usr/bin/env python3
"""Time `strata` against what users would otherwise use, on the same JSONL corpus.

    python3 tools/compare.py --size-mb 200 --reps 3
    python3 tools/compare.py --corpus corpus.jsonl --only py_jsonl_sha256,duckdb --json
    python3 tools/compare.py --corpus c.jsonl --strata .build/release/strata \\
        --strata-cmd 'strata_compact={strata} compact {store} --json --level 19'

Every step runs as its own child process.  Wall time is measured around the child
(fork to exit), so interpreter start-up and imports (pyarrow, duckdb) are included,
just as they are for the `strata` binary.  Peak RSS is the child's ru_maxrss taken
from os.wait4() on that exact child (Linux: KiB) -- it is the peak of that process
(the largest of it and any grandchild waited for), not a sum.  CPU is user+sys of the
child (the JSON also has each repetition's CPU and the median user and sys apart).
Each repetition gets a fresh output; input is the same file (warm page cache: a
first untimed `cat` reads it once).

Steps on an ingested store (export, compact, one partition) copy the store built
by strata_ingest, untimed, before every repetition, then `sync` (untimed); the
figures are the `strata` child's alone: not the copy, not a verify, level 3 unless
the template says otherwise.  Their sys time is the kernel's work for the child
(reads from the page cache, file creation, fsync), and it depends on what ran
before: on c200 (main at 19ed304, same hour), compaction run alone
(`--only strata_compact`) took 1.89 CPU s, sys 0.26; after this script's ingest and
export steps 2.13, sys 0.53, user the same (1.66 / 1.61).  perf puts part of
compaction's kernel time in ext4's inode allocation (`recently_deleted`), which
slows after many recent deletions, as the earlier steps' stores are.  So compare
user CPU across runs and sys only within one run.

Peers run at their fastest reasonable configuration (a ratio against a
handicapped peer flatters Strata); each peer's docstring / CLI_PEERS entry says
which.  `duckdb_parquet` (schema inference over the whole file, sha256 of
to_json) is kept only to compare with earlier runs; README's ratios use
`duckdb_fast`.

Strata steps are command templates (see STRATA_STEPS, override with --strata-cmd
NAME=TEMPLATE).  Placeholders: {strata} {store} {corpus} {out}.  If the binary is
missing, or the command exits non-zero saying "unknown command" / "unknown
subcommand" / "unrecognized", the row reads "not available".
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# name -> (template, description, needs)   needs: None | "ingested" (a store built by ingest)
STRATA_STEPS = {
    "strata_ingest": ("{strata} ingest {store} {corpus} --json", "strata ingest (dedup, LZ4 segments)", None),
    "strata_export_jsonl": ("{strata} export {store} --format jsonl --out {out}", "strata export jsonl", "ingested"),
    "strata_export_parquet": ("{strata} export {store} --format parquet --out {out}", "strata export parquet", "ingested"),
    "strata_compact": ("{strata} compact {store} --json", "strata compact (columnar, zstd level 3)", "ingested"),
    "strata_compact_l9": ("{strata} compact {store} --json --level 9", "strata compact --level 9", "ingested"),
    "strata_compact_l19": ("{strata} compact {store} --json --level 19", "strata compact --level 19", "ingested"),
    # The corpus's largest domain x month partition, printed as JSON Lines (process start, open, read, print).
    "strata_partition": ("{strata} scan {store} --domain {pdomain} --from-month {pmonth} --to-month {pmonth}",
                         "strata scan of one domain x month partition", "ingested"),
}

PEERS = {
    "py_jsonl_sha256": "Python json + sha256 dedup -> JSONL (the pipelines' own baseline, as they write it)",
    "sqlite": "sqlite3, hash PK, INSERT OR IGNORE, 1 txn, WAL + synchronous=NORMAL",
    "pyarrow_parquet": "pyarrow read_json, dedup by group_by on the content text (no Python loop), Parquet zstd",
    "duckdb_parquet": "DuckDB read_json inferring the schema over the whole file, DISTINCT ON sha256 (handicapped; for continuity)",
    "duckdb_fast": "DuckDB at its best: columns declared, DISTINCT ON content, zstd Parquet by domain/month, both cores",
    "zstd_19": "zstd -19 (CLI, -T0: both cores)",
    "zstd_3": "zstd -3 (CLI, -T0: both cores)",
    "lz4": "lz4 (CLI, default level; single-threaded, as lz4 1.9 is)",
    # One partition read back from what the peers above wrote (run them first), printed as JSON Lines.
    "sqlite_partition": "sqlite3: one partition from the sqlite peer's table (index on domain, ts), the stored lines",
    "duckdb_partition": "DuckDB: one partition from duckdb_fast's Hive directory, COPY ... (FORMAT json) to stdout",
}

# Partition readers: the ingest peer whose output they read.
READ_PEERS = {"sqlite_partition": "sqlite", "duckdb_partition": "duckdb_fast"}

UNKNOWN_MARKERS = ("unknown command", "unknown subcommand", "unrecognized command",
                   "unexpected argument", "no such command", "unknown option")

CONTENT_KEYS = ("instruction", "input", "output", "prompt", "response", "messages")

# ----------------------------------------------------------------------------- peer bodies
# Each runs in a child:  python3 compare.py --peer NAME CORPUS OUT


def peer_py_jsonl_sha256(corpus, out):
    import hashlib
    seen = set()
    n_in = n_out = 0
    with open(corpus, "rb") as f, open(out, "wb", buffering=1 << 20) as w:
        for line in f:
            if not line.strip():
                continue
            o = json.loads(line)
            n_in += 1
            c = {k: o[k] for k in CONTENT_KEYS if k in o}
            h = hashlib.sha256(json.dumps(c, sort_keys=True, ensure_ascii=False).encode()).digest()
            if h in seen:
                continue
            seen.add(h)
            w.write(line)
            n_out += 1
        w.flush()
        os.fsync(w.fileno())
    return {"records_in": n_in, "records_out": n_out}


def peer_sqlite(corpus, out):
    import hashlib
    import sqlite3
    if os.path.exists(out):
        os.remove(out)
    db = sqlite3.connect(out)
    # Its fastest durable configuration: WAL, fsync at checkpoints only (synchronous=NORMAL), a 256 MB cache.
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA cache_size=-262144")
    db.execute("CREATE TABLE examples (hash BLOB PRIMARY KEY, domain TEXT, ts TEXT, doc TEXT NOT NULL)")
    n_in = 0
    rows = []
    cur = db.cursor()
    cur.execute("BEGIN")
    with open(corpus, "rb") as f:
        for line in f:
            if not line.strip():
                continue
            o = json.loads(line)
            n_in += 1
            c = {k: o[k] for k in CONTENT_KEYS if k in o}
            h = hashlib.sha256(json.dumps(c, sort_keys=True, ensure_ascii=False).encode()).digest()
            rows.append((h, o.get("domain"), o.get("timestamp"), line.decode("utf-8")))
            if len(rows) >= 5000:
                cur.executemany("INSERT OR IGNORE INTO examples VALUES (?,?,?,?)", rows)
                rows.clear()
    if rows:
        cur.executemany("INSERT OR IGNORE INTO examples VALUES (?,?,?,?)", rows)
    db.commit()
    n_out = db.execute("SELECT count(*) FROM examples").fetchone()[0]
    # What a reader of one partition needs (built once, at the end of the load).
    db.execute("CREATE INDEX examples_domain_ts ON examples(domain, ts)")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return {"records_in": n_in, "records_out": n_out}


def peer_pyarrow_parquet(corpus, out):
    """pyarrow at its best: multithreaded read_json, the content columns joined
    into one text column with compute kernels (messages too: list_flatten, join,
    rebuild the lists from the offsets), duplicates dropped by a group_by on that
    text (first occurrence kept), zstd Parquet.  No per-row Python."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pj
    import pyarrow.parquet as pq
    t = pj.read_json(corpus, read_options=pj.ReadOptions(block_size=16 << 20, use_threads=True))
    n_in = t.num_rows
    parts = []
    for k in ("instruction", "input", "output", "prompt", "response"):
        if k in t.column_names:
            parts.append(pc.fill_null(t[k].combine_chunks(), ""))
    if "messages" in t.column_names:
        msgs = t["messages"].combine_chunks()
        if isinstance(msgs, pa.ChunkedArray):
            msgs = msgs.combine_chunks()
        flat = msgs.flatten()  # the message structs, in order (null lists contribute none)
        txt = pc.binary_join_element_wise(pc.fill_null(flat.field("role"), ""),
                                          pc.fill_null(flat.field("content"), ""), "\x1f")
        offsets = pc.fill_null(msgs.offsets, 0) if msgs.null_count else msgs.offsets
        lists = pa.ListArray.from_arrays(offsets, txt)
        parts.append(pc.fill_null(pc.binary_join(lists, "\x1e"), ""))
    key = pc.binary_join_element_wise(*parts, "\x1d")
    t2 = pa.table({"k": key, "i": pa.array(range(n_in), pa.int64())})
    first = t2.group_by("k", use_threads=True).aggregate([("i", "min")])
    keep = pc.sort_indices(first["i_min"])
    t = t.take(pc.take(first["i_min"], keep))
    pq.write_table(t, out, compression="zstd")
    return {"records_in": n_in, "records_out": t.num_rows}


def peer_duckdb_parquet(corpus, out):
    import duckdb
    con = duckdb.connect()
    # One statement.  sample_size=-1: metadata is arbitrary JSON, and with the default
    # sample (20480 rows) a key first seen later is an error ("has unknown key").
    content = "COLUMNS(lambda c: c IN ('instruction', 'input', 'output', 'prompt', 'response', 'messages'))"
    con.execute(f"""
        COPY (
          SELECT * EXCLUDE (_h) FROM (
            SELECT DISTINCT ON (_h) *, sha256(to_json(struct_pack(*{content}))) AS _h
            FROM read_json('{corpus}', format='newline_delimited', sample_size=-1)
          )
        ) TO '{out}' (FORMAT parquet, COMPRESSION zstd)""")
    n_out = con.execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchone()[0]
    return {"records_out": n_out}


def peer_duckdb_fast(corpus, out):
    """DuckDB's fastest reasonable configuration for the same job: the columns are
    declared (no schema inference over the whole file; metadata stays JSON text),
    duplicates are removed with DISTINCT ON the content columns themselves (no
    hashing in SQL), and the result is written as zstd Parquet partitioned by
    domain and month -- what Strata's store holds, in the layout Strata keeps."""
    import duckdb
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute("SET preserve_insertion_order = false")  # lets DISTINCT ON and COPY stream in parallel
    cols = ("{instruction: 'VARCHAR', input: 'VARCHAR', output: 'VARCHAR', prompt: 'VARCHAR', "
            "response: 'VARCHAR', messages: 'STRUCT(role VARCHAR, content VARCHAR)[]', "
            "domain: 'VARCHAR', timestamp: 'VARCHAR', quality_score: 'DOUBLE', tags: 'VARCHAR[]', "
            "source: 'VARCHAR', metadata: 'JSON'}")
    con.execute(f"""
        COPY (
          SELECT DISTINCT ON (instruction, input, output, prompt, response, messages) *,
                 substr(timestamp, 1, 7) AS month
          FROM read_json('{corpus}', format='newline_delimited', columns={cols})
        ) TO '{out}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (domain, month))""")
    n_out = con.execute(f"SELECT count(*) FROM read_parquet('{out}/**/*.parquet')").fetchone()[0]
    return {"records_out": n_out}


def next_month(m):
    y, mo = int(m[:4]), int(m[5:7])
    return f"{y + mo // 12:04d}-{mo % 12 + 1:02d}"


def peer_sqlite_partition(db_path, out, domain, month):
    import sqlite3
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    w = sys.stdout.buffer
    n = 0
    for (doc,) in db.execute("SELECT doc FROM examples WHERE domain = ? AND ts >= ? AND ts < ?",
                             (domain, month, next_month(month))):
        w.write(doc.encode() if not doc.endswith("\n") else doc[:-1].encode())
        w.write(b"\n")
        n += 1
    w.flush()
    return n


def peer_duckdb_partition(parquet_dir, out, domain, month):
    import duckdb
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * FROM read_parquet('{parquet_dir}/domain={domain}/month={month}/*.parquet')) "
                "TO '/dev/stdout' (FORMAT json)")
    return None


PEER_FUNCS = {
    "duckdb_fast": peer_duckdb_fast,
    "py_jsonl_sha256": peer_py_jsonl_sha256,
    "sqlite": peer_sqlite,
    "pyarrow_parquet": peer_pyarrow_parquet,
    "duckdb_parquet": peer_duckdb_parquet,
}

CLI_PEERS = {
    "zstd_19": ["zstd", "-19", "-T0", "-q", "-f", "{corpus}", "-o", "{out}"],
    "zstd_3": ["zstd", "-3", "-T0", "-q", "-f", "{corpus}", "-o", "{out}"],
    "lz4": ["lz4", "-q", "-f", "{corpus}", "{out}"],
}

# ----------------------------------------------------------------------------- running


def run_child(argv, timeout=None):
    """Run argv; return (rc, wall_s, maxrss_kib, (user_s, sys_s), stdout, stderr)."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        try:
            p = subprocess.Popen(argv, stdout=fo, stderr=fe)
        except FileNotFoundError as e:
            return 127, 0.0, 0, 0.0, "", str(e)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        out = fo.read().decode("utf-8", "replace")
        err = fe.read().decode("utf-8", "replace")
    return p.returncode, wall, ru.ru_maxrss, (ru.ru_utime, ru.ru_stime), out, err


def path_bytes(p):
    if os.path.isfile(p):
        return os.path.getsize(p)
    total = 0
    for root, _dirs, files in os.walk(p):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total


def rm(p):
    if os.path.isdir(p) and not os.path.islink(p):
        shutil.rmtree(p)
    elif os.path.lexists(p):
        os.remove(p)


def last_json(text):
    """The last line of stdout that parses as a JSON object (or the whole stdout)."""
    try:
        v = json.loads(text)
        if isinstance(v, dict):
            return v
    except ValueError:
        pass
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    return None


def is_unknown(rc, out, err):
    if rc == 127:
        return True
    low = (out + err).lower()
    return rc != 0 and any(m in low for m in UNKNOWN_MARKERS)


class Row:
    def __init__(self, name, desc, kind):
        self.name, self.desc, self.kind = name, desc, kind
        self.walls, self.rss, self.cpu, self.user, self.sys = [], [], [], [], []
        self.out_bytes = None
        self.status = "ok"
        self.note = ""
        self.extra = {}

    def add(self, wall, rss, cpu):
        """One repetition: wall s, peak RSS KiB, (user s, sys s) of the child."""
        self.walls.append(wall)
        self.rss.append(rss)
        self.cpu.append(cpu[0] + cpu[1])
        self.user.append(cpu[0])
        self.sys.append(cpu[1])

    def summary(self, raw_bytes):
        d = {"name": self.name, "kind": self.kind, "description": self.desc, "status": self.status,
             "note": self.note, "reps": len(self.walls)}
        if self.walls and self.status == "ok":
            w = statistics.median(self.walls)
            d.update({
                "wall_s_median": round(w, 4),
                "wall_s_all": [round(x, 4) for x in self.walls],
                "mb_per_s": round(raw_bytes / 1e6 / w, 2) if w > 0 else None,
                "cpu_s_median": round(statistics.median(self.cpu), 3),
                "cpu_s_all": [round(x, 3) for x in self.cpu],
                "user_s_median": round(statistics.median(self.user), 3),
                "sys_s_median": round(statistics.median(self.sys), 3),
                "mb_per_cpu_s": round(raw_bytes / 1e6 / statistics.median(self.cpu), 2)
                if statistics.median(self.cpu) > 0 else None,
                "peak_rss_mib": round(max(self.rss) / 1024, 1),
                "out_bytes": self.out_bytes,
                "out_over_raw": round(self.out_bytes / raw_bytes, 4) if self.out_bytes else None,
                "compression_ratio": round(raw_bytes / self.out_bytes, 2) if self.out_bytes else None,
            })
        d.update(self.extra)
        return d


def timed_rep(row, argv, i, log, wall_fmt):
    """Runs one repetition as a child; records its wall, RSS and CPU in `row`,
    or marks the row failed (with the child's last stderr line). Returns (rc, stdout)."""
    rc, wall, rss, cpu, so, se = run_child(argv)
    log(f"  {row.name} rep {i + 1}: rc={rc} {wall_fmt % wall}s rss={rss / 1024:.0f}MiB")
    if rc != 0:
        row.status, row.note = "failed", (se.strip().splitlines() or ["rc=%d" % rc])[-1][:200]
    else:
        row.add(wall, rss, cpu)
    return rc, so


def run_peer(name, corpus, workdir, reps, raw_bytes, log):
    if name in READ_PEERS:
        return run_read_peer(name, corpus, workdir, reps, log)
    row = Row(name, PEERS[name], "peer")
    ext = {"py_jsonl_sha256": ".jsonl", "sqlite": ".sqlite", "pyarrow_parquet": ".parquet",
           "duckdb_parquet": ".parquet", "duckdb_fast": ".parquet.d", "zstd_19": ".zst", "zstd_3": ".zst", "lz4": ".lz4"}[name]
    out = os.path.join(workdir, name + ext)
    for i in range(reps):
        rm(out)
        if name in CLI_PEERS:
            if shutil.which(CLI_PEERS[name][0]) is None:
                row.status, row.note = "not available", f"{CLI_PEERS[name][0]} not installed"
                return row
            argv = [a.format(corpus=corpus, out=out) for a in CLI_PEERS[name]]
        else:
            argv = [sys.executable, os.path.abspath(__file__), "--peer", name, corpus, out]
        rc, so = timed_rep(row, argv, i, log, "%.2f")
        if rc != 0:
            return row
        row.out_bytes = path_bytes(out)
        info = last_json(so)
        if info:
            row.extra.update({k: v for k, v in info.items() if v is not None})
    return row


def largest_partition(corpus):
    """(domain, 'YYYY-MM') holding the most lines of the corpus."""
    counts = {}
    with open(corpus, "rb") as f:
        for line in f:
            if not line.strip():
                continue
            o = json.loads(line)
            k = (o.get("domain"), str(o.get("timestamp", ""))[:7])
            counts[k] = counts.get(k, 0) + 1
    (d, m), n = max(counts.items(), key=lambda kv: kv[1])
    return d, m, n


def run_read_peer(name, corpus, workdir, reps, log):
    row = Row(name, PEERS[name], "read")
    src = READ_PEERS[name]
    src_out = os.path.join(workdir, src + (".sqlite" if src == "sqlite" else ".parquet.d"))
    if not os.path.exists(src_out):
        row.status, row.note = "not available", f"needs the output of the {src} peer (run it in the same call)"
        return row
    d, m, n = STATE["partition"]
    for i in range(reps):
        argv = [sys.executable, os.path.abspath(__file__), "--read-peer", name, src_out, d, m]
        rc, so = timed_rep(row, argv, i, log, "%.3f")
        if rc != 0:
            return row
        row.out_bytes = len(so.encode())
        row.extra["records_out"] = so.count("\n")
    return row


STATE = {}


def run_strata(name, template, desc, needs, args, corpus, workdir, reps, raw_bytes, log, state):
    row = Row(name, desc, "strata")
    strata = args.strata
    if not (os.path.isfile(strata) and os.access(strata, os.X_OK)) and shutil.which(strata) is None:
        row.status, row.note = "not available", f"binary {strata} not found"
        return row
    if needs == "ingested" and not state.get("ingested_store"):
        row.status, row.note = "not available", "needs a store from strata_ingest"
        return row
    for i in range(reps):
        store = os.path.join(workdir, name + ".store")
        out = os.path.join(workdir, name + ".out")
        rm(out)
        if needs == "ingested":
            rm(store)
            shutil.copytree(state["ingested_store"], store)  # untimed; compact mutates it
            # Untimed: the copy's (and earlier steps') dirty pages reach the disk before the
            # clock starts, so the step's own fsyncs do not wait on or write them back.
            os.sync()
        else:
            rm(store)
        pd, pm, _ = STATE.get("partition", ("", "", 0))
        cmd = template.format(strata=shlex.quote(strata), store=shlex.quote(store),
                              corpus=shlex.quote(corpus), out=shlex.quote(out),
                              pdomain=shlex.quote(pd or ""), pmonth=shlex.quote(pm or ""))
        rc, wall, rss, cpu, so, se = run_child(shlex.split(cmd))
        log(f"  {name} rep {i + 1}: rc={rc} {wall:.2f}s rss={rss / 1024:.0f}MiB")
        if is_unknown(rc, so, se):
            row.status = "not available"
            row.note = (se.strip() or so.strip() or "unknown command").splitlines()[0][:200]
            return row
        if rc != 0:
            row.status = "failed"
            row.note = f"rc={rc}: " + ((se.strip() or so.strip()).splitlines() or [""])[-1][:200]
            return row
        row.add(wall, rss, cpu)
        target = out if os.path.exists(out) else store
        row.out_bytes = len(so.encode()) if name == "strata_partition" else path_bytes(target)
        if name == "strata_partition":
            row.extra["records_out"] = so.count("\n")
        info = None if name == "strata_partition" else last_json(so)
        if info is not None:
            row.extra["strata_json"] = info
        if name == "strata_ingest":
            keep = os.path.join(workdir, "ingested.store")
            rm(keep)
            shutil.copytree(store, keep)
            state["ingested_store"] = keep
    return row


# ----------------------------------------------------------------------------- report


def fmt_bytes(n):
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000.0


def markdown(summ, raw_bytes, corpus, reps, records):
    lines = [f"Corpus: `{corpus}` — {raw_bytes / 1e6:.1f} MB, {records} records; "
             f"median of {reps} reps; MB/s = raw input MB / median wall; "
             "RSS = peak ru_maxrss of the child (os.wait4).", "",
             "| step | what | wall s (median) | MB/s | CPU s | MB/CPU-s | peak RSS MiB | output | out/raw | raw/out | records out | status |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for d in summ:
        if d["status"] != "ok":
            lines.append(f"| {d['name']} | {d['description']} | - | - | - | - | - | - | - | - | - | "
                         f"{d['status']}: {d['note']} |")
            continue
        ro = d.get("records_out")
        if ro is None and isinstance(d.get("strata_json"), dict):
            sj = d["strata_json"]
            ro = sj.get("new", sj.get("inserted", sj.get("records")))
        lines.append(
            f"| {d['name']} | {d['description']} | {d['wall_s_median']:.2f} | {d['mb_per_s']:.1f} | "
            f"{d['cpu_s_median']:.2f} | {d['mb_per_cpu_s']:.1f} | {d['peak_rss_mib']:.0f} | {fmt_bytes(d['out_bytes'])} | "
            f"{d['out_over_raw']:.3f} | {d['compression_ratio']:.2f}x | {ro if ro is not None else '-'} | ok |")
    # ratios: strata step vs each peer (peer wall / strata wall; >1 means strata is faster)
    st = [d for d in summ if d["kind"] == "strata" and d["name"] != "strata_partition"]
    pe = [d for d in summ if d["kind"] == "peer" and d["status"] == "ok"]
    rd = [d for d in summ if d["kind"] == "read" and d["status"] == "ok"]
    sp_row = [d for d in summ if d["name"] == "strata_partition" and d["status"] == "ok"]
    if sp_row and rd:
        s = sp_row[0]
        lines += ["", "One partition: speed ratio = reader median wall / strata median wall (> 1: strata faster).", "",
                  "| strata step | " + " | ".join(p["name"] for p in rd) + " |", "|---|" + "---:|" * len(rd),
                  f"| {s['name']} ({s['wall_s_median'] * 1000:.0f} ms) | "
                  + " | ".join(f"{p['wall_s_median'] / s['wall_s_median']:.2f}x ({p['wall_s_median'] * 1000:.0f} ms)" for p in rd) + " |"]
    if st and pe:
        lines += ["", "Speed ratio = peer median wall / strata median wall (> 1: strata faster); "
                  "size ratio = strata output / peer output.", "",
                  "| strata step | " + " | ".join(p["name"] for p in pe) + " |",
                  "|---|" + "---:|" * len(pe)]
        for s in st:
            if s["status"] != "ok":
                lines.append(f"| {s['name']} | " + " | ".join("n/a" for _ in pe) + " |")
                continue
            cells = []
            for p in pe:
                sp = p["wall_s_median"] / s["wall_s_median"]
                sz = s["out_bytes"] / p["out_bytes"] if p["out_bytes"] else float("nan")
                cells.append(f"{sp:.2f}x speed, {sz:.2f}x size")
            lines.append(f"| {s['name']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", help="JSONL corpus (strata record shape)")
    ap.add_argument("--size-mb", type=float, help="generate a corpus of this size with gen_corpus.py")
    ap.add_argument("--seed", type=int, default=0, help="seed for the generated corpus")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--workdir", help="scratch directory (default: a temp dir, removed at the end)")
    ap.add_argument("--only", help="comma-separated step names (strata_* and peers)")
    ap.add_argument("--skip", help="comma-separated step names to skip")
    ap.add_argument("--strata", default=".build/release/strata", help="path of the strata binary")
    ap.add_argument("--strata-cmd", action="append", default=[], metavar="NAME=TEMPLATE",
                    help="override a strata step's command template")
    ap.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    ap.add_argument("--json-out", help="also write the JSON result to this file")
    ap.add_argument("--list", action="store_true", help="list steps and templates")
    ap.add_argument("--peer", nargs=3, metavar=("NAME", "CORPUS", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--read-peer", nargs=4, metavar=("NAME", "SRC", "DOMAIN", "MONTH"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.read_peer:
        name, src, d, m = a.read_peer
        {"sqlite_partition": peer_sqlite_partition, "duckdb_partition": peer_duckdb_partition}[name](src, None, d, m)
        return 0

    if a.peer:
        name, corpus, out = a.peer
        print(json.dumps(PEER_FUNCS[name](corpus, out)))
        return 0

    steps = dict(STRATA_STEPS)
    for o in a.strata_cmd:
        k, _, v = o.partition("=")
        if k not in steps:
            ap.error(f"unknown strata step {k}; known: {', '.join(steps)}")
        steps[k] = (v, steps[k][1], steps[k][2])
    if a.list:
        for k, (t, d, n) in steps.items():
            print(f"{k:24s} {t}    # {d}")
        for k, d in PEERS.items():
            print(f"{k:24s} {d}")
        return 0

    names = list(steps) + list(PEERS)
    if a.only:
        want = [x.strip() for x in a.only.split(",") if x.strip()]
        bad = [x for x in want if x not in names]
        if bad:
            ap.error(f"unknown step(s) {bad}; known: {names}")
        names = [n for n in names if n in want]
    if a.skip:
        names = [n for n in names if n not in a.skip.split(",")]

    own_tmp = a.workdir is None
    workdir = a.workdir or tempfile.mkdtemp(prefix="strata-compare-")
    os.makedirs(workdir, exist_ok=True)
    log = lambda m: print(m, file=sys.stderr, flush=True)

    corpus = a.corpus
    if corpus is None:
        size = a.size_mb or 50
        corpus = os.path.join(workdir, f"corpus_{size:g}mb_seed{a.seed}.jsonl")
        if not os.path.exists(corpus):
            log(f"generating {size} MB corpus -> {corpus}")
            subprocess.check_call([sys.executable, os.path.join(HERE, "gen_corpus.py"),
                                   "--size-mb", str(size), "--seed", str(a.seed), "--out", corpus])
    corpus = os.path.abspath(corpus)
    raw = os.path.getsize(corpus)
    with open(corpus, "rb") as f:  # warm the page cache, count records
        records = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 22), b""))

    if any(n in ("strata_partition", *READ_PEERS) for n in names):
        STATE["partition"] = largest_partition(corpus)
        log(f"partition: domain={STATE['partition'][0]} month={STATE['partition'][1]} ({STATE['partition'][2]} lines)")
    rows = []
    state = {}
    load_before = os.getloadavg()
    try:
        for n in names:
            log(f"{n} ...")
            if n in steps:
                t, d, needs = steps[n]
                if needs == "ingested" and "ingested_store" not in state and "strata_ingest" not in names:
                    # build the store once, untimed, so export/compact can run alone
                    rr = run_strata("strata_ingest", steps["strata_ingest"][0], "", None, a, corpus,
                                    workdir, 1, raw, log, state)
                    if rr.status != "ok":
                        state["ingested_store"] = None
                rows.append(run_strata(n, t, d, needs, a, corpus, workdir, a.reps, raw, log, state))
            else:
                rows.append(run_peer(n, corpus, workdir, a.reps, raw, log))
    finally:
        if own_tmp:
            shutil.rmtree(workdir, ignore_errors=True)

    summ = [r.summary(raw) for r in rows]
    load_after = os.getloadavg()
    result = {"loadavg_before": [round(x, 2) for x in load_before],
              "loadavg_after": [round(x, 2) for x in load_after],"corpus": corpus, "raw_bytes": raw, "records": records, "reps": a.reps,
              "rss_method": "os.wait4 ru_maxrss of the child (KiB on Linux)",
              "python": sys.version.split()[0], "cpus": os.cpu_count(), "steps": summ}
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump(result, f, indent=2)
    if a.json:
        print(json.dumps(result, indent=2))
    else:
        print(markdown(summ, raw, corpus, a.reps, records))
        print(f"\nHost: {os.cpu_count()} CPUs; load average (1/5/15 min) before "
              f"{result['loadavg_before']}, after {result['loadavg_after']}. Wall-clock figures "
              "are only comparable on a quiet machine; CPU s is less sensitive to other load.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
