#!/bin/sh
# External-id lookups and bulk annotation (issue 13), release build.
#   tools/bench_extid_annotate.sh [N]   (default 200000 captured examples)
# Prints, in one run on one store:
#   - `strata get --by metadata._extra.id=…` (index lookup) vs the same answer by
#     `strata scan --where 'metadata._extra.id = "…"'` (full scan), median of 5 each;
#   - `strata get ID` by Strata id (the dedup index) as the O(1) peer;
#   - 300 feedback events as 300 `strata annotate` processes vs one `--from` file.
set -eu
N=${1:-200000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=${STRATA_BENCH_DIR:-/tmp/strata-extid-bench}
B=$ROOT/.build/release/strata
[ -x "$B" ] || (cd "$ROOT" && swift build -c release --product strata)
rm -rf "$W" && mkdir -p "$W"
python3 - "$N" > "$W/captures.jsonl" <<'PY'
import json, sys
n = int(sys.argv[1])
for i in range(n):
    print(json.dumps({"id": "train_20250314_%06d_%08x" % (i, (i * 2654435761) & 0xffffffff),
                      "timestamp": "2025-%02d-%02dT09:30:00" % (1 + i % 12, 1 + i % 28), "source": "chat",
                      "prompt": "How much seam overlap does membrane %d need on a %d%% slope?" % (i, i % 7),
                      "response": "Use %d.5 inches minimum per the manufacturer spec; check submittal %d." % (2 + i % 3, i),
                      "metadata": {"skill_used": "membrane", "latency_ms": 100 + i % 900, "user_id": "u%d" % (i % 5000)},
                      "quality": {"user_feedback": None, "auto_score": 0.8}, "tags": ["tpo"], "project_context": "general"}))
PY
"$B" init "$W/store" --external-id metadata._extra.id >/dev/null
"$B" ingest "$W/store" "$W/captures.jsonl" --map id= --default-domain roofing --naive-timestamps-utc --quiet
ls -l "$W/store/index/"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ms() { python3 -c 'import time,sys,subprocess; t=time.perf_counter(); subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True); print("%.1f" % ((time.perf_counter()-t)*1000))' "$@"; }
IDS=""
for k in 17 12345 77777 150001 199999; do
  [ "$k" -lt "$N" ] || k=$((N - 1))
  IDS="$IDS $(python3 -c "i=$k; print('train_20250314_%06d_%08x' % (i, (i * 2654435761) & 0xffffffff))")"
done
echo "get --by (index), ms:"; for id in $IDS; do ms "$B" get "$W/store" --by "metadata._extra.id=$id"; done | tee "$W/get.txt" | tr '\n' ' '; echo
echo "get ID (Strata id, dedup index), ms:"; for id in $IDS; do
  sid=$("$B" get "$W/store" --by "metadata._extra.id=$id" | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["id"])')
  ms "$B" get "$W/store" "$sid"; done | tee "$W/getid.txt" | tr '\n' ' '; echo
echo "scan --where (full scan), ms:"; for id in $IDS; do ms "$B" scan "$W/store" --where "metadata._extra.id = \"$id\""; done | tee "$W/scan.txt" | tr '\n' ' '; echo
G=$(median < "$W/get.txt"); I=$(median < "$W/getid.txt"); S=$(median < "$W/scan.txt")
echo "median get --by ${G} ms, get ID ${I} ms, scan --where ${S} ms; scan/get-by $(python3 -c "print('%.1f' % ($S / $G))")x ($N examples)"
# 300 feedback events.
python3 - "$W" <<'PY'
import sys
w = sys.argv[1]
with open(w + "/events.jsonl", "w") as f, open(w + "/ids.txt", "w") as g:
    for i in range(300):
        tid = "train_20250314_%06d_%08x" % (i, (i * 2654435761) & 0xffffffff)
        f.write('{"by": {"metadata._extra.id": "%s"}, "feedback": "positive", "rating": 5}\n' % tid)
        g.write(tid + "\n")
PY
T0=$(date +%s.%N)
while read -r id; do
  "$B" annotate "$W/store" --by "metadata._extra.id=$id" --feedback positive --rating 5 >/dev/null
done < "$W/ids.txt"
T1=$(date +%s.%N)
"$B" annotate "$W/store" --from "$W/events.jsonl" >/dev/null
T2=$(date +%s.%N)
python3 -c "a=$T1-$T0; b=$T2-$T1; print('300 events: %.2f s as 300 processes, %.3f s as one --from file; %.0fx' % (a, b, a/b))"
