#!/bin/sh
# Export figures of issue 5, from the command line (release build).
#   tools/bench_export.sh [MB]   (default 300 MB of corpus)
# Prints CPU (task-clock) and wall time of: full raw JSONL export, one 4k-example
# partition, the up-to-date repeat, and the Parquet export with its size next to
# DuckDB's zstd Parquet of the same rows.
set -eu
MB=${1:-300}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=${STRATA_BENCH_DIR:-/tmp/strata-export-bench}
B=$ROOT/.build/release/strata
mkdir -p "$W"
[ -x "$B" ] || (cd "$ROOT" && swift build -c release)
if [ ! -f "$W/corpus.jsonl" ]; then
  python3 "$ROOT/tools/gen_corpus.py" --size-mb "$MB" --seed 1 --dup-rate 0 --out "$W/corpus.jsonl"
  # 4000 distinct examples in one partition (domain bench4k, 2025-06).
  python3 "$ROOT/tools/p4k.py" "$W/corpus.jsonl" "$W/p4k.jsonl"
fi
if [ ! -d "$W/store" ]; then
  "$B" ingest "$W/store" "$W/corpus.jsonl" --quiet
  "$B" ingest "$W/store" "$W/p4k.jsonl" --quiet
fi
run() { perf stat -e task-clock "$@" 2>&1 | grep -E 'task-clock|elapsed|^bytes|^rows|^time|upToDate'; }
echo "== full raw JSONL export"; rm -rf "$W/full"; run "$B" export "$W/store" --out "$W/full"
echo "== one partition of 4000 examples"; rm -rf "$W/p4k"; run "$B" export "$W/store" --domain bench4k --from-month 2025-06 --to-month 2025-06 --out "$W/p4k"
echo "== same again (up to date)"; run "$B" export "$W/store" --domain bench4k --from-month 2025-06 --to-month 2025-06 --out "$W/p4k"
echo "== Parquet"; rm -rf "$W/pq"; run "$B" export "$W/store" --format parquet --out "$W/pq"
python3 -c "
import duckdb, os, sys
w = sys.argv[1]
duckdb.connect().execute(f\"COPY (SELECT * FROM read_parquet('{w}/pq/data.parquet')) TO '{w}/duck.parquet' (FORMAT parquet, COMPRESSION zstd)\")
print('parquet bytes: strata', os.path.getsize(w + '/pq/data.parquet'), 'duckdb zstd', os.path.getsize(w + '/duck.parquet'))
" "$W"
