#!/usr/bin/env bash
# The main job on a small sample: build strata, create a store from sample
# data in the pipelines' shapes (ETL module, production capture), ingest, show stats, export, verify.
# Usage: bash tools/demo.sh [WORKDIR]   (default ./out/demo)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=${1:-$root/out/demo}
STRATA_SKIP_PIP=${STRATA_SKIP_PIP:-1} bash tools/setup.sh
echo "== building strata (release)"
swift build -c release --product strata 2>&1 | tail -1
strata=$root/.build/release/strata
rm -rf "$work"; mkdir -p "$work"
store=$work/store
has() { "$strata" help "$1" >/dev/null 2>&1; }

echo "== generating a sample corpus (3,000 examples, three shapes, ~10% duplicates)"
if [ -f tools/gen_corpus.py ]; then
  python3 tools/gen_corpus.py --count 3000 --seed 7 --out "$work/sample.jsonl"
else
  cp Tests/StrataTests/Fixtures/etl_module4.jsonl "$work/sample.jsonl"
fi

echo "== ingest: sample corpus, then ETL module files and production captures"
"$strata" ingest "$store" "$work/sample.jsonl" --rejects "$work/rejects.jsonl"
"$strata" ingest "$store" Tests/StrataTests/Fixtures/etl_module4.jsonl --map domain=metadata.health_domain \
  --map timestamp=metadata.processing_timestamp --map quality_score=metadata.quality_score --rejects "$work/rejects.jsonl" || true
"$strata" ingest "$store" Tests/StrataTests/Fixtures/production_captures.jsonl --default-domain roofing --naive-timestamps-utc \
  --map quality_score=quality_signals.auto_score --map metadata=quality_signals || true

echo "== stats"
"$strata" stats "$store"

if has compact; then
  echo "== compact (zstd, dictionaries where they pay)"
  "$strata" compact "$store" | tail -3
fi
if has export; then
  echo "== export: alpaca JSONL, Parquet (Hive layout)"
  "$strata" export "$store" --format jsonl --schema alpaca --out "$work/export-alpaca"
  "$strata" export "$store" --format parquet --partitioned --out "$work/export-parquet"
fi
if has verify; then
  echo "== verify"
  "$strata" verify "$store"
fi
echo "== done: store at $store"
