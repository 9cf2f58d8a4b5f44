"""Store (the writer) and Reader (a read-only snapshot) over the Strata C ABI."""
from __future__ import annotations

import ctypes
import datetime as _dt
import json
import os
import weakref
from ctypes import c_int32, c_void_p
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, TypeVar, Union

from . import _native
from ._native import lib
from .errors import InvalidInputError, NotFoundError, UsageError

PathLike = Union[str, "os.PathLike[str]"]
CommitPolicy = Union[str, float, int]

#: Views of an example (strata_store_get / scan "view").
_VIEWS = {"folded": 0, "raw": 1, "export": 2}


@dataclass(frozen=True)
class AppendResult:
    """What happened to one appended example: ``inserted`` is False for a duplicate; ``id`` is its 32-hex-digit id."""

    inserted: bool
    id: str


@dataclass(frozen=True)
class Reject:
    """A record that was not stored: its 1-based ``line`` (position in the input), the ``field`` at fault (or None) and the ``reason``."""

    line: Optional[int]
    field: Optional[str]
    reason: str
    code: str = "invalid-input"
    source: Optional[str] = None


@dataclass
class Summary:
    """Counts of one ``append_many`` / ``ingest_jsonl`` call; ``rejects`` lists the records not stored."""

    read: int = 0
    inserted: int = 0
    duplicates: int = 0
    rejected: int = 0
    skipped: int = 0
    bytes: int = 0
    commits: int = 0
    unknown_fields: int = 0
    records_with_unknown_fields: int = 0
    rejects: List[Reject] = field(default_factory=list)
    rejects_truncated: bool = False

    def _add(self, r: Mapping[str, Any], line_map: Optional[Sequence[int]] = None) -> None:
        for k in ("read", "inserted", "duplicates", "rejected", "skipped", "bytes", "commits", "unknown_fields", "records_with_unknown_fields"):
            setattr(self, k, getattr(self, k) + int(r.get(k, 0)))
        self.rejects_truncated = self.rejects_truncated or bool(r.get("rejects_truncated"))
        for x in r.get("rejects", []):
            line = x.get("line")
            if line_map is not None and line is not None and 1 <= line <= len(line_map):
                line = line_map[line - 1]
            self.rejects.append(Reject(line=line, field=x.get("field"), reason=x.get("reason", ""),
                                       code=x.get("code", "invalid-input"), source=x.get("source")))


@dataclass(frozen=True)
class ExportSummary:
    """Result of ``export``: rows and bytes written, the files (relative paths), and whether it was already up to date."""

    rows: int
    bytes: int
    files: List[str]
    up_to_date: bool
    rewritten_files: int
    skipped: int
    seconds: float
    details: List[Dict[str, Any]]
    damaged_skipped: List[str] = field(default_factory=list)


def _json_default(o: Any) -> Any:
    if isinstance(o, _dt.datetime):
        if o.tzinfo is not None:
            o = o.astimezone(_dt.timezone.utc).replace(tzinfo=None)
            return o.isoformat(timespec="milliseconds") + "Z"
        return o.isoformat()  # naive: the store rejects it, naming the timestamp field
    if isinstance(o, _dt.date):
        return o.isoformat()
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    raise TypeError(f"{type(o).__name__} is not JSON serializable")


_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_json_default, allow_nan=False).encode


def _encode_example(example: Mapping[str, Any], line: Optional[int] = None) -> bytes:
    if not isinstance(example, Mapping):
        raise InvalidInputError(f"an example must be a dict, not {type(example).__name__}", code="invalid-input", line=line)
    try:
        return _encode(example).encode("utf-8")
    except (TypeError, ValueError, UnicodeEncodeError) as e:
        raise InvalidInputError(f"not representable as JSON: {e}", code="invalid-input", line=line) from None


Instant = Union[str, _dt.date, _dt.datetime]


