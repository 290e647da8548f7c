/* Unit tests for the response builder (src/http/reply.c), with no connection:
 * each test sets a reply's flags, plans an answer and reads the bytes and
 * file ranges it would send. A fake handler serves a memory file and a
 * descriptor file and counts what it hands out and gets back. */
#include "http/reply.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>

#include "http/request.h"

enum {
    FAKE_FD = 1000, /* never a real descriptor */
    FILE_SIZE = 100,
};

static const time_t NOW = 1700000000;  /* Tue, 14 Nov 2023 22:13:20 GMT */
static const time_t MTIME = 1600000000; /* 0x5f5e1000 */
#define NOW_DATE "Tue, 14 Nov 2023 22:13:20 GMT"
#define MTIME_DATE "Sun, 13 Sep 2020 12:26:40 GMT"

static const char HELLO[] = "hello";

struct fake {
    int acquired;
    int releases;
};

static void fake_resolve(void *ctx, const char *path, size_t path_len, unsigned accept, struct http_resource *res)
{
    (void)path_len;
    (void)accept;
    struct fake *f = ctx;
    memset(res, 0, sizeof *res);
    res->fd = -1;
    res->mtime = MTIME;
    res->content_type = "text/plain";
    res->status = 404;
    if (strcmp(path, "/a.txt") == 0) {
        res->status = 200;
        res->data = HELLO;
        res->size = 5;
    } else if (strcmp(path, "/f.bin") == 0) {
        res->status = 200;
        res->fd = FAKE_FD;
        res->size = FILE_SIZE;
    } else if (strcmp(path, "/dir") == 0) {
        res->status = 301;
    }
    if (res->fd >= 0 || res->data)
        f->acquired++;
}

static void fake_release(void *ctx, struct http_resource *res)
{
    (void)res;
    struct fake *f = ctx;
    f->releases++;
}

struct env {
    struct fake fake;
    struct http_reply_ctx rc;
    struct http_reply r;
    struct http_request req;
    struct http_request_info info;
};

static void env_init(struct env *env)
{
    memset(env, 0, sizeof *env);
    struct http_handler handler = {.resolve = fake_resolve, .release = fake_release, .ctx = &env->fake};
    http_reply_ctx_init(&env->rc, handler);
    http_reply_init(&env->r);
    env->r.keep_alive = 1;
}

/* Parses head (a string literal that outlives the reply) and plans its answer. */
static void answer(struct env *env, const char *head)
{
    int status = 0;
    int n = http_parse_request(head, strlen(head), 8192, &env->req, &status);
    CHECK_EQ_INT(n, (int)strlen(head));
    CHECK_EQ_INT(http_request_interpret(&env->req, &env->info), 0);
    env->r.head_only = env->info.method == HTTP_METHOD_HEAD;
    http_reply_resource(&env->r, &env->rc, &env->req, env->info.path, NOW);
}

/* The whole of the current output's head, as text. */
static int head_is(const struct http_reply *r, const char *want)
{
    return r->out.head_len == strlen(want) && memcmp(r->out.head, want, r->out.head_len) == 0;
}

#define ERROR_BODY(title)                                                                                    \
    "<!DOCTYPE html>\n<html><head><title>" title "</title></head>\n<body><h1>" title "</h1></body></html>\n"

static void test_error_bytes(void)
{
    struct env env;
    env_init(&env);
    static const char body[] = ERROR_BODY("404 Not Found");
    static const char want[] = "HTTP/1.1 404 Not Found\r\nServer: duct\r\nDate: " NOW_DATE "\r\n"
                               "Content-Type: text/html; charset=utf-8\r\nContent-Length: 107\r\n\r\n"
                               ERROR_BODY("404 Not Found");
    CHECK_EQ_INT(sizeof body - 1, 107);
    http_reply_error(&env.r, &env.rc, 404, NOW);
    CHECK(head_is(&env.r, want));
    CHECK_EQ_INT(env.r.status, 404);
    CHECK_EQ_INT(env.r.head_only_len, sizeof want - 1 - (sizeof body - 1));
    CHECK_EQ_INT(env.r.out.data_len, 0);
    CHECK_EQ_INT(env.r.out.file_fd, -1);
    CHECK(env.r.out.file_len == 0);

    /* Sent in two pieces: the body bytes are those past the head. */
    CHECK_EQ_INT(http_reply_sent(&env.r, &env.rc, 10), 0);
    CHECK(http_reply_body_bytes(&env.r) == 0);
    CHECK_EQ_INT(http_reply_sent(&env.r, &env.rc, sizeof want - 11), 1);
    CHECK(http_reply_body_bytes(&env.r) == sizeof body - 1);
    http_reply_release(&env.r, &env.rc);
    CHECK_EQ_INT(env.fake.releases, 0);
}

