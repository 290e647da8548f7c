/* Unit tests for the per-connection protocol core (src/http/conn.c), driven
 * the way a server drives it but with no socket: request bytes are fed in
 * chunks through http_conn_read_space/http_conn_received, and whatever
 * http_conn_output describes is "sent" into a transcript. A fake handler
 * serves a few fixed paths and counts what it hands out and gets back. */
#include "http/conn.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>

enum {
    MAX_HEAD = 8192,
    MAX_BODY = 1000,
    FAKE_FD = 1000, /* never a real descriptor: the fake release must not close it */
    FAKE_WAIT_FD = 1001, /* what a pending resource is waited on with; never polled here */
    FILE_SIZE = 12345,
    MAX_PATHS = 16,
    MAX_LOGS = 16,
    MAX_RESPONSES = 16,
    TRANSCRIPT = 1 << 18,
};

static const time_t NOW = 1700000000;  /* Tue, 14 Nov 2023 22:13:20 GMT */
static const time_t MTIME = 1600000000; /* Sun, 13 Sep 2020 12:26:40 GMT */
#define NOW_DATE "Tue, 14 Nov 2023 22:13:20 GMT"
#define MTIME_DATE "Sun, 13 Sep 2020 12:26:40 GMT"

static const char HELLO[] = "hello";

/* ---- the fake static-file handler ---- */

struct fake {
    int resolves;
    int resumes;
    int ready;       /* the work that "/wait" waits for is done */
    int acquired;    /* resolves that handed out an fd or data */
    int releases;    /* release calls */
    int bad_release; /* release of something never handed out */
    char paths[MAX_PATHS][256];
};

static void fake_resolve(void *ctx, const char *path, size_t path_len, unsigned accept, struct http_resource *res)
{
    (void)accept;
    struct fake *f = ctx;
    if (f->resolves < MAX_PATHS)
        snprintf(f->paths[f->resolves], sizeof f->paths[0], "%.*s", (int)path_len, path);
    f->resolves++;
    CHECK_EQ_INT(strlen(path), path_len); /* NUL-terminated as promised */
    memset(res, 0, sizeof *res);
    res->fd = -1;
    res->mtime = MTIME;
    res->etag_id = 7;
    res->content_type = "text/plain";
    if (strcmp(path, "/a.txt") == 0) {
        res->status = 200;
        res->data = HELLO;
        res->size = 5;
    } else if (strcmp(path, "/f.bin") == 0) {
        res->status = 200;
        res->fd = FAKE_FD;
        res->size = FILE_SIZE;
        res->content_type = "application/octet-stream";
    } else if (strcmp(path, "/wait") == 0) {
        res->flags = HTTP_RES_PENDING; /* made elsewhere, like a listing being built */
        res->fd = FAKE_WAIT_FD;
    } else if (path_len >= 3 && strcmp(path + path_len - 3, "dir") == 0) {
        res->status = 301; /* a directory asked for without its '/' */
    } else {
        res->status = 404;
    }
    if (res->fd >= 0 || res->data)
        f->acquired++;
}

static void fake_release(void *ctx, struct http_resource *res)
{
    struct fake *f = ctx;
    f->releases++;
    if (!(res->fd == FAKE_FD || res->data == HELLO || (res->fd == FAKE_WAIT_FD && (res->flags & HTTP_RES_PENDING))))
        f->bad_release++;
}

/* "/wait" is ready once the test says so; until then it stays pending. */
static void fake_resume(void *ctx, struct http_resource *res)
{
    struct fake *f = ctx;
    f->resumes++;
    CHECK(res->flags & HTTP_RES_PENDING);
    CHECK_EQ_INT(res->fd, FAKE_WAIT_FD);
    if (!f->ready)
        return;
    res->flags &= ~(unsigned)HTTP_RES_PENDING;
    res->fd = -1;
    res->status = 200;
    res->data = HELLO;
    res->size = 5;
}

/* ---- the access log ---- */

struct log_rec {
    char peer[64];
    char line[256];
    int status;
    uint64_t body_bytes;
    char referer[128];
    char agent[128];
    time_t now;
};

struct env {
    struct fake fake;
    struct http_ctx ctx;
    struct log_rec logs[MAX_LOGS];
    int nlogs;
};

static void copy_span(char *out, size_t cap, struct http_span s)
{
    snprintf(out, cap, "%.*s", (int)s.len, s.len ? s.ptr : "");
}

static void record_log(void *log_ctx, const struct http_log_entry *e)
{
    struct env *env = log_ctx;
    if (env->nlogs < MAX_LOGS) {
        struct log_rec *r = &env->logs[env->nlogs];
        snprintf(r->peer, sizeof r->peer, "%s", e->peer);
        copy_span(r->line, sizeof r->line, e->request_line);
        copy_span(r->referer, sizeof r->referer, e->referer);
        copy_span(r->agent, sizeof r->agent, e->user_agent);
        r->status = e->status;
        r->body_bytes = e->body_bytes;
        r->now = e->now;
    }
    env->nlogs++;
}

static void env_init(struct env *env)
{
    memset(env, 0, sizeof *env);
    struct http_handler handler = {
        .resolve = fake_resolve, .release = fake_release, .resume = fake_resume, .ctx = &env->fake};
    http_ctx_init(&env->ctx, MAX_HEAD, MAX_BODY, handler);
    env->ctx.on_log = record_log;
    env->ctx.log_ctx = env;
}

/* Every resource handed out was given back exactly once. */
static void env_done(struct env *env)
{
    CHECK_EQ_INT(env->fake.releases, env->fake.acquired);
    CHECK_EQ_INT(env->fake.bad_release, 0);
    http_ctx_destroy(&env->ctx);
}

/* ---- the driver ---- */

struct run {
    char out[TRANSCRIPT]; /* head and body bytes; file ranges as "[file fd off len]" */
    size_t out_len;
    size_t starts[MAX_RESPONSES + 1]; /* where each response begins in out */
    int responses;
    size_t fed;        /* request bytes consumed */
    int stuck;         /* wanted to read but had no room */
    enum http_want final;
};

static void append(struct run *r, const void *p, size_t n)
{
    if (n > sizeof r->out - r->out_len)
        abort();
    memcpy(r->out + r->out_len, p, n);
    r->out_len += n;
}

/* Sends one piece of what the output describes, at most `most` bytes
 * (0: all of the piece). */
static void send_some(struct http_conn *c, struct run *r, size_t most)
{
    const struct http_output *o = http_conn_output(c);
    if (c->reply.bytes_sent == 0 && r->responses < MAX_RESPONSES)
        r->starts[r->responses++] = r->out_len;
    if (o->head_len > 0) {
        size_t n = most && most < o->head_len ? most : o->head_len;
        append(r, o->head, n);
        http_conn_sent(c, n, NOW);
    } else if (o->data_len > 0) {
        size_t n = most && most < o->data_len ? most : o->data_len;
        append(r, o->data, n);
        http_conn_sent(c, n, NOW);
    } else {
        uint64_t n = most && most < o->file_len ? most : o->file_len;
        char note[96];
        int len = snprintf(note, sizeof note, "[file %d %llu %llu]", o->file_fd,
                           (unsigned long long)o->file_offset, (unsigned long long)n);
        append(r, note, (size_t)len);
        http_conn_sent(c, (size_t)n, NOW);
    }
}

/* Feeds in[0..len) in chunks of at most `chunk` bytes, sends output in pieces
 * of at most `send_chunk` bytes (0: whole pieces), optionally reports end of
 * input once everything was fed, and stops when the connection wants to close
 * or wants to read with nothing left to feed. */
static void drive_split(struct http_conn *c, const char *in, size_t len, size_t chunk, size_t send_chunk, int eof,
                        struct run *r)
{
    int eof_sent = 0;
    memset(r, 0, sizeof *r);
    for (long guard = 0; guard < 10000000; guard++) {
        enum http_want w = http_conn_want(c);
        if (w == HTTP_WANT_CLOSE)
            break;
        if (w == HTTP_WANT_WRITE) {
            send_some(c, r, send_chunk);
            continue;
        }
        if (r->fed == len) {
            if (!eof || eof_sent)
                break;
            size_t room;
            CHECK(http_conn_read_space(c, &room) != NULL);
            http_conn_received(c, 0, NOW);
            eof_sent = 1;
            continue;
        }
        size_t room;
        char *space = http_conn_read_space(c, &room);
        if (!space || room == 0) {
            r->stuck = 1;
            break;
        }
        size_t n = len - r->fed;
        if (n > chunk)
            n = chunk;
        if (n > room)
            n = room;
        memcpy(space, in + r->fed, n);
        r->fed += n;
        http_conn_received(c, n, NOW);
    }
    r->starts[r->responses] = r->out_len;
    r->final = http_conn_want(c);
}

static void drive(struct http_conn *c, const char *in, struct run *r)
{
    drive_split(c, in, strlen(in), strlen(in) + 1, 0, 0, r);
}

/* ---- reading the transcript ---- */

