#include "http/range.h"

#include <string.h>

struct scan {
    const char *p;
    size_t len;
    size_t pos;
};

static void skip_ows(struct scan *s)
{
    while (s->pos < s->len && (s->p[s->pos] == ' ' || s->p[s->pos] == '\t'))
        s->pos++;
}

/* 1*DIGIT, saturating at UINT64_MAX: a position past any real length is
 * still a position (unsatisfiable, or clamped), not a syntax error. */
static int scan_number(struct scan *s, uint64_t *v)
{
    size_t start = s->pos;
    *v = 0;
    while (s->pos < s->len && s->p[s->pos] >= '0' && s->p[s->pos] <= '9') {
        unsigned d = (unsigned)(s->p[s->pos++] - '0');
        *v = *v > (UINT64_MAX - d) / 10 ? UINT64_MAX : *v * 10 + d;
    }
    return s->pos > start;
}

/* One range-spec (RFC 9110 §14.1.1). Returns -1 on a syntax error, else 1
 * with *r set when the range is satisfiable for size, 0 when it is not. */
static int scan_spec(struct scan *s, uint64_t size, struct http_range *r)
{
    uint64_t first, last = UINT64_MAX;
    if (s->pos < s->len && s->p[s->pos] == '-') {
        s->pos++;
        if (!scan_number(s, &last))
            return -1;
        if (last == 0 || size == 0) /* a zero suffix selects nothing */
            return 0;
        r->first = last >= size ? 0 : size - last;
        r->last = size - 1;
        return 1;
    }
    if (!scan_number(s, &first) || s->pos >= s->len || s->p[s->pos] != '-')
        return -1;
    s->pos++;
    uint64_t given;
    if (scan_number(s, &given)) {
        if (given < first)
            return -1;
        last = given;
    }
    if (first >= size)
        return 0;
    r->first = first;
    r->last = last < size - 1 ? last : size - 1;
    return 1;
}

/* Adds r to the sorted, disjoint list out[0..*n), merging every range it
 * overlaps or touches. Returns 0 when a new entry would not fit. Positions
 * are below the length, so last + 1 never overflows. */
static int insert(struct http_range *out, size_t *n, size_t cap, struct http_range r)
{
    size_t i = 0, j;
    while (i < *n && out[i].last + 1 < r.first)
        i++;
    for (j = i; j < *n && out[j].first <= r.last + 1; j++) {
        if (out[j].first < r.first)
            r.first = out[j].first;
        if (out[j].last > r.last)
            r.last = out[j].last;
    }
    if (j == i) {
        if (*n == cap)
            return 0;
        memmove(out + i + 1, out + i, (*n - i) * sizeof *out);
        (*n)++;
    } else {
        memmove(out + i + 1, out + j, (*n - j) * sizeof *out);
        *n -= j - i - 1;
    }
    out[i] = r;
    return 1;
}

static int unit_is_bytes(const char *v, size_t len)
{
    static const char unit[] = "bytes=";
    if (len < sizeof unit - 1)
        return 0;
    for (size_t i = 0; i < sizeof unit - 1; i++) {
        char c = v[i] >= 'A' && v[i] <= 'Z' ? (char)(v[i] + 32) : v[i];
        if (c != unit[i])
            return 0;
    }
    return 1;
}

enum http_range_result http_range_parse(const char *value, size_t len, uint64_t size, struct http_range *out,
                                        size_t cap, size_t *count)
{
    struct scan s = {value, len, 6};
    size_t n = 0, specs = 0;
    uint64_t total = 0;
    *count = 0;
    if (!unit_is_bytes(value, len))
        return HTTP_RANGE_IGNORE;
    for (;;) {
        /* A list may hold empty elements (RFC 9110 §5.6.1.2). */
        skip_ows(&s);
        if (s.pos < s.len && s.p[s.pos] != ',') {
            struct http_range r;
            int sat = scan_spec(&s, size, &r);
            if (sat < 0)
                return HTTP_RANGE_IGNORE;
            specs++;
            if (sat) {
                uint64_t span = r.last - r.first + 1;
                total = total > UINT64_MAX - span ? UINT64_MAX : total + span;
                if (total > size || !insert(out, &n, cap, r))
                    return HTTP_RANGE_IGNORE;
            }
            skip_ows(&s);
        }
        if (s.pos == s.len)
            break;
        if (s.p[s.pos] != ',')
            return HTTP_RANGE_IGNORE;
        s.pos++;
    }
    if (specs == 0)
        return HTTP_RANGE_IGNORE;
    if (n == 0)
        return HTTP_RANGE_UNSATISFIABLE;
    *count = n;
    return HTTP_RANGE_PARTIAL;
}
