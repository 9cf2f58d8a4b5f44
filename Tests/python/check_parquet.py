#!/usr/bin/env python3
"""Checks a Parquet file written by Strata against the rows the Swift test expected.

usage: check_parquet.py values|stats FILE.parquet EXPECTED.json

`values`: reads FILE with pyarrow, DuckDB and (when installed) Polars and
compares every value, bit-exact for doubles, with EXPECTED["rows"]; also the
row-group count, created_by and key/value metadata.
`stats`: also compares pyarrow's row-group column statistics (min/max/null_count)
with EXPECTED["statistics"].
Exits non-zero with the differences on stderr.
"""
import datetime
import json
import struct
import sys

failures = []


def fail_now(msg):
    print(msg, file=sys.stderr)
    sys.exit(2)


try:
    import pyarrow.parquet as pq
except ImportError as e:
    fail_now(f"pyarrow is required (pip install pyarrow duckdb polars): {e}")
try:
    import duckdb
except ImportError as e:
    fail_now(f"duckdb is required (pip install pyarrow duckdb polars): {e}")
try:
    import polars as pl
except ImportError:
    pl = None
    print("note: polars not installed; checked pyarrow and duckdb only", file=sys.stderr)

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def split_top(s):
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        parts.append(cur)
    return parts


def norm(v, t):
    """Brings a reader's value (or an expected JSON value) to one comparable form."""
    if v is None:
        return None
    if t.startswith("list<"):
        inner = t[5:-1]
        return [norm(x, inner) for x in list(v)]
    if t.startswith("struct<"):
        fields = [f.split(":", 1) for f in split_top(t[7:-1])]
        return {name: norm(v[name], ft) for name, ft in fields}
    if t == "timestamp_ms":
        if isinstance(v, datetime.datetime):
            if v.tzinfo is None:
                v = v.replace(tzinfo=datetime.timezone.utc)
            return (v - EPOCH) // datetime.timedelta(milliseconds=1)
        return int(v)
    if t == "binary":
        return v.hex() if isinstance(v, (bytes, bytearray, memoryview)) else v
    if t in ("string", "json"):
        return bytes(v).decode("utf-8") if isinstance(v, (bytes, bytearray, memoryview)) else v
    if t == "double":
        return ("f64", struct.pack("<d", float(v)))
    if t == "bool":
        return bool(v)
    return int(v)


def compare(reader, names, types, got_rows, expected_rows):
    if len(got_rows) != len(expected_rows):
        failures.append(f"{reader}: {len(got_rows)} rows, expected {len(expected_rows)}")
        return
    bad = 0
    for i, (g, e) in enumerate(zip(got_rows, expected_rows)):
        for name, t in zip(names, types):
            gv, ev = norm(g[name], t), norm(e[name], t)
            if gv != ev:
                bad += 1
                if bad <= 10:
                    failures.append(f"{reader}: row {i} column {name}: got {str(gv)[:300]!r}, expected {str(ev)[:300]!r}")
    if bad:
        failures.append(f"{reader}: {bad} mismatching values")


