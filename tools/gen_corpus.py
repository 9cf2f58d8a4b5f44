#!/usr/bin/env python3
"""Deterministic generator of realistic ML training examples (JSONL).

Standard library only.  Same arguments -> identical bytes.

    python3 tools/gen_corpus.py --count 10000 --seed 1 --out corpus.jsonl
    python3 tools/gen_corpus.py --size-mb 200 --out corpus.jsonl
    python3 tools/gen_corpus.py --count 1000 --format etl        # ETL module (Module-4) lines
    python3 tools/gen_corpus.py --count 1000 --format capture    # production-capture lines
    python3 tools/gen_corpus.py --size-mb 40 --drift-months 6    # topical vocabulary changes every 6 months

Formats
  strata   {shape fields, domain, timestamp, quality_score?, tags, source?, metadata}
           shape fields: instruction/input/output | prompt/response | messages[{role,content}]
           UTF-8 written raw (ensure_ascii=False), compact separators.
  etl      {instruction, input, output, metadata{record_type, user_id, correlation_id,
           processing_timestamp, source_bucket, source_key, quality_score, record_count,
           processing_duration_seconds, clinical_insights{...}, health_domain}}
           written with json.dumps() defaults, exactly like the seed (ASCII escapes).
  capture  asdict(TrainingExample): {id, timestamp (naive, no offset), source, prompt,
           response, metadata{...}, quality{...}, tags, project_context,
           include_in_training}, json.dumps() defaults like the seed.

"MB" means 10^6 bytes throughout.
"""
from __future__ import annotations

import argparse
import bisect
import hashlib
import json
import math
import random
import sys
from operator import itemgetter
from datetime import datetime, timedelta, timezone

# --------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------

FUNCTION_WORDS = (
    "the of and to a in is that for it with as was on be by this are or at from have an "
    "which not but can if more was has were will all their there been one when also would "
    "into these other than its any may should only some most each such after over before "
    "between during while about through without within per both under same very much "
    "then so because however therefore although".split()
)

COMMON_WORDS = (
    "data time value level patient user system result change rate period day week month "
    "report record average increase decrease trend pattern range target review note "
    "recommend suggest consider monitor check follow update improve reduce maintain "
    "consistent significant moderate mild high low normal elevated stable overall daily "
    "weekly recent current previous initial additional further specific general "
    "important likely possible typical expected observed measured reported estimated "
    "shows indicates remains appears suggests requires includes provides supports "
    "good fair poor better worse clear simple complex detailed brief short long first "
    "last next final main key primary secondary total mean median standard variation "
    "number percent hours minutes readings samples values events session sessions "
    "issue issues question answer request response team customer account service "
    "process step steps approach plan goal context summary analysis insight insights "
    "example case cases factor factors risk risks impact quality control status "
    "evidence guideline guidance practice approach option options limit threshold "
    "window interval baseline score scores model version file files line lines".split()
)

MORE_WORDS = (
    "people work year way thing life hand part place world group problem fact point "
    "government company program room area money story month lot right study book eye job "
    "word business side kind head house friend hour game line end member law car city "
    "community name president team minute idea kid body information back parent face "
    "others level office door health person art war history party morning reason research "
    "girl guy moment air teacher force education foot boy age policy everything process "
    "music market sense nation plan college interest death experience effect class "
    "control care field development role effort rate heart drug show leader light voice "
    "wife police mind price care action cost position record paper space ground form "
    "support event official matter center couple site project activity star table need "
    "court oil situation ability building century land term student condition bed "
    "direction material energy population cause view access benefit application "
    "available easy hard ready strong similar various whole able free full human local "
    "major military national natural physical political private public real recent "
    "single social special true wrong early late able certain clear different difficult "
    "economic environmental financial foreign medical nice personal serious small large "
    "young old new great little own big right open fine whole close common dark "
    "become begin bring build buy call carry change choose come continue create decide "
    "describe develop die draw drive eat expect explain fall feel fight find finish fly "
    "forget get give go grow happen hear help hold include keep kill know learn leave let "
    "lie like listen live look lose love make mean meet move need offer pay pick play "
    "point prepare present produce protect prove pull push put raise reach read receive "
    "remain remember remove report return run save say see seem sell send serve set show "
    "sit speak spend stand start stay stop take talk teach tell tend think throw try "
    "turn understand use visit wait walk want watch wear win wish worry write quickly "
    "often always never usually sometimes already still again almost enough perhaps "
    "really probably simply actually especially finally nearly rather today together"
).split()

