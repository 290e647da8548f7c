/* Unit tests for the request-head parser (src/http/parse.c). Most inputs are
 * parsed from the very end of a readable mapping followed by a PROT_NONE page,
 * so that reading one byte past the input crashes the test. */
#include "http/parse.h"
#include "test.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* A string literal and its length, which may count embedded NULs. */
#define LIT(s) s, sizeof(s) - 1

enum {
    BIG = 65536, /* max_head for tests that are not about limits */
    GUARD_AREA = 1 << 20,
};

static char *guard_area; /* GUARD_AREA readable bytes, then a PROT_NONE page */

static void guard_init(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *map = mmap(NULL, GUARD_AREA + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (map == MAP_FAILED || mprotect(map + GUARD_AREA, page, PROT_NONE) != 0) {
        perror("guard page");
        exit(2);
    }
    guard_area = map;
}

/* Copies s[0..n) so that it ends exactly where the PROT_NONE page begins. */
static const char *guard_place(const char *s, size_t n)
{
    char *dst = guard_area + GUARD_AREA - n;

    if (n > GUARD_AREA)
        abort();
    memcpy(dst, s, n);
    return dst;
}

static int parse_guarded(const char *s, size_t n, size_t max_head, struct http_request *req, int *status)
{
    return http_parse_request(guard_place(s, n), n, max_head, req, status);
}

static int span_is(struct http_span span, const char *want)
{
    return span.len == strlen(want) && memcmp(span.ptr, want, span.len) == 0;
}

static void check_header(const struct http_request *req, size_t i, const char *name, const char *value)
{
    CHECK(i < req->header_count);
    if (i >= req->header_count)
        return;
    CHECK_EQ_MEM(req->headers[i].name.ptr, req->headers[i].name.len, name, strlen(name));
    CHECK_EQ_MEM(req->headers[i].value.ptr, req->headers[i].value.len, value, strlen(value));
}

static void test_simple_get(void)
{
    static const char in[] = "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\n"
                             "User-Agent: curl/8.0\r\nAccept: */*\r\n\r\n";
    struct http_request req;
    int status = 0;
    const char *buf = guard_place(LIT(in));
    int n = http_parse_request(buf, sizeof in - 1, BIG, &req, &status);

    CHECK_EQ_INT(n, sizeof in - 1);
    CHECK_EQ_INT(req.head_len, sizeof in - 1);
    CHECK_EQ_MEM(req.method.ptr, req.method.len, "GET", 3);
    CHECK(req.method.ptr == buf);
    CHECK_EQ_MEM(req.target.ptr, req.target.len, "/index.html?q=1", 15);
    CHECK(req.target.ptr == buf + 4);
    CHECK_EQ_INT(req.version_major, 1);
    CHECK_EQ_INT(req.version_minor, 1);
    CHECK_EQ_INT(req.header_count, 3);
    check_header(&req, 0, "Host", "example.com");
    check_header(&req, 1, "User-Agent", "curl/8.0");
    check_header(&req, 2, "Accept", "*/*");
    CHECK_EQ_INT(status, 0);
}

/* OWS around a value is dropped, whitespace inside it is kept (RFC 9112 §5). */
static void test_field_values(void)
{
    static const char in[] = "POST /up HTTP/1.0\r\nA:b\r\nB: \t x \t y\t \r\nEmpty:\r\nBlank: \t \r\n"
                             "Text: caf\xc3\xa9 \x80\xff\r\nTab:\tv\r\n\r\n";
    struct http_request req;
    int status = 0;

    CHECK_EQ_INT(parse_guarded(LIT(in), BIG, &req, &status), sizeof in - 1);
    CHECK_EQ_MEM(req.method.ptr, req.method.len, "POST", 4);
    CHECK_EQ_INT(req.version_minor, 0);
    CHECK_EQ_INT(req.header_count, 6);
    check_header(&req, 0, "A", "b");
    check_header(&req, 1, "B", "x \t y");
    check_header(&req, 2, "Empty", "");
    check_header(&req, 3, "Blank", "");
    check_header(&req, 4, "Text", "caf\xc3\xa9 \x80\xff");
    check_header(&req, 5, "Tab", "v");
}

/* RFC 9112 §2.2: a bare LF may end a line, in any mix with CRLF. */
static void test_bare_lf(void)
{
    static const char in[] = "GET / HTTP/1.1\nHost: a\r\nX: y\n\n";
    struct http_request req;
    int status = 0;

    CHECK_EQ_INT(parse_guarded(LIT(in), BIG, &req, &status), sizeof in - 1);
    CHECK_EQ_INT(req.header_count, 2);
    check_header(&req, 0, "Host", "a");
    check_header(&req, 1, "X", "y");
    CHECK_EQ_INT(parse_guarded(LIT("GET / HTTP/1.1\n\r\n"), BIG, &req, &status), 17);
    CHECK_EQ_INT(req.header_count, 0);
}

/* RFC 9112 §2.2: empty lines before the request line are skipped and
 * counted in the head length; a long run of them is refused. */
static void test_leading_empty_lines(void)
{
    static const char in[] = "\r\n\n\r\nGET /x HTTP/1.1\r\n\r\n";
    static const char eight[] = "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n";
    static const char nine[] = "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n";
    struct http_request req;
    int status = 0;
    const char *buf = guard_place(LIT(in));

    CHECK_EQ_INT(http_parse_request(buf, sizeof in - 1, BIG, &req, &status), sizeof in - 1);
    CHECK(req.method.ptr == buf + 5);
    CHECK_EQ_MEM(req.target.ptr, req.target.len, "/x", 2);
    CHECK_EQ_INT(parse_guarded(LIT(eight), BIG, &req, &status), sizeof eight - 1);
    CHECK_EQ_INT(parse_guarded(LIT(nine), BIG, &req, &status), HTTP_PARSE_ERROR);
    CHECK_EQ_INT(status, 400);
    /* The ninth empty line is refused as soon as it starts. */
    status = 0;
    CHECK_EQ_INT(parse_guarded(nine, 17, BIG, &req, &status), HTTP_PARSE_ERROR);
    CHECK_EQ_INT(status, 400);
    CHECK_EQ_INT(parse_guarded(nine, 16, BIG, &req, &status), HTTP_PARSE_INCOMPLETE);
}

static void test_pipelined(void)
{
    static const char in[] = "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: b\r\n\r\n";
    const size_t first = 28;
    struct http_request req;
    int status = 0;
    const char *buf = guard_place(LIT(in));

    CHECK_EQ_INT(http_parse_request(buf, sizeof in - 1, BIG, &req, &status), first);
    CHECK_EQ_MEM(req.target.ptr, req.target.len, "/a", 2);
    check_header(&req, 0, "Host", "a");
    CHECK_EQ_INT(http_parse_request(buf + first, sizeof in - 1 - first, BIG, &req, &status), sizeof in - 1 - first);
    CHECK_EQ_MEM(req.target.ptr, req.target.len, "/b", 2);
    check_header(&req, 0, "Host", "b");
    /* A partial second request does not disturb the first. */
    CHECK_EQ_INT(http_parse_request(buf, first + 5, BIG, &req, &status), first);
}

static void test_versions(void)
{
    struct http_request req;
    int status = 0;

    CHECK_EQ_INT(parse_guarded(LIT("GET / HTTP/1.0\r\n\r\n"), BIG, &req, &status), 18);
    CHECK_EQ_INT(req.version_major, 1);
    CHECK_EQ_INT(req.version_minor, 0);
    CHECK_EQ_INT(parse_guarded(LIT("GET / HTTP/1.2\r\n\r\n"), BIG, &req, &status), 18);
    CHECK_EQ_INT(req.version_minor, 2);
    CHECK_EQ_INT(parse_guarded(LIT("GET / HTTP/1.9\r\n\r\n"), BIG, &req, &status), 18);
    CHECK_EQ_INT(req.version_minor, 9);
}

/* Every prefix of a valid request is incomplete, the whole is a head. */
static void check_split_points(const char *in, size_t n)
{
    struct http_request req;
    int status = 0;
    size_t bad = 0;

    for (size_t i = 0; i < n; i++) {
        if (parse_guarded(in, i, BIG, &req, &status) != HTTP_PARSE_INCOMPLETE)
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(parse_guarded(in, n, BIG, &req, &status), (int)n);
    CHECK_EQ_INT(req.head_len, n);
}

static void test_split_points(void)
{
    static const char exotic[] = "M-!#$%&'*+.^_`|~9 /%7e!$&'()*+,;=:@[]{}\"<>\\^`| HTTP/1.2\r\n"
                                 "x-!#$%&'*+.^_`|~0: \"quoted\" (c) {}\t\r\n\r\n";

    check_split_points(LIT("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"));
    check_split_points(LIT("\r\n\nHEAD /a?b=c HTTP/1.0\nAccept: */*\r\nX-Empty:\r\nX-Ows: \t v a l \t\r\n\n"));
    check_split_points(LIT("OPTIONS * HTTP/1.1\r\n\r\n"));
    check_split_points(LIT("GET http://h:80/p HTTP/1.1\r\nX: caf\xc3\xa9\x80\xff\r\n\r\n"));
    check_split_points(LIT(exotic));
}

struct bad_case {
    const char *bad; /* the input up to the byte that makes it certainly invalid */
    size_t bad_len;
    const char *rest; /* what would have followed */
    size_t rest_len;
    int status;
};

static const struct bad_case bad_cases[] = {
    {LIT("GE\x01"), LIT("T / HTTP/1.1\r\n\r\n"), 400},
    {LIT("G("), LIT("T / HTTP/1.1\r\n\r\n"), 400},
    {LIT("G\x80"), LIT("T / HTTP/1.1\r\n\r\n"), 400},
    {LIT(" "), LIT("GET / HTTP/1.1\r\n\r\n"), 400},
    {LIT("GET\t"), LIT("/ HTTP/1.1\r\n\r\n"), 400},
    {LIT("GET  "), LIT("/ HTTP/1.1\r\n\r\n"), 400},
    {LIT("GET /  "), LIT("HTTP/1.1\r\n\r\n"), 400},
    {LIT("GET /\x80"), LIT(" HTTP/1.1\r\n\r\n"), 400},
    {LIT("GET /a\x7f"), LIT(" HTTP/1.1\r\n\r\n"), 400},
    {LIT("GET /\0"), LIT(" HTTP/1.1\r\n\r\n"), 400},
    {LIT("GET /\t"), LIT(" HTTP/1.1\r\n\r\n"), 400},
    {LIT("GET /\r"), LIT("\n\r\n"), 400},
    {LIT("GET / h"), LIT("ttp/1.1\r\n\r\n"), 400},
    {LIT("GET / HTTP/1.1 "), LIT("\r\n\r\n"), 400},
    {LIT("GET / HTTP/1.10"), LIT("\r\n\r\n"), 400},
    {LIT("GET / HTTP/10"), LIT(".1\r\n\r\n"), 400},
    {LIT("GET / HTTP/1\r"), LIT("\n\r\n"), 400},
    {LIT("GET / HTTP/1.\r"), LIT("\n\r\n"), 400},
    {LIT("GET / HTTP/1.1\rX"), LIT("\r\n\r\n"), 400},
    {LIT("GET / HTTP/1.1\r\r"), LIT("\n\r\n"), 400},
    {LIT("\rG"), LIT("ET / HTTP/1.1\r\n\r\n"), 400},
    {LIT("GET / HTTP/2.0\r\n"), LIT("Host: a\r\n\r\n"), 505},
    {LIT("GET / HTTP/0.9\n"), LIT("\n"), 505},
    {LIT("GET / HTTP/3.1\r\n"), LIT("\r\n"), 505},
    {LIT("GET / HTTP/1.1\r\n:"), LIT(" v\r\n\r\n"), 400},
    {LIT("GET / HTTP/1.1\r\nHost "), LIT(": a\r\n\r\n"), 400},
    {LIT("GET / HTTP/1.1\r\nHost\t"), LIT(": a\r\n\r\n"), 400},
    {LIT("GET / HTTP/1.1\r\nHo("), LIT("st: a\r\n\r\n"), 400},
    {LIT("GET / HTTP/1.1\r\nHo\x80"), LIT("st: a\r\n\r\n"), 400},
    {LIT("GET / HTTP/1.1\r\nHost\r"), LIT("\n\r\n"), 400},
    {LIT("GET / HTTP/1.1\r\nHost: a\r\n "), LIT("b\r\n\r\n"), 400},
    {LIT("GET / HTTP/1.1\r\nHost: a\r\n\t"), LIT("b\r\n\r\n"), 400},
    {LIT("GET / HTTP/1.1\r\n "), LIT("Host: a\r\n\r\n"), 400},
    {LIT("GET / HTTP/1.1\r\nX: a\0"), LIT("b\r\n\r\n"), 400},
    {LIT("GET / HTTP/1.1\r\nX: a\x01"), LIT("b\r\n\r\n"), 400},
    {LIT("GET / HTTP/1.1\r\nX: \x1b"), LIT("[31m\r\n\r\n"), 400},
    {LIT("GET / HTTP/1.1\r\nX: a\x7f"), LIT("b\r\n\r\n"), 400},
    {LIT("GET / HTTP/1.1\r\nX: a\rb"), LIT("\r\n\r\n"), 400},
    {LIT("GET / HTTP/1.1\r\nX: a\r\n\r\r"), LIT("\n"), 400},
    {LIT("GET / HTTP/1.1\r\nX: a\nb\r"), LIT("\n\r\n"), 400},
};

/* The error is reported as soon as the offending byte arrives, never earlier,
 * and every longer prefix, the whole input included, gives the same error. */
static void check_bad_case(const struct bad_case *bc, size_t index)
{
    char in[256];
    size_t n = bc->bad_len + bc->rest_len;
    struct http_request req;
    size_t wrong = 0;

    memcpy(in, bc->bad, bc->bad_len);
    memcpy(in + bc->bad_len, bc->rest, bc->rest_len);
    for (size_t i = 0; i <= n; i++) {
        int status = 0;
        int r = parse_guarded(in, i, BIG, &req, &status);

        if (i < bc->bad_len ? r != HTTP_PARSE_INCOMPLETE : r != HTTP_PARSE_ERROR || status != bc->status)
            wrong++;
    }
    CHECK_EQ_INT(wrong, 0);
    if (wrong)
        fprintf(stderr, "     bad case %zu: \"%.*s\"\n", index, (int)bc->bad_len, bc->bad);
}

static void test_malformed(void)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++)
        check_bad_case(&bad_cases[i], i);
}