def check_values(path, expected):
    names = [c["name"] for c in expected["columns"]]
    types = [c["type"] for c in expected["columns"]]
    rows = expected["rows"]

    pf = pq.ParquetFile(path)
    md = pf.metadata
    if md.num_rows != len(rows):
        failures.append(f"pyarrow: metadata num_rows {md.num_rows}, expected {len(rows)}")
    if "row_groups" in expected and md.num_row_groups != expected["row_groups"]:
        failures.append(f"pyarrow: {md.num_row_groups} row groups, expected {expected['row_groups']}")
    if not md.created_by.startswith("strata"):
        failures.append(f"pyarrow: created_by {md.created_by!r}")
    kv = {k.decode(): v.decode() for k, v in (md.metadata or {}).items()}
    for k, v in expected.get("key_value", {}).items():
        if kv.get(k) != v:
            failures.append(f"pyarrow: key_value {k!r} = {kv.get(k)!r}, expected {v!r}")

    table = pq.read_table(path)
    if table.column_names != names:
        failures.append(f"pyarrow: columns {table.column_names}, expected {names}")
    compare("pyarrow", names, types, table.to_pylist(), rows)
    # Row group by row group too, to exercise every chunk's own dictionary.
    got = []
    for i in range(md.num_row_groups):
        got += pf.read_row_group(i).to_pylist()
    compare("pyarrow(row groups)", names, types, got, rows)

    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    cols = []
    for n, t in zip(names, types):
        q = '"' + n.replace('"', '""') + '"'
        if t == "timestamp_ms":
            cols.append(f"epoch_ms({q}) AS {q}")
        elif t == "json":
            cols.append(f"CAST({q} AS VARCHAR) AS {q}")
        else:
            cols.append(q)
    sql = f"SELECT {', '.join(cols)} FROM read_parquet(?)"
    res = con.execute(sql, [path])
    dnames = [d[0] for d in res.description]
    compare("duckdb", names, types, [dict(zip(dnames, r)) for r in res.fetchall()], rows)

    if pl is not None:
        df = pl.read_parquet(path)
        if df.columns != names:
            failures.append(f"polars: columns {df.columns}, expected {names}")
        compare("polars", names, types, df.to_dicts(), rows)


def check_stats(path, expected):
    md = pq.ParquetFile(path).metadata
    groups = expected["statistics"]
    if md.num_row_groups != len(groups):
        failures.append(f"stats: {md.num_row_groups} row groups, expected {len(groups)}")
        return
    types = {c["name"]: c["type"] for c in expected["columns"]}
    for i, eg in enumerate(groups):
        rg = md.row_group(i)
        for j in range(rg.num_columns):
            col = rg.column(j)
            name = col.path_in_schema
            e = eg[name]
            t = types[name]
            st = col.statistics
            if st is None:
                failures.append(f"stats rg {i} {name}: no statistics")
                continue
            if not st.has_null_count or st.null_count != e["null_count"]:
                failures.append(f"stats rg {i} {name}: null_count {st.null_count}, expected {e['null_count']}")
            if e["min"] is None:
                if st.has_min_max:
                    failures.append(f"stats rg {i} {name}: has min/max {st.min_raw!r}/{st.max_raw!r} for an all-null chunk")
                continue
            if not st.has_min_max:
                failures.append(f"stats rg {i} {name}: no min/max")
                continue
            if e.get("inexact"):
                # Shortened bounds: valid UTF-8, at most 64 bytes, min <= true min, max >= true max.
                lo, hi = st.min_raw, st.max_raw
                lo = lo if isinstance(lo, bytes) else lo.encode()
                hi = hi if isinstance(hi, bytes) else hi.encode()
                lo.decode(), hi.decode()
                if len(lo) > 64 or len(hi) > 64 or lo > e["min"].encode() or hi < e["max"].encode():
                    failures.append(f"stats rg {i} {name}: bounds {lo!r}..{hi!r} do not cover {e['min']!r}..{e['max']!r}")
                _ = st.min, st.max
                continue
            for which in ("min", "max"):
                raw = getattr(st, which + "_raw")
                want = e[which]
                if t == "double":
                    ok = struct.pack("<d", float(raw)) == struct.pack("<d", float(want))
                elif t in ("string", "json"):
                    ok = (raw.decode() if isinstance(raw, bytes) else raw) == want
                else:
                    ok = raw == want
                if not ok:
                    failures.append(f"stats rg {i} {name}: {which} {raw!r}, expected {want!r}")
            # Logical conversion must not complain either.
            _ = st.min, st.max


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("values", "stats"):
        fail_now(__doc__)
    mode, path, expected_path = sys.argv[1:]
    with open(expected_path, encoding="utf-8") as f:
        expected = json.load(f)
    try:
        check_values(path, expected)
        if mode == "stats":
            check_stats(path, expected)
    except Exception as e:  # a reader refusing the file is a failure, with its message
        import traceback
        failures.append("reader error: " + "".join(traceback.format_exception(e)))
    if failures:
        print("\n".join(failures), file=sys.stderr)
        sys.exit(1)
    print(f"ok: {len(expected['rows'])} rows checked ({mode})")


if __name__ == "__main__":
    main()