def _instant(v: Optional[Instant], name: str) -> Optional[str]:
    """A timestamp option as the library takes it: text as given, aware datetimes and dates as ISO text."""
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, _dt.datetime) and v.tzinfo is None:
        raise UsageError(f"{name} must be timezone-aware (or a date, or text)", code="usage", field=name)
    if isinstance(v, (_dt.date, _dt.datetime)):
        return _json_default(v)
    raise UsageError(f"{name} must be a datetime, a date or text like 2025-03-14T09:00:00Z", code="usage", field=name)


def _selection(where: Union[str, Sequence[str], None], from_time: Optional[Instant], to_time: Optional[Instant]) -> Dict[str, Any]:
    """The ``where``/``from``/``to`` options of scans and exports (``strata scan --where/--from/--to``)."""
    return {"where": [where] if isinstance(where, str) else (list(where) if where is not None else None),
            "from": _instant(from_time, "from_time"), "to": _instant(to_time, "to_time")}


def _selection_call(fn: Any, *args: Any) -> Any:
    """Calls the library; an error about ``from``/``to`` names the Python parameter (``from_time``/``to_time``)."""
    try:
        return fn(*args)
    except UsageError as e:
        if e.field in ("from", "to"):
            e.field = e.field + "_time"
        raise


def _scan_options(domain: Union[str, Sequence[str], None], from_month: Optional[str], to_month: Optional[str],
                  min_quality: Optional[float], tags: Union[str, Sequence[str], None], source: Optional[str],
                  shape: Union[str, Sequence[str], None], include_excluded: bool, view: str, batch_bytes: Optional[int],
                  where: Union[str, Sequence[str], None] = None, from_time: Optional[Instant] = None,
                  to_time: Optional[Instant] = None) -> bytes:
    def listify(v: Union[str, Sequence[str], None]) -> Optional[List[str]]:
        if v is None:
            return None
        return [v] if isinstance(v, str) else list(v)

    if view not in _VIEWS:
        raise UsageError(f"view must be one of {sorted(_VIEWS)}", code="usage", field="view")
    return _native.encode_options({
        "domains": listify(domain), "from_month": from_month, "to_month": to_month, "min_quality": min_quality,
        "tags": listify(tags), "source": source, "shapes": listify(shape), "include_excluded": include_excluded or None,
        "view": view, "batch_bytes": batch_bytes or (256 << 10), **_selection(where, from_time, to_time),
    })


class _Cursor:
    """Owns one strata_cursor: pulls batches (a JSON array each) until the end, then closes."""

    def __init__(self, handle: int, owner: "_Handle") -> None:
        self.handle: Optional[int] = handle
        self.owner = owner
        owner._cursors.add(self)

    def close(self) -> None:
        h, self.handle = self.handle, None
        if h:
            lib.strata_cursor_close(h)

    def batches(self) -> Iterator[bytes]:
        try:
            while self.handle:
                data = _native.call_buffer(lib.strata_cursor_next, self.handle)
                if data is None:
                    return
                yield data
        finally:
            self.close()

    def __del__(self) -> None:
        self.close()


_H = TypeVar("_H", bound="_Handle")