DOMAINS = [
    # (name, weight, family, terms)
    ("metabolic_diabetes", 16, "health",
     "glucose insulin HbA1c hypoglycemia hyperglycemia carbohydrate fasting postprandial "
     "metformin CGM basal bolus glycemic A1c ketones dietary sensor meal"),
    ("cardiovascular_fitness", 11, "health",
     "heart HRV RMSSD resting VO2max zone aerobic recovery cardio exercise training "
     "pulse beats arrhythmia endurance interval"),
    ("cardio_hypertension", 9, "health",
     "blood pressure systolic diastolic mmHg hypertension lisinopril amlodipine sodium "
     "cuff orthostatic cardiologist antihypertensive"),
    ("sleep_wellness", 8, "health",
     "sleep REM deep light latency awakenings bedtime circadian insomnia nap efficiency "
     "melatonin restorative apnea"),
    ("physical_activity", 8, "health",
     "steps calories active walking running cadence distance sedentary workout intensity "
     "MET stairs mobility"),
    ("mental_wellness", 5, "health",
     "mood anxiety stress mindfulness journaling resilience therapy coping burnout "
     "breathing gratitude rumination"),
    ("customer_support", 14, "support",
     "refund order ticket shipment invoice subscription password login escalation agent "
     "warranty replacement billing cancellation tracking"),
    ("code_review", 10, "code",
     "function variable refactor pull request test coverage null pointer exception "
     "async thread lock allocation regression benchmark lint dependency"),
    ("roofing_construction", 6, "support",
     "TPO EPDM membrane flashing parapet drain scupper polyiso submittal RFI takeoff "
     "crew OSHA warranty seam substrate"),
    ("legal_contracts", 5, "prose",
     "clause indemnification liability termination warranty agreement party governing "
     "jurisdiction confidentiality breach remedy assignment"),
    ("finance_reporting", 5, "prose",
     "revenue margin EBITDA quarter forecast variance ledger accrual depreciation "
     "cashflow budget reconciliation audit"),
    ("data_engineering", 5, "code",
     "pipeline partition schema parquet backfill DAG Airflow warehouse ingestion "
     "idempotent checkpoint shard latency throughput"),
]

DOMAIN_NAMES = [d[0] for d in DOMAINS]
DOMAIN_WEIGHTS = [d[1] for d in DOMAINS]
DOMAIN_FAMILY = {d[0]: d[2] for d in DOMAINS}
HEALTH_DOMAINS = [d[0] for d in DOMAINS if d[2] == "health"]

ONSETS = "b c d f g h j k l m n p r s t v w br cr dr fl gr pl pr st str tr th sh ch qu".split()
NUCLEI = "a e i o u a e i o ea ou io ia ai".split()
CODAS = ("", "", "n", "r", "s", "t", "l", "m", "nd", "nt", "st", "ct", "ng", "rk")
SUFFIXES = ("", "", "", "ing", "ed", "tion", "ment", "ness", "al", "ive", "ity", "ly", "er", "ous", "able")

NON_ASCII_SNIPPETS = [
    "café au lait", "naïve Bayes", "résumé", "Größe und Gewicht", "señal débil",
    "São Paulo", "Zürich", "crème brûlée", "façade", "coöperate", "Ærø", "Łódź",
    "血糖値が高い", "患者の睡眠データ", "谢谢你的帮助", "数据管道", "訂單已發貨",
    "안녕하세요", "Привет, как дела?", "Ελληνικά", "שלום", "مرحبا",
    "👍", "✅ done", "🚀", "😀", "⚠️ warning", "🩺", "❤️", "→", "°C", "µg/dL", "±5%", "≥ 7.0%",
    "—", "“quoted”", "…", "½ cup", "€12,50", "¥980", "naïve café 🍵",
]

