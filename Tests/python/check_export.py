#!/usr/bin/env python3
"""Checks export output written by Strata against what the Swift test expects.

usage: check_export.py MODE EXPECTED.json PATH...

EXPECTED["rows"] is the list of expected row objects, in order. A `metadata`
member of an expected row is the exact stored JSON text: the output must hold
the same JSON value (and, for JSONL, that exact text).

modes
  jsonl     PATHs are JSONL files, read with `json`; rows compared in order
            (concatenated). EXPECTED["meta_header"]: first line of each file
            must be {"_meta": {...}} with total_pairs = the file's rows.
  json      PATH is one JSON document: `json.load`; compares
            training_file_metadata totals with EXPECTED["totals"] and the
            `examples` / `conversations` arrays with EXPECTED["examples"] /
            EXPECTED["conversations"].
  parquet   PATHs are Parquet files; each read with pyarrow AND DuckDB, rows
            compared in order (concatenated).
  hive      PATH is a Hive-partitioned directory of Parquet files; read as one
            dataset with pyarrow.dataset and DuckDB hive_partitioning; rows
            compared sorted by id (domain and month come from the path).
Exits 0 when everything matches, else prints the differences and exits 1
(2 when a required module is missing).
"""
import json
import sys

failures = []


def need(mod):
    try:
        import importlib
        return importlib.import_module(mod)
    except ImportError as e:
        print(f"{mod} is required (pip install pyarrow duckdb polars): {e}", file=sys.stderr)
        sys.exit(2)


def norm(row):
    """Expected row → comparable value (metadata text parsed)."""
    r = dict(row)
    if isinstance(r.get("metadata"), str):
        r["metadata"] = json.loads(r["metadata"])
    return r


def compare(label, got, want):
    if len(got) != len(want):
        failures.append(f"{label}: {len(got)} rows, expected {len(want)}")
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            keys = sorted(set(g) | set(w))
            diff = {k: (g.get(k, "<missing>"), w.get(k, "<missing>")) for k in keys if g.get(k, "<missing>") != w.get(k, "<missing>")}
            failures.append(f"{label} row {i}: {diff}")
            if len(failures) > 20:
                return


def check_jsonl(exp, paths):
    rows = []
    raw_lines = []
    for p in paths:
        with open(p, encoding="utf-8") as f:
            lines = f.read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if exp.get("meta_header"):
            if not lines:
                failures.append(f"{p}: empty, expected a _meta line")
                continue
            head = json.loads(lines[0])
            if list(head) != ["_meta"]:
                failures.append(f"{p}: first line is not {{\"_meta\":...}}: {lines[0][:200]}")
            elif head["_meta"].get("total_pairs") != len(lines) - 1:
                failures.append(f"{p}: _meta.total_pairs {head['_meta'].get('total_pairs')} != {len(lines) - 1} rows")
            lines = lines[1:]
        for ln in lines:
            rows.append(json.loads(ln))
            raw_lines.append(ln)
    want = exp["rows"]
    for i, w in enumerate(want[: len(raw_lines)]):
        if isinstance(w.get("metadata"), str) and ('"metadata":' + w["metadata"]) not in raw_lines[i]:
            failures.append(f"row {i}: metadata text not preserved exactly: {w['metadata']}")
    compare("jsonl", rows, [norm(w) for w in want])


def check_json(exp, paths):
    with open(paths[0], encoding="utf-8") as f:
        doc = json.load(f)
    if list(doc) != ["training_file_metadata", "consultant_profile", "examples", "conversations"]:
        failures.append(f"top-level keys {list(doc)}")
    meta = doc.get("training_file_metadata", {})
    for k, v in exp["totals"].items():
        if meta.get(k) != v:
            failures.append(f"training_file_metadata.{k} = {meta.get(k)!r}, expected {v!r}")
    for k, v in exp.get("quality_summary", {}).items():
        got = meta.get("quality_summary", {}).get(k)
        if (got is None) != (v is None) or (got is not None and abs(got - v) > 1e-9):
            failures.append(f"quality_summary.{k} = {got!r}, expected {v!r}")
    for k, v in exp.get("distributions", {}).items():
        if meta.get("distributions", {}).get(k) != v:
            failures.append(f"distributions.{k} = {meta.get('distributions', {}).get(k)!r}, expected {v!r}")
    compare("examples", doc.get("examples", []), [norm(w) for w in exp["examples"]])
    convs = []
    for w in exp["conversations"]:
        w = dict(w)
        cm = dict(w["conversation_metadata"])
        cm["metadata"] = json.loads(cm["metadata"])
        w["conversation_metadata"] = cm
        convs.append(w)
    compare("conversations", doc.get("conversations", []), convs)


def arrow_rows(table):
    rows = table.to_pylist()
    out = []
    for r in rows:
        r = dict(r)
        ts = r.get("timestamp")
        if ts is not None:
            r["timestamp"] = int(ts.timestamp() * 1000 + 0.5) if ts.timestamp() >= 0 else int(round(ts.timestamp() * 1000))
        if r.get("metadata") is not None:
            r["metadata"] = json.loads(r["metadata"])
        for k in ("domain", "month"):
            if k in r and r[k] is not None:
                r[k] = str(r[k])
        out.append(r)
    return out


def duck_rows(con, sql):
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    out = []
    for t in cur.fetchall():
        r = dict(zip(names, t))
        if r.get("metadata") is not None:
            r["metadata"] = json.loads(r["metadata"])
        for k in ("domain", "month"):
            if k in r and r[k] is not None:
                r[k] = str(r[k])
        out.append(r)
    return out


def check_parquet(exp, paths):
    pq = need("pyarrow.parquet")
    duckdb = need("duckdb")
    want = [norm(w) for w in exp["rows"]]
    rows = []
    for p in paths:
        rows += arrow_rows(pq.read_table(p))
    compare("pyarrow", rows, want)
    con = duckdb.connect()
    rows = []
    for p in paths:
        rows += duck_rows(con, f"SELECT * REPLACE (epoch_ms(\"timestamp\") AS \"timestamp\") FROM read_parquet('{p}')")
    compare("duckdb", rows, want)


def check_hive(exp, paths):
    ds = need("pyarrow.dataset")
    duckdb = need("duckdb")
    want = sorted([norm(w) for w in exp["rows"]], key=lambda r: r["id"])
    d = ds.dataset(paths[0], format="parquet", partitioning="hive")
    rows = sorted(arrow_rows(d.to_table()), key=lambda r: r["id"])
    compare("pyarrow.dataset", rows, want)
    con = duckdb.connect()
    rows = duck_rows(con, f"SELECT * REPLACE (epoch_ms(\"timestamp\") AS \"timestamp\") FROM read_parquet('{paths[0]}/**/*.parquet', hive_partitioning = true) ORDER BY id")
    compare("duckdb hive", rows, want)


def main():
    mode, expected, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
    with open(expected, encoding="utf-8") as f:
        exp = json.load(f)
    {"jsonl": check_jsonl, "json": check_json, "parquet": check_parquet, "hive": check_hive}[mode](exp, paths)
    if failures:
        print("\n".join(failures[:25]), file=sys.stderr)
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
