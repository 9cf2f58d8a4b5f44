#!/usr/bin/env bash
# Growth figures: what open + get, a one-partition scan and stats cost as the
# store grows (README "Growth", Benchmarks/RESULTS.md).
#
#   tools/growth.sh STRATA_BINARY LABEL SIZE...       e.g. tools/growth.sh .build/release/strata after 50000 500000
#
# For each SIZE (examples) it builds a store with STRATA_BINARY from the first
# SIZE lines of $GROWTH_DIR/corpus.jsonl (tools/gen_corpus.py --dup-rate 0;
# sizes above the corpus repeat it with a per-copy suffix on the first content
# field, so every example stays unique) plus one partition of 4,000 examples
# (domain bench4k, 2025-06), then measures with /usr/bin/time -v and prints
# the median wall time, CPU time (user + system) and peak RSS of GROWTH_RUNS
# runs (default 3):
#   get      strata get STORE ID            (open + one example by id)
#   scan4k   strata scan STORE --domain bench4k --from-month 2025-06 --to-month 2025-06
#   stats    strata stats STORE --json
#   open     strata get STORE 000...0       (open + one index miss; exit 1 expected)
# With GROWTH_FULL=1 it also times, once each: the build's ingest of the SIZE
# examples (wall, peak RSS), `strata export STORE --out DIR` (JSONL, output
# removed after) and `strata compact STORE` on a copy of the store (removed
# after). The SIZE-line input is written to $W/input-SIZE.jsonl first and
# shared by every binary, so the ingest time excludes generating it.
# GROWTH_FULL=ingest times only the build's ingest (export and compaction of a
# large store take minutes; run them for the binaries whose code they test).
# Run it once per binary (a build of the base commit, then this one) so the
# rows compare like with like; stores are kept per LABEL and SIZE.
set -euo pipefail
BIN=$(realpath "$1"); LABEL=$2; shift 2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=${GROWTH_DIR:-/tmp/strata-growth}
mkdir -p "$W"
[ -f "$W/corpus.jsonl" ] || python3 "$ROOT/tools/gen_corpus.py" --count 500000 --seed 1 --dup-rate 0 --out "$W/corpus.jsonl"
if [ ! -f "$W/p4k.jsonl" ]; then
  python3 "$ROOT/tools/p4k.py" "$W/corpus.jsonl" "$W/p4k.jsonl"
fi
CORPUS_LINES=$(wc -l < "$W/corpus.jsonl")

# The first SIZE examples: the corpus, then copies whose first content string gets " ~vN".
lines() {
  local n=$1 copy=0
  while [ "$n" -gt 0 ]; do
    local take=$(( n < CORPUS_LINES ? n : CORPUS_LINES ))
    if [ $copy -eq 0 ]; then head -n "$take" "$W/corpus.jsonl"
    else head -n "$take" "$W/corpus.jsonl" | sed -E "s/^(\{\"(instruction|prompt)\":\"|\{\"messages\":\[\{\"role\":\"[a-z]+\",\"content\":\")/\1~v$copy /"
    fi
    n=$(( n - take )); copy=$(( copy + 1 ))
  done
}

# The SIZE-line input, materialized once and shared by every LABEL.
input() {
  local f="$W/input-$1.jsonl"
  [ -f "$f" ] || { lines "$1" > "$f.tmp" && mv "$f.tmp" "$f"; }
  echo "$f"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

measure() {  # name, command...
  local name=$1; shift
  local walls=() rss=() cpus=()
  for _ in $(seq "${GROWTH_RUNS:-3}"); do
    /usr/bin/time -v "$@" > /dev/null 2> "$W/time.txt" || [ "$name" = open ]
    walls+=("$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,p,":"); s=0; for(i=1;i<=n;i++) s=s*60+p[i]; print s}' "$W/time.txt")")
    rss+=("$(awk -F': ' '/Maximum resident set size/ {print $2}' "$W/time.txt")")
    cpus+=("$(awk -F': ' '/User time|System time/ {s+=$2} END {print s}' "$W/time.txt")")
  done
  printf '%-8s %-7s %9s  wall %7.3f s  cpu %7.3f s  peak RSS %6.1f MB\n' "$LABEL" "$name" "$SIZE" \
    "$(printf '%s\n' "${walls[@]}" | median)" "$(printf '%s\n' "${cpus[@]}" | median)" \
    "$(echo "$(printf '%s\n' "${rss[@]}" | median) / 1024" | bc -l)"
}

once() {  # name, command... : one run, wall, µs per example, peak RSS
  local name=$1; shift
  /usr/bin/time -v "$@" > /dev/null 2> "$W/time.txt"
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,p,":"); s=0; for(i=1;i<=n;i++) s=s*60+p[i]; print s}' "$W/time.txt")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$W/time.txt")
  printf '%-8s %-7s %9s  wall %7.2f s  %6.2f us/example  peak RSS %7.1f MB\n' "$LABEL" "$name" "$SIZE" \
    "$wall" "$(echo "$wall * 1000000 / $SIZE" | bc -l)" "$(echo "$rss / 1024" | bc -l)"
}

for SIZE in "$@"; do
  S="$W/store-$LABEL-$SIZE"
  if [ ! -f "$S/MANIFEST" ] && [ -n "${GROWTH_FULL:-}" ]; then
    IN=$(input "$SIZE")
    once ingest "$BIN" ingest "$S" "$IN" --quiet
    "$BIN" ingest "$S" "$W/p4k.jsonl" --quiet
  elif [ ! -f "$S/MANIFEST" ]; then
    start=$(date +%s.%N)
    lines "$SIZE" | "$BIN" ingest "$S" - --quiet
    "$BIN" ingest "$S" "$W/p4k.jsonl" --quiet
    printf '%-8s %-7s %9s  wall %7.1f s  (build: ingest of %s + 4000 examples)\n' "$LABEL" ingest "$SIZE" "$(echo "$(date +%s.%N) - $start" | bc -l)" "$SIZE"
  fi
  ID=$("$BIN" scan "$S" --domain bench4k --limit 1 | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["id"])')
  measure get "$BIN" get "$S" "$ID"
  measure scan4k "$BIN" scan "$S" --domain bench4k --from-month 2025-06 --to-month 2025-06
  measure stats "$BIN" stats "$S" --json
  measure open "$BIN" get "$S" 00000000000000000000000000000000
  if [ "${GROWTH_FULL:-}" = 1 ]; then
    rm -rf "$W/export-$LABEL"
    once export "$BIN" export "$S" --out "$W/export-$LABEL"
    rm -rf "$W/export-$LABEL" "$W/compact-$LABEL"
    cp -r "$S" "$W/compact-$LABEL"
    once compact "$BIN" compact "$W/compact-$LABEL"
    rm -rf "$W/compact-$LABEL"
  fi
done
