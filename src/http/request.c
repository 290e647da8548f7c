#include "http/request.h"

#include <string.h>

static enum http_method method_of(struct http_span m)
{
    if (m.len == 3 && memcmp(m.ptr, "GET", 3) == 0)
        return HTTP_METHOD_GET;
    if (m.len == 4 && memcmp(m.ptr, "HEAD", 4) == 0)
        return HTTP_METHOD_HEAD;
    if (m.len == 7 && memcmp(m.ptr, "OPTIONS", 7) == 0)
        return HTTP_METHOD_OPTIONS;
    return HTTP_METHOD_OTHER;
}

static int ieq_prefix(const char *p, size_t len, const char *lower)
{
    size_t n = strlen(lower);
    if (len < n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        if (c != lower[i])
            return 0;
    }
    return 1;
}

/* Connection is a comma-separated list of options (RFC 9110 §7.6.1). */
static void connection_options(struct http_span v, int *close, int *keep_alive)
{
    size_t i = 0;
    while (i < v.len) {
        while (i < v.len && (v.ptr[i] == ' ' || v.ptr[i] == '\t' || v.ptr[i] == ','))
            i++;
        size_t start = i;
        while (i < v.len && v.ptr[i] != ',' && v.ptr[i] != ' ' && v.ptr[i] != '\t')
            i++;
        struct http_span token = {v.ptr + start, i - start};
        if (http_span_ieq(token, "close"))
            *close = 1;
        else if (http_span_ieq(token, "keep-alive"))
            *keep_alive = 1;
    }
}

/* Content-Length = 1*DIGIT (RFC 9110 §8.6); signs, spaces and overflow are errors. */
static int parse_length(struct http_span v, uint64_t *out)
{
    uint64_t n = 0;
    if (v.len == 0 || v.len > 19)
        return -1;
    for (size_t i = 0; i < v.len; i++) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9')
            return -1;
        n = n * 10 + (uint64_t)(v.ptr[i] - '0');
    }
    *out = n;
    return 0;
}

/* Absolute-form "http://authority/path" (RFC 9112 §3.2.2): the authority
 * replaces Host and the rest is routed like origin-form. */
static int split_absolute_form(struct http_span target, struct http_request_info *info)
{
    size_t skip;
    if (ieq_prefix(target.ptr, target.len, "http://"))
        skip = 7;
    else if (ieq_prefix(target.ptr, target.len, "https://"))
        skip = 8;
    else
        return -1;
    const char *authority = target.ptr + skip;
    const char *end = target.ptr + target.len;
    const char *p = authority;
    while (p < end && *p != '/' && *p != '?' && *p != '#')
        p++;
    if (p == authority || (p < end && *p != '/'))
        return -1; /* no authority, or a query right after it: "http://h?q" is too rare to rebuild */
    info->host = (struct http_span){authority, (size_t)(p - authority)};
    /* "http://h" has an empty path, which means "/" (RFC 9110 §4.2.3). */
    info->path = p < end ? (struct http_span){p, (size_t)(end - p)} : (struct http_span){"/", 1};
    return 0;
}

static int interpret_target(const struct http_request *req, struct http_request_info *info)
{
    struct http_span t = req->target;
    if (t.len > 0 && t.ptr[0] == '/') {
        info->path = t;
        return 0;
    }
    if (t.len == 1 && t.ptr[0] == '*') {
        info->asterisk = 1;
        return 0;
    }
    return split_absolute_form(t, info);
}

static int interpret_fields(const struct http_request *req, struct http_request_info *info, int *hosts)
{
    int saw_length = 0, saw_encoding = 0, close = 0, keep_alive = 0;
    for (size_t i = 0; i < req->header_count; i++) {
        const struct http_header *h = &req->headers[i];
        if (http_span_ieq(h->name, "host")) {
            if (++*hosts == 1 && info->host.len == 0)
                info->host = h->value;
        } else if (http_span_ieq(h->name, "content-length")) {
            uint64_t n;
            if (parse_length(h->value, &n) != 0 || (saw_length && n != info->content_length))
                return 400;
            info->content_length = n;
            saw_length = 1;
        } else if (http_span_ieq(h->name, "transfer-encoding")) {
            saw_encoding = 1;
        } else if (http_span_ieq(h->name, "connection")) {
            connection_options(h->value, &close, &keep_alive);
        }
    }
    /* Both framings at once is how requests are smuggled (RFC 9112 §6.1). */
    if (saw_encoding)
        return saw_length ? 400 : 501;
    info->keep_alive = req->version_minor >= 1 ? !close : keep_alive && !close;
    return 0;
}

int http_request_interpret(const struct http_request *req, struct http_request_info *info)
{
    int hosts = 0;
    memset(info, 0, sizeof *info);
    info->method = method_of(req->method);
    if (interpret_target(req, info) != 0)
        return 400;
    int status = interpret_fields(req, info, &hosts);
    if (status)
        return status;
    /* RFC 9112 §3.2: an HTTP/1.1 request has exactly one Host field. */
    if (hosts > 1 || (hosts == 0 && req->version_minor >= 1))
        return 400;
    return 0;
}
