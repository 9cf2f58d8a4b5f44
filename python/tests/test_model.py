"""Model-based test of the Python package: random operation sequences against a real store and a
reference model written here from SPEC.md §5.3 (dedup keys, normalization), for every dedup key ×
normalization × commit policy, compared after every step; at the end the CLI ingests the same
records into a store created with `strata init` and must give the same ids.

Replay one sequence: STRATA_PY_MODEL_SEED=<seed> pytest -k '<config>' python/tests/test_model.py
More sequences per configuration: STRATA_PY_MODEL_SEQUENCES=<n> (default 1).
"""
from __future__ import annotations

import json
import os
import random
import subprocess
import zlib

import pytest
import strata

from conftest import cli_path

KEYS = ["content", "content+source", "content+metadata.k", "content+domain,metadata.k", "prompt_only"]
NORMALIZATIONS = ["none", "whitespace", "casefold"]
POLICIES = ["batch", "manual", 3600]
CONFIGS = [(k, n, p) for k in KEYS for n in NORMALIZATIONS for p in POLICIES]
SEQUENCES = int(os.environ.get("STRATA_PY_MODEL_SEQUENCES", "1"))
OPERATIONS = 30

# SPEC.md §5.3: the scalars with the Unicode White_Space property.
WHITE_SPACE = {chr(c) for c in [*range(0x09, 0x0E), 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B),
                                0x2028, 0x2029, 0x202F, 0x205F, 0x3000]}
# Tokens that collide under casefold (and ß, which full lowercase keeps); no final sigma (Python's
# lower() applies that context rule, SPEC.md's casefold does not).
TOKENS = ["alpha", "Alpha", "ALPHA", "beta", "École", "école", "straße", "STRASSE", "x"]
SEPARATORS = [" ", "  ", "\t", "\u00a0", "\u2003", "\n", " \u3000 "]
MONTHS = ["2025-01", "2025-02", "2026-03"]
METADATA_VALUES = ["v1", "V1", 1, 2, True, None, "1"]


def norm(s: str, mode: str) -> str:
    if mode == "none":
        return s
    out, pending = [], False
    for ch in s:
        if ch in WHITE_SPACE:
            pending = True
            continue
        if pending and out:
            out.append(" ")
        pending = False
        out.append(ch)
    t = "".join(out)
    return t.lower() if mode == "casefold" else t


def shape_of(r: dict) -> str:
    return "chat" if "messages" in r else "instruction" if "instruction" in r else "prompt_response"


def field_value(r: dict, field: str):
    """A key field's value as SPEC.md §5.3 tags it: absent/null, string, boolean, integer (never normalized)."""
    if field in ("source", "domain"):
        v = r.get(field)
    else:
        v = r.get("metadata", {})
        for name in field.split(".")[1:]:
            v = v.get(name) if isinstance(v, dict) else None
    if v is None:
        return ("absent",)
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, int):
        return ("int", v)
    return ("str", v)


def dedup_key(r: dict, key: str, mode: str):
    s = shape_of(r)
    if key == "prompt_only":
        if s == "instruction":
            return (s, norm(r["instruction"], mode), norm(r["input"], mode))
        if s == "prompt_response":
            return (s, norm(r["prompt"], mode))
        return (s, tuple((m["role"], norm(m["content"], mode)) for m in r["messages"] if m["role"] != "assistant"))
    if s == "instruction":
        content = (s, norm(r["instruction"], mode), norm(r["input"], mode), norm(r["output"], mode))
    elif s == "prompt_response":
        content = (s, norm(r["prompt"], mode), norm(r["response"], mode))
    else:
        content = (s, tuple((m["role"], norm(m["content"], mode)) for m in r["messages"]))
    if key == "content":
        return content
    return content + tuple(field_value(r, f) for f in key[len("content+"):].split(","))