/* The status passed in is left alone unless the result is an error. */
static void check_result(const char *in, size_t n, size_t max_head, int want, int want_status)
{
    struct http_request req;
    int status = 0;

    CHECK_EQ_INT(parse_guarded(in, n, max_head, &req, &status), want);
    CHECK_EQ_INT(status, want == HTTP_PARSE_ERROR ? want_status : 0);
}

/* RFC 9112 §3: a request line longer than the server accepts gets 414. */
static void test_limit_request_line(void)
{
    static const char in[] = "GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n\r\n";
    const size_t line = sizeof in - 3; /* the request line with its CRLF */

    check_result(LIT(in), 32, HTTP_PARSE_ERROR, 414);
    check_result(in, 32, 32, HTTP_PARSE_ERROR, 414); /* certain while incomplete */
    check_result(in, 31, 32, HTTP_PARSE_INCOMPLETE, 0);
    check_result(LIT(in), line - 1, HTTP_PARSE_ERROR, 414); /* the LF does not fit */
    check_result(LIT(in), line, HTTP_PARSE_ERROR, 431);     /* the line fits, the head does not */
    check_result(in, line, line, HTTP_PARSE_ERROR, 431);
    check_result(in, line - 1, line, HTTP_PARSE_INCOMPLETE, 0);
    check_result(LIT(in), line + 2, (int)line + 2, 0);
    check_result(LIT(in), line + 1, HTTP_PARSE_ERROR, 431);
    check_result(LIT(in), BIG, (int)sizeof in - 1, 0);
    check_result(LIT(in), 0, HTTP_PARSE_ERROR, 414);
}

