/* libFuzzer target for the head parser, requests and responses. For
 * http_parse_request: whatever the bytes and the limit,
 * the result must be one of the documented ones, a head's spans must lie inside
 * the head, and the parser must agree with itself across prefixes and limits.
 * Prefixes are parsed from exact-size heap copies, so ASan catches over-reads. */
#include "http/parse.h"
#include "http/response.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int ok)
{
    if (!ok)
        abort();
}

struct outcome {
    int rc;
    int status;
};

static int inside(struct http_span span, const char *buf, size_t n)
{
    return span.ptr >= buf && span.len <= n && span.ptr - buf <= (ptrdiff_t)(n - span.len);
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Looking a field up by its own name, lower-cased, finds it or an earlier one. */
static void check_find(const struct http_request *req, size_t i)
{
    const struct http_span name = req->headers[i].name;
    char lower[64];
    const struct http_header *found;

    if (name.len >= sizeof lower)
        return;
    for (size_t k = 0; k < name.len; k++)
        lower[k] = (name.ptr[k] >= 'A' && name.ptr[k] <= 'Z') ? (char)(name.ptr[k] + 32) : name.ptr[k];
    lower[name.len] = '\0';
    found = http_find_header(req, lower);
    require(found != NULL && found <= &req->headers[i]);
    require(http_span_ieq(name, lower));
}

static void check_head(const char *buf, size_t n, const struct http_request *req)
{
    require(req->head_len == n && buf[n - 1] == '\n');
    require(req->method.len > 0 && inside(req->method, buf, n));
    require(req->target.len > 0 && inside(req->target, buf, n));
    require(memchr(req->target.ptr, ' ', req->target.len) == NULL);
    require(req->version_major == 1 && req->version_minor >= 0 && req->version_minor <= 9);
    require(req->method.len > 0 && req->method.len <= HTTP_METHOD_MAX);
    require(req->header_count <= HTTP_MAX_HEADERS);
    for (size_t i = 0; i < req->header_count; i++) {
        const struct http_header *h = &req->headers[i];

        require(h->name.len > 0 && inside(h->name, buf, n));
        require(memchr(h->name.ptr, ':', h->name.len) == NULL);
        require(inside(h->value, buf, n));
        require(h->value.len == 0 || (!is_ows(h->value.ptr[0]) && !is_ows(h->value.ptr[h->value.len - 1])));
        require(memchr(h->value.ptr, '\r', h->value.len) == NULL);
        require(memchr(h->value.ptr, '\n', h->value.len) == NULL);
        check_find(req, i);
    }
    require(http_find_header(req, "") == NULL);
}

/* Parses buf[0..len) and checks what holds for any single result. */
static struct outcome parse(const char *buf, size_t len, size_t max_head)
{
    struct http_request req;
    struct outcome out = {0, 0};
    size_t limit = max_head < INT_MAX ? max_head : INT_MAX;

    out.rc = http_parse_request(buf, len, max_head, &req, &out.status);
    if (out.rc > 0) {
        require((size_t)out.rc <= len && (size_t)out.rc <= limit);
        check_head(buf, (size_t)out.rc, &req);
    } else if (out.rc == HTTP_PARSE_INCOMPLETE) {
        require(len < limit && out.status == 0);
    } else {
        require(out.rc == HTTP_PARSE_ERROR);
        require(out.status == 400 || out.status == 414 || out.status == 431 || out.status == 501 ||
                out.status == 505);
    }
    return out;
}

/* A prefix can only be incomplete or already give the whole input's answer;
 * an incomplete whole has only incomplete prefixes. */
static void check_prefix(const char *buf, size_t len, size_t max_head, struct outcome whole)
{
    char *copy = malloc(len ? len : 1);
    struct outcome part;

    require(copy != NULL);
    memcpy(copy, buf, len);
    part = parse(copy, len, max_head);
    free(copy);
    if (whole.rc == HTTP_PARSE_INCOMPLETE || (whole.rc > 0 && (size_t)whole.rc > len))
        require(part.rc == HTTP_PARSE_INCOMPLETE);
    else if (whole.rc > 0)
        require(part.rc == whole.rc);
    else if (part.rc != HTTP_PARSE_INCOMPLETE)
        require(part.rc == whole.rc && part.status == whole.status);
}

static void check_limit(const char *buf, size_t size, size_t max_head, struct outcome unlimited)
{
    struct outcome out = parse(buf, size, max_head);
    struct outcome again = parse(buf, size, max_head);

    require(out.rc == again.rc && out.status == again.status);
    if (unlimited.rc > 0 && (size_t)unlimited.rc <= max_head)
        require(out.rc == unlimited.rc);
    else if (out.rc > 0)
        abort();
    if (unlimited.rc > 0 && (size_t)unlimited.rc > max_head)
        require(out.rc == HTTP_PARSE_ERROR && (out.status == 414 || out.status == 431));
    check_prefix(buf, size / 2, max_head, out);
    if (size > 0)
        check_prefix(buf, size - 1, max_head, out);
}

/* The same bytes read as a response head (what duct get and duct bench do):
 * spans inside the head, a status in range, framing that is one of the kinds. */
static void check_response(const char *buf, size_t size)
{
    struct http_response res;
    struct http_response_info info;
    char *copy = malloc(size ? size : 1);
    int rc;

    require(copy != NULL);
    memcpy(copy, buf, size);
    rc = http_parse_response(copy, size, 8192, &res);
    require(rc > 0 || rc == HTTP_PARSE_INCOMPLETE || rc == HTTP_PARSE_ERROR);
    if (rc > 0) {
        require((size_t)rc <= size && res.head_len == (size_t)rc && copy[rc - 1] == '\n');
        require(res.status >= 100 && res.status <= 999 && inside(res.reason, copy, (size_t)rc));
        for (size_t i = 0; i < res.header_count; i++)
            require(inside(res.headers[i].name, copy, (size_t)rc) && inside(res.headers[i].value, copy, (size_t)rc));
        if (http_response_interpret(&res, 0, &info) == 0) {
            require(info.framing <= HTTP_BODY_UNTIL_CLOSE);
            require(info.framing != HTTP_BODY_UNTIL_CLOSE || !info.keep_alive);
        }
        require(http_parse_response(copy, (size_t)rc - 1, 8192, &res) == HTTP_PARSE_INCOMPLETE);
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    const size_t limits[] = {0, 1, 16, 64, 256, 8192, size / 2, size, size + 1};
    struct outcome unlimited = parse(buf, size, SIZE_MAX);

    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++)
        check_limit(buf, size, limits[i], unlimited);
    check_limit(buf, size, SIZE_MAX, unlimited);
    if (unlimited.rc > 0) {
        size_t n = (size_t)unlimited.rc;

        check_prefix(buf, n, SIZE_MAX, unlimited);
        check_prefix(buf, n - 1, SIZE_MAX, unlimited);
        require(parse(buf, size, n).rc == (int)n);
        require(parse(buf, size, n - 1).rc == HTTP_PARSE_ERROR);
    }
    check_response(buf, size);
    return 0;
}
