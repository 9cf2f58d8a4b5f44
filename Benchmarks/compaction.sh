#!/usr/bin/env bash
# Compaction benchmark (issue 4): compacted bytes vs ingested JSONL, and MB/s of
# JSONL-equivalent, in release mode. Usage: Benchmarks/compaction.sh [N_EXAMPLES] [extra compact flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-50000}; shift || true
WORK=${BENCH_DIR:-/tmp/strata-bench-compaction}
mkdir -p "$WORK"
swift build -c release >/dev/null 2>&1
S=.build/release/strata
# CORPUS=file.jsonl uses that file (e.g. from tools/gen_corpus.py) instead of generating one.
CORPUS=${CORPUS:-$WORK/corpus-$N.jsonl}
[ -f "$CORPUS" ] || python3 tools/gen_capture_corpus.py "$N" > "$CORPUS"
JSONL=$(stat -c %s "$CORPUS")
rm -rf "$WORK/store"
$S ingest "$WORK/store" "$CORPUS" --json | tail -1 >/dev/null
BEFORE=$(du -sb "$WORK/store" | cut -f1)
START=$(date +%s.%N)
/usr/bin/time -f "%U %S" -o "$WORK/cpu.txt" $S compact "$WORK/store" --json "$@" | tail -1 > "$WORK/compact.json"
END=$(date +%s.%N)
AFTER=$(du -sb "$WORK/store" | cut -f1)
python3 - "$JSONL" "$BEFORE" "$AFTER" "$START" "$END" "$WORK" <<'PY'
import json, sys
jsonl, before, after, start, end, work = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
t = json.load(open(work + "/compact.json"))
user, sys_ = map(float, open(work + "/cpu.txt").read().split())
print(f"jsonl {jsonl} B; store after ingest {before} B ({jsonl/before:.2f}x); after compaction {after} B ({jsonl/after:.2f}x of JSONL, target >= 6x)")
print(f"segments {t['bytes_before']} -> {t['bytes_after']} B; {t['examples']} examples in {t['partitions']} partitions")
print(f"compaction {t['seconds']:.2f} s wall in-library ({jsonl/t['seconds']/1e6:.1f} MB/s JSONL-equivalent), process {end-start:.2f} s wall, {user+sys_:.2f} s CPU ({jsonl/(user+sys_)/1e6:.1f} MB/s per core)")
PY