/* A method longer than HTTP_METHOD_MAX is no method this server knows: 501
 * as soon as its next byte is a token byte, whatever max_head allows; a
 * non-token byte in it is 400, as anywhere in a method (RFC 9110 §9.1). */
static void test_limit_method(void)
{
    static char in[20000];
    int n;

    memset(in, 'A', HTTP_METHOD_MAX);
    n = HTTP_METHOD_MAX + sprintf(in + HTTP_METHOD_MAX, " / HTTP/1.1\r\n\r\n");
    check_result(in, (size_t)n, BIG, n, 0); /* exactly HTTP_METHOD_MAX bytes */
    check_result(in, HTTP_METHOD_MAX, BIG, HTTP_PARSE_INCOMPLETE, 0);

    memset(in, 'A', HTTP_METHOD_MAX + 1);
    n = HTTP_METHOD_MAX + 1 + sprintf(in + HTTP_METHOD_MAX + 1, " / HTTP/1.1\r\n\r\n");
    check_result(in, (size_t)n, BIG, HTTP_PARSE_ERROR, 501);
    check_result(in, HTTP_METHOD_MAX, BIG, HTTP_PARSE_INCOMPLETE, 0);
    check_result(in, HTTP_METHOD_MAX + 1, BIG, HTTP_PARSE_ERROR, 501); /* certain while incomplete */
    in[HTTP_METHOD_MAX] = '(';
    check_result(in, (size_t)n, BIG, HTTP_PARSE_ERROR, 400);

    /* A method far longer than max_head (here 8192) is still 501, not 414. */
    memset(in, 'A', 9000);
    n = 9000 + sprintf(in + 9000, " / HTTP/1.1\r\n\r\n");
    check_result(in, (size_t)n, 8192, HTTP_PARSE_ERROR, 501);
    in[8999] = '(';
    check_result(in, (size_t)n, 8192, HTTP_PARSE_ERROR, 501); /* judged before the '(' */
    in[5] = '(';
    check_result(in, (size_t)n, 8192, HTTP_PARSE_ERROR, 400);
    /* After empty lines too (RFC 9112 §2.2). */
    n = sprintf(in, "\r\n\r\n");
    memset(in + n, 'G', HTTP_METHOD_MAX + 1);
    check_result(in, (size_t)n + HTTP_METHOD_MAX + 1, BIG, HTTP_PARSE_ERROR, 501);
}

