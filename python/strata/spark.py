"""A PySpark (4.x) data source reading a Strata store directly: ``spark.read.format("strata").load(path)``.

    import strata.spark
    strata.spark.register(spark)
    df = spark.read.format("strata").load("/data/store")
    df.where("domain = 'alpha' AND month >= '2025-03' AND quality_score >= 0.8").count()

- One Spark partition per store partition (domain × month; the option
  ``partitionsPerTask`` groups several per task); each task opens its
  own snapshot (``strata.Reader``) on the executor, so the store directory must
  be reachable at the same path there (a shared or local file system).
- The folded view, with the columns — names, order and types — of the Parquet
  export (SPEC.md §8.7, non-partitioned): content as ingested, ``corrected``,
  ``feedback_positive``/``feedback_negative``; excluded examples are left out
  unless the option ``includeExcluded`` is "true".
- Filter push-down (Spark ≥ 4.1 ``pushFilters``; ``register`` sets
  ``spark.sql.python.filterPushdown.enabled=true``, without which Spark refuses
  the reader): ``domain`` and ``month``
  comparisons (=, IN, <, <=, >, >=) prune partitions and are not re-evaluated;
  ``quality_score >= x`` / ``> x`` are applied in the scan (``>`` is also left for
  Spark to re-check). Other filters are Spark's.
"""
from __future__ import annotations

import datetime as _dt
from typing import Any, Iterator, List, Optional, Sequence, Tuple

from pyspark.sql.datasource import (DataSource, DataSourceReader, EqualTo, Filter, GreaterThan, GreaterThanOrEqual, In,
                                    InputPartition, LessThan, LessThanOrEqual)
from pyspark.sql.types import (ArrayType, BooleanType, DoubleType, LongType, StringType, StructField, StructType,
                               TimestampType)

from .store import Reader

#: The Parquet export's columns (Exporter.parquetSchema(partitioned: false)) as Spark types.
SCHEMA = StructType([
    StructField("id", StringType(), False),
    StructField("shape", StringType(), False),
    StructField("domain", StringType(), False),
    StructField("month", StringType(), False),
    StructField("timestamp", TimestampType(), False),
    StructField("quality_score", DoubleType(), True),
    StructField("tags", ArrayType(StringType(), False), False),
    StructField("source", StringType(), True),
    StructField("instruction", StringType(), True),
    StructField("input", StringType(), True),
    StructField("output", StringType(), True),
    StructField("prompt", StringType(), True),
    StructField("response", StringType(), True),
    StructField("messages", ArrayType(StructType([StructField("role", StringType(), False),
                                                  StructField("content", StringType(), False)]), False), True),
    StructField("metadata", StringType(), False),
    StructField("feedback_positive", LongType(), False),
    StructField("feedback_negative", LongType(), False),
    StructField("excluded", BooleanType(), False),
    StructField("corrected", StringType(), True),
])
_COLUMNS = [f.name for f in SCHEMA.fields]
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


class StrataPartition(InputPartition):
    """The store partitions (domain × month) one Spark task reads: one by default."""

    def __init__(self, parts: List[Tuple[str, str]]) -> None:
        super().__init__(parts)
        self.parts = parts


class _Range:
    """Allowed values of a string column: an optional set and bounds (from pushed filters)."""

    def __init__(self) -> None:
        self.values: Optional[set] = None
        self.lo: Optional[Tuple[str, bool]] = None  # (bound, inclusive)
        self.hi: Optional[Tuple[str, bool]] = None

    def admits(self, v: str) -> bool:
        if self.values is not None and v not in self.values:
            return False
        if self.lo and (v < self.lo[0] or (v == self.lo[0] and not self.lo[1])):
            return False
        if self.hi and (v > self.hi[0] or (v == self.hi[0] and not self.hi[1])):
            return False
        return True

    def push(self, f: Filter) -> bool:
        """Records the filter; False when it is not a comparison this range can hold."""
        if isinstance(f, EqualTo) and isinstance(f.value, str):
            vals = {f.value}
        elif isinstance(f, In) and all(isinstance(v, str) for v in f.value):
            vals = set(f.value)
        elif isinstance(f, (GreaterThan, GreaterThanOrEqual)) and isinstance(f.value, str):
            b = (f.value, isinstance(f, GreaterThanOrEqual))
            self.lo = b if self.lo is None or b[0] > self.lo[0] or (b[0] == self.lo[0] and not b[1]) else self.lo
            return True
        elif isinstance(f, (LessThan, LessThanOrEqual)) and isinstance(f.value, str):
            b = (f.value, isinstance(f, LessThanOrEqual))
            self.hi = b if self.hi is None or b[0] < self.hi[0] or (b[0] == self.hi[0] and not b[1]) else self.hi
            return True
        else:
            return False
        self.values = vals if self.values is None else self.values & vals
        return True


