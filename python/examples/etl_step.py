"""An ETL step: turn source records into training examples, append each one
to the store as it is produced (dedup by content, partitioned by domain and
month), then export one JSONL file per domain and month for the trainers.

Replaces the pattern "download the month's JSONL, append, upload it again,
dedup with sha256 in a side database".

    python etl_step.py STORE_DIR EXPORT_DIR
"""
import datetime as dt
import sys

import strata

DOMAINS = ["metabolic_diabetes", "cardiology", "mental_health"]


def source_records(n):
    """Stand-in for the upstream system (clinical narratives with a little bookkeeping)."""
    start = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    for i in range(n):
        yield {"narrative": f"Patient {i % 17} reports symptom set {i % 11}.", "source_key": f"bucket/key-{i % 90}",
               "user_id": f"user-{i % 17}", "when": start + dt.timedelta(days=i % 90), "domain": DOMAINS[i % 3],
               "score": (i % 10) / 10}


def transform(rec):
    return {
        "instruction": "Summarize the clinical narrative and list follow-up actions.",
        "input": rec["narrative"],
        "output": f"Summary of: {rec['narrative']} Follow up in {1 + len(rec['narrative']) % 4} weeks.",
        "domain": rec["domain"], "timestamp": rec["when"], "quality_score": rec["score"],
        "source": "etl-module-4", "tags": ["clinical"],
        "metadata": {"record_type": "clinical_summary", "source_key": rec["source_key"]},
    }


def main(store_dir, out_dir):
    new = dup = bad = 0
    with strata.Store.open(store_dir) as store:
        for rec in source_records(300):
            try:
                r = store.append(transform(rec))
            except strata.InvalidInputError as e:  # a bad record is reported, the step goes on
                bad += 1
                print(f"skipped: {e}", file=sys.stderr)
                continue
            new, dup = new + r.inserted, dup + (not r.inserted)
        # One JSONL file per domain and month, under the ETL module's object names:
        # DOMAIN/YYYY/MM/health_journal_YYYY_MM.jsonl
        summary = store.export(out_dir, format="jsonl", schema="alpaca", layout="etl", file_name="health_journal",
                               min_quality=0.3)
    print(f"appended {new} new, {dup} duplicates, {bad} rejected; exported {summary.rows} rows in {len(summary.files)} files")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
