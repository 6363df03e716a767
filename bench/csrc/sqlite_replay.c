/* Replays the writes of an ingest straight into SQLite through its C API: the engine's floor.
 *
 *   sqlite_replay DB DUMP
 *
 * DB already holds the embedded store's schema. DUMP is what bench/ingest_floor.py records
 * during an ingest (little-endian):
 *   "TGREPLAY1", u32 count, count x (u32 length, bytes)      the connection's pragmas
 *   then records: 'S' u32 length, SQL, u32 rows, rows x (u32 columns, columns x value)
 *                 'C' commit (and begin the next transaction)
 *                 'E' end
 *   a value is 'N' | 'I' i64 | 'R' f64 | 'T' u32 length, UTF-8 | 'B' u32 length, bytes
 * Each statement is prepared once per record and stepped once per row, as executemany does.
 * Prints one line: rows=... statements=... commits=... cpu_s=... wall_s=...
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    const unsigned char *data;
    size_t size;
    size_t at;
} Reader;

static void fail(const char *what, const char *detail) {
    fprintf(stderr, "sqlite_replay: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

static const unsigned char *take(Reader *r, size_t n) {
    if (n > r->size - r->at) fail("the dump ends early", NULL);
    const unsigned char *here = r->data + r->at;
    r->at += n;
    return here;
}

static uint32_t u32(Reader *r) {
    uint32_t v;
    memcpy(&v, take(r, 4), 4);
    return v;
}

static double seconds(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void exec(sqlite3 *db, const char *sql) {
    char *error = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &error) != SQLITE_OK) fail(sql, error);
}

static unsigned char *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) fail("cannot open", path);
    if (fseek(f, 0, SEEK_END) != 0) fail("cannot read", path);
    long n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0) fail("cannot read", path);
    unsigned char *data = malloc((size_t)n + 1);
    if (!data || fread(data, 1, (size_t)n, f) != (size_t)n) fail("cannot read", path);
    fclose(f);
    *size = (size_t)n;
    return data;
}

static void bind_row(Reader *r, sqlite3 *db, sqlite3_stmt *statement) {
    uint32_t columns = u32(r);
    for (uint32_t k = 1; k <= columns; k++) {
        int rc;
        unsigned char type = *take(r, 1);
        if (type == 'N') {
            rc = sqlite3_bind_null(statement, (int)k);
        } else if (type == 'I') {
            int64_t v;
            memcpy(&v, take(r, 8), 8);
            rc = sqlite3_bind_int64(statement, (int)k, v);
        } else if (type == 'R') {
            double v;
            memcpy(&v, take(r, 8), 8);
            rc = sqlite3_bind_double(statement, (int)k, v);
        } else if (type == 'T' || type == 'B') {
            uint32_t n = u32(r);
            const void *bytes = take(r, n);
            rc = type == 'T' ? sqlite3_bind_text(statement, (int)k, bytes, (int)n, SQLITE_STATIC)
                             : sqlite3_bind_blob(statement, (int)k, bytes, (int)n, SQLITE_STATIC);
        } else {
            fail("unknown value type in the dump", NULL);
        }
        if (rc != SQLITE_OK) fail("bind", sqlite3_errmsg(db));
    }
}

int main(int argc, char **argv) {
    if (argc != 3) fail("usage: sqlite_replay DB DUMP", NULL);
    Reader r = {0};
    r.data = read_all(argv[2], &r.size);
    if (memcmp(take(&r, 9), "TGREPLAY1", 9) != 0) fail("not a replay dump", argv[2]);
    sqlite3 *db;
    if (sqlite3_open(argv[1], &db) != SQLITE_OK) fail("cannot open", argv[1]);
    for (uint32_t n = u32(&r); n > 0; n--) {
        uint32_t length = u32(&r);
        char *pragma = strndup((const char *)take(&r, length), length);
        exec(db, pragma);
        free(pragma);
    }
    long rows = 0, statements = 0, commits = 0;
    double cpu = seconds(CLOCK_PROCESS_CPUTIME_ID), wall = seconds(CLOCK_MONOTONIC);
    exec(db, "BEGIN IMMEDIATE");
    for (;;) {
        unsigned char record = *take(&r, 1);
        if (record == 'E') break;
        if (record == 'C') {
            exec(db, "COMMIT");
            exec(db, "BEGIN IMMEDIATE");
            commits++;
            continue;
        }
        if (record != 'S') fail("unknown record in the dump", NULL);
        uint32_t length = u32(&r);
        const char *sql = (const char *)take(&r, length);
        sqlite3_stmt *statement;
        if (sqlite3_prepare_v2(db, sql, (int)length, &statement, NULL) != SQLITE_OK)
            fail("prepare", sqlite3_errmsg(db));
        for (uint32_t n = u32(&r); n > 0; n--) {
            bind_row(&r, db, statement);
            if (sqlite3_step(statement) != SQLITE_DONE) fail("step", sqlite3_errmsg(db));
            sqlite3_reset(statement);
            rows++;
        }
        sqlite3_finalize(statement);
        statements++;
    }
    exec(db, "COMMIT");
    cpu = seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu;
    wall = seconds(CLOCK_MONOTONIC) - wall;
    if (sqlite3_close(db) != SQLITE_OK) fail("close", NULL);
    printf("rows=%ld statements=%ld commits=%ld cpu_s=%.6f wall_s=%.6f\n", rows, statements,
           commits, cpu, wall);
    free((void *)r.data);
    return 0;
}