class StrataDataSourceReader(DataSourceReader):
    def __init__(self, path: str, include_excluded: bool, per_task: int = 1) -> None:
        self.path = path
        self.include_excluded = include_excluded
        self.per_task = max(1, per_task)
        self.domain = _Range()
        self.month = _Range()
        self.min_quality: Optional[float] = None

    def pushFilters(self, filters: List[Filter]) -> Iterator[Filter]:
        for f in filters:
            col = f.attribute[0] if len(getattr(f, "attribute", ())) == 1 else None
            if col == "domain" and self.domain.push(f):
                continue
            if col == "month" and self.month.push(f):
                continue
            if col == "quality_score" and isinstance(f, (GreaterThan, GreaterThanOrEqual)) and isinstance(f.value, (int, float)) \
                    and not isinstance(f.value, bool):
                q = float(f.value)
                if 0 <= q <= 1:
                    self.min_quality = q if self.min_quality is None else max(self.min_quality, q)
                    if isinstance(f, GreaterThanOrEqual):
                        continue  # exactly the scan's min_quality
            yield f

    def partitions(self) -> Sequence[InputPartition]:
        with Reader(self.path) as r:
            parts = r.partitions()
        keep = [(p["domain"], p["month"]) for p in parts if self.domain.admits(p["domain"]) and self.month.admits(p["month"])]
        return [StrataPartition(keep[i:i + self.per_task]) for i in range(0, len(keep), self.per_task)]

    def read(self, partition: InputPartition) -> Iterator[Tuple[Any, ...]]:
        assert isinstance(partition, StrataPartition)
        with Reader(self.path) as r:
            for domain, month in partition.parts:
                yield from self._rows(r, domain, month)

    def _rows(self, r: Reader, domain: str, month: str) -> Iterator[Tuple[Any, ...]]:
        epoch, delta = _EPOCH, _dt.timedelta
        for e in r.scan(domain=domain, from_month=month, to_month=month, min_quality=self.min_quality,
                        include_excluded=self.include_excluded, view="export"):
            msgs = e["messages"]
            yield (e["id"], e["shape"], e["domain"], e["month"], epoch + delta(milliseconds=e["timestamp"]), e["quality_score"],
                   e["tags"], e["source"], e["instruction"], e["input"], e["output"], e["prompt"], e["response"],
                   None if msgs is None else [(m["role"], m["content"]) for m in msgs], e["metadata"],
                   e["feedback_positive"], e["feedback_negative"], e["excluded"], e["corrected"])


class StrataDataSource(DataSource):
    """``spark.read.format("strata").load(path)``. Options: ``includeExcluded`` ("true"/"false", default false);
    ``partitionsPerTask`` (default 1: one Spark partition per store partition; a larger value groups that many
    consecutive store partitions into one task, for stores of many small partitions)."""

    @classmethod
    def name(cls) -> str:
        return "strata"

    def schema(self) -> StructType:
        return SCHEMA

    def reader(self, schema: StructType) -> DataSourceReader:
        path = self.options.get("path")
        if not path:
            raise ValueError('give the store directory: spark.read.format("strata").load(path)')
        try:
            per_task = int(self.options.get("partitionsPerTask", "1"))
        except ValueError:
            raise ValueError("option partitionsPerTask must be a positive integer") from None
        return StrataDataSourceReader(path, str(self.options.get("includeExcluded", "false")).lower() == "true", per_task)


def register(spark: Any) -> None:
    """Registers the "strata" format with a SparkSession and turns on Python data source filter push-down
    (``spark.sql.python.filterPushdown.enabled``: Spark refuses a reader with ``pushFilters`` while it is off)."""
    spark.conf.set("spark.sql.python.filterPushdown.enabled", "true")
    spark.dataSource.register(StrataDataSource)
