#include "http/conditional.h"

#include <string.h>

#include "http/date.h"

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE (RFC 9110 §8.8.3). On success
 * *tag spans the opaque-tag, quotes included, and *pos moves past it. */
static int scan_etag(const char *p, size_t len, size_t *pos, struct http_span *tag, int *weak)
{
    size_t i = *pos;
    *weak = 0;
    if (len - i >= 2 && p[i] == 'W' && p[i + 1] == '/') {
        *weak = 1;
        i += 2;
    }
    if (i >= len || p[i] != '"')
        return -1;
    size_t start = i++;
    for (; i < len && p[i] != '"'; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x21 || c == 0x7f)
            return -1;
    }
    if (i >= len)
        return -1;
    *tag = (struct http_span){p + start, ++i - start};
    *pos = i;
    return 0;
}

int http_etag_list_match(struct http_span list, const char *etag, size_t etag_len, int strong)
{
    const char *p = list.ptr;
    size_t len = list.len, i = 0;
    int found = 0, elements = 0;
    if (len == 1 && p[0] == '*')
        return 1;
    for (;;) {
        while (i < len && is_ows(p[i]))
            i++;
        if (i < len && p[i] != ',') {
            struct http_span tag;
            int weak;
            if (scan_etag(p, len, &i, &tag, &weak) != 0)
                return -1;
            elements++;
            if (!(strong && weak) && tag.len == etag_len && memcmp(tag.ptr, etag, etag_len) == 0)
                found = 1;
            while (i < len && is_ows(p[i]))
                i++;
        }
        if (i == len)
            break;
        if (p[i] != ',')
            return -1;
        i++;
    }
    return elements ? found : -1;
}

static int field_present(const struct http_request *req, const char *name)
{
    return http_find_header(req, name) != NULL;
}

/* A list field may be split over several lines (RFC 9110 §5.3). Returns 1
 * when any line names the tag, 0 when none does, -1 when the field is absent
 * or malformed (then it is ignored). */
static int field_match(const struct http_request *req, const char *name, const struct http_validators *v,
                       int strong)
{
    int result = -1;
    for (size_t i = 0; i < req->header_count; i++) {
        if (!http_span_ieq(req->headers[i].name, name))
            continue;
        int m = http_etag_list_match(req->headers[i].value, v->etag, v->etag_len, strong);
        if (m < 0)
            return -1;
        if (result < 1)
            result = m;
    }
    return result;
}

/* The field's one valid HTTP-date: 1 and *t, or 0 when absent, sent more
 * than once, or invalid. */
static int field_date(const struct http_request *req, const char *name, time_t *t)
{
    const struct http_header *found = NULL;
    for (size_t i = 0; i < req->header_count; i++) {
        if (!http_span_ieq(req->headers[i].name, name))
            continue;
        if (found)
            return 0;
        found = &req->headers[i];
    }
    return found && http_date_parse(found->value.ptr, found->value.len, t) == 0;
}

int http_conditional_eval(const struct http_request *req, int get_or_head, const struct http_validators *v)
{
    time_t t;
    if (field_present(req, "if-match")) {
        if (field_match(req, "if-match", v, 1) == 0)
            return 412;
    } else if (field_date(req, "if-unmodified-since", &t) && v->mtime > t) {
        return 412;
    }
    if (field_present(req, "if-none-match")) {
        if (field_match(req, "if-none-match", v, 0) == 1)
            return get_or_head ? 304 : 412;
    } else if (get_or_head && field_date(req, "if-modified-since", &t) && v->mtime <= t) {
        return 304;
    }
    return 0;
}

int http_if_range_holds(const struct http_request *req, const struct http_validators *v)
{
    const struct http_header *h = NULL;
    for (size_t i = 0; i < req->header_count; i++) {
        if (!http_span_ieq(req->headers[i].name, "if-range"))
            continue;
        if (h)
            return 0;
        h = &req->headers[i];
    }
    if (!h)
        return 1;
    const char *p = h->value.ptr;
    size_t len = h->value.len;
    if (len > 0 && (p[0] == '"' || (len >= 2 && p[0] == 'W' && p[1] == '/'))) {
        size_t pos = 0;
        struct http_span tag;
        int weak;
        if (scan_etag(p, len, &pos, &tag, &weak) != 0 || pos != len || weak)
            return 0;
        return tag.len == v->etag_len && memcmp(tag.ptr, v->etag, v->etag_len) == 0;
    }
    time_t t;
    return http_date_parse(p, len, &t) == 0 && t == v->mtime;
}