class _Handle:
    """Shared by Store and Reader: the native handle, its open cursors, get/scan."""

    _get_fn: Any
    _scan_fn: Any
    _close_fn: Any

    def __init__(self) -> None:
        self._h: Optional[int] = None
        self._cursors: "weakref.WeakSet[_Cursor]" = weakref.WeakSet()

    def __enter__(self: _H) -> _H:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Closes open scans, then the native handle. Idempotent."""
        if not self._h:
            return
        self._close_cursors()
        h, self._h = self._h, None
        _native.call(self._close_fn, h)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def _handle(self) -> int:
        if not self._h:
            raise UsageError(f"{type(self).__name__} is closed", code="usage")
        return self._h

    def _close_cursors(self) -> None:
        for c in list(self._cursors):
            c.close()

    def get(self, id: str, raw: bool = False, view: Optional[str] = None) -> Optional[Dict[str, Any]]:
        """The example with this id as a dict, or None.

        By default the folded view (feedback counts aside, a correction replaces the
        output/response/last assistant message); ``raw=True`` gives the example as
        ingested; ``view="export"`` gives the Parquet export's row (feedback counts,
        excluded, corrected; ``metadata`` as JSON text, ``timestamp`` in milliseconds).
        """
        v = _VIEWS["raw" if raw else (view or "folded")] if (raw or view in _VIEWS or view is None) else None
        if v is None:
            raise UsageError(f"view must be one of {sorted(_VIEWS)}", code="usage", field="view")
        data = _native.call_buffer(self._get_fn, self._handle(), str(id).encode(), v)
        return None if data is None else json.loads(data)

    def scan(self, domain: Union[str, Sequence[str], None] = None, from_month: Optional[str] = None, to_month: Optional[str] = None,
             min_quality: Optional[float] = None, tags: Union[str, Sequence[str], None] = None, source: Optional[str] = None,
             shape: Union[str, Sequence[str], None] = None, *, include_excluded: bool = False, view: str = "folded",
             batch_bytes: Optional[int] = None, where: Union[str, Sequence[str], None] = None,
             from_time: Optional[Instant] = None, to_time: Optional[Instant] = None) -> Iterator[Dict[str, Any]]:
        """Streams examples as dicts in (domain, month, append) order, in bounded memory.

        Filters combine with AND: ``domain`` (one or several), ``from_month`` /
        ``to_month`` ("YYYY-MM", inclusive), ``min_quality`` (examples without a
        score are skipped), ``tags`` (any of them), ``source``, ``shape``
        ("instruction", "prompt_response", "chat"), ``where`` (a predicate or a list of
        them, ANDed: ``'metadata.complexity_level = "advanced" AND quality_score >= 0.5'``,
        docs/QUERY.md), ``from_time`` (inclusive) / ``to_time`` (exclusive) on the
        timestamp (aware datetimes, dates, or "2025-03-14T09:00:00Z" text). Excluded
        examples are left out unless ``include_excluded``. ``view`` is "folded" (default), "raw" or
        "export" (see ``get``).

        The library scans on its own thread, at most two batches (~256 KiB each)
        ahead. While the iterator is open it holds this handle's lock: other calls
        on the same Store/Reader raise UsageError until it is exhausted or closed
        (``close()`` the generator, or leave the ``for`` loop and drop it). Open a
        separate ``strata.Reader`` to read while writing.
        """
        options = _scan_options(domain, from_month, to_month, min_quality, tags, source, shape, include_excluded, view, batch_bytes,
                                where, from_time, to_time)
        out = c_void_p()
        _selection_call(_native.call, self._scan_fn, self._handle(), options, ctypes.byref(out))
        cursor = _Cursor(out.value, self)
        return _iterate(cursor)


def _iterate(cursor: _Cursor) -> Iterator[Dict[str, Any]]:
    loads = json.loads
    for batch in cursor.batches():
        yield from loads(batch)


class Store(_Handle):
    """A Strata store opened for writing: the single writer of its directory.

    Open with ``Store.open(path)`` (a context manager). Every method is safe to
    call from several threads (the library serializes them); the GIL is released
    while the library works. Only one Store per directory at a time, in any
    process: a second open raises ``LockedError``. Readers in other processes use
    ``strata.Reader``.
    """

    _get_fn = lib.strata_store_get
    _scan_fn = lib.strata_store_scan
    _close_fn = lib.strata_store_close

    def __init__(self, path: PathLike, create: bool = True, commit: CommitPolicy = "batch", check_permissions: bool = True,
                 dedup_key: Optional[str] = None, normalize: Optional[str] = None, unknown_fields: Optional[str] = None,
                 hash_fields: Union[str, Sequence[str], None] = None, external_ids: Union[str, Sequence[str], None] = None) -> None:
        """Opens (and by default creates) the store at ``path``; see ``Store.open``."""
        super().__init__()
        self.path = os.fspath(path)
        if isinstance(commit, bool) or not (commit in ("batch", "manual") or (isinstance(commit, (int, float)) and commit > 0)):
            raise UsageError('commit must be "batch", "manual" or a positive number of seconds', code="usage", field="commit")
        for name, value in (("dedup_key", dedup_key), ("normalize", normalize)):
            if value is not None and not isinstance(value, str):
                raise UsageError(f"{name} must be a string", code="usage", field=name)
        self.commit_policy = commit
        options = _native.encode_options({"create": create, "commit": commit, "check_permissions": check_permissions,
                                          "dedup_key": dedup_key, "normalize": normalize, "unknown_fields": unknown_fields,
                                          "hash_fields": [hash_fields] if isinstance(hash_fields, str) else hash_fields,
                                          "external_ids": [external_ids] if isinstance(external_ids, str) else external_ids})
        out = c_void_p()
        _native.call(lib.strata_store_open, _native.path_arg(path), options, ctypes.byref(out))
        self._h = out.value

    @classmethod
    def open(cls, path: PathLike, create: bool = True, commit: CommitPolicy = "batch", check_permissions: bool = True,
             dedup_key: Optional[str] = None, normalize: Optional[str] = None, unknown_fields: Optional[str] = None,
             hash_fields: Union[str, Sequence[str], None] = None, external_ids: Union[str, Sequence[str], None] = None) -> "Store":
        """Opens the store at ``path``, recovering from any earlier crash.

        ``commit``: "batch" (default) — every ``append``, ``append_many``,
        ``ingest_jsonl`` and ``annotate`` call is durable when it returns;
        "manual" — only ``commit()`` and ``close()`` make data durable; a number
        of seconds — a call commits when that long passed since the last commit.

        ``dedup_key`` and ``normalize`` fix what counts as a duplicate when the
        store is created, as ``strata init --dedup-key/--normalize``:
        ``"content"`` (default), ``"content+FIELD[,FIELD]"`` (FIELD: ``source``,
        ``domain`` or ``metadata.PATH``) or ``"prompt_only"``; ``"none"``
        (default), ``"whitespace"`` or ``"casefold"``. The key cannot change:
        opening an existing store with another raises ``UsageError``
        (``field == "dedup_key"``); leave both ``None`` to use the store's own.

        For every ``append``, ``append_many`` and ``ingest_jsonl`` on this handle, as the
        ``strata ingest`` flags of the same names: ``unknown_fields`` "keep" (default:
        top-level keys no field is read from go to ``metadata._extra``), "drop" or
        "reject"; ``hash_fields`` metadata paths (e.g. ``"metadata.user_id"``) whose
        values are replaced by keyed pseudonyms (HMAC-SHA256 with the store's secret,
        SPEC.md §9) before anything is stored.

        ``external_ids`` declares metadata paths holding a pipeline's own id (e.g.
        ``"metadata.train_id"``), as ``strata init --external-id``: ``lookup`` and
        ``annotate(by=...)`` find examples by them, and ``close`` keeps their indexes current.
        Raises ``LockedError`` if another writer has the store.
        """
        return cls(path, create=create, commit=commit, check_permissions=check_permissions,
                   dedup_key=dedup_key, normalize=normalize, unknown_fields=unknown_fields, hash_fields=hash_fields,
                   external_ids=external_ids)

    def close(self) -> None:
        """Closes open scans, seals and commits everything, and releases the store. Idempotent."""
        super().close()

    def append(self, example: Mapping[str, Any]) -> AppendResult:
        """Appends one example (a dict in the ``strata ingest`` record format).

        Returns ``AppendResult(inserted, id)``; ``inserted`` is False when an
        example with the same content was already stored. Raises
        ``InvalidInputError`` (with ``field``) for an invalid example; nothing
        is stored then.
        """
        data = _encode_example(example)
        inserted = c_int32()
        idbuf = ctypes.create_string_buffer(33)
        _native.call(lib.strata_store_append, self._handle(), data, len(data), ctypes.byref(inserted), idbuf)
        return AppendResult(inserted=bool(inserted.value), id=idbuf.value.decode())

    def append_many(self, examples: Iterable[Mapping[str, Any]], batch_bytes: int = 4 << 20) -> Summary:
        """Appends many examples through the library's ingest pipeline (parse, validate, dedup, append on two threads).

        A bad example is rejected — listed in ``Summary.rejects`` with its 1-based
        position in ``examples`` as ``line`` — and the others still land. Durable
        on return under the "batch" policy.
        """
        # Encoding (Python, holds the GIL) of chunk k+1 overlaps the library's ingest of
        # chunk k (a worker thread inside a foreign call, GIL released). Chunks go to the
        # store in order; only the last applies the commit policy.
        summary = Summary()
        encode_rejects: List[Reject] = []
        worker: Optional[Any] = None
        running: Optional[Any] = None
        pending: Optional[tuple] = None
        parts: List[bytes] = []
        lines: List[int] = []
        size = 0

        def hand_over(chunk: tuple, last: bool) -> None:
            nonlocal worker, running
            if running is not None:
                running.result()
                running = None
            if last:
                self._ingest_chunk(chunk, summary, defer_commit=False)
                return
            if worker is None:
                from concurrent.futures import ThreadPoolExecutor
                worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="strata-append-many")
            running = worker.submit(self._ingest_chunk, chunk, summary, True)

        try:
            for i, ex in enumerate(examples, start=1):
                try:
                    b = _encode_example(ex, line=i)
                except InvalidInputError as e:
                    encode_rejects.append(Reject(line=i, field=None, reason=e.message))
                    continue
                parts.append(b)
                lines.append(i)
                size += len(b) + 1
                if size >= batch_bytes:
                    if pending:
                        hand_over(pending, last=False)
                    pending = (b"\n".join(parts), lines)
                    parts, lines, size = [], [], 0
            if parts:
                if pending:
                    hand_over(pending, last=False)
                pending = (b"\n".join(parts), lines)
            if pending:
                hand_over(pending, last=True)
            elif running is not None:
                running.result()
        finally:
            if worker is not None:
                worker.shutdown(wait=True)
        if encode_rejects:
            summary.read += len(encode_rejects)
            summary.rejected += len(encode_rejects)
            summary.rejects = sorted(summary.rejects + encode_rejects, key=lambda r: r.line or 0)
            if pending is None and self.commit_policy == "batch":
                self.commit()
        return summary

    def _ingest_chunk(self, chunk: tuple, summary: Summary, defer_commit: bool) -> None:
        data, lines = chunk
        opts = _native.encode_options({"source": "<append_many>", "defer_commit": True if defer_commit else None})
        r = _native.call_json(lib.strata_store_ingest, self._handle(), data, len(data), None, opts)
        summary._add(r, lines)

    def ingest_jsonl(self, source: Union[PathLike, bytes, bytearray, memoryview], mapping: Optional[Mapping[str, str]] = None, *,
                     default_domain: Optional[str] = None, naive_timestamps_utc: bool = False, timestamp_now: bool = False,
                     default_timestamp: Optional[Instant] = None, max_rejects: Optional[int] = None) -> Summary:
        """Ingests JSON Lines (or one JSON array) from a file path or from bytes — the CLI's ``strata ingest`` path.

        ``mapping`` maps a target field to a dotted source path, like ``--map``
        (e.g. ``{"domain": "metadata.health_domain", "id": ""}``). ``default_timestamp``
        (an aware datetime, a date or text) is given to records without one. Bad records are
        listed in ``Summary.rejects`` (line, field, reason); the rest land.
        """
        opts = _native.encode_options({"mapping": dict(mapping) if mapping else None, "default_domain": default_domain,
                                       "naive_timestamps_utc": naive_timestamps_utc or None, "timestamp_now": timestamp_now or None,
                                       "default_timestamp": _instant(default_timestamp, "default_timestamp"),
                                       "max_rejects": max_rejects})
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
            r = _native.call_json(lib.strata_store_ingest, self._handle(), data, len(data), None, opts)
        else:
            r = _native.call_json(lib.strata_store_ingest, self._handle(), None, 0, _native.path_arg(source), opts)
        s = Summary()
        s._add(r)
        return s

    def commit(self) -> None:
        """Makes everything appended so far durable (fsync of segments and directories, then the manifest)."""
        _native.call(lib.strata_store_commit, self._handle())

    def annotate(self, id: Optional[str] = None, feedback: Optional[str] = None, rating: Optional[int] = None,
                 correction: Optional[str] = None, exclude: Optional[bool] = None, reason: Optional[str] = None,
                 comment: Optional[str] = None, *, by: Optional[Tuple[str, Any]] = None) -> List[str]:
        """Records later facts about example ``id``: ``feedback`` ("positive"/"negative", with optional ``rating`` and
        ``comment``), a ``correction`` (replaces the output / response / last assistant message in the folded view),
        ``exclude=True`` (leave out of training) or ``exclude=False`` (include again). ``reason`` is kept with each.
        Instead of ``id``, ``by=("metadata.train_id", "train_123")`` targets the examples with that external id
        (declared at creation; as ``strata annotate --by``). Returns the ids annotated.
        Raises ``NotFoundError`` for an unknown id or an external id no example has."""
        if (id is None) == (by is None):
            raise UsageError("give an example id or by=(path, value), one of them", code="usage", field="id")
        opts = _native.encode_options({"feedback": feedback, "rating": rating, "comment": comment, "correction": correction,
                                       "exclude": exclude, "reason": reason})
        if by is not None:
            path, value = by
            ids = [e["id"] for e in self.lookup(path, value, view="raw")]
            if not ids:
                raise NotFoundError(f"no example with {path} = {value!r} in this store", code="not-found", path=self.path)
        else:
            ids = [str(id)]
        for i in ids:
            _native.call(lib.strata_store_annotate, self._handle(), i.encode(), opts)
        return ids

    def lookup(self, path: str, value: Any, view: str = "folded") -> List[Dict[str, Any]]:
        """Commits, then returns the examples whose external id ``path`` (declared at creation) has ``value``
        (see ``Reader.lookup``)."""
        self.commit()
        with Reader(self.path) as r:
            return r.lookup(path, value, view=view)

    def export(self, out: PathLike, format: str = "jsonl", schema: str = "raw", split: Union[str, Mapping[str, float], None] = None,
               partitioned: bool = False, *, domain: Union[str, Sequence[str], None] = None, from_month: Optional[str] = None,
               to_month: Optional[str] = None, min_quality: Optional[float] = None, tags: Union[str, Sequence[str], None] = None,
               all_tags: bool = False, source: Optional[str] = None, shape: Union[str, Sequence[str], None] = None,
               feedback: Optional[str] = None, include_excluded: bool = False, meta_header: bool = False,
               system_prompt: Optional[str] = None, name: Optional[str] = None, **more: Any) -> ExportSummary:
        """Commits, then materializes an export into directory ``out`` (as ``strata export``; see ``strata.export``)."""
        self.commit()
        return export(self.path, out, format=format, schema=schema, split=split, partitioned=partitioned, domain=domain,
                      from_month=from_month, to_month=to_month, min_quality=min_quality, tags=tags, all_tags=all_tags,
                      source=source, shape=shape, feedback=feedback, include_excluded=include_excluded,
                      meta_header=meta_header, system_prompt=system_prompt, name=name, **more)

    def stats(self, **options: Any) -> Dict[str, Any]:
        """Commits, then returns the store's statistics (as ``strata stats --json``; options as ``strata.stats``)."""
        self.commit()
        return stats(self.path, **options)

    def verify(self, quick: bool = False) -> Dict[str, Any]:
        """Commits, then checks every checksum (see ``strata.verify``)."""
        self.commit()
        return verify(self.path, quick=quick)