class Model:
    def __init__(self, key: str, mode: str):
        self.key, self.mode = key, mode
        self.first = {}        # dedup key -> id
        self.examples = {}     # id -> (record as first offered, append sequence number)
        self.excluded = set()
        self.corrections = {}  # id -> correction text
        self.seq = 0
        self.duplicates = 0             # offers found to be duplicates
        self.normalized_duplicates = 0  # ... whose content differs byte for byte from the first's
        self.rejects = 0
        self.annotations = 0

    def invalid_field(self, r: dict):
        """The field a record is rejected for, or None."""
        q = r.get("quality_score")
        if q is not None and not 0 <= q <= 1:
            return "quality_score"
        if shape_of(r) == "prompt_response" and "response" not in r:
            return "response"
        if self.key.startswith("content+") and "metadata.k" in self.key and isinstance(r.get("metadata", {}).get("k"), float):
            return "metadata.k"
        return None

    def offer(self, r: dict, got_id: str, inserted: bool) -> None:
        k = dedup_key(r, self.key, self.mode)
        if k in self.first:
            assert not inserted, f"{r!r} must be a duplicate of {self.first[k]}"
            assert got_id == self.first[k], "a duplicate reports the first example's id"
            self.duplicates += 1
            if dedup_key(r, self.key, "none") != dedup_key(self.examples[got_id][0], self.key, "none"):
                self.normalized_duplicates += 1
            return
        assert inserted, f"{r!r} must be inserted (key {k!r} is new)"
        assert got_id not in self.examples, "two different keys got one id"
        self.first[k] = got_id
        self.examples[got_id] = (r, self.seq)
        self.seq += 1

    def visible(self, domain=None, from_month=None, to_month=None):
        rows = []
        for i, (r, seq) in self.examples.items():
            month = r["timestamp"][:7]
            if i in self.excluded or (domain and r["domain"] != domain):
                continue
            if (from_month and month < from_month) or (to_month and month > to_month):
                continue
            rows.append(((r["domain"].encode(), month, seq), i))
        return [i for _, i in sorted(rows)]

    def folded(self, i: str) -> dict:
        r = json.loads(json.dumps(self.examples[i][0]))
        c = self.corrections.get(i)
        if c is not None:
            s = shape_of(r)
            if s == "instruction":
                r["output"] = c
            elif s == "prompt_response":
                r["response"] = c
            else:
                last = max(j for j, m in enumerate(r["messages"]) if m["role"] == "assistant")
                r["messages"][last]["content"] = c
        return r


def text(rng: random.Random) -> str:
    s = rng.choice(SEPARATORS).join(rng.choice(TOKENS) for _ in range(rng.randint(1, 2)))
    if rng.random() < 0.3:
        s = rng.choice(SEPARATORS) + s
    if rng.random() < 0.3:
        s += rng.choice(SEPARATORS)
    return s


def variant(rng: random.Random, s: str) -> str:
    """The same words with other white space around and between them, maybe in other case."""
    words = "".join(" " if ch in WHITE_SPACE else ch for ch in s).split()
    if rng.random() < 0.5:
        words = [w.upper() if rng.random() < 0.3 else w.lower() if rng.random() < 0.3 else w for w in words]
    out = rng.choice(SEPARATORS).join(words)
    return (rng.choice(SEPARATORS) if rng.random() < 0.5 else "") + out + (rng.choice(SEPARATORS) if rng.random() < 0.5 else "")


def record(rng: random.Random, history: list) -> dict:
    if history and rng.random() < 0.35:  # an old record again, maybe with other non-content fields
        r = json.loads(json.dumps(rng.choice(history)))
        if rng.random() < 0.5:  # ... and its text spelled differently
            for k in ("instruction", "input", "output", "prompt", "response"):
                if r.get(k):
                    r[k] = variant(rng, r[k])
            for m in r.get("messages", []):
                m["content"] = variant(rng, m["content"])
        if rng.random() < 0.5:
            r["domain"] = rng.choice(["alpha", "beta"])
        if rng.random() < 0.5:
            r["metadata"] = {"k": rng.choice(METADATA_VALUES), "n": rng.randint(0, 9)}
        return r
    month = rng.choice(MONTHS)
    r: dict = {"domain": rng.choice(["alpha", "beta"]), "timestamp": f"{month}-0{rng.randint(1, 9)}T10:00:00Z",
               "quality_score": round(rng.random(), 2), "tags": [rng.choice(["t1", "t2"])]}
    s = rng.choice(["instruction", "prompt_response", "chat"])
    if s == "instruction":
        r.update(instruction=text(rng), input=rng.choice(["", text(rng)]), output=text(rng))
    elif s == "prompt_response":
        r.update(prompt=text(rng), response=text(rng))
    else:
        msgs = [{"role": "system", "content": text(rng)}] if rng.random() < 0.4 else []
        msgs += [{"role": "user", "content": text(rng)}, {"role": "assistant", "content": text(rng)}]
        r["messages"] = msgs
    if rng.random() < 0.6:
        r["source"] = rng.choice(["s1", "s2"])
    if rng.random() < 0.8:
        r["metadata"] = {"k": rng.choice(METADATA_VALUES), "n": rng.randint(0, 9)}
    return r