/* A head of `fields` fields "Xnn: v" that is `*len` bytes long. */
static char *make_head(size_t fields, size_t *len)
{
    char *head = malloc(32 + fields * 16);
    size_t n;

    if (!head)
        abort();
    n = (size_t)sprintf(head, "GET / HTTP/1.1\r\n");
    for (size_t i = 0; i < fields; i++)
        n += (size_t)sprintf(head + n, "X%02zu: v%zu\r\n", i, i);
    memcpy(head + n, "\r\n", 2);
    *len = n + 2;
    return head;
}

/* RFC 6585 §5: a header section that is too large gets 431. */
static void test_limit_fields(void)
{
    size_t n;
    size_t n65;
    char *head = make_head(HTTP_MAX_HEADERS, &n);
    char *head65 = make_head(HTTP_MAX_HEADERS + 1, &n65);
    struct http_request req;
    int status = 0;

    CHECK_EQ_INT(parse_guarded(head, n, BIG, &req, &status), n);
    CHECK_EQ_INT(req.header_count, HTTP_MAX_HEADERS);
    check_header(&req, HTTP_MAX_HEADERS - 1, "X63", "v63");
    check_result(head, n, n, (int)n, 0);
    check_result(head, n, n - 1, HTTP_PARSE_ERROR, 431);
    check_result(head, n - 10, 100, HTTP_PARSE_ERROR, 431);
    check_result(head, 99, 100, HTTP_PARSE_INCOMPLETE, 0);
    check_result(head65, n65, BIG, HTTP_PARSE_ERROR, 431);
    /* Certain at the first byte of the 65th field line (n - 2 bytes precede it). */
    check_result(head65, n - 2, BIG, HTTP_PARSE_INCOMPLETE, 0);
    check_result(head65, n - 1, BIG, HTTP_PARSE_ERROR, 431);
    free(head);
    free(head65);
}

