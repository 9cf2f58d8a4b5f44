/*
 * strata.h — the stable C ABI of Strata (ABI version 1).
 *
 * Strata is an embedded, append-only store for ML training examples. This
 * header is the whole contract of libStrataC.so; docs/C_ABI.md describes it
 * with examples. No Swift type crosses this boundary: handles are opaque
 * pointers, examples travel as UTF-8 JSON text (one JSON object, or JSON
 * Lines), options and results as small JSON objects.
 *
 * Conventions (every function):
 *  - Status: functions returning `int` return 0 (STRATA_OK) on success, or a
 *    nonzero STRATA_E_* code on failure. When `err` is not NULL it is then
 *    filled (see strata_error); the caller must pass it to
 *    strata_error_clear() afterwards. `err` may be NULL to ignore details.
 *    Functions never abort the process on bad input or damaged files.
 *  - Strings passed in are NUL-terminated UTF-8, borrowed for the duration
 *    of the call only. NULL is allowed where a comment says "optional".
 *  - Buffers returned through `char **out` / `size_t *out_len` are allocated
 *    by the library, NUL-terminated (out_len excludes the NUL), owned by the
 *    caller, and released with strata_free(). On failure *out is NULL.
 *  - Handles are created by *_open and released by their *_close, exactly
 *    once; a handle must not be used after its close.
 *  - Threads: a strata_store and a strata_reader may be used from several
 *    threads at once (calls are serialized by the handle's lock). A
 *    strata_cursor must be used by one thread at a time. While a cursor is
 *    open on a handle, every other call on that handle (except
 *    strata_cursor_* on that cursor) fails with STRATA_E_USAGE: the scan
 *    holds the handle's lock, so waiting would deadlock a caller that
 *    interleaves its own calls with the scan.
 *  - No function keeps a global lock across calls; calls on different
 *    handles run in parallel.
 */
#ifndef STRATA_H
#define STRATA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define STRATA_ABI_VERSION 1

/* Status / error codes: StrataError.Code values (Sources/Strata/Errors.swift). */
enum {
    STRATA_OK = 0,
    STRATA_E_CORRUPTION = 1,          /* bytes on disk fail a checksum/bound/invariant */
    STRATA_E_UNSUPPORTED_VERSION = 2, /* file written by a newer format version */
    STRATA_E_IO = 3,                  /* an OS I/O call failed */
    STRATA_E_NO_SPACE = 4,            /* device full */
    STRATA_E_LOCKED = 5,              /* another writer holds the store */
    STRATA_E_POISONED = 6,            /* an earlier write failed; reopen the store */
    STRATA_E_INVALID_INPUT = 7,       /* an example/annotation failed validation */
    STRATA_E_NOT_FOUND = 8,           /* no such store / example / file */
    STRATA_E_USAGE = 9,               /* bad option, closed handle, open cursor... */
    STRATA_E_PERMISSION = 10,         /* unsafe store permissions or ownership */
    STRATA_E_OTHER = 99               /* any other code: see strata_error.code_name */
};

/*
 * Error details, filled on failure when the caller passes a non-NULL pointer.
 * Zero-initialize it before the first use ({0}). Every string is owned by the
 * struct and freed by strata_error_clear(), which also resets it for reuse.
 * Absent values: NULL strings, -1 numbers.
 */
typedef struct strata_error {
    int32_t code;       /* STRATA_E_* */
    char *code_name;    /* the StrataError code's name, e.g. "invalid-input" */
    char *message;      /* human-readable, says what to do next */
    char *path;         /* file or store path concerned, or NULL */
    int64_t offset;     /* byte offset of damage in `path`, or -1 */
    int64_t line;       /* 1-based input line (record) of bad input, or -1 */
    char *field;        /* input field name of bad input, or NULL */
} strata_error;

/* Opaque handles. */
typedef struct strata_store strata_store;   /* the single writer of a store directory */
typedef struct strata_reader strata_reader; /* a read-only snapshot, usable while a writer runs */
typedef struct strata_cursor strata_cursor; /* a streaming scan over a store or reader */

