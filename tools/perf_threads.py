#!/usr/bin/env python3
"""Per-thread-role CPU and a busy-core timeline from a `perf record -g` of
`strata ingest` (cpu-clock samples).

    perf record -g -o ingest.data strata ingest STORE input.jsonl
    python3 tools/perf_threads.py ingest.data [--bin-ms 50] [--hz 4000]

Each thread gets a role from the frames its samples pass through (parse
stage, store thread, LZ4 helper, commit round/fsync, segment file creation,
batch-end compression workers). Prints per role: samples, share, CPU seconds
(samples / hz) and top symbols; then, per time bin, the busy cores each role
used (samples / (hz * bin)), so idle stretches of the two cores show up.
"""
import argparse, collections, re, subprocess

ap = argparse.ArgumentParser()
ap.add_argument("data")
ap.add_argument("--bin-ms", type=float, default=50)
ap.add_argument("--hz", type=float, default=4000, help="perf sampling frequency (cpu-clock default 4000)")
ap.add_argument("--top", type=int, default=5)
a = ap.parse_args()

out = subprocess.run(["perf", "script", "-i", a.data, "-F", "pid,tid,time,ip,sym"], capture_output=True, text=True).stdout
samples = []  # (tid, time, frames)
for block in out.split("\n\n"):
    lines = [l for l in block.split("\n") if l.strip()]
    if not lines:
        continue
    head = lines[0].split()
    try:
        pid_tid = head[0]
        pid, tid = pid_tid.split("/") if "/" in pid_tid else (head[0], head[1])
        t = float([h for h in head if h.endswith(":")][0][:-1])
    except (IndexError, ValueError):
        continue
    frames = [re.sub(r"^\s*[0-9a-f]+\s+", "", l).strip() for l in lines[1:]]
    samples.append((pid, tid, t, frames))

MARKS = [  # (role, substring of a frame), first match wins per sample
    ("parse", "parseStage"),
    ("lz4 helper", "DetachedBlockCompressor"),
    ("commit round (fsync)", "ParallelSync"),
    ("commit round (fsync)", "BackgroundCommitRound"),
    ("segment creation", "SegmentFileCreator"),
    ("batch-end LZ4 workers", "parallelFor"),
]
votes = collections.defaultdict(collections.Counter)
for pid, tid, t, fr in samples:
    joined = " ".join(fr)
    for role, mark in MARKS:
        if mark in joined:
            votes[tid][role] += 1
            break
def role_of(pid, tid):
    if tid == pid:
        return "store (main thread)"
    return votes[tid].most_common(1)[0][0] if votes[tid] else "other threads"

roles = collections.Counter(); syms = collections.defaultdict(collections.Counter)
t0 = min(s[2] for s in samples); t1 = max(s[2] for s in samples)
nb = int((t1 - t0) * 1000 / a.bin_ms) + 1
bins = collections.defaultdict(lambda: [0] * nb)
for pid, tid, t, fr in samples:
    r = role_of(pid, tid)
    roles[r] += 1
    syms[r][re.sub(r"\+0x[0-9a-f]+", "", fr[0] if fr else "?")[:90]] += 1
    bins[r][int((t - t0) * 1000 / a.bin_ms)] += 1
n = sum(roles.values())
print(f"{n} samples = {n / a.hz:.3f} CPU s over {t1 - t0:.3f} s")
for r, c in roles.most_common():
    print(f"== {r}: {c} samples, {100 * c / n:.1f}%, {c / a.hz:.3f} CPU s")
    for s, k in syms[r].most_common(a.top):
        print(f"     {100 * k / c:5.1f}%  {s}")
order = [r for r, _ in roles.most_common()]
per_bin = a.hz * a.bin_ms / 1000
print(f"\nbusy cores per {a.bin_ms:g} ms bin (2.00 = both cores):")
print("   t ms  total  " + "  ".join(f"{r[:12]:>12s}" for r in order))
for i in range(nb):
    tot = sum(bins[r][i] for r in order) / per_bin
    print(f"{i * a.bin_ms:7.0f}  {tot:5.2f}  " + "  ".join(f"{bins[r][i] / per_bin:12.2f}" for r in order))
