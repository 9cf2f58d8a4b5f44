#!/usr/bin/env python3
"""Compares Strata's Parquet file with DuckDB's for the same rows.

usage: compare_parquet_size.py DIR

DIR holds what ParquetBenchmarkTests wrote: strata.parquet, rows.jsonl (the same
rows) and bench.json (Strata's write throughput). DuckDB loads rows.jsonl and
writes duckdb.parquet with COPY ... (FORMAT parquet, COMPRESSION zstd); the script
checks both files hold the same data (row count and per-column checksums read
by DuckDB) and prints sizes. Exits 1 if Strata's file is larger than DuckDB's.
"""
import json
import os
import sys
import time

import duckdb

COLUMNS = {
    "id": "VARCHAR", "domain": "VARCHAR", "shape": "VARCHAR", "instruction": "VARCHAR",
    "input": "VARCHAR", "output": "VARCHAR",
    "messages": "STRUCT(role VARCHAR, content VARCHAR)[]",
    "quality_score": "DOUBLE", "timestamp": "BIGINT", "tags": "VARCHAR[]",
    "source": "VARCHAR", "metadata": "VARCHAR",
}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    d = sys.argv[1]
    strata = os.path.join(d, "strata.parquet")
    duck = os.path.join(d, "duckdb.parquet")
    bench = json.load(open(os.path.join(d, "bench.json")))
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    cols = ", ".join(f"'{k}': '{v}'" for k, v in COLUMNS.items())
    select = ", ".join(f'make_timestamptz("timestamp" * 1000) AS "timestamp"' if k == "timestamp" else f'"{k}"' for k in COLUMNS)
    con.execute(f"CREATE TABLE rows AS SELECT {select} FROM read_json(?, format='newline_delimited', columns={{{cols}}}, maximum_object_size=104857600)",
                [os.path.join(d, "rows.jsonl")])
    t = time.time()
    con.execute(f"COPY rows TO '{duck}' (FORMAT parquet, COMPRESSION zstd)")
    duck_seconds = time.time() - t

    # Same content? Compare a checksum of every column as DuckDB reads each file.
    def digest(path):
        exprs = ", ".join(f'hash(list("{k}"::VARCHAR ORDER BY id))' for k in COLUMNS)
        return con.execute(f"SELECT count(*), {exprs} FROM read_parquet(?)", [path]).fetchone()
    a, b = digest(strata), digest(duck)
    if a != b:
        sys.exit(f"content differs: strata {a} vs duckdb {b}")

    s, k = os.path.getsize(strata), os.path.getsize(duck)
    raw = bench["raw_string_bytes"]
    print(f"rows: {bench['rows']}, raw string bytes: {raw / 1e6:.1f} MB")
    print(f"strata: {s / 1e6:.2f} MB, {bench['row_groups']} row groups, write {bench['seconds']:.2f} s = {bench['mb_per_s']:.1f} MB/s wall, {bench['mb_per_cpu_s']:.1f} MB/s per CPU second")
    print(f"duckdb: {k / 1e6:.2f} MB (COPY from an in-memory table: {duck_seconds:.2f} s = {raw / 1e6 / duck_seconds:.1f} MB/s)")
    print(f"strata / duckdb size: {s / k:.4f} ({s - k:+d} bytes)")
    if s > k:
        sys.exit(1)


if __name__ == "__main__":
    main()