/* Library version as "MAJOR.MINOR.PATCH"; static storage, never free it. Thread-safe. */
const char *strata_version(void);

/* STRATA_ABI_VERSION of the loaded library; compare with the header's. Thread-safe. */
uint32_t strata_abi_version(void);

/* Frees the strings in *err and resets it (code 0, numbers -1). NULL is a no-op. Thread-safe. */
void strata_error_clear(strata_error *err);

/* Frees a buffer returned by this library. NULL is a no-op. Thread-safe. */
void strata_free(void *p);

/* ---------------------------------------------------------------- store */

/*
 * Opens (and, unless options say {"create": false}, creates) the store at
 * `path` for writing, recovering from any earlier crash. `options_json`
 * (optional) is a JSON object:
 *   "create": bool (default true)
 *   "commit": "batch" (default: every append/append-many/annotate call is
 *             durable on return) | "manual" (only strata_store_commit and
 *             close) | number of seconds (commit on a call once that many
 *             seconds passed since the last commit, and on close)
 *   "check_permissions": bool (default true)
 *   "dedup_key": "content" (default) | "content+FIELD[,FIELD]" (FIELD: source,
 *             domain or metadata.PATH) | "prompt_only" — as `strata init
 *             --dedup-key` (SPEC.md §5.3)
 *   "normalize": "none" (default) | "whitespace" | "casefold"
 *   "unknown_fields": "keep" (default) | "drop" | "reject" — top-level keys
 *             no field is read from, for every append and ingest on the handle
 *   "hash_fields": [str] — metadata paths whose values every append and
 *             ingest replaces by keyed pseudonyms (SPEC.md §9), as `strata
 *             ingest --hash-field`
 *   "external_ids": [str] — metadata paths holding a pipeline's own id
 *             (e.g. "metadata.train_id"), declared as `strata init
 *             --external-id` does; strata_store_close refreshes every
 *             declared index so strata_reader_lookup stays a few reads
 *   A new store is created with that dedup key; an existing store must have
 *   been created with the same key and normalization (else STRATA_E_USAGE
 *   with field "dedup_key", the store untouched). Give neither to open an
 *   existing store with whatever key it has.
 * On success *out is a new handle. Fails with STRATA_E_LOCKED when another
 * writer (in any process) has the store.
 */
int strata_store_open(const char *path, const char *options_json, strata_store **out, strata_error *err);

/*
 * Seals active segments, commits, releases the writer lock and frees the
 * handle — the handle is freed even when the final commit fails (the error
 * is reported). Fails with STRATA_E_USAGE, freeing nothing, while a cursor
 * is open on the handle. NULL is a no-op.
 */
int strata_store_close(strata_store *store, strata_error *err);

/*
 * Appends one example given as one JSON object of `len` bytes (the record
 * format of `strata ingest`: shape fields, domain, timestamp, quality_score,
 * tags, source, metadata). On success *inserted is 1 for a new example, 0
 * for a duplicate, and id_out (33 bytes, may be NULL) receives the example's
 * id as 32 lowercase hex digits and a NUL. Invalid input fails with
 * STRATA_E_INVALID_INPUT naming the field; nothing is written then.
 */
int strata_store_append(strata_store *store, const char *json, size_t len, int32_t *inserted, char *id_out, strata_error *err);

/*
 * Ingests JSON Lines (or one JSON array of objects) through the same
 * two-stage pipeline as `strata ingest`: from `data`/`len` when `data` is
 * not NULL, else from the file `input_path`. A bad record is reported and
 * the others still land. `options_json` (optional):
 *   "mapping": {"target": "dotted.source.path", ...}  (like --map)
 *   "default_domain": str, "naive_timestamps_utc": bool, "timestamp_now": bool
 *   "default_timestamp": str (for records without one; as --default-timestamp)
 *   "source": str (name used in reject reports; default the path or "<memory>")
 *   "max_rejects": int (rejects listed in the result, default 10000)
 *   "defer_commit": bool (default false: the commit policy applies to the
 *             call as to one batch; true: the caller commits later, e.g. a
 *             binding that splits one logical batch into several calls)
 * On success *result_json is a JSON object: {"read","inserted","duplicates",
 * "rejected","skipped","bytes","commits","rejects":[{"line","field","reason",
 * "code","source"}],"rejects_truncated","unknown_fields",
 * "records_with_unknown_fields"}. The handle's "unknown_fields" and
 * "hash_fields" open options apply. Whole-call failures (I/O, a bad
 * mapping, a poisoned writer) return an error instead; records already
 * appended in that call are then durable only if a commit happened.
 */