def invalid(rng: random.Random, r: dict) -> dict:
    r = json.loads(json.dumps(r))
    kind = rng.choice(["quality", "missing", "float_key"])
    if kind == "quality":
        r["quality_score"] = 1.5
    elif kind == "missing" and shape_of(r) == "prompt_response":
        del r["response"]
    else:
        r["metadata"] = {"k": 2.5}  # rejected only where metadata.k is a key field
    return r


def content_of(r: dict) -> dict:
    keys = ("instruction", "input", "output", "prompt", "response", "messages", "domain", "timestamp", "source")
    out = {k: r[k] for k in keys if r.get(k) is not None}
    out["timestamp"] = out["timestamp"][:19]
    return out


def check(store: strata.Store, model: Model, rng: random.Random) -> None:
    for i in model.examples:
        raw = store.get(i, raw=True)
        assert raw is not None and content_of(raw) == content_of(model.examples[i][0]), f"get({i}, raw) differs"
        folded = store.get(i)
        for k in ("output", "response", "messages"):
            if k in folded:
                assert folded[k] == model.folded(i)[k], f"get({i}) folded {k} differs"
    assert [e["id"] for e in store.scan(view="raw")] == model.visible()
    d, lo, hi = rng.choice(["alpha", "beta", None]), rng.choice(MONTHS + [None]), rng.choice(MONTHS + [None])
    assert [e["id"] for e in store.scan(domain=d, from_month=lo, to_month=hi)] == model.visible(d, lo, hi)


def open_store(path, key, mode, policy, keyed=True) -> strata.Store:
    return strata.Store.open(path, commit=policy, dedup_key=key if keyed else None, normalize=mode if keyed else None)


@pytest.mark.parametrize("key,mode,policy", CONFIGS, ids=[f"{k}|{n}|{p}" for k, n, p in CONFIGS])
def test_store_matches_the_reference_model(tmp_path, key, mode, policy):
    base = int(os.environ.get("STRATA_PY_MODEL_SEED", "0"))
    for sequence in range(SEQUENCES):
        seed = zlib.crc32(f"{key}|{mode}|{policy}".encode()) % 10_000 * 1000 + base + sequence
        run_sequence(tmp_path / f"seq{sequence}", key, mode, policy, seed)