CODE_LINES = [
    "def {w}({v}, {v2}=None):", "    if {v} is None:", "        return []",
    "    for {v2} in {v}:", "        {v}.append({v2})", "    return {v}",
    "let {v} = try {w}({v2}: {n})", "guard let {v} = {v2} else {{ return nil }}",
    "func {w}(_ {v}: [Int]) -> Int {{", "    return {v}.reduce(0, +)", "}}",
    "SELECT {v}, count(*) FROM {w} GROUP BY {v};", "assert {v} == {n}, \"{w} failed\"",
    "// TODO: handle {w} when {v} is empty", "# {w}: {v} must be positive",
    "const {v} = await {w}({v2});", "if ({v} > {n}) {{ throw new Error(\"{w}\"); }}",
    "    self.{v} = {v2}", "print(f\"{{{v}}}\\t{{{v2}}}\")", "x = {v}[\"{w}\"]  # key lookup",
]

# --------------------------------------------------------------------------------------


def _iso_z(dt: datetime, frac: bool) -> str:
    if frac:
        return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (dt.year, dt.month, dt.day, dt.hour, dt.minute,
                                                       dt.second, dt.microsecond // 1000)
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second)


def _iso_us(dt: datetime) -> str:
    """datetime.isoformat() with microseconds always present, no offset."""
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06d" % (dt.year, dt.month, dt.day, dt.hour, dt.minute,
                                                  dt.second, dt.microsecond)