int strata_store_ingest(strata_store *store, const char *data, size_t len, const char *input_path,
                        const char *options_json, char **result_json, size_t *result_len, strata_error *err);

/* Makes everything appended so far durable (fsync, manifest). */
int strata_store_commit(strata_store *store, strata_error *err);

/*
 * Looks up an example by id (32 hex digits). view: 0 = folded (annotations
 * applied), 1 = raw (as ingested), 2 = export row (see strata_store_scan).
 * On success *json is the example as one JSON object, or NULL (with
 * STRATA_OK) when the id is unknown. Sees uncommitted appends too.
 */
int strata_store_get(strata_store *store, const char *id_hex, int32_t view, char **json, size_t *len, strata_error *err);

/*
 * Appends later facts about example `id_hex`. `annotation_json` is an
 * object with any of: "feedback": "positive"|"negative" (with optional
 * "rating": int, "comment": str), "correction": str, "exclude": bool
 * (true = exclude from training, false = include again), "reason": str.
 * Each fact given is one annotation, applied in that order. Fails with
 * STRATA_E_NOT_FOUND for an unknown id, STRATA_E_INVALID_INPUT for a fact
 * that does not fit (a correction of a chat with no assistant message).
 */
int strata_store_annotate(strata_store *store, const char *id_hex, const char *annotation_json, strata_error *err);

/*
 * Starts a streaming scan of the writer's view (including uncommitted
 * appends). `filter_json` (optional) is an object:
 *   "domains": [str], "from_month": "YYYY-MM", "to_month": "YYYY-MM",
 *   "min_quality": number (examples without a score are skipped),
 *   "tags": [str] (any), "source": str, "shapes": [str],
 *   "include_excluded": bool (default false),
 *   "view": "folded" (default) | "raw" | "export",
 *   "batch_bytes": int (approximate bytes per batch, default 1 MiB),
 *   "where": str or [str] (predicates, ANDed; docs/QUERY.md),
 *   "from", "to": timestamps ("2025-03-14" or "2025-03-14T09:00:00Z";
 *             from inclusive, to exclusive) — `strata scan --where/--from/--to`
 * View "export" gives the Parquet export's columns (SPEC.md §8.7): the
 * content as ingested plus "domain", "month", "timestamp" as integer
 * milliseconds, "metadata" as JSON text, "feedback_positive",
 * "feedback_negative", "excluded", "corrected".
 * The scan runs on its own thread, at most two batches ahead of the
 * consumer (bounded memory), and holds the handle's lock until the cursor
 * is exhausted or closed.
 */
int strata_store_scan(strata_store *store, const char *filter_json, strata_cursor **out, strata_error *err);

/* ---------------------------------------------------------------- reader */

/*
 * Opens a read-only snapshot of the store at `path`: it sees what was
 * written when it was opened, takes no lock, never modifies the store, and
 * works while another process writes.
 */
int strata_reader_open(const char *path, strata_reader **out, strata_error *err);

/* Releases the reader. Fails with STRATA_E_USAGE (freeing nothing) while a cursor is open on it. NULL is a no-op. */
int strata_reader_close(strata_reader *reader, strata_error *err);

/* As strata_store_get, on the snapshot. */
int strata_reader_get(strata_reader *reader, const char *id_hex, int32_t view, char **json, size_t *len, strata_error *err);

/*
 * The examples whose metadata value at `path` (an external id declared at
 * creation, e.g. "metadata.train_id") is `value`: a JSON array (usually of
 * one) in `view` (0 folded, 1 raw, 2 export row), excluded ones included.
 * Reads the index and the blocks it does not cover yet. STRATA_E_USAGE when
 * `path` is not declared.
 */
