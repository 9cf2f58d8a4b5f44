#!/usr/bin/env python3
"""Parquet export of a compacted store vs the same store before compaction.

Builds (untimed) one store from CORPUS with the first binary's `ingest`, copies
it and compacts the copy (`strata compact`, level 3), then times
`strata export STORE --format parquet --out OUT` of both stores with every
binary given, interleaved (binary x store per round), REPS rounds. Prints
medians of wall seconds and CPU seconds (user + sys of the child), MB/s of
JSONL-equivalent input (CORPUS bytes / wall), and checks that every binary
writes the same Parquet bytes for both stores.

Usage:
  python3 tools/parquet_export_bench.py --corpus c200.jsonl --reps 3 \\
      --bin before=/path/strata-before --bin after=.build/release/strata [--workdir DIR]
"""
import argparse
import filecmp
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def run(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--bin", action="append", required=True, help="LABEL=PATH (repeatable; the first builds the stores)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--workdir")
    a = ap.parse_args()
    bins = [b.split("=", 1) for b in a.bin]
    work = a.workdir or tempfile.mkdtemp(prefix="strata-pq-bench-")
    os.makedirs(work, exist_ok=True)
    lz4, comp = os.path.join(work, "lz4"), os.path.join(work, "compacted")
    for d in (lz4, comp):
        shutil.rmtree(d, ignore_errors=True)
    first = bins[0][1]
    subprocess.run([first, "ingest", lz4, a.corpus, "--json"], check=True, stdout=subprocess.DEVNULL)
    shutil.copytree(lz4, comp)
    subprocess.run([first, "compact", comp, "--json"], check=True, stdout=subprocess.DEVNULL)
    size = os.path.getsize(a.corpus)
    times = {}
    for r in range(a.reps):
        for label, path in bins:
            for store_label, store in (("lz4", lz4), ("compacted", comp)):
                out = os.path.join(work, f"out-{label}-{store_label}")
                shutil.rmtree(out, ignore_errors=True)
                wall, cpu = run([path, "export", store, "--format", "parquet", "--out", out])
                times.setdefault((label, store_label), []).append((wall, cpu))
                print(f"round {r + 1} {label:>8} {store_label:>9}: {wall:6.2f} s wall {cpu:6.2f} s CPU", file=sys.stderr)
    print(f"corpus {a.corpus}: {size / 1e6:.1f} MB; medians of {a.reps}; loadavg before/after: {os.getloadavg()[0]:.1f}")
    print("| binary | store | wall s | CPU s | MB/s (wall) | MB per CPU-s |")
    print("|---|---|---|---|---|---|")
    med = {}
    for (label, store_label), ts in times.items():
        w = statistics.median(t[0] for t in ts)
        c = statistics.median(t[1] for t in ts)
        med[(label, store_label)] = (w, c)
        print(f"| {label} | {store_label} | {w:.2f} | {c:.2f} | {size / 1e6 / w:.0f} | {size / 1e6 / c:.0f} |")
    for label, _ in bins:
        w0, c0 = med[(label, "lz4")]
        w1, c1 = med[(label, "compacted")]
        same = filecmp.cmp(os.path.join(work, f"out-{label}-lz4", "data", "data.parquet"),
                           os.path.join(work, f"out-{label}-compacted", "data", "data.parquet"), shallow=False)
        print(f"{label}: compacted / lz4 = {w1 / w0:.2f} (wall), {c1 / c0:.2f} (CPU); same Parquet bytes: {same}")


if __name__ == "__main__":
    main()
