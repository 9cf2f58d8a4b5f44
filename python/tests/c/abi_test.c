/* Exercises the C ABI (include/strata.h) from C: open, append, duplicate,
 * invalid input (error struct with code and field), ingest with a reject,
 * get, annotate, scan through a cursor, reader, locked, stats, verify, export.
 * Usage: abi_test STORE_DIR EXPORT_DIR. Prints "ok" and exits 0 on success. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "strata.h"

static int failures = 0;
#define CHECK(cond, ...) do { if (!(cond)) { fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); fprintf(stderr, __VA_ARGS__); fprintf(stderr, "\n"); failures++; } } while (0)

static const char *EX1 = "{\"prompt\":\"2+2?\",\"response\":\"4\",\"domain\":\"math\",\"timestamp\":\"2025-03-01T12:00:00Z\",\"quality_score\":0.9}";
static const char *BAD = "{\"prompt\":\"no response\",\"domain\":\"math\",\"timestamp\":\"2025-03-01T12:00:00Z\"}";

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: abi_test STORE OUT\n"); return 2; }
    strata_error err = {0};
    CHECK(strata_abi_version() == STRATA_ABI_VERSION, "abi version %u", strata_abi_version());
    CHECK(strlen(strata_version()) >= 5, "version '%s'", strata_version());

    strata_store *s = NULL;
    int rc = strata_store_open(argv[1], "{\"commit\":\"batch\"}", &s, &err);
    CHECK(rc == STRATA_OK && s != NULL, "open: %d %s", rc, err.message ? err.message : "");

    int32_t inserted = -1;
    char id[33] = {0};
    rc = strata_store_append(s, EX1, strlen(EX1), &inserted, id, &err);
    CHECK(rc == STRATA_OK && inserted == 1 && strlen(id) == 32, "append: rc %d inserted %d id %s", rc, inserted, id);
    rc = strata_store_append(s, EX1, strlen(EX1), &inserted, NULL, &err);
    CHECK(rc == STRATA_OK && inserted == 0, "duplicate: rc %d inserted %d", rc, inserted);

    rc = strata_store_append(s, BAD, strlen(BAD), &inserted, NULL, &err);
    CHECK(rc == STRATA_E_INVALID_INPUT && err.code == STRATA_E_INVALID_INPUT, "invalid: rc %d", rc);
    CHECK(err.field && strcmp(err.field, "response") == 0, "invalid field: %s", err.field ? err.field : "(null)");
    CHECK(err.code_name && strcmp(err.code_name, "invalid-input") == 0, "code name");
    CHECK(err.message && strlen(err.message) > 0, "message");
    strata_error_clear(&err);
    CHECK(err.message == NULL && err.line == -1, "clear");

    const char *jsonl =
        "{\"instruction\":\"a\",\"input\":\"\",\"output\":\"b\",\"domain\":\"etl\",\"timestamp\":\"2025-01-05T00:00:00Z\"}\n"
        "{\"instruction\":\"c\",\"input\":\"\",\"output\":\"d\",\"domain\":\"etl\",\"timestamp\":\"not a time\"}\n"
        "{\"instruction\":\"e\",\"input\":\"\",\"output\":\"f\",\"domain\":\"etl\",\"timestamp\":\"2025-02-05T00:00:00Z\"}\n";
    char *result = NULL;
    size_t rlen = 0;
    rc = strata_store_ingest(s, jsonl, strlen(jsonl), NULL, NULL, &result, &rlen, &err);
    CHECK(rc == STRATA_OK && result, "ingest rc %d", rc);
    if (result) {
        CHECK(strstr(result, "\"inserted\":2") && strstr(result, "\"rejected\":1") && strstr(result, "\"line\":2")
              && strstr(result, "\"field\":\"timestamp\""), "ingest result %s", result);
        CHECK(strlen(result) == rlen, "result length");
        strata_free(result);
    }

    char *json = NULL;
    size_t len = 0;
    rc = strata_store_get(s, id, 0, &json, &len, &err);
    CHECK(rc == STRATA_OK && json && strstr(json, "\"response\":\"4\""), "get %s", json ? json : "(null)");
    strata_free(json);
    rc = strata_store_get(s, "00000000000000000000000000000000", 0, &json, &len, &err);
    CHECK(rc == STRATA_OK && json == NULL, "get unknown");
    rc = strata_store_get(s, "xyz", 0, &json, &len, &err);
    CHECK(rc == STRATA_E_INVALID_INPUT && err.field && strcmp(err.field, "id") == 0, "bad id rc %d", rc);
    strata_error_clear(&err);

    rc = strata_store_annotate(s, id, "{\"feedback\":\"negative\",\"correction\":\"four\",\"reason\":\"spelled out\"}", &err);
    CHECK(rc == STRATA_OK, "annotate rc %d", rc);
    rc = strata_store_annotate(s, "00000000000000000000000000000000", "{\"exclude\":true}", &err);
    CHECK(rc == STRATA_E_NOT_FOUND, "annotate unknown rc %d", rc);
    strata_error_clear(&err);
    rc = strata_store_get(s, id, 2, &json, &len, &err);
    CHECK(rc == STRATA_OK && json && strstr(json, "\"corrected\":\"four\"") && strstr(json, "\"feedback_negative\":1"), "export view %s", json ? json : "(null)");
    strata_free(json);

    /* Scan with a tiny batch size: several batches, each a JSON array. */
    strata_cursor *c = NULL;
    rc = strata_store_scan(s, "{\"batch_bytes\":1}", &c, &err);
    CHECK(rc == STRATA_OK && c, "scan rc %d", rc);
    int batches = 0, corrected = 0;
    for (;;) {
        char *batch = NULL;
        size_t blen = 0;
        rc = strata_cursor_next(c, &batch, &blen, &err);
        CHECK(rc == STRATA_OK, "next rc %d", rc);
        if (rc != STRATA_OK || !batch) break;
        CHECK(batch[0] == '[' && batch[blen - 1] == ']', "batch is an array");
        if (strstr(batch, "\"response\":\"four\"")) corrected++;
        batches++;
        /* While the scan holds the store, other calls fail instead of deadlocking. */
        if (batches == 1) {
            int crc = strata_store_commit(s, &err);
            CHECK(crc == STRATA_E_USAGE || crc == STRATA_OK, "commit during scan rc %d", crc);
            strata_error_clear(&err);
        }
        strata_free(batch);
    }
    strata_cursor_close(c);
    CHECK(batches == 3 && corrected == 1, "scan: %d batches, %d corrected", batches, corrected);

    /* A second writer is refused. */
    strata_store *s2 = NULL;
    rc = strata_store_open(argv[1], NULL, &s2, &err);
    CHECK(rc == STRATA_E_LOCKED && s2 == NULL, "second writer rc %d", rc);
    strata_error_clear(&err);

    /* Bad options are a usage error naming the option. */
    rc = strata_store_scan(s, "{\"domain\":\"x\"}", &c, &err);
    CHECK(rc == STRATA_E_USAGE && err.field && strcmp(err.field, "domain") == 0, "unknown option rc %d", rc);
    strata_error_clear(&err);

    rc = strata_store_close(s, &err);
    CHECK(rc == STRATA_OK, "close rc %d", rc);

    strata_reader *r = NULL;
    rc = strata_reader_open(argv[1], &r, &err);
    CHECK(rc == STRATA_OK && r, "reader open rc %d", rc);
    rc = strata_reader_partitions(r, &json, &len, &err);
    CHECK(rc == STRATA_OK && json && strstr(json, "\"month\":\"2025-02\"") && strstr(json, "\"domain\":\"math\""), "partitions %s", json ? json : "(null)");
    strata_free(json);
    rc = strata_reader_scan(r, "{\"domains\":[\"etl\"],\"from_month\":\"2025-02\"}", &c, &err);
    CHECK(rc == STRATA_OK, "reader scan rc %d", rc);
    char *batch = NULL;
    size_t blen = 0;
    rc = strata_cursor_next(c, &batch, &blen, &err);
    CHECK(rc == STRATA_OK && batch && strstr(batch, "\"instruction\":\"e\"") && !strstr(batch, "\"instruction\":\"a\""), "filtered %s", batch ? batch : "(null)");
    strata_free(batch);
    strata_cursor_close(c);
    rc = strata_reader_close(r, &err);
    CHECK(rc == STRATA_OK, "reader close");

    rc = strata_stats(argv[1], &json, &len, &err);
    CHECK(rc == STRATA_OK && json && strstr(json, "\"records\":3"), "stats %s", json ? json : "(null)");
    strata_free(json);
    rc = strata_verify(argv[1], 0, &json, &len, &err);
    CHECK(rc == STRATA_OK && json && strstr(json, "\"intact\":true"), "verify %s", json ? json : "(null)");
    strata_free(json);
    rc = strata_export(argv[1], argv[2], "{\"format\":\"jsonl\",\"schema\":\"raw\"}", &json, &len, &err);
    CHECK(rc == STRATA_OK && json && strstr(json, "\"rows\":3"), "export %s", json ? json : "(null)");
    strata_free(json);
    rc = strata_export(argv[1], argv[2], "{\"format\":\"csv\"}", &json, &len, &err);
    CHECK(rc == STRATA_E_USAGE && json == NULL && err.field && strcmp(err.field, "format") == 0, "bad export rc %d", rc);
    strata_error_clear(&err);
    rc = strata_reader_open("/nonexistent/strata/store", &r, &err);
    CHECK(rc == STRATA_E_NOT_FOUND && err.path != NULL, "missing store rc %d", rc);
    strata_error_clear(&err);

    if (failures) { fprintf(stderr, "%d failures\n", failures); return 1; }
    printf("ok\n");
    return 0;
}