static int ref_tchar(int b)
{
    return b != 0 && ((b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') ||
                      strchr("!#$%&'*+-.^_`|~", b) != NULL);
}

static int ref_field_byte(int b)
{
    return b == '\t' || b == ' ' || (b >= 0x21 && b <= 0x7e) || b >= 0x80;
}

/* Parses a template with '@' replaced by byte b, expecting success exactly when ok. */
static size_t byte_mismatch(const char *tmpl, int b, int ok)
{
    char in[64];
    size_t n = strlen(tmpl);
    struct http_request req;
    int status = 0;
    int r;

    memcpy(in, tmpl, n);
    *(char *)memchr(in, '@', n) = (char)b;
    r = parse_guarded(in, n, BIG, &req, &status);
    return ok ? r != (int)n : r != HTTP_PARSE_ERROR || status != 400;
}

/* Every byte value in every element, against the RFC 9110 grammar. */
static void test_byte_classes(void)
{
    size_t method = 0, target = 0, name = 0, value = 0;

    for (int b = 0; b < 256; b++) {
        method += byte_mismatch("G@T / HTTP/1.1\r\n\r\n", b, ref_tchar(b));
        target += byte_mismatch("GET /@x HTTP/1.1\r\n\r\n", b, b >= 0x21 && b <= 0x7e);
        /* A ':' simply ends the name early, which is still valid. */
        name += byte_mismatch("GET / HTTP/1.1\r\nA@: v\r\n\r\n", b, ref_tchar(b) || b == ':');
        value += byte_mismatch("GET / HTTP/1.1\r\nA: x@y\r\n\r\n", b, ref_field_byte(b));
    }
    CHECK_EQ_INT(method, 0);
    CHECK_EQ_INT(target, 0);
    CHECK_EQ_INT(name, 0);
    CHECK_EQ_INT(value, 0);
}

static struct http_span span_of(const char *s)
{
    struct http_span span = {s, strlen(s)};
    return span;
}

static void test_span_ieq(void)
{
    struct http_span none = {NULL, 0};

    CHECK(http_span_ieq(span_of("Host"), "host"));
    CHECK(http_span_ieq(span_of("CONTENT-length"), "content-length"));
    CHECK(!http_span_ieq(span_of("Hos"), "host"));
    CHECK(!http_span_ieq(span_of("Hosts"), "host"));
    CHECK(!http_span_ieq(span_of("Hosu"), "host"));
    CHECK(http_span_ieq(none, ""));
    CHECK(!http_span_ieq(none, "a"));
    CHECK(!http_span_ieq(span_of("a"), ""));
    /* Only letters fold: '[' and '{', '@' and '`' differ by 0x20 too. */
    CHECK(!http_span_ieq(span_of("["), "{"));
    CHECK(!http_span_ieq(span_of("@"), "`"));
    CHECK(!http_span_ieq(span_of("\xc0"), "\xe0"));
    CHECK(http_span_ieq(span_of("X-1_Z"), "x-1_z"));
}

static void test_find_header(void)
{
    static const char in[] = "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a: 2\r\nX-AB: 3\r\n\r\n";
    struct http_request req;
    int status = 0;
    const struct http_header *h;

    CHECK_EQ_INT(parse_guarded(LIT(in), BIG, &req, &status), sizeof in - 1);
    h = http_find_header(&req, "x-a");
    CHECK(h == &req.headers[1]);
    CHECK(h && span_is(h->value, "1"));
    h = http_find_header(&req, "x-ab");
    CHECK(h && span_is(h->value, "3"));
    h = http_find_header(&req, "host");
    CHECK(h && span_is(h->value, "h"));
    CHECK(http_find_header(&req, "x") == NULL);
    CHECK(http_find_header(&req, "content-length") == NULL);
}

int main(void)
{
    guard_init();
    test_simple_get();
    test_field_values();
    test_bare_lf();
    test_leading_empty_lines();
    test_pipelined();
    test_versions();
    test_split_points();
    test_malformed();
    test_limit_request_line();
    test_limit_method();
    test_limit_fields();
    test_byte_classes();
    test_span_ieq();
    test_find_header();
    return test_report();
}
