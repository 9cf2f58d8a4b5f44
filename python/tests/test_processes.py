"""Other processes: a reader while a writer appends, and a writer SIGKILLed mid-append."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import strata

WRITER = r"""
import sys, strata
path, start, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with strata.Store.open(path) as s:
    for i in range(start, start + count):
        r = s.append({"prompt": f"q{i}", "response": "r" * (1 + i % 97), "domain": "d%d" % (i % 3),
                      "timestamp": "2025-%02d-01T00:00:00Z" % (1 + i % 12), "metadata": {"i": i}})
        if i % 50 == 49:
            s.append_many([{"prompt": f"batch{i}-{k}", "response": "r", "domain": "b", "timestamp": "2025-06-01T00:00:00Z"}
                           for k in range(20)])
            print("batch", i, flush=True)
        print(r.id, flush=True)  # printed only after append returned (durable under the default policy)
"""


def test_a_reader_process_sees_a_growing_consistent_store_while_a_writer_appends(tmp_path):
    path = str(tmp_path / "s")
    strata.Store.open(path).close()
    w = subprocess.Popen([sys.executable, "-c", WRITER, path, "0", "600"], stdout=subprocess.PIPE, text=True)
    seen = []
    try:
        while True:
            done = w.poll() is not None
            with strata.Reader(path) as r:
                rows = list(r.scan())
            ids = {e["id"] for e in rows}
            assert len(ids) == len(rows)  # no example twice
            assert all(e["prompt"].startswith(("q", "batch")) for e in rows)
            seen.append(len(rows))
            if done:
                break
            time.sleep(0.02)
    finally:
        w.wait(timeout=60)
    assert w.returncode == 0
    assert seen == sorted(seen), "a later snapshot never sees fewer examples"
    assert seen[-1] == 600 + 12 * 20
    assert len(set(seen)) > 2, "the reader ran while the writer was appending"


def test_everything_append_returned_survives_sigkill_of_the_writer(tmp_path):
    path = str(tmp_path / "s")
    rng = random.Random(14)
    acknowledged = []
    batches = []  # append_many calls that returned
    start = 0
    for _ in range(30):
        w = subprocess.Popen([sys.executable, "-c", WRITER, path, str(start), "100000"], stdout=subprocess.PIPE, text=True)
        # Wait until the writer is appending, then kill it at a random instant.
        first = w.stdout.readline()
        time.sleep(rng.uniform(0.0, 0.25))
        os.kill(w.pid, signal.SIGKILL)
        out = first + w.stdout.read()
        w.wait()
        ids = [line for line in out.split("\n") if len(line) == 32]
        acknowledged += ids
        batches += [int(line.split()[1]) for line in out.split("\n") if line.startswith("batch ")]
        start += 100000
        # Every acknowledged example is there after recovery (the next open recovers).
        with strata.Reader(path) as r:
            missing = [i for i in ids if r.get(i) is None]
        assert not missing, f"{len(missing)} acknowledged appends lost"
    with strata.Store.open(path) as s:
        assert all(s.get(i) is not None for i in acknowledged[-200:])
        prompts = {e["prompt"] for e in s.scan(domain="b")}
        assert all(f"batch{i}-{k}" in prompts for i in batches for k in range(20)), "an acknowledged append_many lost records"
        assert s.verify()["intact"]
    assert len(acknowledged) > 100