def run_sequence(root, key, mode, policy, seed):
    rng = random.Random(seed)
    path = root / "store"
    model = Model(key, mode)
    offered: list = []  # every record offered, valid or not, for the CLI's cross-check
    valid: list = []    # the valid ones, offered again later with other non-content fields
    store = open_store(path, key, mode, policy)
    trace = []
    try:
        ops = rng.choices(["append", "append_invalid", "append_many", "ingest_jsonl", "annotate", "commit", "reopen", "wrong_key"],
                          weights=[30, 4, 15, 10, 10, 5, 6, 3], k=OPERATIONS)
        # Every sequence takes each path at least once, annotations once there is something to annotate.
        for op, at in zip(["append_invalid", "append_many", "ingest_jsonl", "reopen", "wrong_key", "annotate", "annotate", "append_respaced"],
                          rng.sample(range(OPERATIONS // 3), 5) + rng.sample(range(OPERATIONS // 3, OPERATIONS), 3)):
            ops[at] = op
        for op in ops:
            trace.append(op)
            if op in ("append", "append_invalid", "append_respaced"):
                r = record(rng, valid)
                if op == "append_respaced" and valid:  # an earlier record with only its white space changed
                    r = json.loads(json.dumps(rng.choice(valid)))
                    for k in ("instruction", "output", "prompt", "response"):
                        if k in r:
                            r[k] = " " + r[k].replace(" ", "\u00a0\t") + "\n"
                    for m in r.get("messages", []):
                        m["content"] = " " + m["content"] + "\n"
                if op == "append_invalid":
                    bad = invalid(rng, r)
                    r = bad if model.invalid_field(bad) else dict(r, quality_score=1.5)
                offered.append(r)
                bad = model.invalid_field(r)
                if bad:
                    with pytest.raises(strata.InvalidInputError) as e:
                        store.append(r)
                    assert e.value.field == bad, f"{e.value} must name {bad}"
                    model.rejects += 1
                else:
                    valid.append(r)
                    res = store.append(r)
                    model.offer(r, res.id, res.inserted)
            elif op in ("append_many", "ingest_jsonl"):
                batch = [record(rng, valid) for _ in range(rng.randint(1, 8))]
                if len(batch) > 2:
                    batch.append(json.loads(json.dumps(batch[0])))  # a duplicate inside the batch
                batch = [invalid(rng, r) if rng.random() < 0.15 else r for r in batch]
                offered.extend(batch)
                valid.extend(r for r in batch if not model.invalid_field(r))
                if op == "append_many":
                    summary = store.append_many(batch)
                else:
                    summary = store.ingest_jsonl(b"".join(json.dumps(r).encode() + b"\n" for r in batch))
                rejected = {rj.line: rj.field for rj in summary.rejects}
                expected_rejects = {n + 1: model.invalid_field(r) for n, r in enumerate(batch) if model.invalid_field(r)}
                assert rejected == expected_rejects, f"rejects {rejected} != {expected_rejects}"
                before = len(model.examples)
                # The library reports counts, not per-record ids: replay the batch into the model by
                # asking the store for each valid record's id (its key's first example).
                for n, r in enumerate(batch):
                    if n + 1 in expected_rejects:
                        continue
                    k = dedup_key(r, key, mode)
                    if k in model.first:
                        first = model.examples[model.first[k]][0]
                        if dedup_key(r, key, "none") != dedup_key(first, key, "none"):
                            model.normalized_duplicates += 1
                        continue
                    got = [e["id"] for e in store.scan(view="raw", include_excluded=True)
                           if e["id"] not in model.examples and dedup_key(e, key, mode) == k]
                    assert len(got) == 1, f"one new example for key {k!r}, found {got}"
                    model.offer(r, got[0], True)
                assert summary.inserted == len(model.examples) - before
                assert summary.rejected == len(expected_rejects)
                assert summary.duplicates == len(batch) - len(expected_rejects) - summary.inserted
                model.duplicates += summary.duplicates
                model.rejects += summary.rejected
            elif op == "annotate" and model.examples:
                i = rng.choice(list(model.examples))
                what = rng.choice(["exclude", "include", "correction"])
                model.annotations += 1
                if what == "correction":
                    c = text(rng)
                    store.annotate(i, correction=c, reason="model")
                    model.corrections[i] = c
                else:
                    store.annotate(i, exclude=(what == "exclude"), reason="model")
                    (model.excluded.add if what == "exclude" else model.excluded.discard)(i)
            elif op == "commit":
                store.commit()
            elif op == "reopen":
                store.close()
                store = open_store(path, key, mode, policy, keyed=rng.random() < 0.5)
            elif op == "wrong_key":
                store.close()
                other = rng.choice([(k, n) for k in KEYS for n in NORMALIZATIONS if (k, n) != (key, mode)])
                with pytest.raises(strata.UsageError) as e:
                    strata.Store.open(path, dedup_key=other[0], normalize=other[1])
                assert e.value.field == "dedup_key"
                store = open_store(path, key, mode, policy)
            check(store, model, rng)
        assert store.stats()["records"] == len(set(model.examples) - model.excluded)  # excluded examples are not counted
        assert store.verify()["intact"]
        # The sequence must have exercised what it is about (else it proves nothing).
        assert model.duplicates > 0 and model.rejects > 0 and model.annotations > 0
        if mode != "none":
            assert model.normalized_duplicates > 0, "no duplicate needed the normalization"
    except AssertionError as e:
        raise AssertionError(f"{e}\n  seed {seed}, operations: {' '.join(trace)}") from None
    finally:
        store.close()

    # The CLI, given the same records, keeps the same examples under the same ids.
    jsonl = root / "offered.jsonl"
    jsonl.write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in offered))
    cli_store = root / "cli-store"
    subprocess.run([cli_path(), "init", str(cli_store), "--dedup-key", key, "--normalize", mode], check=True, capture_output=True)
    subprocess.run([cli_path(), "ingest", str(cli_store), str(jsonl), "--quiet"], capture_output=True)
    with strata.Reader(cli_store) as reader:
        cli_ids = {e["id"] for e in reader.scan(view="raw", include_excluded=True)}
    assert cli_ids == set(model.examples), f"the CLI kept other examples (seed {seed})"
