"""The Spark data source, in local mode, against the Parquet export of the same store."""
from __future__ import annotations

import json
import os
import shutil
import sys

import pytest
import strata

from conftest import run_cli

pyspark = pytest.importorskip("pyspark")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("no Java runtime for Spark", allow_module_level=True)


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    import strata.spark as ss

    # Python workers must import the same installed strata as the driver.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    s = (SparkSession.builder.master("local[2]").appName("strata-tests")
         .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
         .config("spark.sql.session.timeZone", "UTC")
         .getOrCreate())
    ss.register(s)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from conftest import gen_corpus
    d = tmp_path_factory.mktemp("spark")
    corpus = gen_corpus(d / "c.jsonl", 800, 3)
    # Three months only: fewer store partitions, so fewer Spark tasks (the suite's time budget).
    lines = corpus.read_text(encoding="utf-8").splitlines()
    fixed = []
    for i, line in enumerate(lines):
        e = json.loads(line)
        e["timestamp"] = "2025-%02d" % (1 + i % 3) + e["timestamp"][7:]
        fixed.append(json.dumps(e, ensure_ascii=False))
    corpus.write_text("\n".join(fixed) + "\n", encoding="utf-8")
    with strata.Store.open(d / "s") as s:
        s.ingest_jsonl(corpus)
        ids = [e["id"] for e in s.scan()]
        s.annotate(ids[0], exclude=True)
        s.annotate(ids[1], feedback="positive")
        s.annotate(ids[2], correction="corrected text")
    run_cli("export", str(d / "s"), "--out", str(d / "pq"), "--format", "parquet")
    return d


def _rows(df):
    cols = df.columns
    return sorted(tuple(str(r[c]) for c in cols) for r in df.collect())


def test_schema_equals_the_parquet_export(spark, store):
    df = spark.read.format("strata").load(str(store / "s"))
    pq = spark.read.parquet(str(store / "pq" / "data" / "data.parquet"))
    assert [(f.name, f.dataType.simpleString()) for f in df.schema.fields] == \
           [(f.name, f.dataType.simpleString()) for f in pq.schema.fields]


def test_counts_and_content_equal_the_parquet_export(spark, store):
    df = spark.read.format("strata").load(str(store / "s"))
    pq = spark.read.parquet(str(store / "pq" / "data" / "data.parquet"))
    assert df.count() == pq.count() > 0
    assert _rows(df) == _rows(pq)
    with strata.Reader(store / "s") as r:
        assert df.rdd.getNumPartitions() == len(r.partitions())


def test_filters_on_domain_month_quality_prune_and_match_the_export(spark, store):
    df = spark.read.format("strata").load(str(store / "s"))
    with strata.Reader(store / "s") as r:
        parts = r.partitions()
    dom = parts[0]["domain"]
    cond = f"domain = '{dom}' AND month >= '2025-02' AND quality_score >= 0.5"
    got = df.where(cond)
    run_cli("export", str(store / "s"), "--out", str(store / "pq-f"), "--format", "parquet", "--domain", dom,
            "--from-month", "2025-02", "--min-quality", "0.5")
    want = spark.read.parquet(str(store / "pq-f" / "data" / "data.parquet"))
    assert _rows(got) == _rows(want)
    expected_parts = [p for p in parts if p["domain"] == dom and p["month"] >= "2025-02"]
    assert got.rdd.getNumPartitions() == len(expected_parts)  # pruned: one Spark partition per selected store partition
    grouped = spark.read.format("strata").option("partitionsPerTask", "2").load(str(store / "s")).where(cond)
    assert grouped.rdd.getNumPartitions() == (len(expected_parts) + 1) // 2
    assert _rows(grouped) == _rows(want)


def test_excluded_examples_only_with_the_option(spark, store):
    all_rows = spark.read.format("strata").option("includeExcluded", "true").load(str(store / "s"))
    by = {r["excluded"]: r["count"] for r in all_rows.groupBy("excluded").count().collect()}
    pq = spark.read.parquet(str(store / "pq" / "data" / "data.parquet"))
    assert by[True] == 1
    assert by[False] == pq.count()
