"""A prompt/response collector inside a service: capture each exchange, take
feedback and corrections as they arrive, exclude what must not be trained on,
and export a training set.

    python collector.py STORE_DIR EXPORT_DIR
"""
import datetime as dt
import sys

import strata


class Collector:
    def __init__(self, path):
        # "batch": every call is durable when it returns (a crash loses nothing acknowledged).
        self.store = strata.Store.open(path, commit="batch")

    def capture(self, prompt, response, *, project, channel="api", tags=(), relevance=None):
        r = self.store.append({
            "prompt": prompt, "response": response, "domain": project,
            "timestamp": dt.datetime.now(dt.timezone.utc), "source": channel,
            "tags": list(tags), "quality_score": relevance, "metadata": {"channel": channel},
        })
        return r.id  # the same content always gets the same id (r.inserted is False for a repeat)

    def feedback(self, example_id, positive, rating=None, comment=None):
        self.store.annotate(example_id, feedback="positive" if positive else "negative", rating=rating, comment=comment)

    def correct(self, example_id, better_response, reason=None):
        self.store.annotate(example_id, correction=better_response, reason=reason)

    def exclude(self, example_id, reason):
        self.store.annotate(example_id, exclude=True, reason=reason)

    def export_training_set(self, out):
        # Chat-format JSONL, negative feedback and excluded examples left out, deterministic split.
        return self.store.export(out, format="jsonl", schema="chat", feedback="drop-negative",
                                 min_quality=0.5, split={"train": 0.9, "validation": 0.1})

    def close(self):
        self.store.close()


def main(store_dir, out_dir):
    c = Collector(store_dir)
    try:
        ids = [c.capture(f"How do I rotate API key #{i}?", f"Open settings, then keys, then rotate key {i}.",
                         project="support", tags=["howto"], relevance=0.6 + (i % 4) / 10) for i in range(40)]
        c.feedback(ids[0], positive=True, rating=5)
        c.feedback(ids[1], positive=False, comment="outdated")
        c.correct(ids[2], "Settings → Security → API keys → Rotate.", reason="UI changed")
        c.exclude(ids[3], reason="contains a customer email")
        again = c.capture("How do I rotate API key #5?", "Open settings, then keys, then rotate key 5.", project="support")
        assert again == ids[5]  # a repeated capture is recognised, not stored twice
        summary = c.export_training_set(out_dir)
        print(f"captured {len(ids)}, exported {summary.rows} rows to {out_dir}: {', '.join(summary.files)}")
    finally:
        c.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