static const char *resp_ptr(const struct run *r, int i)
{
    return r->out + r->starts[i];
}

static size_t resp_len(const struct run *r, int i)
{
    return r->starts[i + 1] - r->starts[i];
}

/* Length of the head (through the empty line) of response i, or 0. */
static size_t resp_head_len(const struct run *r, int i)
{
    const char *p = memmem(resp_ptr(r, i), resp_len(r, i), "\r\n\r\n", 4);
    return p ? (size_t)(p + 4 - resp_ptr(r, i)) : 0;
}

static int resp_status(const struct run *r, int i)
{
    if (i >= r->responses || resp_len(r, i) < 12 || memcmp(resp_ptr(r, i), "HTTP/1.1 ", 9) != 0)
        return -1;
    return atoi(resp_ptr(r, i) + 9);
}

/* The value of field `name` (exact case, as duct writes it) in the head of
 * response i, copied into out; NULL when absent. */
static const char *resp_field(const struct run *r, int i, const char *name, char *out, size_t cap)
{
    char key[64];
    int klen = snprintf(key, sizeof key, "\r\n%s: ", name);
    size_t head = resp_head_len(r, i);
    const char *p = memmem(resp_ptr(r, i), head, key, (size_t)klen);
    if (!p)
        return NULL;
    p += klen;
    const char *end = memmem(p, (size_t)(resp_ptr(r, i) + head - p), "\r\n", 2);
    snprintf(out, cap, "%.*s", (int)(end - p), p);
    return out;
}

static const char *resp_body(const struct run *r, int i, size_t *len)
{
    size_t head = resp_head_len(r, i);
    *len = resp_len(r, i) - head;
    return resp_ptr(r, i) + head;
}

static int count_occurrences(const char *hay, size_t n, const char *needle)
{
    int count = 0;
    size_t k = strlen(needle);
    for (const char *p = hay; (p = memmem(p, (size_t)(hay + n - p), needle, k)) != NULL; p += k)
        count++;
    return count;
}

/* The HTML body duct sends with an error status. */
static size_t error_body(int status, const char *reason, char *out, size_t cap)
{
    int n = snprintf(out, cap,
                     "<!DOCTYPE html>\n<html><head><title>%d %s</title></head>\n"
                     "<body><h1>%d %s</h1></body></html>\n",
                     status, reason, status, reason);
    return (size_t)n;
}

/* Checks that response i is a complete error response with the usual body. */
static void check_error_response(const struct run *r, int i, int status, const char *reason, int head_request)
{
    char want[512], field[64];
    size_t want_len = error_body(status, reason, want, sizeof want);
    size_t body_len;
    const char *body = resp_body(r, i, &body_len);
    CHECK_EQ_INT(resp_status(r, i), status);
    CHECK_EQ_STR(resp_field(r, i, "Content-Type", field, sizeof field), "text/html; charset=utf-8");
    char cl[32];
    snprintf(cl, sizeof cl, "%zu", want_len);
    CHECK_EQ_STR(resp_field(r, i, "Content-Length", field, sizeof field), cl);
    if (head_request)
        CHECK_EQ_INT(body_len, 0);
    else
        CHECK_EQ_MEM(body, body_len, want, want_len);
}

#define GET_A "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
#define GET_MISSING "GET /missing HTTP/1.1\r\nHost: x\r\n\r\n"

#define A_HEAD_FIELDS                                                                                       \
    "Server: duct\r\nDate: " NOW_DATE "\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"                \
    "Accept-Ranges: bytes\r\nLast-Modified: " MTIME_DATE "\r\nETag: \"5f5e1000-5\"\r\n"
#define A_RESPONSE "HTTP/1.1 200 OK\r\n" A_HEAD_FIELDS "\r\nhello"

#define LIT_ARGS(s) s, sizeof(s) - 1

static struct run run_buf; /* large: kept out of the stack */
static struct run run_ref;

/* ---- the cases ---- */

static void test_get_keep_alive(void)
{
    struct env env;
    struct http_conn c;
    struct run *r = &run_buf;
    env_init(&env);
    http_conn_init(&c, &env.ctx, "127.0.0.1");
    CHECK_EQ_INT(http_conn_want(&c), HTTP_WANT_READ);
    CHECK(http_conn_idle(&c));

    drive(&c, GET_A, r);
    CHECK_EQ_INT(r->responses, 1);
    CHECK_EQ_MEM(r->out, r->out_len, A_RESPONSE, sizeof A_RESPONSE - 1);
    CHECK_EQ_INT(r->final, HTTP_WANT_READ);
    CHECK(http_conn_idle(&c));
    CHECK_EQ_INT(env.fake.resolves, 1);
    CHECK_EQ_STR(env.fake.paths[0], "/a.txt");
    CHECK_EQ_INT(env.fake.releases, 1); /* given back once the body was sent */

    /* The same connection serves a second request identically. */
    drive(&c, GET_A, r);
    CHECK_EQ_MEM(r->out, r->out_len, A_RESPONSE, sizeof A_RESPONSE - 1);
    CHECK_EQ_INT(r->final, HTTP_WANT_READ);
    http_conn_release(&c);
    env_done(&env);
}

/* Runs `in` on a fresh connection with the given splits into *r and returns
 * the handler's resolve count. */
static int run_fresh(const char *in, size_t len, size_t chunk, size_t send_chunk, int eof, struct run *r)
{
    struct env env;
    struct http_conn c;
    env_init(&env);
    http_conn_init(&c, &env.ctx, "127.0.0.1");
    drive_split(&c, in, len, chunk, send_chunk, eof, r);
    http_conn_release(&c);
    env_done(&env);
    return env.fake.resolves;
}

/* The same bytes, split at every possible chunk size on both sides, give the
 * same transcript. */
static void check_every_split(const char *in, int responses, const int *statuses, enum http_want final)
{
    size_t len = strlen(in);
    run_fresh(in, len, len, 0, 0, &run_ref);
    CHECK_EQ_INT(run_ref.responses, responses);
    CHECK_EQ_INT(count_occurrences(run_ref.out, run_ref.out_len, "HTTP/1.1 "), responses);
    for (int i = 0; i < responses && i < run_ref.responses; i++)
        CHECK_EQ_INT(resp_status(&run_ref, i), statuses[i]);
    CHECK_EQ_INT(run_ref.final, final);
    if (final == HTTP_WANT_READ)
        CHECK_EQ_INT(run_ref.fed, len);

    int mismatches = 0;
    for (size_t chunk = 1; chunk <= len; chunk++) {
        run_fresh(in, len, chunk, chunk, 0, &run_buf);
        int same = run_buf.responses == responses && run_buf.final == final &&
                   (final != HTTP_WANT_READ || run_buf.fed == len) &&
                   run_buf.out_len == run_ref.out_len &&
                   memcmp(run_buf.out, run_ref.out, run_ref.out_len) == 0 &&
                   memcmp(run_buf.starts, run_ref.starts, sizeof run_ref.starts) == 0;
        if (!same && mismatches++ == 0)
            fprintf(stderr, "     chunk %zu: %d responses, %zu bytes (want %d, %zu)\n", chunk,
                    run_buf.responses, run_buf.out_len, responses, run_ref.out_len);
    }
    CHECK_EQ_INT(mismatches, 0);
}

static void test_pipelined_every_split(void)
{
    static const int statuses[] = { 200, 404, 200 };
    check_every_split(GET_A GET_MISSING GET_A, 3, statuses, HTTP_WANT_READ);
    CHECK_EQ_MEM(resp_ptr(&run_ref, 0), resp_len(&run_ref, 0), A_RESPONSE, sizeof A_RESPONSE - 1);
    CHECK_EQ_MEM(resp_ptr(&run_ref, 2), resp_len(&run_ref, 2), A_RESPONSE, sizeof A_RESPONSE - 1);
    check_error_response(&run_ref, 1, 404, "Not Found", 0);
}

/* A body announced by Content-Length is read and thrown away, even when it
 * looks like a request itself. */
static void test_body_discarded_every_split(void)
{
    static const int statuses[] = { 200, 404 };
    check_every_split("GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n"
                      "GET /a.txt" GET_MISSING,
                      2, statuses, HTTP_WANT_READ);
    CHECK_EQ_MEM(resp_ptr(&run_ref, 0), resp_len(&run_ref, 0), A_RESPONSE, sizeof A_RESPONSE - 1);

    static const int post_statuses[] = { 405, 200 };
    check_every_split("POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" GET_A, 2, post_statuses,
                      HTTP_WANT_READ);
}

