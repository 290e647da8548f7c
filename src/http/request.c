#include "http/request.h"

#include <string.h>

static int method_is(struct http_span m, const char *name)
{
    return m.len == strlen(name) && memcmp(m.ptr, name, m.len) == 0;
}

/* Methods are case-sensitive (RFC 9110 §9.1). Those RFC 9110 §9.3 and RFC
 * 5789 define are known, and refused with 405 when not served; any other
 * token is a method this server does not know: 501 (RFC 9110 §15.6.2). */
static enum http_method method_of(struct http_span m)
{
    static const char *const refused[] = {"POST", "PUT", "DELETE", "CONNECT", "TRACE", "PATCH"};
    if (method_is(m, "GET"))
        return HTTP_METHOD_GET;
    if (method_is(m, "HEAD"))
        return HTTP_METHOD_HEAD;
    if (method_is(m, "OPTIONS"))
        return HTTP_METHOD_OPTIONS;
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        if (method_is(m, refused[i]))
            return HTTP_METHOD_OTHER;
    }
    return HTTP_METHOD_UNKNOWN;
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
    struct http_span item;
    while (http_list_next(&v, &item)) {
        if (http_span_ieq(item, "close"))
            *close = 1;
        else if (http_span_ieq(item, "keep-alive"))
            *keep_alive = 1;
    }
}

/* Transfer-Encoding (RFC 9112 §6.1): the body's end is only known when the
 * final coding is chunked, and chunked may be applied once. Any other list is
 * a framing this server cannot trust: 400. Codings under chunked (gzip,
 * chunked) are well framed but not decoded here: 501, as nginx answers. The
 * several fields of one request form one list, so the state lives in *te. */
enum { TE_NONE, TE_OTHER, TE_CHUNKED, TE_OTHER_THEN_CHUNKED, TE_BAD };

static int transfer_codings(struct http_span v, int te)
{
    struct http_span item;
    int items = 0;
    while (te != TE_BAD && http_list_next(&v, &item)) {
        items++;
        if (te == TE_CHUNKED || te == TE_OTHER_THEN_CHUNKED)
            te = TE_BAD; /* something after chunked, chunked included */
        else if (http_span_ieq(item, "chunked"))
            te = te == TE_NONE ? TE_CHUNKED : TE_OTHER_THEN_CHUNKED;
        else
            te = TE_OTHER;
    }
    return items ? te : TE_BAD;
}

/* Expect (RFC 9110 §10.1.1): 100-continue is the only expectation defined. */
static int expect_value(struct http_span v, int *expect_continue)
{
    struct http_span item;
    while (http_list_next(&v, &item)) {
        if (!http_span_ieq(item, "100-continue"))
            return 417;
        *expect_continue = 1;
    }
    return 0;
}

/* An http URI's host is never empty (RFC 9110 §4.2.1): "" and ":8080" name
 * no server, and a recipient must reject them as invalid. */
static int empty_host(struct http_span authority)
{
    return authority.len == 0 || authority.ptr[0] == ':';
}

/* Host = uri-host [ ":" port ] (RFC 9110 §7.2): reg-name, IPv4 or an IP
 * literal in brackets. Anything else cannot name this server: 400. */
static int valid_host(struct http_span v)
{
    static const char allowed[] = "-._~!$&'()*+,;=%:[]";
    for (size_t i = 0; i < v.len; i++) {
        char c = v.ptr[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr(allowed, c)))
            return 0;
    }
    return 1;
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
    info->host = (struct http_span){authority, (size_t)(p - authority)};
    if (empty_host(info->host) || (p < end && *p != '/'))
        return -1; /* no host, or a query right after it: "http://h?q" is too rare to rebuild */
    /* "http://h" has an empty path, which means "/" (RFC 9110 §4.2.3). */
    info->path = p < end ? (struct http_span){p, (size_t)(end - p)} : (struct http_span){"/", 1};
    return 0;
}

/* origin-form = absolute-path [ "?" query ] (RFC 9112 §3.2.1): a fragment
 * is never sent, so '#' marks a target no client should produce. */
static int interpret_target(const struct http_request *req, struct http_request_info *info)
{
    struct http_span t = req->target;
    if (memchr(t.ptr, '#', t.len))
        return -1;
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

/* The framing fields: Content-Length and Transfer-Encoding. */
static int framing_field(const struct http_header *h, struct http_request_info *info, int *saw_length, int *te)
{
    if (http_span_ieq(h->name, "content-length")) {
        uint64_t n;
        if (http_parse_length(h->value, &n) != 0 || (*saw_length && n != info->content_length))
            return 400;
        info->content_length = n;
        *saw_length = 1;
    } else {
        *te = transfer_codings(h->value, *te);
    }
    return 0;
}

static int interpret_fields(const struct http_request *req, struct http_request_info *info, int *hosts)
{
    int saw_length = 0, te = TE_NONE, close = 0, keep_alive = 0, status = 0;
    for (size_t i = 0; i < req->header_count && status == 0; i++) {
        const struct http_header *h = &req->headers[i];
        if (http_span_ieq(h->name, "host")) {
            if (!valid_host(h->value))
                status = 400;
            else if (++*hosts == 1 && info->host.len == 0)
                info->host = h->value;
        } else if (http_span_ieq(h->name, "content-length") || http_span_ieq(h->name, "transfer-encoding")) {
            status = framing_field(h, info, &saw_length, &te);
        } else if (http_span_ieq(h->name, "connection")) {
            connection_options(h->value, &close, &keep_alive);
        } else if (http_span_ieq(h->name, "expect")) {
            status = expect_value(h->value, &info->expect_continue);
        }
    }
    if (status)
        return status;
    info->keep_alive = req->version_minor >= 1 ? !close : keep_alive && !close;
    if (te == TE_NONE)
        return 0;
    /* Both framings at once is how requests are smuggled, and an HTTP/1.0
     * recipient may not know Transfer-Encoding at all (RFC 9112 §6.1). */
    if (saw_length || req->version_minor == 0 || te == TE_BAD || te == TE_OTHER)
        return 400;
    if (te == TE_OTHER_THEN_CHUNKED)
        return 501;
    info->chunked = 1;
    return 0;
}
int http_request_interpret(const struct http_request *req, struct http_request_info *info)
{
    int hosts = 0;
    memset(info, 0, sizeof *info);
    info->method = method_of(req->method);
    if (interpret_target(req, info) != 0)
        return 400;
    int absolute = info->host.len > 0;
    int status = interpret_fields(req, info, &hosts);
    if (status)
        return status;
    /* RFC 9112 §3.2: an HTTP/1.1 request has exactly one Host field. An
     * origin-form or asterisk-form target takes its authority from it, so an
     * empty host there is an invalid Host; an absolute-form target brings
     * its own, and Host is then ignored (§3.2.2). */
    if (hosts > 1 || (hosts == 0 && req->version_minor >= 1))
        return 400;
    if (hosts == 1 && !absolute && empty_host(info->host))
        return 400;
    return 0;
}