class Reader(_Handle):
    """A read-only snapshot of a store, usable from any process while a writer appends.

    It sees what was committed (complete frames) when it was opened; open a new
    Reader to see later appends. Thread-safe (calls are serialized); the GIL is
    released while the library works.
    """

    _get_fn = lib.strata_reader_get
    _scan_fn = lib.strata_reader_scan
    _close_fn = lib.strata_reader_close

    def __init__(self, path: PathLike) -> None:
        super().__init__()
        self.path = os.fspath(path)
        out = c_void_p()
        _native.call(lib.strata_reader_open, _native.path_arg(path), ctypes.byref(out))
        self._h = out.value

    def close(self) -> None:
        """Closes open scans and releases the snapshot. Idempotent."""
        super().close()

    def lookup(self, path: str, value: Any, view: str = "folded") -> List[Dict[str, Any]]:
        """The examples whose ``path`` (an external id declared at creation, e.g.
        ``"metadata.train_id"``) has ``value``, as dicts (usually one); excluded ones
        included. A few reads whatever the store's size (``strata get --by``)."""
        if view not in _VIEWS:
            raise UsageError(f"view must be one of {sorted(_VIEWS)}", code="usage", field="view")
        text = value if isinstance(value, str) else json.dumps(value)
        return json.loads(_native.call_buffer(lib.strata_reader_lookup, self._handle(), path.encode(), text.encode(), _VIEWS[view]))

    def partitions(self) -> List[Dict[str, str]]:
        """The snapshot's partitions: ``[{"domain": ..., "month": "YYYY-MM"}, ...]``, sorted."""
        return _native.call_json(lib.strata_reader_partitions, self._handle()) or []

    def stats(self, **options: Any) -> Dict[str, Any]:
        """Statistics of the store's committed contents (a fresh snapshot, as ``strata stats --json``; options as ``strata.stats``)."""
        return stats(self.path, **options)

    def verify(self, quick: bool = False) -> Dict[str, Any]:
        """Checks every checksum of the store (see ``strata.verify``)."""
        return verify(self.path, quick=quick)