static void test_head_request(void)
{
    static const struct {
        const char *path;
        const char *want;
    } cases[] = {
        { "/a.txt", "HTTP/1.1 200 OK\r\n" A_HEAD_FIELDS "\r\n" },
        { "/f.bin", "HTTP/1.1 200 OK\r\nServer: duct\r\nDate: " NOW_DATE "\r\n"
                    "Content-Type: application/octet-stream\r\nContent-Length: 12345\r\n"
                    "Accept-Ranges: bytes\r\nLast-Modified: " MTIME_DATE "\r\nETag: \"5f5e1000-3039\"\r\n\r\n" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct env env;
        struct http_conn c;
        char req[128];
        env_init(&env);
        http_conn_init(&c, &env.ctx, "127.0.0.1");
        snprintf(req, sizeof req, "HEAD %s HTTP/1.1\r\nHost: x\r\n\r\n", cases[i].path);
        /* No body will be sent, so the resource is given back at once. */
        size_t room, len = strlen(req);
        memcpy(http_conn_read_space(&c, &room), req, len);
        http_conn_received(&c, len, NOW);
        CHECK_EQ_INT(http_conn_want(&c), HTTP_WANT_WRITE);
        CHECK_EQ_INT(env.fake.releases, 1);
        CHECK_EQ_INT(http_conn_output(&c)->file_len, 0);
        CHECK_EQ_INT(http_conn_output(&c)->data_len, 0);
        drive(&c, "", &run_buf);
        CHECK_EQ_INT(run_buf.responses, 1);
        CHECK_EQ_MEM(run_buf.out, run_buf.out_len, cases[i].want, strlen(cases[i].want));
        CHECK_EQ_INT(env.fake.acquired, 1);
        CHECK_EQ_INT(env.fake.releases, 1);
        CHECK_EQ_INT(run_buf.final, HTTP_WANT_READ);
        CHECK_EQ_INT(env.nlogs, 1);
        CHECK(env.logs[0].body_bytes == 0);
        http_conn_release(&c);
        env_done(&env);
    }
}

static void test_file_range(void)
{
    struct env env;
    struct http_conn c;
    env_init(&env);
    http_conn_init(&c, &env.ctx, "127.0.0.1");
    static const char req[] = "GET /f.bin HTTP/1.1\r\nHost: x\r\n\r\n";
    size_t room;
    char *space = http_conn_read_space(&c, &room);
    memcpy(space, req, sizeof req - 1);
    http_conn_received(&c, sizeof req - 1, NOW);

    CHECK_EQ_INT(http_conn_want(&c), HTTP_WANT_WRITE);
    const struct http_output *o = http_conn_output(&c);
    static const char want_head[] = "HTTP/1.1 200 OK\r\nServer: duct\r\nDate: " NOW_DATE "\r\n"
                                    "Content-Type: application/octet-stream\r\nContent-Length: 12345\r\n"
                                    "Accept-Ranges: bytes\r\nLast-Modified: " MTIME_DATE "\r\n"
                                    "ETag: \"5f5e1000-3039\"\r\n\r\n";
    CHECK_EQ_MEM(o->head, o->head_len, want_head, sizeof want_head - 1);
    CHECK_EQ_INT(o->data_len, 0);
    CHECK_EQ_INT(o->file_fd, FAKE_FD);
    CHECK(o->file_offset == 0);
    CHECK(o->file_len == FILE_SIZE);

    /* Head in two parts, then the file in two ranges. */
    http_conn_sent(&c, 10, NOW);
    CHECK_EQ_MEM(o->head, o->head_len, want_head + 10, sizeof want_head - 11);
    http_conn_sent(&c, sizeof want_head - 11, NOW);
    CHECK_EQ_INT(o->head_len, 0);
    CHECK_EQ_INT(http_conn_want(&c), HTTP_WANT_WRITE);
    CHECK_EQ_INT(o->file_fd, FAKE_FD);
    CHECK(o->file_offset == 0 && o->file_len == FILE_SIZE);
    http_conn_sent(&c, 5000, NOW);
    CHECK(o->file_offset == 5000 && o->file_len == FILE_SIZE - 5000);
    CHECK_EQ_INT(env.fake.releases, 0);
    http_conn_sent(&c, FILE_SIZE - 5000, NOW);
    CHECK_EQ_INT(env.fake.releases, 1);
    CHECK_EQ_INT(http_conn_want(&c), HTTP_WANT_READ);
    CHECK_EQ_INT(env.nlogs, 1);
    CHECK_EQ_INT(env.logs[0].status, 200);
    CHECK(env.logs[0].body_bytes == FILE_SIZE);

    http_conn_release(&c);
    CHECK_EQ_INT(env.fake.releases, 1);
    env_done(&env);

    /* Through the driver: head, then exactly one range covering the file. */
    run_fresh(req, sizeof req - 1, 64, 0, 0, &run_buf);
    CHECK_EQ_INT(run_buf.responses, 1);
    CHECK_EQ_INT(resp_head_len(&run_buf, 0), sizeof want_head - 1);
    size_t body_len;
    const char *body = resp_body(&run_buf, 0, &body_len);
    CHECK_EQ_MEM(body, body_len, "[file 1000 0 12345]", 19);
}

/* Several ranges: one response made of a sequence of outputs (the head with
 * the first part's header, each part's file range, the next part's header,
 * ..., the closing delimiter), sent in pieces of any size, then the next
 * pipelined request. The Content-Length announced is the bytes that follow. */
static void test_multipart_plan(void)
{
    static const char req[] = "GET /f.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=100-109,0-9,12340-\r\n\r\n" GET_A;
    static const size_t sends[] = {0, 1, 7, 64};
    for (size_t k = 0; k < sizeof sends / sizeof sends[0]; k++) {
        struct env env;
        struct http_conn c;
        char field[128], b[40], want[1024];
        env_init(&env);
        http_conn_init(&c, &env.ctx, "127.0.0.1");
        drive_split(&c, req, sizeof req - 1, sizeof req, sends[k], 0, &run_buf);
        CHECK_EQ_INT(resp_status(&run_buf, 0), 206);
        CHECK(resp_field(&run_buf, 0, "Content-Range", field, sizeof field) == NULL);
        CHECK(resp_field(&run_buf, 0, "Content-Type", field, sizeof field) != NULL);
        CHECK(sscanf(field, "multipart/byteranges; boundary=%39s", b) == 1);
        CHECK_EQ_INT(strlen(b), 16);
        CHECK_EQ_INT(env.nlogs, 2);
        CHECK_EQ_INT(env.logs[0].status, 206);
        CHECK(resp_field(&run_buf, 0, "Content-Length", field, sizeof field) != NULL);
        CHECK_EQ_INT(env.logs[0].body_bytes, strtoull(field, NULL, 10));
        if (sends[k] == 0) {
            const char *part = "\r\n--%s\r\nContent-Type: application/octet-stream\r\n"
                               "Content-Range: bytes %s/12345\r\n\r\n";
            int n = snprintf(want, sizeof want, part, b, "0-9");
            n += snprintf(want + n, sizeof want - (size_t)n, "[file 1000 0 10]");
            n += snprintf(want + n, sizeof want - (size_t)n, part, b, "100-109");
            n += snprintf(want + n, sizeof want - (size_t)n, "[file 1000 100 10]");
            n += snprintf(want + n, sizeof want - (size_t)n, part, b, "12340-12344");
            n += snprintf(want + n, sizeof want - (size_t)n, "[file 1000 12340 5]\r\n--%s--\r\n", b);
            size_t body_len;
            const char *body = resp_body(&run_buf, 0, &body_len);
            CHECK_EQ_MEM(body, body_len, want, (size_t)n);
        }
        CHECK_EQ_INT(run_buf.responses, 2);
        CHECK_EQ_MEM(resp_ptr(&run_buf, 1), resp_len(&run_buf, 1), A_RESPONSE, sizeof A_RESPONSE - 1);
        CHECK_EQ_INT(run_buf.final, HTTP_WANT_READ);
        http_conn_release(&c);
        env_done(&env);
    }
}

/* The file shrank mid-response: the connection must end, and the resource is
 * still given back exactly once. */
static void test_file_abort(void)
{
    struct env env;
    struct http_conn c;
    env_init(&env);
    http_conn_init(&c, &env.ctx, "127.0.0.1");
    static const char req[] = "GET /f.bin HTTP/1.1\r\nHost: x\r\n\r\n";
    size_t room;
    char *space = http_conn_read_space(&c, &room);
    memcpy(space, req, sizeof req - 1);
    http_conn_received(&c, sizeof req - 1, NOW);
    const struct http_output *o = http_conn_output(&c);
    http_conn_sent(&c, o->head_len, NOW);
    http_conn_sent(&c, 100, NOW);
    CHECK_EQ_INT(env.fake.releases, 0);
    http_conn_abort(&c);
    CHECK_EQ_INT(http_conn_want(&c), HTTP_WANT_CLOSE);
    CHECK_EQ_INT(env.fake.releases, 1);
    http_conn_release(&c);
    CHECK_EQ_INT(env.fake.releases, 1);
    CHECK_EQ_INT(http_conn_want(&c), HTTP_WANT_CLOSE);
    env_done(&env);

    /* The peer went away mid-file: the driver just releases the connection. */
    env_init(&env);
    http_conn_init(&c, &env.ctx, "127.0.0.1");
    space = http_conn_read_space(&c, &room);
    memcpy(space, req, sizeof req - 1);
    http_conn_received(&c, sizeof req - 1, NOW);
    http_conn_sent(&c, o->head_len + 1, NOW);
    CHECK_EQ_INT(env.fake.releases, 0);
    http_conn_release(&c);
    CHECK_EQ_INT(env.fake.releases, 1);
    CHECK(c.buf == NULL);
    env_done(&env);
}

static void test_redirects(void)
{
    static const struct {
        const char *target;
        const char *resolved;
        const char *location;
    } cases[] = {
        { "/dir", "/dir", "/dir/" },
        { "/dir?x=1", "/dir", "/dir/?x=1" },
        { "/./dir", "/dir", "/dir/" },
        { "//evil.example/dir", "/evil.example/dir", "/evil.example/dir/" },
        { "//evil.example/dir?a=b", "/evil.example/dir", "/evil.example/dir/?a=b" },
        { "/%2Fevil.example/dir", NULL, NULL }, /* an encoded '/' is refused: 400 */
        { "/%2E%2E/dir", NULL, NULL },          /* climbing above the root: 400 */
        { "/my%20dir", "/my dir", "/my%20dir/" },
        { "/a%0D%0ASet-Cookie:%20x=1;dir", NULL, NULL }, /* control bytes are refused: 400 */
        { "/a:b=c;dir", "/a:b=c;dir", "/a%3Ab%3Dc%3Bdir/" },
        { "/%22%3C%3Edir?q=%22", "/\"<>dir", "/%22%3C%3Edir/?q=%22" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct env env;
        struct http_conn c;
        char req[256], field[256];
        env_init(&env);
        http_conn_init(&c, &env.ctx, "127.0.0.1");
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", cases[i].target);
        drive(&c, req, &run_buf);
        CHECK_EQ_INT(run_buf.responses, 1);
        if (!cases[i].resolved) {
            CHECK_EQ_INT(resp_status(&run_buf, 0), 400);
            CHECK_EQ_INT(env.fake.resolves, 0);
        } else {
            CHECK_EQ_INT(resp_status(&run_buf, 0), 301);
            CHECK_EQ_INT(env.fake.resolves, 1);
            CHECK_EQ_STR(env.fake.paths[0], cases[i].resolved);
            const char *loc = resp_field(&run_buf, 0, "Location", field, sizeof field);
            CHECK_EQ_STR(loc, cases[i].location);
            CHECK(loc && loc[0] == '/' && loc[1] != '/');
            CHECK_EQ_STR(resp_field(&run_buf, 0, "Content-Length", field, sizeof field), "0");
            CHECK_EQ_INT(resp_len(&run_buf, 0), resp_head_len(&run_buf, 0));
        }
        CHECK_EQ_INT(run_buf.final, HTTP_WANT_READ);
        http_conn_release(&c);
        env_done(&env);
    }
}

/* Persistence as answered: the Connection field and whether the connection
 * then waits for more or closes. */
static void test_connection_field(void)
{
    static const struct {
        const char *req;
        const char *connection; /* NULL: no Connection field */
        enum http_want final;
    } cases[] = {
        { GET_A, NULL, HTTP_WANT_READ },
        { "GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "close", HTTP_WANT_CLOSE },
        { "GET /a.txt HTTP/1.0\r\n\r\n", "close", HTTP_WANT_CLOSE },
        { "GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "keep-alive", HTTP_WANT_READ },
        { "GET /missing HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", "keep-alive", HTTP_WANT_READ },
        { "GET /missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "close", HTTP_WANT_CLOSE },
        { "GET /dir HTTP/1.0\r\n\r\n", "close", HTTP_WANT_CLOSE },
        { "OPTIONS * HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "keep-alive", HTTP_WANT_READ },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char field[64];
        /* A second request after the first must be answered only when the
         * connection persists. */
        char in[512];
        snprintf(in, sizeof in, "%s%s", cases[i].req, GET_A);
        run_fresh(in, strlen(in), strlen(in), 0, 0, &run_buf);
        const char *got = resp_field(&run_buf, 0, "Connection", field, sizeof field);
        if (cases[i].connection)
            CHECK_EQ_STR(got, cases[i].connection);
        else
            CHECK(got == NULL);
        CHECK_EQ_INT(run_buf.final, cases[i].final);
        CHECK_EQ_INT(run_buf.responses, cases[i].final == HTTP_WANT_CLOSE ? 1 : 2);
    }
}

static char *repeat(char *p, char c, size_t n)
{
    memset(p, c, n);
    return p + n;
}

/* Requests the connection must refuse. Those whose framing is unknown end
 * the connection; the rest keep it. */
static void test_errors(void)
{
    static char long_line[MAX_HEAD + 1024], big_head[MAX_HEAD + 1024];
    char *p = long_line;
    p += sprintf(p, "GET /");
    p = repeat(p, 'a', MAX_HEAD + 100);
    sprintf(p, " HTTP/1.1\r\nHost: x\r\n\r\n");
    p = big_head;
    p += sprintf(p, "GET /a.txt HTTP/1.1\r\nHost: x\r\nX-Big: ");
    p = repeat(p, 'b', MAX_HEAD);
    sprintf(p, "\r\n\r\n");

    static const struct {
        const char *req;
        int status;
        const char *reason;
        enum http_want final;
    } cases[] = {
        { "GET /a.txt HTTP/1.1\r\n\r\n", 400, "Bad Request", HTTP_WANT_CLOSE },
        { "GET /a.txt HTTP/1.1\r\nHost x\r\n\r\n", 400, "Bad Request", HTTP_WANT_CLOSE },
        { "GET  /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", 400, "Bad Request", HTTP_WANT_CLOSE },
        { "GET /a.txt HTTP/1.1\rHost: x\r\n\r\n", 400, "Bad Request", HTTP_WANT_CLOSE },
        { "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "HTTP Version Not Supported", HTTP_WANT_CLOSE },
        { long_line, 414, "URI Too Long", HTTP_WANT_CLOSE },
        { big_head, 431, "Request Header Fields Too Large", HTTP_WANT_CLOSE },
        { "POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n", 413, "Content Too Large",
          HTTP_WANT_CLOSE },
        { "GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n", 413, "Content Too Large",
          HTTP_WANT_CLOSE },
        { "POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc",
          400, "Bad Request", HTTP_WANT_CLOSE },
        { "POST /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 405,
          "Method Not Allowed", HTTP_WANT_READ },
        { "POST /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501,
          "Not Implemented", HTTP_WANT_CLOSE },
        { "POST /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n", 400, "Bad Request",
          HTTP_WANT_CLOSE },
        { "GET /a.txt HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n", 417, "Expectation Failed",
          HTTP_WANT_CLOSE },
        { "GET /a.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "Bad Request", HTTP_WANT_CLOSE },
        { "GET foo HTTP/1.1\r\nHost: x\r\n\r\n", 400, "Bad Request", HTTP_WANT_CLOSE },
        { "GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400, "Bad Request", HTTP_WANT_READ },
        { "GET /missing HTTP/1.1\r\nHost: x\r\n\r\n", 404, "Not Found", HTTP_WANT_READ },
        { "DELETE /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", 405, "Method Not Allowed", HTTP_WANT_READ },
        { "GET /../x HTTP/1.1\r\nHost: x\r\n\r\n", 400, "Bad Request", HTTP_WANT_READ },
        { "GET /a/../../x HTTP/1.1\r\nHost: x\r\n\r\n", 400, "Bad Request", HTTP_WANT_READ },
        { "GET /%2e%2e/x HTTP/1.1\r\nHost: x\r\n\r\n", 400, "Bad Request", HTTP_WANT_READ },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char field[64];
        /* A valid request follows; it may be answered only if the connection
         * persists. */
        static char in[sizeof long_line + 64];
        snprintf(in, sizeof in, "%s%s", cases[i].req, GET_A);
        int resolves = run_fresh(in, strlen(in), 4096, 0, 0, &run_buf);
        if (resp_status(&run_buf, 0) != cases[i].status)
            fprintf(stderr, "     error case %zu: %.60s\n", i, cases[i].req);
        check_error_response(&run_buf, 0, cases[i].status, cases[i].reason, 0);
        CHECK_EQ_INT(run_buf.final, cases[i].final);
        CHECK_EQ_INT(run_buf.stuck, 0);
        if (cases[i].final == HTTP_WANT_CLOSE) {
            CHECK_EQ_INT(run_buf.responses, 1);
            CHECK_EQ_STR(resp_field(&run_buf, 0, "Connection", field, sizeof field), "close");
            CHECK_EQ_INT(resolves, 0);
        } else {
            CHECK_EQ_INT(run_buf.responses, 2);
            CHECK_EQ_INT(resp_status(&run_buf, 1), 200);
            /* Only the trailing GET /a.txt (and a 404 lookup) reach the handler. */
            CHECK_EQ_INT(resolves, cases[i].status == 404 ? 2 : 1);
        }
        if (cases[i].status == 405) {
            CHECK_EQ_STR(resp_field(&run_buf, 0, "Allow", field, sizeof field), "GET, HEAD, OPTIONS");
        }
    }
}

/* Builds "GET /a.txt" with one padding field so that the head is exactly
 * `total` bytes long. */
static size_t padded_head(char *out, size_t total)
{
    static const char start[] = "GET /a.txt HTTP/1.1\r\nHost: x\r\nX-Pad: ";
    size_t pad = total - (sizeof start - 1) - 4;
    char *p = out;
    memcpy(p, start, sizeof start - 1);
    p = repeat(p + sizeof start - 1, 'p', pad);
    memcpy(p, "\r\n\r\n", 5);
    return total;
}

static void test_limits(void)
{
    static char in[MAX_HEAD + 64];
    /* A head of exactly max_head bytes is served; one byte more is 431. */
    size_t len = padded_head(in, MAX_HEAD);
    run_fresh(in, len, 1000, 0, 0, &run_buf);
    CHECK_EQ_INT(run_buf.responses, 1);
    CHECK_EQ_MEM(run_buf.out, run_buf.out_len, A_RESPONSE, sizeof A_RESPONSE - 1);
    CHECK_EQ_INT(run_buf.final, HTTP_WANT_READ);
    len = padded_head(in, MAX_HEAD + 1);
    run_fresh(in, len, 1000, 0, 0, &run_buf);
    CHECK_EQ_INT(run_buf.responses, 1);
    check_error_response(&run_buf, 0, 431, "Request Header Fields Too Large", 0);
    CHECK_EQ_INT(run_buf.final, HTTP_WANT_CLOSE);
    CHECK_EQ_INT(run_buf.stuck, 0);

    /* Empty lines before a request line are skipped (RFC 9112 §2.2). */
    static const int statuses[] = { 200, 200 };
    check_every_split("\r\n" GET_A "\r\n\r\n" GET_A, 2, statuses, HTTP_WANT_READ);

    /* A body of exactly max_body bytes is accepted and discarded. */
    char *p = in + sprintf(in, "POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", MAX_BODY);
    p = repeat(p, 'z', MAX_BODY);
    strcpy(p, GET_A);
    run_fresh(in, strlen(in), 97, 0, 0, &run_buf);
    CHECK_EQ_INT(run_buf.responses, 2);
    CHECK_EQ_INT(resp_status(&run_buf, 0), 405);
    CHECK_EQ_INT(resp_status(&run_buf, 1), 200);
    CHECK_EQ_INT(run_buf.final, HTTP_WANT_READ);
}

/* RFC 9112 §3: request lines of at least 8,000 octets are read. A long query
 * reaches the handler with its path; a path longer than PATH_MAX names no
 * file (the kernel's ENAMETOOLONG): 404 without asking the handler, not 414,
 * and the connection goes on. */
static void test_long_request_line(void)
{
    static char in[MAX_HEAD + 64];
    static const struct {
        const char *prefix;
        size_t line;  /* octets of the request line, CRLF excluded */
        int status;
        int resolves;
    } cases[] = {
        { "/a.txt?q=", 8000, 200, 1 },
        { "/", 4000, 404, 1 },   /* fits in PATH_MAX: the handler is asked */
        { "/", 8000, 404, 0 },
        { "/", 5000, 404, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t fixed = strlen("GET  HTTP/1.1") + strlen(cases[i].prefix);
        char *p = in + sprintf(in, "GET %s", cases[i].prefix);
        p = repeat(p, 'q', cases[i].line - fixed);
        sprintf(p, " HTTP/1.1\r\nHost: x\r\n\r\n" GET_A);
        CHECK_EQ_INT(strchr(in, '\r') - in, cases[i].line);
        int resolves = run_fresh(in, strlen(in), 4096, 0, 0, &run_buf);
        CHECK_EQ_INT(run_buf.responses, 2);
        CHECK_EQ_INT(resp_status(&run_buf, 0), cases[i].status);
        CHECK_EQ_INT(resp_status(&run_buf, 1), 200);
        CHECK_EQ_INT(run_buf.final, HTTP_WANT_READ);
        CHECK_EQ_INT(resolves, cases[i].resolves + 1);
    }
}

/* A directory whose Location would not fit in a head is refused with 414
 * rather than redirected to a cut URL; a long one that fits is redirected. */
static void test_long_redirect(void)
{
    static char req[4096], want[1024];
    char field[1024];
    static const struct {
        size_t name_len;
        int status;
    } cases[] = {
        { 300, 301 },
        { 2000, 414 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *p = req + sprintf(req, "GET /");
        p = repeat(p, 'd', cases[i].name_len);
        sprintf(p, "dir?q=1 HTTP/1.1\r\nHost: x\r\n\r\n");
        run_fresh(req, strlen(req), 4096, 0, 0, &run_buf);
        CHECK_EQ_INT(run_buf.responses, 1);
        CHECK_EQ_INT(resp_status(&run_buf, 0), cases[i].status);
        if (cases[i].status == 301) {
            p = want + sprintf(want, "/");
            p = repeat(p, 'd', cases[i].name_len);
            strcpy(p, "dir/?q=1");
            CHECK_EQ_STR(resp_field(&run_buf, 0, "Location", field, sizeof field), want);
        } else {
            check_error_response(&run_buf, 0, 414, "URI Too Long", 0);
            CHECK(resp_field(&run_buf, 0, "Location", field, sizeof field) == NULL);
        }
    }
}

static void test_traversal_never_reaches_handler(void)
{
    struct env env;
    struct http_conn c;
    env_init(&env);
    http_conn_init(&c, &env.ctx, "127.0.0.1");
    drive(&c, "GET /../x HTTP/1.1\r\nHost: x\r\n\r\n", &run_buf);
    CHECK_EQ_INT(run_buf.responses, 1);
    check_error_response(&run_buf, 0, 400, "Bad Request", 0);
    CHECK_EQ_INT(env.fake.resolves, 0);
    http_conn_release(&c);
    env_done(&env);
}

static void test_head_of_errors(void)
{
    static const struct {
        const char *req;
        int status;
        const char *reason;
    } cases[] = {
        { "HEAD /missing HTTP/1.1\r\nHost: x\r\n\r\n", 404, "Not Found" },
        { "HEAD /../x HTTP/1.1\r\nHost: x\r\n\r\n", 400, "Bad Request" },
        { "HEAD /a.txt HTTP/1.1\r\n\r\n", 400, "Bad Request" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_fresh(cases[i].req, strlen(cases[i].req), 1024, 0, 0, &run_buf);
        CHECK_EQ_INT(run_buf.responses, 1);
        check_error_response(&run_buf, 0, cases[i].status, cases[i].reason, 1);
    }
    /* A refused head after a HEAD request is not taken for a HEAD request:
     * what is known of it is not the previous request. */
    static const int statuses[] = { 200, 400 };
    check_every_split("HEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\nBAD\r\n\r\n", 2, statuses, HTTP_WANT_CLOSE);
    check_error_response(&run_ref, 1, 400, "Bad Request", 0);
    /* The head of HEAD /missing is byte for byte the head of GET /missing. */
    run_fresh(GET_MISSING, strlen(GET_MISSING), 1024, 0, 0, &run_ref);
    run_fresh(cases[0].req, strlen(cases[0].req), 1024, 0, 0, &run_buf);
    CHECK_EQ_MEM(run_buf.out, run_buf.out_len, run_ref.out, resp_head_len(&run_ref, 0));
}

static void test_options_and_methods(void)
{
    static const char want_options[] = "HTTP/1.1 204 No Content\r\nServer: duct\r\nDate: " NOW_DATE "\r\n"
                                       "Allow: GET, HEAD, OPTIONS\r\n\r\n";
    static const char *const options[] = {
        "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
        "OPTIONS /a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
        int resolves = run_fresh(options[i], strlen(options[i]), 1024, 0, 0, &run_buf);
        CHECK_EQ_INT(run_buf.responses, 1);
        CHECK_EQ_MEM(run_buf.out, run_buf.out_len, want_options, sizeof want_options - 1);
        CHECK_EQ_INT(run_buf.final, HTTP_WANT_READ);
        CHECK_EQ_INT(resolves, 0);
    }

    /* Known methods not served here are 405 with Allow; unknown ones 501
     * (RFC 9110 §9.1); the connection goes on after both. */
    static const struct {
        const char *method;
        int status;
        const char *reason;
    } others[] = {
        { "POST", 405, "Method Not Allowed" },   { "PUT", 405, "Method Not Allowed" },
        { "DELETE", 405, "Method Not Allowed" }, { "PATCH", 405, "Method Not Allowed" },
        { "get", 501, "Not Implemented" },       { "BREW", 501, "Not Implemented" },
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        char req[128], field[64];
        snprintf(req, sizeof req, "%s /a.txt HTTP/1.1\r\nHost: x\r\n\r\n" GET_A, others[i].method);
        int resolves = run_fresh(req, strlen(req), 1024, 0, 0, &run_buf);
        CHECK_EQ_INT(run_buf.responses, 2);
        check_error_response(&run_buf, 0, others[i].status, others[i].reason, 0);
        if (others[i].status == 405)
            CHECK_EQ_STR(resp_field(&run_buf, 0, "Allow", field, sizeof field), "GET, HEAD, OPTIONS");
        else
            CHECK(resp_field(&run_buf, 0, "Allow", field, sizeof field) == NULL);
        CHECK_EQ_INT(resp_status(&run_buf, 1), 200);
        CHECK_EQ_INT(run_buf.final, HTTP_WANT_READ);
        CHECK_EQ_INT(resolves, 1);
    }

    /* A method longer than any is 501 as soon as that is certain, and the
     * connection closes: the rest of the head was never read. */
    static char longer[9100];
    memset(longer, 'A', 9000);
    snprintf(longer + 9000, sizeof longer - 9000, " /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    for (size_t chunk = 1; chunk <= 64; chunk *= 4) {
        int resolves = run_fresh(longer, strlen(longer), chunk, 0, 0, &run_buf);
        CHECK_EQ_INT(run_buf.responses, 1);
        check_error_response(&run_buf, 0, 501, "Not Implemented", 0);
        CHECK_EQ_INT(run_buf.final, HTTP_WANT_CLOSE);
        CHECK(run_buf.fed < 100); /* judged at byte HTTP_METHOD_MAX + 1 */
        CHECK_EQ_INT(resolves, 0);
    }
}

static void test_eof(void)
{
    /* Idle, before any byte. */
    {
        struct env env;
        struct http_conn c;
        env_init(&env);
        http_conn_init(&c, &env.ctx, "127.0.0.1");
        size_t room;
        CHECK(http_conn_read_space(&c, &room) != NULL);
        http_conn_received(&c, 0, NOW);
        CHECK_EQ_INT(http_conn_want(&c), HTTP_WANT_CLOSE);
        CHECK_EQ_INT(env.nlogs, 0);
        http_conn_release(&c);
        CHECK(c.buf == NULL);
        env_done(&env);
    }
    static const struct {
        const char *in;
        int responses;
    } cases[] = {
        { GET_A, 1 },                             /* answered, then closed */
        { GET_A GET_MISSING, 2 },                 /* both answered in order */
        { "GET /a.txt HTTP/1.1\r\nHost:", 0 },    /* half a head: nothing to answer */
        { GET_A "GET /missing HTTP/1.1\r\n", 1 }, /* the whole one only */
        { "GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345", 1 }, /* body cut short */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = strlen(cases[i].in);
        for (size_t chunk = 1; chunk <= len; chunk += chunk < 8 ? 1 : 7) {
            run_fresh(cases[i].in, len, chunk, 0, 1, &run_buf);
            CHECK_EQ_INT(run_buf.responses, cases[i].responses);
            CHECK_EQ_INT(run_buf.final, HTTP_WANT_CLOSE);
            CHECK_EQ_INT(run_buf.fed, len);
            if (cases[i].responses > 0)
                CHECK_EQ_MEM(resp_ptr(&run_buf, 0), resp_len(&run_buf, 0), A_RESPONSE, sizeof A_RESPONSE - 1);
        }
    }
}

static void test_drain(void)
{
    /* Idle, fresh and after an exchange. */
    for (int exchanged = 0; exchanged < 2; exchanged++) {
        struct env env;
        struct http_conn c;
        env_init(&env);
        http_conn_init(&c, &env.ctx, "127.0.0.1");
        if (exchanged)
            drive(&c, GET_A, &run_buf);
        CHECK_EQ_INT(http_conn_want(&c), HTTP_WANT_READ);
        http_conn_drain(&c, NOW);
        CHECK_EQ_INT(http_conn_want(&c), HTTP_WANT_CLOSE);
        http_conn_release(&c);
        env_done(&env);
    }
    /* During a response: it completes unchanged, then the connection closes;
     * a request already buffered is answered first, with Connection: close. */
    static const struct {
        const char *in;
        int responses;
    } cases[] = {
        { GET_A, 1 },
        { GET_A GET_A, 2 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct env env;
        struct http_conn c;
        char field[64];
        env_init(&env);
        http_conn_init(&c, &env.ctx, "127.0.0.1");
        size_t room, len = strlen(cases[i].in);
        char *space = http_conn_read_space(&c, &room);
        memcpy(space, cases[i].in, len);
        http_conn_received(&c, len, NOW);
        CHECK_EQ_INT(http_conn_want(&c), HTTP_WANT_WRITE);
        http_conn_drain(&c, NOW);
        CHECK_EQ_INT(http_conn_want(&c), HTTP_WANT_WRITE);
        drive_split(&c, "", 0, 1, 0, 0, &run_buf);
        CHECK_EQ_INT(run_buf.responses, cases[i].responses);
        CHECK_EQ_MEM(resp_ptr(&run_buf, 0), resp_len(&run_buf, 0), A_RESPONSE, sizeof A_RESPONSE - 1);
        if (cases[i].responses == 2) {
            CHECK_EQ_INT(resp_status(&run_buf, 1), 200);
            CHECK_EQ_STR(resp_field(&run_buf, 1, "Connection", field, sizeof field), "close");
        }
        CHECK_EQ_INT(run_buf.final, HTTP_WANT_CLOSE);
        CHECK_EQ_INT(env.nlogs, cases[i].responses);
        http_conn_release(&c);
        env_done(&env);
    }
}

static void test_access_log(void)
{
    struct env env;
    struct http_conn c;
    env_init(&env);
    http_conn_init(&c, &env.ctx, "192.0.2.7");
    drive(&c,
          "GET /a.txt HTTP/1.1\r\nHost: x\r\nReferer: http://ref.example/page\r\nUser-Agent: test-agent/1.0\r\n\r\n"
          "HEAD /a.txt HTTP/1.1\r\nHost: x\r\nuser-agent: other\r\n\r\n"
          "GET /missing?q=1 HTTP/1.1\r\nHost: x\r\n\r\n"
          "GET /dir HTTP/1.1\r\nHost: x\r\n\r\n"
          "GET / HTTP/2.0\r\nHost: x\r\n\r\n",
          &run_buf);
    CHECK_EQ_INT(run_buf.responses, 5);
    CHECK_EQ_INT(env.nlogs, 5);
    char body404[512];
    size_t len404 = error_body(404, "Not Found", body404, sizeof body404);
    size_t len505 = error_body(505, "HTTP Version Not Supported", body404, sizeof body404);
    static const struct {
        const char *line;
        int status;
        const char *referer;
        const char *agent;
    } want[] = {
        { "GET /a.txt HTTP/1.1", 200, "http://ref.example/page", "test-agent/1.0" },
        { "HEAD /a.txt HTTP/1.1", 200, "", "other" },
        { "GET /missing?q=1 HTTP/1.1", 404, "", "" },
        { "GET /dir HTTP/1.1", 301, "", "" },
        { "GET / HTTP/2.0", 505, "", "" },
    };
    const uint64_t bytes[] = { 5, 0, len404, 0, len505 };
    for (int i = 0; i < 5 && i < env.nlogs; i++) {
        CHECK_EQ_STR(env.logs[i].peer, "192.0.2.7");
        CHECK_EQ_STR(env.logs[i].line, want[i].line);
        CHECK_EQ_INT(env.logs[i].status, want[i].status);
        CHECK(env.logs[i].body_bytes == bytes[i]);
        CHECK_EQ_STR(env.logs[i].referer, want[i].referer);
        CHECK_EQ_STR(env.logs[i].agent, want[i].agent);
        CHECK(env.logs[i].now == NOW);
    }
    http_conn_release(&c);
    env_done(&env);
}

/* One log line per response, whatever the split. */
static void test_access_log_every_split(void)
{
    static const char in[] = GET_A GET_MISSING GET_A;
    for (size_t chunk = 1; chunk < sizeof in; chunk++) {
        struct env env;
        struct http_conn c;
        env_init(&env);
        http_conn_init(&c, &env.ctx, "127.0.0.1");
        drive_split(&c, in, sizeof in - 1, chunk, chunk, 0, &run_buf);
        int ok = env.nlogs == 3 && env.logs[0].status == 200 && env.logs[1].status == 404 &&
                 env.logs[2].status == 200 && strcmp(env.logs[1].line, "GET /missing HTTP/1.1") == 0 &&
                 env.logs[2].body_bytes == 5;
        if (!ok)
            fprintf(stderr, "     chunk %zu: %d log lines\n", chunk, env.nlogs);
        CHECK(ok);
        http_conn_release(&c);
        env_done(&env);
    }
}

static void test_buffer_pool(void)
{
    struct env env;
    struct http_conn a, b;
    env_init(&env);
    http_conn_init(&a, &env.ctx, "127.0.0.1");
    http_conn_init(&b, &env.ctx, "127.0.0.2");
    CHECK(a.buf == NULL);

    size_t room;
    char *first = http_conn_read_space(&a, &room);
    CHECK(first != NULL);
    CHECK_EQ_INT(room, MAX_HEAD);
    CHECK(a.buf == first);
    memcpy(first, GET_A, strlen(GET_A));
    http_conn_received(&a, strlen(GET_A), NOW);
    drive(&a, "", &run_buf);
    CHECK_EQ_MEM(run_buf.out, run_buf.out_len, A_RESPONSE, sizeof A_RESPONSE - 1);
    CHECK_EQ_INT(http_conn_want(&a), HTTP_WANT_READ);
    CHECK(a.buf == NULL); /* an idle keep-alive connection holds no buffer */

    /* The next connection gets the same buffer back. */
    char *second = http_conn_read_space(&b, &room);
    CHECK(second == first);
    CHECK(b.buf == first);
    /* Two connections reading at once get different buffers. */
    char *third = http_conn_read_space(&a, &room);
    CHECK(third != NULL && third != first);
    memcpy(second, GET_MISSING, strlen(GET_MISSING));
    http_conn_received(&b, strlen(GET_MISSING), NOW);
    drive(&b, "", &run_buf);
    CHECK_EQ_INT(resp_status(&run_buf, 0), 404);
    CHECK(b.buf == NULL);

    /* After a discarded body too. */
    drive(&b, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody", &run_buf);
    CHECK_EQ_INT(resp_status(&run_buf, 0), 405);
    CHECK_EQ_INT(http_conn_want(&b), HTTP_WANT_READ);
    CHECK(b.buf == NULL);

    /* Nor while waiting for the rest of a body to discard. */
    drive(&b, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789", &run_buf);
    CHECK_EQ_INT(resp_status(&run_buf, 0), 405);
    CHECK_EQ_INT(http_conn_want(&b), HTTP_WANT_READ);
    CHECK_EQ_INT(b.state, HTTP_CONN_BODY);
    CHECK(b.buf == NULL);

    http_conn_release(&a);
    http_conn_release(&b);
    CHECK(a.buf == NULL && b.buf == NULL);
    env_done(&env);
}

/* A long keep-alive stream read in chunks that always leave part of the next
 * request buffered: the buffer never empties, so it must be compacted rather
 * than run out of room. */
static void test_long_stream(void)
{
    enum { COUNT = 600 };
    static char in[COUNT * sizeof GET_MISSING];
    size_t len = 0;
    for (int i = 0; i < COUNT; i++) {
        const char *req = i % 2 ? GET_MISSING : GET_A;
        memcpy(in + len, req, strlen(req));
        len += strlen(req);
    }
    static const size_t chunks[] = { 50, 333, 4097, 8192 };
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
        struct env env;
        struct http_conn c;
        env_init(&env);
        http_conn_init(&c, &env.ctx, "127.0.0.1");
        drive_split(&c, in, len, chunks[k], 0, 0, &run_buf);
        CHECK_EQ_INT(run_buf.stuck, 0);
        CHECK_EQ_INT(run_buf.fed, len);
        CHECK_EQ_INT(env.nlogs, COUNT);
        CHECK_EQ_INT(env.fake.resolves, COUNT);
        CHECK_EQ_INT(run_buf.final, HTTP_WANT_READ);
        CHECK(c.buf == NULL);
        int in_order = env.nlogs == COUNT;
        for (int i = 0; i < MAX_LOGS && i < env.nlogs; i++)
            in_order &= env.logs[i].status == (i % 2 ? 404 : 200);
        CHECK(in_order);
        http_conn_release(&c);
        env_done(&env);
    }
}

/* A chunked body is decoded to find its end and thrown away, whatever it
 * holds and however the bytes arrive. */
static void test_chunked_body_every_split(void)
{
    static const int statuses[] = { 405, 200 };
    check_every_split("POST /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "a;ext=1\r\nGET /a.txt\r\n3\r\nxyz\r\n0\r\nTrailer: t\r\n\r\n" GET_A,
                      2, statuses, HTTP_WANT_READ);
    CHECK_EQ_MEM(resp_ptr(&run_ref, 1), resp_len(&run_ref, 1), A_RESPONSE, sizeof A_RESPONSE - 1);

    /* GET may carry a chunked body too; it is answered and the body skipped. */
    static const int get_statuses[] = { 200, 404 };
    check_every_split("GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "1\r\nx\r\n0\r\n\r\n" GET_MISSING,
                      2, get_statuses, HTTP_WANT_READ);
}

#define POST_CHUNKED "POST /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"

/* Feeds the head of `in` (head_len bytes) in one read and the rest in a
 * second, or everything in one read when head_len is 0. */
static void run_body_after_head(const char *in, size_t len, size_t head_len)
{
    run_fresh(in, len, head_len ? head_len : len, 0, 0, &run_buf);
}

/* A chunked body that is malformed or longer than max_body (1000 here) ends
 * the connection: the next request's start is unknown. When the fault comes
 * with the head, the answer is 400 (413); when it comes after the answer
 * went out, the connection just closes. */
static void test_chunked_body_refused(void)
{
    static const char *const bad[] = {
        "zz\r\n", "5;\r\nhello\r\n0\r\n\r\n", "5;a b\r\nhello\r\n0\r\n\r\n", "5 \r\nhello\r\n0\r\n\r\n",
        "5;a=\x01\r\nhello\r\n0\r\n\r\n", "5\r\nhelloX\r\n0\r\n\r\n",
    };
    static char in[4096];
    size_t head = sizeof POST_CHUNKED - 1;
    int n;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n = snprintf(in, sizeof in, POST_CHUNKED "%s" GET_A, bad[i]);
        run_body_after_head(in, (size_t)n, 0);
        CHECK_EQ_INT(run_buf.responses, 1);
        check_error_response(&run_buf, 0, 400, "Bad Request", 0);
        CHECK_EQ_INT(run_buf.final, HTTP_WANT_CLOSE);
        run_body_after_head(in, (size_t)n, head);
        CHECK_EQ_INT(run_buf.responses, 1);
        CHECK_EQ_INT(resp_status(&run_buf, 0), 405);
        CHECK_EQ_INT(run_buf.final, HTTP_WANT_CLOSE);
    }
    /* A GET is answered 400 as well, not 200. */
    run_fresh(LIT_ARGS("GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;\r\nhello\r\n0\r\n\r\n" GET_A),
              4096, 0, 0, &run_buf);
    CHECK_EQ_INT(run_buf.responses, 1);
    CHECK_EQ_INT(resp_status(&run_buf, 0), 400);
    CHECK_EQ_INT(run_buf.final, HTTP_WANT_CLOSE);

    n = snprintf(in, sizeof in, POST_CHUNKED "3e9\r\n");
    memset(in + n, 'b', 1001);
    n += 1001;
    n += snprintf(in + n, sizeof in - (size_t)n, "\r\n0\r\n\r\n" GET_A);
    run_body_after_head(in, (size_t)n, 0);
    CHECK_EQ_INT(run_buf.responses, 1);
    check_error_response(&run_buf, 0, 413, "Content Too Large", 0);
    CHECK_EQ_INT(run_buf.final, HTTP_WANT_CLOSE);
    run_fresh(in, (size_t)n, 100, 0, 0, &run_buf);
    CHECK_EQ_INT(run_buf.responses, 1);
    CHECK_EQ_INT(resp_status(&run_buf, 0), 405);
    CHECK_EQ_INT(run_buf.final, HTTP_WANT_CLOSE);
    /* 1000 bytes exactly are within the limit. */
    n = snprintf(in, sizeof in, POST_CHUNKED "3e8\r\n");
    memset(in + n, 'b', 1000);
    n += 1000;
    n += snprintf(in + n, sizeof in - (size_t)n, "\r\n0\r\n\r\n" GET_A);
    for (size_t chunk = 100; chunk <= (size_t)n; chunk += (size_t)n - 100) {
        run_fresh(in, (size_t)n, chunk, 0, 0, &run_buf);
        CHECK_EQ_INT(run_buf.responses, 2);
        CHECK_EQ_INT(resp_status(&run_buf, 0), 405);
        CHECK_EQ_INT(run_buf.final, HTTP_WANT_READ);
    }
}

/* Expect: 100-continue gets the interim 100 in front of the final response
 * when a body is coming and will be read; never to HTTP/1.0, never without a
 * body, never before a refusal. */
static void test_expect_continue(void)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 405 ";
    static const struct {
        const char *req;
        int interim;
        int status;
    } cases[] = {
        { "POST /a.txt HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc", 1, 405 },
        { "POST /a.txt HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n"
          "3\r\nabc\r\n0\r\n\r\n", 1, 405 },
        { "GET /a.txt HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n", 0, 200 },
        { "POST /a.txt HTTP/1.0\r\nConnection: keep-alive\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
          0, 405 },
        { "POST /a.txt HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n", 0, 413 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_fresh(cases[i].req, strlen(cases[i].req), 4096, 0, 0, &run_buf);
        int has_interim = run_buf.out_len >= sizeof cont - 1 && memcmp(run_buf.out, cont, sizeof cont - 1) == 0;
        CHECK_EQ_INT(has_interim, cases[i].interim);
        CHECK_EQ_INT(count_occurrences(run_buf.out, run_buf.out_len, "100 Continue"), cases[i].interim);
        if (!cases[i].interim)
            CHECK_EQ_INT(resp_status(&run_buf, 0), cases[i].status);
    }
    /* The body after the 100 is discarded and the next request answered. */
    static const char two[] = "POST /a.txt HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc" GET_A;
    run_fresh(two, sizeof two - 1, 7, 0, 0, &run_buf);
    CHECK_EQ_INT(run_buf.responses, 2);
    CHECK_EQ_MEM(resp_ptr(&run_buf, 1), resp_len(&run_buf, 1), A_RESPONSE, sizeof A_RESPONSE - 1);
}

/* A resource made elsewhere (a listing being built): the connection waits,
 * reading and sending nothing, until it is resumed; a stale wake-up leaves it
 * waiting; the request pipelined behind waits its turn; and a connection
 * released while waiting gives the pending resource back. */
static void test_wait_for_resource(void)
{
    struct env env;
    struct http_conn c;
    struct run r;
    char field[64];
    env_init(&env);
    http_conn_init(&c, &env.ctx, "192.0.2.1");
    drive(&c, "GET /wait HTTP/1.1\r\nHost: x\r\n\r\n" GET_A, &r);
    CHECK_EQ_INT(r.final, HTTP_WANT_WAIT);
    CHECK_EQ_INT(r.responses, 0);
    CHECK_EQ_INT(http_conn_wait_fd(&c), FAKE_WAIT_FD);
    CHECK(!http_conn_idle(&c));
    http_conn_resume(&c, NOW); /* not ready: a stale wake-up */
    CHECK_EQ_INT(http_conn_want(&c), HTTP_WANT_WAIT);
    env.fake.ready = 1;
    http_conn_resume(&c, NOW);
    CHECK_EQ_INT(http_conn_want(&c), HTTP_WANT_WRITE);
    CHECK_EQ_INT(http_conn_wait_fd(&c), -1);
    drive(&c, "", &r);
    CHECK_EQ_INT(r.responses, 2);
    CHECK_EQ_INT(resp_status(&r, 0), 200);
    CHECK_EQ_MEM(resp_ptr(&r, 0) + resp_head_len(&r, 0), resp_len(&r, 0) - resp_head_len(&r, 0), "hello", 5);
    CHECK_EQ_INT(resp_status(&r, 1), 200);
    CHECK_EQ_INT(r.final, HTTP_WANT_READ);
    CHECK_EQ_INT(env.fake.resolves, 2); /* "/wait" once, then resumed; "/a.txt" once */
    CHECK_EQ_INT(env.fake.resumes, 2);
    CHECK_EQ_INT(env.nlogs, 2);
    CHECK_EQ_STR(env.logs[0].line, "GET /wait HTTP/1.1");
    CHECK_EQ_INT(env.logs[0].status, 200);

    /* A stop while waiting: the answer, when ready, closes the connection. */
    env.fake.ready = 0;
    drive(&c, "GET /wait HTTP/1.1\r\nHost: x\r\n\r\n" GET_A, &r);
    CHECK_EQ_INT(r.final, HTTP_WANT_WAIT);
    http_conn_drain(&c, NOW);
    CHECK_EQ_INT(http_conn_want(&c), HTTP_WANT_WAIT);
    env.fake.ready = 1;
    http_conn_resume(&c, NOW);
    drive(&c, "", &r);
    CHECK_EQ_INT(r.responses, 1);
    CHECK_EQ_STR(resp_field(&r, 0, "Connection", field, sizeof field), "close");
    CHECK_EQ_INT(r.final, HTTP_WANT_CLOSE);
    http_conn_release(&c);

    /* Released while waiting: the pending resource goes back, unlogged. */
    env.fake.ready = 0;
    int logs = env.nlogs;
    http_conn_init(&c, &env.ctx, "192.0.2.2");
    drive(&c, "GET /wait HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    CHECK_EQ_INT(r.final, HTTP_WANT_WAIT);
    http_conn_release(&c);
    CHECK_EQ_INT(env.nlogs, logs);
    env_done(&env);
}

/* ---- answers to pipelined requests leave together ---- */

/* Runs `in` fed in chunks of `chunk`, sent in pieces of `send_chunk`, with
 * gathering on or off; returns the count of outputs the driver was given. */
static int run_gather(const char *in, size_t chunk, size_t send_chunk, int gather, struct run *r)
{
    struct env env;
    struct http_conn c;
    int outputs = 0;
    size_t len = strlen(in);
    env_init(&env);
    env.ctx.gather = gather;
    http_conn_init(&c, &env.ctx, "127.0.0.1");
    memset(r, 0, sizeof *r);
    for (int guard = 0; guard < 100000; guard++) {
        enum http_want w = http_conn_want(&c);
        if (w == HTTP_WANT_WRITE) {
            const struct http_output *o = http_conn_output(&c);
            if (o == &c.batch_out || c.reply.bytes_sent == 0)
                outputs++;
            send_some(&c, r, send_chunk);
            continue;
        }
        if (w != HTTP_WANT_READ || r->fed == len)
            break;
        size_t room, n = len - r->fed < chunk ? len - r->fed : chunk;
        char *space = http_conn_read_space(&c, &room);
        if (!space)
            break;
        n = n < room ? n : room;
        memcpy(space, in + r->fed, n);
        r->fed += n;
        http_conn_received(&c, n, NOW);
    }
    r->final = http_conn_want(&c);
    http_conn_release(&c);
    CHECK_EQ_INT(env.nlogs, count_occurrences(r->out, r->out_len, "HTTP/1.1 "));
    env_done(&env);
    return outputs;
}

/* Gathering changes how many sends the answers take, never their bytes or
 * their order, at any split of the input or the output. */
static void test_gather_same_bytes(void)
{
    static const char *inputs[] = {
        GET_A GET_MISSING GET_A,
        GET_A "HEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\n" GET_A,
        GET_A "GET /f.bin HTTP/1.1\r\nHost: x\r\n\r\n" GET_A GET_A,
        GET_A "GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=1-2\r\n\r\n" GET_A,
        GET_A "GET /a.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"5f5e1000-5\"\r\n\r\n" GET_A,
        GET_A "GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" GET_A,
        GET_A "POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody" GET_A,
        GET_A "GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-0,2-3\r\n\r\n" GET_A,
        GET_A "GET /a.txt HTTP/1.1\r\nHo",
    };
    static struct run off, on;
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        size_t len = strlen(inputs[i]);
        int mismatches = 0;
        for (size_t chunk = 1; chunk <= len; chunk += chunk < 40 ? 1 : 17) {
            for (size_t send_chunk = 0; send_chunk < 300; send_chunk += send_chunk < 8 ? 1 : 97) {
                run_gather(inputs[i], chunk, send_chunk, 0, &off);
                run_gather(inputs[i], chunk, send_chunk, 1, &on);
                int same = on.out_len == off.out_len && memcmp(on.out, off.out, off.out_len) == 0 &&
                           on.final == off.final && on.fed == off.fed;
                if (!same && mismatches++ == 0)
                    fprintf(stderr, "     input %zu chunk %zu send %zu: %zu bytes, want %zu\n", i, chunk,
                            send_chunk, on.out_len, off.out_len);
            }
        }
        CHECK_EQ_INT(mismatches, 0);
    }
}

/* Three requests read at once are answered in one output; a file body ends
 * the batch and is sent after it. */
static void test_gather_one_output(void)
{
    static struct run r;
    const char *three = GET_A GET_MISSING GET_A;
    CHECK_EQ_INT(run_gather(three, strlen(three), 0, 1, &r), 1);
    CHECK_EQ_INT(count_occurrences(r.out, r.out_len, "HTTP/1.1 "), 3);
    CHECK_EQ_INT(run_gather(three, strlen(three), 0, 0, &r), 3);
    const char *with_file = GET_A GET_A "GET /f.bin HTTP/1.1\r\nHost: x\r\n\r\n" GET_A;
    CHECK_EQ_INT(run_gather(with_file, strlen(with_file), 0, 1, &r), 3); /* A A, the file, A */
    /* One request alone is not copied: it is sent from where it was built. */
    CHECK_EQ_INT(run_gather(GET_A, strlen(GET_A), 0, 1, &r), 1);
}

int main(void)
{
    test_get_keep_alive();
    test_chunked_body_every_split();
    test_chunked_body_refused();
    test_expect_continue();
    test_pipelined_every_split();
    test_body_discarded_every_split();
    test_head_request();
    test_file_range();
    test_multipart_plan();
    test_file_abort();
    test_redirects();
    test_connection_field();
    test_errors();
    test_limits();
    test_long_request_line();
    test_long_redirect();
    test_traversal_never_reaches_handler();
    test_head_of_errors();
    test_options_and_methods();
    test_eof();
    test_drain();
    test_access_log();
    test_access_log_every_split();
    test_buffer_pool();
    test_long_stream();
    test_wait_for_resource();
    test_gather_same_bytes();
    test_gather_one_output();
    return test_report();
}