class Generator:
    def __init__(self, seed: int, shape: str = "mixed", dup_rate: float = 0.10,
                 fmt: str = "strata", expected_count: int = 100_000, drift_months: int = 0):
        self.rng = random.Random(seed)
        self.drift_months = drift_months
        self.shape = shape
        self.dup_rate = dup_rate
        self.fmt = fmt
        self.expected = max(1, expected_count)
        self.index = 0
        self.start = datetime(2024, 12, 1, tzinfo=timezone.utc)
        self.span_s = 730 * 86400  # ~24 months
        self.reservoir: list = []  # earlier content for duplicates
        self.reservoir_max = 20000
        self._build_vocab()
        self.base_tables = self.tables
        self.drift_tables = {0: self.tables}

    # ---------------------------------------------------------------- vocabulary
    def _build_vocab(self):
        """Per-domain 65536-entry token tables.  A token is drawn by a uniform 16-bit
        index, so Zipf frequencies are encoded by repetition; sentence ends,
        capitalised sentence starts and paragraph breaks are tokens too.  Drawing n
        tokens is then getrandbits + memoryview + itemgetter: all in C."""
        r = random.Random(0x5EED)  # fixed: vocabulary independent of --seed
        tail = []
        seen = set(FUNCTION_WORDS) | set(COMMON_WORDS) | set(MORE_WORDS)
        while len(tail) < 3000:
            w = "".join(r.choice(ONSETS) + r.choice(NUCLEI) for _ in range(r.choice((1, 2, 2, 3))))
            w += r.choice(CODAS) + r.choice(SUFFIXES)
            if w not in seen and 3 <= len(w) <= 14:
                seen.add(w)
                tail.append(w)
        base = list(dict.fromkeys(list(FUNCTION_WORDS) + list(COMMON_WORDS) + MORE_WORDS)) + tail
        self.words = base
        self.tail_words = tail
        BASE_N = 52000
        weights = [1.0 / (i + 3) ** 1.07 for i in range(len(base))]
        tw = sum(weights)
        spare = BASE_N - len(base)  # every word gets >= 1 slot, the rest by Zipf weight
        counts = [1 + int(w / tw * spare) for w in weights]
        base_tbl = []
        for w, c in zip(base, counts):
            base_tbl.extend([w] * c)
        i = 0
        while len(base_tbl) < BASE_N:  # top up with the most frequent words
            base_tbl.append(base[i % 40]); i += 1
        base_tbl = base_tbl[:BASE_N]
        starters = ("The", "This", "In", "However,", "Overall,", "For", "It", "A", "Most",
                    "These", "Please", "We", "You", "If", "After", "During", "Based on", "Note:")
        self.tables = {}
        for name, _w, fam, terms in DOMAINS:
            t = terms.split()
            dom = []
            n_dom = 65536 - BASE_N
            for _ in range(n_dom):
                u = r.random()
                if u < 0.50:
                    dom.append(r.choice(t))
                elif u < 0.68:
                    dom.append(self._number_phrase(r, name, t))
                elif u < 0.97:  # sentence end + capitalised start
                    dom.append(r.choice(base[:400]) + r.choice(".......?!;:") + " " + r.choice(starters))
                else:
                    dom.append(r.choice(base[:400]) + ".\n\n" + r.choice(starters))
            tbl = base_tbl + dom
            assert len(tbl) == 65536
            self.tables[name] = tbl
        mean_len = {n: sum(len(x) + 1 for x in tb) / len(tb) for n, tb in self.tables.items()}
        self.mean_tok = mean_len
        self.code_lines = CODE_LINES
        self.tags = ("verified needs-review low-confidence high-quality synthetic "
                     "human-labeled edge-case multi-turn safety pii-scrubbed correction "
                     "calculation specs estimating labor followup escalated billing "
                     "onboarding regression performance refactor security docs "
                     "glucose sleep hrv hypertension activity mood triage urgent "
                     "faq policy translation summarization classification extraction").split()
        self.sources = ("health_etl_module4 chat api user_correction verified_calculation "
                        "spec_interpretation lora_export event_log_builder synthetic "
                        "human_annotation support_widget code_assistant").split()
        self.source_weights = [10, 14, 8, 3, 2, 2, 6, 4, 5, 3, 7, 6]

    def _epoch_tables(self, epoch: int) -> dict:
        """The token tables of drift epoch `epoch`: function and common words stay,
        the invented tail words and every domain term are replaced by words
        invented for that epoch (a topic shift; the Zipf ranks are kept)."""
        if epoch not in self.drift_tables:
            r = random.Random(0x5EED + 7919 * epoch)
            seen = set(self.words)
            for tb in self.base_tables.values():
                seen.update(t for tok in tb for t in tok.split(" "))
            old = list(self.tail_words) + sorted({t for _n, _w, _f, terms in DOMAINS for t in terms.split()})
            sub = {}
            for w in old:
                while True:
                    n = "".join(r.choice(ONSETS) + r.choice(NUCLEI) for _ in range(r.choice((1, 2, 2, 3))))
                    n += r.choice(CODAS) + r.choice(SUFFIXES)
                    if n not in seen and 3 <= len(n) <= 14:
                        break
                seen.add(n)
                sub[w] = n
            self.drift_tables[epoch] = {
                name: [" ".join(sub.get(t, t) for t in tok.split(" ")) for tok in tb]
                for name, tb in self.base_tables.items()}
        return self.drift_tables[epoch]

    @staticmethod
    def _number_phrase(r, domain, terms):
        fam = DOMAIN_FAMILY[domain]
        if domain == "metabolic_diabetes":
            return r.choice(("%d mg/dL" % r.randint(55, 320), "HbA1c %.1f%%" % r.uniform(5.0, 11.5),
                             "%d%% time in range" % r.randint(30, 95), "CV %d%%" % r.randint(18, 48)))
        if domain in ("cardiovascular_fitness", "physical_activity"):
            return r.choice(("%d bpm" % r.randint(48, 185), "%d steps" % r.randint(800, 24000),
                             "RMSSD %d ms" % r.randint(12, 110), "%d kcal" % r.randint(80, 1400)))
        if domain == "cardio_hypertension":
            return "%d/%d mmHg" % (r.randint(100, 185), r.randint(60, 115))
        if domain == "sleep_wellness":
            return r.choice(("%.1f hours" % r.uniform(3.5, 9.8), "%d%% efficiency" % r.randint(60, 98),
                             "%d awakenings" % r.randint(0, 12)))
        if fam == "code":
            return r.choice(("line %d" % r.randint(1, 2400), "%d ms p95" % r.randint(3, 900),
                             "v%d.%d.%d" % (r.randint(0, 9), r.randint(0, 30), r.randint(0, 20)),
                             "%d%% coverage" % r.randint(20, 99)))
        if domain == "finance_reporting":
            return "$%s" % format(r.randint(1000, 9_000_000), ",")
        if domain == "customer_support":
            return r.choice(("order #%d" % r.randint(100000, 999999), "ticket %d" % r.randint(10000, 99999),
                             "%d business days" % r.randint(1, 14)))
        return "%d %s" % (r.randint(2, 500), r.choice(terms))

    # ---------------------------------------------------------------- prose
    def text(self, domain: str, nbytes: int, paragraphs: bool = True) -> str:
        """Prose of approximately nbytes bytes."""
        n = max(2, int(nbytes / self.mean_tok[domain]))
        idx = memoryview(self.rng.getrandbits(16 * n).to_bytes(2 * n, "little")).cast("H")
        s = " ".join(itemgetter(*idx)(self.tables[domain]))
        if not paragraphs:
            s = s.replace("\n\n", " ")
        c = s[0]
        if c.islower():
            s = c.upper() + s[1:]
        if s[-1] not in ".?!":
            s += "."
        if len(s) < 50 <= nbytes:  # short draw: keep fields >= ~50 B
            s = s + " " + self.text(domain, 60, paragraphs)
        return s

    def code_block(self) -> str:
        rng = self.rng
        lines = rng.choices(self.code_lines, k=rng.randint(3, 14))
        w = rng.choice(self.words[200:3000])
        v = rng.choice(("items", "rows", "buf", "result", "cfg", "ctx", "batch", "acc"))
        v2 = rng.choice(("x", "item", "row", "opts", "key", "n", "value"))
        n = rng.randint(0, 4096)
        body = "\n".join(l.format(w=w, v=v, v2=v2, n=n) for l in lines)
        return "```\n" + body + "\n```"

    def field_bytes(self, median: int, sigma: float = 0.9, lo: int = 50, hi: int = 8000) -> int:
        b = int(self.rng.lognormvariate(math.log(median), sigma))
        return lo if b < lo else hi if b > hi else b

    def sprinkle_non_ascii(self, s: str) -> str:
        rng = self.rng
        parts = s.split(" ")
        for _ in range(rng.randint(1, 4)):
            parts.insert(rng.randrange(len(parts) + 1), rng.choice(NON_ASCII_SNIPPETS))
        return " ".join(parts)

    # ---------------------------------------------------------------- content
    def content(self, shape: str, domain: str) -> dict:
        rng = self.rng
        fam = DOMAIN_FAMILY[domain]
        codey = fam == "code" and rng.random() < 0.6
        if shape == "instruction":
            instr = self.text(domain, self.field_bytes(120, 0.6, 30, 600), paragraphs=False)
            inp = "" if rng.random() < 0.3 else self.text(domain, self.field_bytes(280, 1.0))
            if codey and inp:
                inp = inp + "\n\n" + self.code_block()
            out = self.text(domain, self.field_bytes(560, 0.9))
            c = {"instruction": instr, "input": inp, "output": out}
        elif shape == "prompt_response":
            p = self.text(domain, self.field_bytes(180, 0.9), paragraphs=False)
            if codey:
                p = p + "\n\n" + self.code_block()
            resp = self.text(domain, self.field_bytes(650, 0.9))
            if codey and rng.random() < 0.5:
                resp = resp + "\n\n" + self.code_block()
            c = {"prompt": p, "response": resp}
        else:
            msgs = []
            if rng.random() < 0.7:
                msgs.append({"role": "system",
                             "content": self.text(domain, self.field_bytes(160, 0.5, 40, 1200), False)})
            turns = rng.choice((1, 1, 2, 2, 3, 4, 5))
            for t in range(turns):
                msgs.append({"role": "user",
                             "content": self.text(domain, self.field_bytes(130, 0.8), False)})
                if rng.random() < 0.01:
                    msgs.append({"role": "tool",
                                 "content": json.dumps({"result": rng.randint(0, 999), "ok": True})})
                msgs.append({"role": "assistant",
                             "content": self.text(domain, self.field_bytes(300, 0.9))})
            c = {"messages": msgs}
        if rng.random() < 0.04:
            # non-ASCII in one field
            if "messages" in c:
                m = rng.choice(c["messages"])
                m["content"] = self.sprinkle_non_ascii(m["content"])
            else:
                k = rng.choice([k for k in c if c[k]])
                c[k] = self.sprinkle_non_ascii(c[k])
        return c

    # ---------------------------------------------------------------- envelope
    def timestamp(self) -> datetime:
        rng = self.rng
        if rng.random() < 0.05:  # backfill: anywhere in the range
            off = rng.random() * self.span_s
        else:
            frac = min(1.0, (self.index - 1) / self.expected)
            # growth: sqrt spreads more records into later months
            off = math.sqrt(frac) * self.span_s + rng.uniform(-3, 3) * 86400
            off = min(max(off, 0.0), self.span_s - 1)
        return self.start + timedelta(seconds=off)

    def hexid(self, n: int) -> str:
        return "%0*x" % (n, self.rng.getrandbits(4 * n))

    def health_metadata(self, domain: str, ts: datetime, qs) -> dict:
        rng = self.rng
        rt = {
            "metabolic_diabetes": "BloodGlucoseRecord",
            "cardiovascular_fitness": rng.choice(("HeartRateRecord", "HeartRateVariabilityRmssdRecord")),
            "sleep_wellness": "SleepSessionRecord",
            "physical_activity": rng.choice(("StepsRecord", "ActiveCaloriesBurnedRecord")),
            "cardio_hypertension": "BloodPressureRecord",
            "mental_wellness": "MindfulnessSessionRecord",
        }.get(domain, "HealthRecord")
        user = "user%d" % rng.randint(1, 5000)
        secs = int(ts.timestamp())
        count = rng.randint(5, 2000)
        return {
            "record_type": rt,
            "user_id": user,
            "correlation_id": "%s-%s-%s" % (self.hexid(8), self.hexid(4), self.hexid(12)),
            "processing_timestamp": _iso_us(ts + timedelta(seconds=rng.randint(1, 900))) + "Z",
            "source_bucket": "health-data",
            "source_key": "raw/%s/%s/%s_%d_%s.avro" % (rt, "%04d/%02d/%02d" % (ts.year, ts.month, ts.day), user, secs, self.hexid(6)),
            "quality_score": qs if qs is not None else 0.0,
            "record_count": count,
            "processing_duration_seconds": round(rng.uniform(0.2, 9.0), 2),
            "clinical_insights": self.insights(rt, count),
            "health_domain": _etl_domain(rt),
        }

    def insights(self, rt: str, count: int) -> dict:
        rng = self.rng
        if rt == "BloodGlucoseRecord":
            return {"control_status": rng.choice(("good", "fair", "poor")),
                    "hypoglycemic_events": rng.randint(0, 12),
                    "hyperglycemic_events": rng.randint(0, 80),
                    "total_readings": count,
                    "mean_glucose": round(rng.uniform(85, 220), 1)}
        if rt.startswith("HeartRate"):
            return {"resting_hr": rng.randint(48, 90), "max_hr": rng.randint(120, 195),
                    "total_samples": count, "trend": rng.choice(("improving", "stable", "declining"))}
        if rt == "SleepSessionRecord":
            return {"avg_duration_hours": round(rng.uniform(4.5, 9.5), 1),
                    "sleep_efficiency": round(rng.uniform(0.6, 0.98), 2), "total_samples": count}
        return {"total_samples": count, "trend": rng.choice(("improving", "stable", "declining"))}

    def capture_metadata(self, c: dict) -> dict:
        rng = self.rng
        p = c.get("prompt") or c.get("instruction") or ""
        r = c.get("response") or c.get("output") or ""
        return {
            "skill_used": rng.choice(("qa", "calculator", "spec_lookup", "drafting", "triage", "summarize")),
            "tier_handled": rng.choice((1, 1, 2, 3)),
            "latency_ms": rng.randint(80, 9000),
            "user_id": "u_" + self.hexid(10),
            "prompt_tokens": p.count(" ") + 1,
            "response_tokens": r.count(" ") + 1,
        }

    def quality_signals(self, qs) -> dict:
        rng = self.rng
        fb = rng.choices((None, "positive", "negative"), weights=(80, 15, 5))[0]
        return {"user_feedback": fb,
                "was_corrected": rng.random() < 0.03,
                "verified_accurate": True if fb == "positive" else None,
                "domain_relevance": rng.choice(("high", "medium", "low")),
                "auto_score": qs if qs is not None else 0.5}

    def quality(self):
        r = self.rng
        if r.random() < 0.15:
            return None
        return round(r.betavariate(5, 2), 3)

    def pick_shape(self) -> str:
        if self.shape != "mixed":
            return self.shape
        return self.rng.choices(("instruction", "prompt_response", "chat"), weights=(40, 35, 25))[0]

    # ---------------------------------------------------------------- records
    def next_record(self) -> dict:
        rng = self.rng
        self.index += 1
        dup = self.reservoir and rng.random() < self.dup_rate
        ts = None
        if self.drift_months and not dup:
            # The month decides the vocabulary, so the timestamp comes first.
            ts = self.timestamp()
            months = (ts.year - self.start.year) * 12 + ts.month - self.start.month
            self.tables = self._epoch_tables(months // self.drift_months)
        if dup:
            domain, shape, content = rng.choice(self.reservoir)
            content = json.loads(json.dumps(content))  # fresh copy, same content
        else:
            if self.fmt == "etl":
                domain, shape = rng.choice(HEALTH_DOMAINS), "instruction"
            elif self.fmt == "capture":
                domain, shape = rng.choices(DOMAIN_NAMES, weights=DOMAIN_WEIGHTS)[0], "prompt_response"
            else:
                domain = rng.choices(DOMAIN_NAMES, weights=DOMAIN_WEIGHTS)[0]
                shape = self.pick_shape()
            content = self.content(shape, domain)
            item = (domain, shape, content)
            if len(self.reservoir) < self.reservoir_max:
                self.reservoir.append(item)
            else:
                j = rng.randrange(self.index)
                if j < self.reservoir_max:
                    self.reservoir[j] = item
        if ts is None:
            ts = self.timestamp()
        qs = self.quality()
        if self.fmt == "etl":
            return self.etl_record(domain, content, ts, qs)
        if self.fmt == "capture":
            return self.capture_record(domain, content, ts, qs)
        rec = dict(content)
        rec["domain"] = domain
        rec["timestamp"] = _iso_z(ts, rng.random() < 0.25)
        if qs is not None:
            rec["quality_score"] = qs
        rec["tags"] = rng.sample(self.tags, rng.choice((0, 1, 1, 2, 2, 3, 4)))
        if rng.random() < 0.9:
            rec["source"] = rng.choices(self.sources, weights=self.source_weights)[0]
        fam = DOMAIN_FAMILY[domain]
        u = rng.random()
        if fam == "health" and u < 0.8:
            rec["metadata"] = self.health_metadata(domain, ts, qs)
        elif u < 0.85:
            md = self.capture_metadata(content)
            md["quality"] = self.quality_signals(qs)
            md["project_context"] = rng.choice(("general", "acme-hq", "riverside-school", "beta"))
            rec["metadata"] = md
        else:
            rec["metadata"] = {}
        return rec

    def etl_record(self, domain, content, ts, qs) -> dict:
        md = self.health_metadata(domain, ts, qs)
        rt = md["record_type"]
        instr, tmpl = ETL_INSTR.get(rt, ETL_DEFAULT)
        total = md["clinical_insights"].get("total_readings", md["clinical_insights"].get("total_samples", 0))
        # Module 4 computes instruction/input from the record type; output is the narrative.
        return {"instruction": instr,
                "input": "%s Total measurements: %d." % (tmpl, total) if total else tmpl,
                "output": content.get("output") or content.get("response") or "",
                "metadata": md}

    def capture_record(self, domain, content, ts, qs) -> dict:
        rng = self.rng
        prompt = content.get("prompt") or content.get("instruction") or ""
        response = content.get("response") or content.get("output") or ""
        naive = ts.replace(tzinfo=None)
        h = hashlib.md5((prompt + response + naive.isoformat()).encode()).hexdigest()[:8]
        tags = rng.sample(self.tags, rng.choice((1, 1, 2, 3)))
        return {
            "id": "train_%s_%s" % (naive.strftime("%Y%m%d_%H%M%S"), h),
            "timestamp": _iso_us(naive),
            "source": rng.choice(("chat", "chat", "chat", "verified_correction", "calculation",
                                  "verified_calculation", "spec_interpretation", "rfi_generation")),
            "prompt": prompt.strip(),
            "response": response.strip(),
            "metadata": self.capture_metadata(content),
            "quality": self.quality_signals(qs),
            "tags": tags,
            "project_context": rng.choice(("general", "acme-hq", "riverside-school", "beta")),
            "include_in_training": rng.random() < 0.97,
        }


ETL_INSTR = {
    "BloodGlucoseRecord": ("Analyze this blood glucose data and provide clinical insights.",
                           "Blood glucose data including fasting, post-meal, and overnight readings."),
    "HeartRateRecord": ("Analyze this heart rate data and provide cardiovascular insights.",
                        "Heart rate measurements including resting, active, and exercise sessions."),
    "SleepSessionRecord": ("Analyze this sleep data and provide sleep quality insights.",
                           "Sleep session data including duration, timing, and sleep stages."),
    "StepsRecord": ("Analyze this daily activity data and provide fitness insights.",
                    "Daily step count data showing activity patterns."),
    "ActiveCaloriesBurnedRecord": ("Analyze this calorie burn data and provide activity insights.",
                                   "Active calories burned during exercise and daily activities."),
    "HeartRateVariabilityRmssdRecord": ("Analyze this heart rate variability data and provide recovery insights.",
                                        "HRV RMSSD measurements indicating cardiovascular fitness and recovery."),
}
ETL_DEFAULT = ("Analyze this health data and provide clinical insights.",
                   "Health data measurements from mobile health tracking.")
ETL_DOMAIN = {
    "BloodGlucoseRecord": "metabolic_diabetes",
    "HeartRateRecord": "cardiovascular_fitness",
    "SleepSessionRecord": "sleep_wellness",
    "StepsRecord": "physical_activity",
    "ActiveCaloriesBurnedRecord": "physical_activity",
    "HeartRateVariabilityRmssdRecord": "cardiovascular_fitness",
}


def _etl_domain(rt: str) -> str:
    return ETL_DOMAIN.get(rt, "general_health")


def _accumulate(ws):
    t = 0.0
    for w in ws:
        t += w
        yield t


CONTENT_KEYS = ("instruction", "input", "output", "prompt", "response", "messages")


def content_key(obj: dict) -> str:
    """Canonical content string used by tests/peers for duplicate detection."""
    return json.dumps({k: obj[k] for k in CONTENT_KEYS if k in obj}, sort_keys=True,
                      ensure_ascii=False, separators=(",", ":"))


def generate(out, count=None, size_mb=None, seed=0, shape="mixed", dup_rate=0.10, fmt="strata", drift_months=0):
    """Write records to binary stream `out`. Returns (records, bytes)."""
    if count is None and size_mb is None:
        count = 1000
    limit = int(size_mb * 1_000_000) if size_mb is not None else None
    expected = count if count is not None else int(limit / 1700) + 1
    g = Generator(seed, shape=shape, dup_rate=dup_rate, fmt=fmt, expected_count=expected, drift_months=drift_months)
    if fmt == "strata":
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    else:
        dumps = json.JSONEncoder().encode  # json.dumps() defaults, like the seeds
    n = 0
    total = 0
    buf = []
    while True:
        if count is not None and n >= count:
            break
        if limit is not None and total >= limit:
            break
        b = (dumps(g.next_record()) + "\n").encode("utf-8")
        buf.append(b)
        total += len(b)
        n += 1
        if len(buf) >= 512:
            out.write(b"".join(buf))
            buf.clear()
    if buf:
        out.write(b"".join(buf))
    return n, total


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, help="number of records (default 1000 if no --size-mb)")
    ap.add_argument("--size-mb", type=float, help="stop once about this many MB (10^6 B) are written")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shape", choices=("mixed", "instruction", "prompt_response", "chat"), default="mixed")
    ap.add_argument("--dup-rate", type=float, default=0.10, help="fraction of records repeating earlier content")
    ap.add_argument("--format", dest="fmt", choices=("strata", "etl", "capture"), default="strata",
                    help="strata | etl (ETL module files) | capture (production capture)")
    ap.add_argument("--drift-months", type=int, default=0,
                    help="replace the topical vocabulary every N months (0: one vocabulary, the default)")
    ap.add_argument("--out", help="output file (default stdout)")
    ap.add_argument("--stats", action="store_true", help="print records/bytes/MB/s to stderr")
    a = ap.parse_args(argv)
    import time
    t0 = time.perf_counter()
    c0 = time.process_time()
    if a.out and a.out != "-":
        with open(a.out, "wb", buffering=1 << 20) as f:
            n, b = generate(f, a.count, a.size_mb, a.seed, a.shape, a.dup_rate, a.fmt, a.drift_months)
    else:
        n, b = generate(sys.stdout.buffer, a.count, a.size_mb, a.seed, a.shape, a.dup_rate, a.fmt, a.drift_months)
        sys.stdout.buffer.flush()
    dt = time.perf_counter() - t0
    ct = time.process_time() - c0
    if a.stats:
        print("records=%d bytes=%d seconds=%.2f MB/s=%.1f cpu_seconds=%.2f MB/cpu-s=%.1f"
              % (n, b, dt, b / 1e6 / dt, ct, b / 1e6 / ct), file=sys.stderr)


if __name__ == "__main__":
    main()
