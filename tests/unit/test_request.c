/* Unit tests for request interpretation (src/http/request.c): framing,
 * persistence, Host and request-target forms, on heads parsed by
 * http_parse_request. */
#include "http/parse.h"
#include "http/request.h"
#include "test.h"

#include <stdint.h>

enum { MAX_HEAD = 65536 };

/* Parses head (which must be complete and valid) and interprets it. Returns
 * the interpretation's status, or -1 when the head did not parse. */
static int interpret(const char *head, struct http_request *req, struct http_request_info *info)
{
    int status = 0;
    int n = http_parse_request(head, strlen(head), MAX_HEAD, req, &status);
    CHECK_EQ_INT(n, (int)strlen(head));
    if (n <= 0)
        return -1;
    return http_request_interpret(req, info);
}

static int span_is(struct http_span span, const char *want)
{
    return span.len == strlen(want) && (span.len == 0 || memcmp(span.ptr, want, span.len) == 0);
}

#define CHECK_SPAN(span, want) CHECK_EQ_MEM((span).ptr, (span).len, (want), strlen(want))

/* Persistence (RFC 9112 §9.3): 1.1 persists unless "close"; 1.0 only with
 * "keep-alive". Options are case-insensitive tokens in a list. */
static void test_keep_alive(void)
{
    static const struct {
        const char *version;
        const char *fields; /* extra field lines */
        int keep_alive;
    } cases[] = {
        { "1.1", "", 1 },
        { "1.1", "Connection: close\r\n", 0 },
        { "1.1", "Connection: Close\r\n", 0 },
        { "1.1", "Connection: CLOSE\r\n", 0 },
        { "1.1", "connection: close\r\n", 0 },
        { "1.1", "Connection: Upgrade, close\r\n", 0 },
        { "1.1", "Connection: keep-alive,close\r\n", 0 },
        { "1.1", "Connection: keep-alive\r\nConnection: close\r\n", 0 },
        { "1.1", "Connection: keep-alive\r\n", 1 },
        { "1.1", "Connection: closed\r\n", 1 },
        { "1.1", "Connection: Upgrade\r\n", 1 },
        { "1.0", "", 0 },
        { "1.0", "Connection: keep-alive\r\n", 1 },
        { "1.0", "Connection: Keep-Alive\r\n", 1 },
        { "1.0", "Connection: KEEP-ALIVE\r\n", 1 },
        { "1.0", "Connection: Keep-Alive, Upgrade\r\n", 1 },
        { "1.0", "Connection: Upgrade,\tkeep-alive\r\n", 1 },
        { "1.0", "Connection: keep-alive, close\r\n", 0 },
        { "1.0", "Connection: keep-alivex\r\n", 0 },
        { "1.0", "Connection: Upgrade\r\n", 0 },
        { "1.0", "Keep-Alive: timeout=5\r\n", 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char head[512];
        struct http_request req;
        struct http_request_info info;
        snprintf(head, sizeof head, "GET / HTTP/%s\r\nHost: h\r\n%s\r\n", cases[i].version, cases[i].fields);
        int status = interpret(head, &req, &info);
        CHECK_EQ_INT(status, 0);
        if (info.keep_alive != cases[i].keep_alive)
            fprintf(stderr, "     keep-alive case %zu: HTTP/%s %s", i, cases[i].version, cases[i].fields);
        CHECK_EQ_INT(info.keep_alive, cases[i].keep_alive);
    }
}

/* Content-Length = 1*DIGIT (RFC 9110 §8.6); conflicting copies and framing
 * by both Content-Length and Transfer-Encoding are refused (RFC 9112 §6). */
static void test_framing(void)
{
    static const struct {
        const char *fields;
        int status;
        uint64_t length;
        int chunked;
    } cases[] = {
        { "", 0, 0, 0 },
        { "Content-Length: 0\r\n", 0, 0, 0 },
        { "Content-Length: 5\r\n", 0, 5, 0 },
        { "content-length: 42\r\n", 0, 42, 0 },
        { "Content-Length: 007\r\n", 0, 7, 0 },
        { "Content-Length:   5  \r\n", 0, 5, 0 },
        { "Content-Length: 9999999999999999999\r\n", 0, 9999999999999999999ULL, 0 },
        { "Content-Length: 5\r\nContent-Length: 5\r\n", 0, 5, 0 },
        { "Content-Length: +5\r\n", 400, 0, 0 },
        { "Content-Length: -1\r\n", 400, 0, 0 },
        { "Content-Length: 5 5\r\n", 400, 0, 0 },
        { "Content-Length: abc\r\n", 400, 0, 0 },
        { "Content-Length: 5a\r\n", 400, 0, 0 },
        { "Content-Length: 0x10\r\n", 400, 0, 0 },
        { "Content-Length: \r\n", 400, 0, 0 },
        { "Content-Length: 12345678901234567890\r\n", 400, 0, 0 },
        { "Content-Length: 99999999999999999999\r\n", 400, 0, 0 },
        { "Content-Length: 5\r\nContent-Length: 6\r\n", 400, 0, 0 },
        { "Content-Length: 5\r\nContent-Length: x\r\n", 400, 0, 0 },
        { "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", 400, 0, 0 },
        { "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", 400, 0, 0 },
        { "Transfer-Encoding: chunked\r\n", 0, 0, 1 },
        { "Transfer-Encoding: Chunked\r\n", 0, 0, 1 },
        { "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", 501, 0, 0 },
        { "transfer-encoding: gzip, chunked\r\n", 501, 0, 0 },
        { "Transfer-Encoding: identity\r\n", 400, 0, 0 },
        { "Transfer-Encoding: chunked, gzip\r\n", 400, 0, 0 },
        { "Transfer-Encoding: chunked, chunked\r\n", 400, 0, 0 },
        { "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", 400, 0, 0 },
        { "Transfer-Encoding: \r\n", 400, 0, 0 },
        { "Transfer-Encoding: ,\r\n", 400, 0, 0 },
        { "Transfer-Encoding: xchunked\r\n", 400, 0, 0 },
        { "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n", 400, 0, 0 },
        { "Expect: 100-continue\r\nContent-Length: 5\r\n", 0, 5, 0 },
        { "Expect: 100-Continue\r\nTransfer-Encoding: chunked\r\n", 0, 0, 1 },
        { "Expect: something-else\r\n", 417, 0, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char head[512];
        struct http_request req;
        struct http_request_info info;
        snprintf(head, sizeof head, "POST /upload HTTP/1.1\r\nHost: h\r\n%s\r\n", cases[i].fields);
        int status = interpret(head, &req, &info);
        if (status != cases[i].status)
            fprintf(stderr, "     framing case %zu: %s", i, cases[i].fields);
        CHECK_EQ_INT(status, cases[i].status);
        if (cases[i].status == 0) {
            CHECK(info.content_length == cases[i].length);
            CHECK_EQ_INT(info.chunked, cases[i].chunked);
            CHECK_EQ_INT(info.expect_continue, strstr(cases[i].fields, "100-") != NULL);
        }
    }
    /* HTTP/1.0 predates Transfer-Encoding: its framing cannot be trusted. */
    struct http_request req;
    struct http_request_info info;
    CHECK_EQ_INT(interpret("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", &req, &info), 400);
}

/* RFC 9112 §3.2: exactly one Host in HTTP/1.1; HTTP/1.0 may omit it. An
 * http URI's host is never empty (RFC 9110 §4.2.1), so neither is the Host of
 * an origin-form or asterisk-form request; absolute-form ignores Host. */
static void test_host(void)
{
    static const struct {
        const char *head;
        int status;
        const char *host;
    } cases[] = {
        { "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", 0, "example.com" },
        { "GET / HTTP/1.1\r\nhOsT: example.com:8080\r\n\r\n", 0, "example.com:8080" },
        { "GET / HTTP/1.1\r\nHost:\r\n\r\n", 400, NULL },
        { "GET / HTTP/1.1\r\nHost: \t \r\n\r\n", 400, NULL },
        { "GET / HTTP/1.1\r\nHost: :8080\r\n\r\n", 400, NULL },
        { "GET / HTTP/1.0\r\nHost:\r\n\r\n", 400, NULL },
        { "OPTIONS * HTTP/1.1\r\nHost:\r\n\r\n", 400, NULL },
        { "GET http://a/ HTTP/1.1\r\nHost:\r\n\r\n", 0, "a" },
        { "GET http://a:81/ HTTP/1.1\r\nHost: :80\r\n\r\n", 0, "a:81" },
        { "GET / HTTP/1.1\r\nHost: a:\r\n\r\n", 0, "a:" },
        { "GET / HTTP/1.1\r\n\r\n", 400, NULL },
        { "GET / HTTP/1.1\r\nUser-Agent: x\r\n\r\n", 400, NULL },
        { "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400, NULL },
        { "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, NULL },
        { "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400, NULL },
        { "GET / HTTP/1.0\r\n\r\n", 0, "" },
        { "GET / HTTP/1.0\r\nHost: old.example\r\n\r\n", 0, "old.example" },
        { "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", 0, "[::1]:8080" },
        { "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, NULL },
        { "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, NULL },
        { "GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", 400, NULL },
        { "GET / HTTP/1.1\r\nHost: \"a\"\r\n\r\n", 400, NULL },
        { "GET / HTTP/1.1\r\nHost: a\xe9\r\n\r\n", 400, NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct http_request req;
        struct http_request_info info;
        int status = interpret(cases[i].head, &req, &info);
        CHECK_EQ_INT(status, cases[i].status);
        if (cases[i].host)
            CHECK_SPAN(info.host, cases[i].host);
    }
}

/* Request-target forms (RFC 9112 §3.2): origin, absolute, asterisk. */
static void test_targets(void)
{
    static const struct {
        const char *target;
        int status;
        const char *host; /* expected info.host */
        const char *path; /* expected info.path */
        int asterisk;
    } cases[] = {
        { "/", 0, "h", "/", 0 },
        { "/a/b?c=d&e", 0, "h", "/a/b?c=d&e", 0 },
        { "http://h:1/p?q", 0, "h:1", "/p?q", 0 },
        { "HTTP://Example.COM/x", 0, "Example.COM", "/x", 0 },
        { "https://secure.example/", 0, "secure.example", "/", 0 },
        { "http://[::1]:8080/v6", 0, "[::1]:8080", "/v6", 0 },
        { "*", 0, "h", "", 1 },
        { "foo", 400, NULL, NULL, 0 },
        { "**", 400, NULL, NULL, 0 },
        { "ftp://h/x", 400, NULL, NULL, 0 },
        { "http:///nohost", 400, NULL, NULL, 0 },
        { "http://:80/nohost", 400, NULL, NULL, 0 },
        { "http://:/nohost", 400, NULL, NULL, 0 },
        { "http:/h/x", 400, NULL, NULL, 0 },
        { "h:80", 400, NULL, NULL, 0 },
        { "/a#frag", 400, NULL, NULL, 0 },
        { "http://h/a#frag", 400, NULL, NULL, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char head[512];
        struct http_request req;
        struct http_request_info info;
        snprintf(head, sizeof head, "OPTIONS %s HTTP/1.1\r\nHost: h\r\n\r\n", cases[i].target);
        int status = interpret(head, &req, &info);
        if (status != cases[i].status)
            fprintf(stderr, "     target case %zu: %s\n", i, cases[i].target);
        CHECK_EQ_INT(status, cases[i].status);
        if (cases[i].status != 0)
            continue;
        CHECK_SPAN(info.host, cases[i].host);
        CHECK_SPAN(info.path, cases[i].path);
        CHECK_EQ_INT(info.asterisk, cases[i].asterisk);
        /* Spans point into the received bytes, never into a copy. */
        if (info.path.len > 0)
            CHECK(info.path.ptr >= req.target.ptr && info.path.ptr < req.target.ptr + req.target.len);
    }
}

/* The authority of an absolute-form target ends at the first '/', '?' or '#'
 * (RFC 3986 §3.2): "http://h?a/b" names host "h" with query "a/b", not host
 * "h?a" and path "/b". Refusing the target is equally acceptable. */
static void test_absolute_form_authority_ends_at_query(void)
{
    static const char *const targets[] = { "http://h?a/b", "http://h#f/b" };
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        char head[256];
        struct http_request req;
        struct http_request_info info;
        snprintf(head, sizeof head, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", targets[i]);
        int status = interpret(head, &req, &info);
        int ok = status == 400 || (status == 0 && span_is(info.host, "h"));
        if (!ok)
            fprintf(stderr, "     %s: status %d, host \"%.*s\", path \"%.*s\"\n", targets[i], status,
                    (int)info.host.len, info.host.ptr, (int)info.path.len, info.path.ptr);
        CHECK(ok);
    }
}

static void test_methods(void)
{
    static const struct {
        const char *method;
        enum http_method want;
    } cases[] = {
        { "GET", HTTP_METHOD_GET },
        { "HEAD", HTTP_METHOD_HEAD },
        { "OPTIONS", HTTP_METHOD_OPTIONS },
        /* Known (RFC 9110 §9.3, RFC 5789) but not served here: 405. */
        { "POST", HTTP_METHOD_OTHER },
        { "PUT", HTTP_METHOD_OTHER },
        { "DELETE", HTTP_METHOD_OTHER },
        { "CONNECT", HTTP_METHOD_OTHER },
        { "TRACE", HTTP_METHOD_OTHER },
        { "PATCH", HTTP_METHOD_OTHER },
        /* Any other token: 501. */
        { "get", HTTP_METHOD_UNKNOWN }, /* methods are case-sensitive (RFC 9110 §9.1) */
        { "Post", HTTP_METHOD_UNKNOWN },
        { "GETS", HTTP_METHOD_UNKNOWN },
        { "GE", HTTP_METHOD_UNKNOWN },
        { "HEADER", HTTP_METHOD_UNKNOWN },
        { "OPTION", HTTP_METHOD_UNKNOWN },
        { "POSTS", HTTP_METHOD_UNKNOWN },
        { "PROPFIND", HTTP_METHOD_UNKNOWN },
        { "BREW", HTTP_METHOD_UNKNOWN },
        { "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", HTTP_METHOD_UNKNOWN }, /* HTTP_METHOD_MAX bytes */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char head[256];
        struct http_request req;
        struct http_request_info info;
        snprintf(head, sizeof head, "%s /x HTTP/1.1\r\nHost: h\r\n\r\n", cases[i].method);
        CHECK_EQ_INT(interpret(head, &req, &info), 0);
        CHECK_EQ_INT(info.method, cases[i].want);
        CHECK_SPAN(info.path, "/x");
    }
}

/* A request that interprets cleanly carries no leftovers from an earlier one. */
static void test_info_reset(void)
{
    struct http_request req;
    struct http_request_info info;
    CHECK_EQ_INT(interpret("GET http://a/b HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n\r\n", &req, &info), 0);
    CHECK_EQ_INT(interpret("OPTIONS * HTTP/1.0\r\n\r\n", &req, &info), 0);
    CHECK(info.content_length == 0);
    CHECK_EQ_INT(info.host.len, 0);
    CHECK_EQ_INT(info.path.len, 0);
    CHECK_EQ_INT(info.asterisk, 1);
    CHECK_EQ_INT(info.keep_alive, 0);
}

int main(void)
{
    test_keep_alive();
    test_framing();
    test_host();
    test_targets();
    test_absolute_form_authority_ends_at_query();
    test_methods();
    test_info_reset();
    return test_report();
}