static void test_error_framing(void)
{
    struct env env;
    env_init(&env);

    /* HEAD: the same head, no body. */
    env.r.head_only = 1;
    http_reply_error(&env.r, &env.rc, 404, NOW);
    CHECK_EQ_INT(env.r.out.head_len, env.r.head_only_len);
    CHECK(memmem(env.r.out.head, env.r.out.head_len, "\r\nContent-Length: 107\r\n", 23) != NULL);

    /* 405 says what is allowed; a closing connection says so. */
    env.r.head_only = 0;
    env.r.keep_alive = 0;
    http_reply_error(&env.r, &env.rc, 405, NOW);
    static const char want405[] = "HTTP/1.1 405 Method Not Allowed\r\nServer: duct\r\nDate: " NOW_DATE "\r\n"
                                  "Allow: GET, HEAD, OPTIONS\r\nContent-Type: text/html; charset=utf-8\r\n"
                                  "Content-Length: 125\r\nConnection: close\r\n\r\n";
    CHECK_EQ_MEM(env.r.out.head, env.r.head_only_len, want405, sizeof want405 - 1);

    /* HTTP/1.0 keeps the connection only when told (RFC 9112 §9.3). */
    env.r.keep_alive = 1;
    env.r.http10 = 1;
    http_reply_options(&env.r, &env.rc, NOW);
    CHECK(head_is(&env.r, "HTTP/1.1 204 No Content\r\nServer: duct\r\nDate: " NOW_DATE "\r\n"
                          "Allow: GET, HEAD, OPTIONS\r\nConnection: keep-alive\r\n\r\n"));
    CHECK_EQ_INT(env.r.status, 204);
}

static void test_etag(void)
{
    char tag[HTTP_REPLY_ETAG_MAX];
    struct http_resource res = {.mtime = MTIME, .size = 12345};
    CHECK_EQ_MEM(tag, http_reply_etag(&res, tag), "\"5f5e1000-3039\"", 15);
    res.size = 0;
    CHECK_EQ_MEM(tag, http_reply_etag(&res, tag), "\"5f5e1000-0\"", 12);
    res.mtime = 0;
    CHECK_EQ_MEM(tag, http_reply_etag(&res, tag), "\"0-0\"", 5);
    /* A precompressed sibling is another representation: another tag. */
    res.mtime = MTIME;
    res.size = 12345;
    res.encoding = "br";
    CHECK_EQ_MEM(tag, http_reply_etag(&res, tag), "\"5f5e1000-3039-br\"", 18);
    /* The longest tag fits. */
    res.mtime = (time_t)INT64_MAX;
    res.size = UINT64_MAX;
    res.encoding = "123456789012345";
    size_t n = http_reply_etag(&res, tag);
    CHECK_EQ_MEM(tag, n, "\"7fffffffffffffff-ffffffffffffffff-123456789012345\"", 51);
    CHECK(n <= sizeof tag);
}