int strata_reader_lookup(strata_reader *reader, const char *path, const char *value, int32_t view, char **json, size_t *len,
                         strata_error *err);

/* As strata_store_scan, on the snapshot. */
int strata_reader_scan(strata_reader *reader, const char *filter_json, strata_cursor **out, strata_error *err);

/* The snapshot's partitions as a JSON array of {"domain": str, "month": "YYYY-MM"}, sorted. */
int strata_reader_partitions(strata_reader *reader, char **json, size_t *len, strata_error *err);

/* ---------------------------------------------------------------- cursor */

/*
 * The next batch of examples as a JSON array text ("[{...},{...}]"), in
 * (domain, month, append) order. At the end of the scan *batch is NULL and
 * *len 0 (STRATA_OK). A failure of the scan (e.g. STRATA_E_CORRUPTION with
 * path and offset) is reported once, by the call that reaches it.
 */
int strata_cursor_next(strata_cursor *cursor, char **batch, size_t *len, strata_error *err);

/* Stops the scan (waits for its thread), releases the handle's lock and frees the cursor. NULL is a no-op. */
void strata_cursor_close(strata_cursor *cursor);

/* ---------------------------------------------------------------- store-directory jobs */

/*
 * Materializes an export of the store at `store_path` into directory
 * `out_path` (what `strata export` does; it reads committed data and runs
 * while a writer works). `spec_json` (optional) is an object: "format":
 * "jsonl"|"json"|"parquet", "schema": "raw"|"alpaca"|"prompt_response"|
 * "chat", "meta_header": bool, "domains": [str], "from_month", "to_month",
 * "min_quality", "tags": [str], "all_tags": bool, "source": str,
 * "shapes": [str], "feedback": "drop-negative"|"only-positive",
 * "include_excluded": bool, "split": "train=0.8,test=0.2",
 * "partitioned": bool, "system_prompt": str, "name": str, "where",
 * "from", "to" (as for scans), "layout": "hive"|"etl", "file_name": str,
 * "mode": "644" (octal file mode, 600–666), "skip_damaged": bool,
 * "force": bool — the `strata export` options of the same names.
 * On success *result_json is the export result (as `strata export --json`).
 */
int strata_export(const char *store_path, const char *out_path, const char *spec_json,
                  char **result_json, size_t *result_len, strata_error *err);

/*
 * Statistics of the committed contents of the store at `path` as a JSON
 * object (as `strata stats --json`: records, partitions, by_domain,
 * by_month, by_shape, by_source, by_tag, date_range, quality, bytes_on_disk).
 */
int strata_stats(const char *path, char **json, size_t *len, strata_error *err);

/*
 * strata_stats with options (`options_json` optional, NULL = strata_stats):
 *   "where": str or [str], "from", "to" (as for scans): statistics of the
 *             examples selected;
 *   "rules": [str] — field rules every example must satisfy (`strata stats
 *             --rule`), each a check in "quality_report.checks";
 *   "min_rows": int (default 1) — the min_rows check;
 *   "lengths": bool — text-length distributions and feedback shares.
 * Both functions answer from segment summaries (cost grows with the number
 * of segments, not examples) unless a selection, a rule or "lengths" needs
 * the examples. The object adds "quality_report" ({examples, excluded,
 * empty_required_fields, checks: [{name, passed, detail}], and when the
 * examples were read, lengths and feedback}); a failed check is reported
 * there, not as an error.
 */
int strata_stats_select(const char *path, const char *options_json, char **json, size_t *len, strata_error *err);

/*
 * Checks every checksum of the store at `path` (quick != 0: headers,
 * footers and manifest only). Returns STRATA_OK with the report as a JSON
 * object {"intact", "errors", "warnings", "segments", "blocks", "examples",
 * "bytes_checked", "problems":[{"severity","file","offset","message"}]}
 * whether or not damage was found; an error only when the check could not run.
 */
int strata_verify(const char *path, int32_t quick, char **json, size_t *len, strata_error *err);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_H */
