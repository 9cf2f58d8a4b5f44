#!/usr/bin/env python3
"""Deterministic, realistic-looking corpus of training examples as JSONL, in the
shapes the pipelines write: ETL module files (instruction + clinical metadata),
production captures (prompt/response with tags and quality), and chats.

usage: tools/gen_capture_corpus.py N [SEED] > corpus.jsonl

Text is drawn from a Zipf-distributed vocabulary with recurring domain phrases,
so it compresses roughly like real captured text (zstd -19 on the JSONL lands
near the ~6× the issue cites), not like random bytes or copies.
"""
import json, random, sys, hashlib

n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 7)

syll = ["ba", "ce", "di", "fo", "gu", "ha", "je", "ki", "lo", "mu", "na", "pe", "qui", "ra", "se", "ti", "vo", "wa", "xe", "yo", "za",
        "tion", "ment", "ing", "er", "al", "ous", "ive", "ly", "ness", "pro", "con", "re", "de", "in", "ex", "an", "or", "ic", "um"]
def word(r):
    return "".join(r.choice(syll) for _ in range(r.choice([1, 2, 2, 3, 3, 4])))
vocab_rng = random.Random(1)
common = ["the", "a", "of", "to", "and", "in", "is", "for", "with", "on", "that", "this", "be", "are", "as", "by", "at", "or", "from", "per",
          "patient", "glucose", "insulin", "dose", "level", "blood", "pressure", "reported", "mg", "daily", "roof", "membrane", "seam",
          "inches", "manufacturer", "spec", "submittal", "minimum", "crew", "labor", "cost", "estimate", "should", "must", "check"]
vocab = common + [word(vocab_rng) for _ in range(6000)]
weights = [1.0 / (i + 1) ** 1.05 for i in range(len(vocab))]
cum = list(__import__('itertools').accumulate(weights))
phrases = ["always check the approved submittal", "per most manufacturers", "consult the attending physician",
           "HbA1c remained above target", "the patient denies chest pain", "fasting glucose of", "verify with the architect",
           "see section 07 54 23", "production rate is about", "squares per crew day", "follow up in three months",
           "continue current regimen", "no acute distress", "reviewed with the patient", "counter flashing at the curb"]

def sentence(r, lo=6, hi=22):
    k = r.randint(lo, hi)
    ws = r.choices(vocab, cum_weights=cum, k=k)
    if r.random() < 0.5:
        ws.insert(r.randint(0, len(ws)), r.choice(phrases))
    if r.random() < 0.3:
        ws.append(str(r.randint(1, 400)))
    s = " ".join(ws)
    return s[0].upper() + s[1:] + "."

def para(r, lo, hi):
    return " ".join(sentence(r) for _ in range(r.randint(lo, hi)))

domains = ["metabolic_diabetes", "cardio_hypertension", "roofing_estimates", "support_chat", "mental_health"]
sources = ["chat", "api", "slack", "batch_s3", "email"]
tags_all = ["tpo", "epdm", "flashing", "specs", "labor", "safety", "insulin", "a1c", "bp", "followup", "triage", "billing"]
base = 1735689600  # 2025-01-01
for i in range(n):
    d = rng.choice(domains)
    ts = base + rng.randint(0, 180 * 86400)
    iso = "%04d-%02d-%02dT%02d:%02d:%02dZ" % (lambda t: (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec))(__import__("time").gmtime(ts))
    rec = {"domain": d, "timestamp": iso}
    kind = rng.random()
    if kind < 0.4:
        rec["instruction"] = rng.choice(["Summarize the clinical narrative.", "Extract the key findings from this note.",
                                         "Write a patient-friendly explanation.", "List the medications mentioned."])
        rec["input"] = para(rng, 2, 6)
        rec["output"] = para(rng, 1, 4)
    elif kind < 0.8:
        rec["prompt"] = sentence(rng, 5, 18).rstrip(".") + "?"
        rec["response"] = para(rng, 1, 5)
    else:
        msgs = [{"role": "system", "content": "You are a careful assistant for " + d.replace("_", " ") + "."}]
        for _ in range(rng.randint(1, 3)):
            msgs.append({"role": "user", "content": sentence(rng, 5, 16)})
            msgs.append({"role": "assistant", "content": para(rng, 1, 3)})
        rec["messages"] = msgs
    if rng.random() < 0.85:
        rec["quality_score"] = round(rng.uniform(0.3, 1.0), 3)
    rec["tags"] = rng.sample(tags_all, rng.randint(0, 3))
    rec["source"] = rng.choice(sources)
    uid = hashlib.sha256(str(rng.randint(1, 5000)).encode()).hexdigest()[:16]
    rec["metadata"] = {"record_type": "training_example", "user_id": uid,
                       "correlation_id": "%08x-%04x" % (rng.getrandbits(32), rng.getrandbits(16)),
                       "processing_timestamp": iso, "source_bucket": "ml-raw-" + d, "source_key": "%s/%d/%06d.json" % (d, ts // 86400, i),
                       "latency_ms": rng.randint(80, 4000), "prompt_tokens": rng.randint(10, 400), "response_tokens": rng.randint(10, 900)}
    sys.stdout.write(json.dumps(rec, separators=(",", ":")) + "\n")