def export(store: PathLike, out: PathLike, format: str = "jsonl", schema: str = "raw", split: Union[str, Mapping[str, float], None] = None,
           partitioned: bool = False, *, domain: Union[str, Sequence[str], None] = None, from_month: Optional[str] = None,
           to_month: Optional[str] = None, min_quality: Optional[float] = None, tags: Union[str, Sequence[str], None] = None,
           all_tags: bool = False, source: Optional[str] = None, shape: Union[str, Sequence[str], None] = None,
           feedback: Optional[str] = None, include_excluded: bool = False, meta_header: bool = False,
           system_prompt: Optional[str] = None, name: Optional[str] = None, where: Union[str, Sequence[str], None] = None,
           from_time: Optional[Instant] = None, to_time: Optional[Instant] = None, layout: Optional[str] = None,
           file_name: Optional[str] = None, mode: Union[int, str, None] = None, skip_damaged: bool = False,
           force: bool = False) -> ExportSummary:
    """Materializes an export of the committed contents of ``store`` into directory ``out``: ``format`` "jsonl", "json"
    or "parquet"; ``schema`` "raw", "alpaca", "prompt_response" or "chat"; ``split`` as "train=0.8,test=0.2" or
    ``{"train": 0.8, "test": 0.2}`` (deterministic by id); ``partitioned`` for a Hive layout domain=…/month=…. Filters as
    in ``scan`` (``where``, ``from_time``, ``to_time`` included); ``feedback`` "drop-negative" or "only-positive".
    As ``strata export``: ``layout`` "hive" or "etl" (DOMAIN/YYYY/MM/NAME_YYYY_MM.jsonl, the ETL module's object names),
    ``file_name`` the data file's base name, ``mode`` the files' permission bits (``0o644`` or "644"; default private),
    ``skip_damaged`` leaves out damaged segments and lists them in ``damaged_skipped``, ``force`` writes into a directory
    holding files no export wrote. Idempotent: an up-to-date export is not rewritten."""
    def listify(v: Union[str, Sequence[str], None]) -> Optional[List[str]]:
        return None if v is None else ([v] if isinstance(v, str) else list(v))

    if isinstance(split, Mapping):
        split = ",".join(f"{k}={v}" for k, v in split.items())
    spec = _native.encode_options({
        "format": format, "schema": schema, "split": split, "partitioned": partitioned or None, "domains": listify(domain),
        "from_month": from_month, "to_month": to_month, "min_quality": min_quality, "tags": listify(tags),
        "all_tags": all_tags or None, "source": source, "shapes": listify(shape), "feedback": feedback,
        "include_excluded": include_excluded or None, "meta_header": meta_header or None, "system_prompt": system_prompt, "name": name,
        "layout": layout, "file_name": file_name, "mode": _format_mode(mode), "skip_damaged": skip_damaged or None,
        "force": force or None, **_selection(where, from_time, to_time),
    })
    r = _selection_call(_native.call_json, lib.strata_export, _native.path_arg(store), _native.path_arg(out), spec)
    return ExportSummary(rows=r["rows"], bytes=r["bytes"], files=list(r["paths"]), up_to_date=r["up_to_date"],
                         rewritten_files=r["rewritten_files"], skipped=r["skipped"], seconds=r["seconds"], details=r["files_detail"],
                         damaged_skipped=list(r.get("damaged_skipped", [])))