static void test_memory_file(void)
{
    struct env env;
    env_init(&env);
    answer(&env, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    static const char want[] = "HTTP/1.1 200 OK\r\nServer: duct\r\nDate: " NOW_DATE "\r\n"
                               "Content-Type: text/plain\r\nContent-Length: 5\r\nAccept-Ranges: bytes\r\n"
                               "Last-Modified: " MTIME_DATE "\r\nETag: \"5f5e1000-5\"\r\n\r\n";
    CHECK(head_is(&env.r, want));
    CHECK_EQ_MEM(env.r.out.data, env.r.out.data_len, HELLO, 5);
    CHECK_EQ_INT(http_reply_sent(&env.r, &env.rc, sizeof want - 1 + 2), 0);
    CHECK_EQ_MEM(env.r.out.data, env.r.out.data_len, "llo", 3);
    CHECK_EQ_INT(http_reply_sent(&env.r, &env.rc, 3), 1);
    CHECK(http_reply_body_bytes(&env.r) == 5);
    CHECK_EQ_INT(env.fake.releases, 0); /* the body was in use until now */
    http_reply_release(&env.r, &env.rc);
    CHECK_EQ_INT(env.fake.releases, 1);

    /* HEAD and 304 need no body: the resource goes back at once. */
    env_init(&env);
    answer(&env, "HEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK_EQ_INT(env.r.status, 200);
    CHECK_EQ_INT(env.fake.releases, 1);
    CHECK_EQ_INT(env.r.out.data_len, 0);
    env_init(&env);
    answer(&env, "GET /a.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"5f5e1000-5\"\r\n\r\n");
    CHECK_EQ_INT(env.r.status, 304);
    CHECK_EQ_INT(env.fake.releases, 1);
    CHECK_EQ_INT(env.r.out.head_len, env.r.head_only_len);
}

static void test_redirect_and_refusals(void)
{
    struct env env;
    env_init(&env);
    answer(&env, "GET /dir?q=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(head_is(&env.r, "HTTP/1.1 301 Moved Permanently\r\nServer: duct\r\nDate: " NOW_DATE "\r\n"
                          "Location: /dir/?q=1\r\nContent-Length: 0\r\n\r\n"));

    env_init(&env);
    answer(&env, "GET /f.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=500-\r\n\r\n");
    CHECK_EQ_INT(env.r.status, 416);
    CHECK(memmem(env.r.out.head, env.r.head_only_len, "\r\nContent-Range: bytes */100\r\n", 30) != NULL);
    http_reply_release(&env.r, &env.rc);
    CHECK_EQ_INT(env.fake.releases, 1);

    env_init(&env);
    answer(&env, "GET /missing HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK_EQ_INT(env.r.status, 404);
    env_init(&env);
    answer(&env, "GET /a/../../etc HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK_EQ_INT(env.r.status, 400);
    CHECK_EQ_INT(env.fake.acquired, 0);
}

/* A multipart answer walked output by output: its bytes add up to its
 * Content-Length, and the file ranges are the ones asked for. */
static void test_multipart_walk(void)
{
    struct env env;
    env_init(&env);
    answer(&env, "GET /f.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9,50-59,90-\r\n\r\n");
    CHECK_EQ_INT(env.r.status, 206);
    const char *cl = memmem(env.r.out.head, env.r.head_only_len, "Content-Length: ", 16);
    CHECK(cl != NULL);
    unsigned long long want_len = cl ? strtoull(cl + 16, NULL, 10) : 0;
    static const uint64_t firsts[] = {0, 50, 90};
    uint64_t total = 0;
    int files = 0, outputs = 0;
    for (int done = 0; !done && outputs < 10; outputs++) {
        const struct http_output *o = &env.r.out;
        size_t n = o->head_len;
        if (o->file_len) {
            CHECK_EQ_INT(o->file_fd, FAKE_FD);
            if (files < 3)
                CHECK(o->file_offset == firsts[files] && o->file_len == 10);
            files++;
            n += (size_t)o->file_len;
        }
        total += n;
        done = http_reply_sent(&env.r, &env.rc, n);
    }
    CHECK_EQ_INT(files, 3);
    CHECK_EQ_INT(outputs, 4); /* three parts, then the closing delimiter */
    CHECK(total - env.r.head_only_len == want_len);
    CHECK(http_reply_body_bytes(&env.r) == want_len);
    http_reply_release(&env.r, &env.rc);
    CHECK_EQ_INT(env.fake.releases, 1);
}

static void test_continue(void)
{
    static const char interim[] = "HTTP/1.1 100 Continue\r\n\r\n";
    struct env env;
    env_init(&env);
    http_reply_error(&env.r, &env.rc, 404, NOW);
    size_t head_len = env.r.out.head_len, head_only = env.r.head_only_len;
    http_reply_continue(&env.r);
    CHECK_EQ_INT(env.r.out.head_len, head_len + sizeof interim - 1);
    CHECK_EQ_INT(env.r.head_only_len, head_only + sizeof interim - 1);
    CHECK_EQ_MEM(env.r.out.head, sizeof interim - 1, interim, sizeof interim - 1);
    CHECK(memcmp(env.r.out.head + sizeof interim - 1, "HTTP/1.1 404 ", 13) == 0);
    /* The interim response counts as head, not body, in the log. */
    CHECK_EQ_INT(http_reply_sent(&env.r, &env.rc, env.r.out.head_len), 1);
    CHECK(http_reply_body_bytes(&env.r) == head_len - head_only);
}

int main(void)
{
    test_error_bytes();
    test_error_framing();
    test_etag();
    test_memory_file();
    test_redirect_and_refusals();
    test_multipart_walk();
    test_continue();
    return test_report();
}