def _format_mode(mode: Union[int, str, None]) -> Optional[str]:
    """A file mode as the library takes it: octal text ("644"); ints are permission bits (0o644)."""
    if mode is None or isinstance(mode, str):
        return mode
    if isinstance(mode, int) and not isinstance(mode, bool):
        return format(mode, "o")
    raise UsageError("mode must be permission bits like 0o644 or text like \"644\"", code="usage", field="mode")


def stats(store: PathLike, *, where: Union[str, Sequence[str], None] = None, from_time: Optional[Instant] = None,
          to_time: Optional[Instant] = None, rules: Union[str, Sequence[str], None] = None, min_rows: Optional[int] = None,
          lengths: bool = False) -> Dict[str, Any]:
    """Statistics of the committed contents of the store at ``store`` (as ``strata stats --json``).

    Without options it reads only segment summaries: its cost follows the number of segments,
    not of examples. ``where`` / ``from_time`` / ``to_time`` select examples (as in ``scan``);
    ``rules`` are field rules every example must satisfy (``strata stats --rule``, e.g.
    ``"metadata.household.id is not null"``) and ``min_rows`` the minimum count: each is a check in
    ``result["quality_report"]["checks"]`` (``{"name", "passed", "detail"}``); ``lengths`` adds
    text-length distributions and feedback shares. These read the examples.
    """
    options = _native.encode_options({**_selection(where, from_time, to_time),
                                      "rules": [rules] if isinstance(rules, str) else (list(rules) if rules is not None else None),
                                      "min_rows": min_rows, "lengths": lengths or None})
    return _selection_call(_native.call_json, lib.strata_stats_select, _native.path_arg(store), options)


def verify(store: PathLike, quick: bool = False) -> Dict[str, Any]:
    """Checks every checksum of the store; returns the report (``intact``, ``problems`` with file and offset...).

    Raises ``CorruptionError`` (naming the first damaged file and offset, the whole report in ``.report``) when the
    store is damaged.
    """
    from .errors import CorruptionError

    r = _native.call_json(lib.strata_verify, _native.path_arg(store), 1 if quick else 0)
    if not r["intact"]:
        first = next((p for p in r["problems"] if p["severity"] == "error"), r["problems"][0])
        e = CorruptionError(f"{r['errors']} problem(s); first: {first['message']}", code="corruption", path=first["file"],
                            offset=first.get("offset"))
        e.report = r  # type: ignore[attr-defined]
        raise e
    return r
