/* HTTP/1.1 request-head parser (RFC 9112 §2-§5): one linear pass over the
 * bytes received so far, no allocation and no state kept between calls.
 *
 * The internal functions share one convention: they return 0 after consuming
 * their element, PARTIAL when the bytes run out before the element ends, or
 * the HTTP status code of the error. The bytes are only ever read below
 * cursor.end, which never exceeds buf + len. */
#include "http/parse.h"

#include <limits.h>

enum {
    PARTIAL = -1,
    MAX_LEADING_EMPTY_LINES = 8, /* RFC 9112 §2.2: ignore "at least one" */
};

/* Character classes as bit flags, so one table lookup classifies a byte. */
enum {
    C_TCHAR = 1, /* token character, RFC 9110 §5.6.2 */
    C_VCHAR = 2, /* visible ASCII 0x21-0x7E, RFC 5234 B.1: request-target bytes */
    C_FIELD = 4, /* field-value byte: HTAB, SP, VCHAR or obs-text, RFC 9110 §5.5 */
    TK = C_TCHAR | C_VCHAR | C_FIELD,
    VC = C_VCHAR | C_FIELD, /* delimiters: visible but not in a token */
    WS = C_FIELD,
    OB = C_FIELD,
};

static const unsigned char char_class[256] = {
    /* 0x00-0x1F: controls; HTAB is the only one allowed, and only in a value */
    0, 0, 0, 0, 0, 0, 0, 0, 0, WS, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* SP ! " # $ % & ' ( ) * + , - . / */
    WS, TK, VC, TK, TK, TK, TK, TK, VC, VC, TK, TK, VC, TK, TK, VC,
    /* 0-9 : ; < = > ? */
    TK, TK, TK, TK, TK, TK, TK, TK, TK, TK, VC, VC, VC, VC, VC, VC,
    /* @ A-O */
    VC, TK, TK, TK, TK, TK, TK, TK, TK, TK, TK, TK, TK, TK, TK, TK,
    /* P-Z [ \ ] ^ _ */
    TK, TK, TK, TK, TK, TK, TK, TK, TK, TK, TK, VC, VC, VC, TK, TK,
    /* ` a-o */
    TK, TK, TK, TK, TK, TK, TK, TK, TK, TK, TK, TK, TK, TK, TK, TK,
    /* p-z { | } ~ DEL */
    TK, TK, TK, TK, TK, TK, TK, TK, TK, TK, TK, VC, TK, VC, TK, 0,
    /* 0x80-0xFF: obs-text, tolerated in field values only */
    OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB,
    OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB,
    OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB,
    OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB,
    OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB,
    OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB,
    OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB,
    OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB, OB,
};

struct cursor {
    const char *p;
    const char *end;
};

static int has_class(char c, unsigned char cls)
{
    return (char_class[(unsigned char)c] & cls) != 0;
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* A line ends in CRLF; RFC 9112 §2.2 lets a recipient also accept a bare LF,
 * which we do, but a CR not followed by LF is invalid there. */
static int expect_eol(struct cursor *c)
{
    if (c->p == c->end)
        return PARTIAL;
    if (*c->p == '\n') {
        c->p++;
        return 0;
    }
    if (*c->p != '\r')
        return 400;
    if (c->p + 1 == c->end)
        return PARTIAL;
    if (c->p[1] != '\n')
        return 400;
    c->p += 2;
    return 0;
}

/* RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the
 * request line. A few are tolerated; an endless stream of them is refused. */
static int skip_empty_lines(struct cursor *c)
{
    int n = 0;

    while (c->p != c->end && (*c->p == '\r' || *c->p == '\n')) {
        int r;

        if (n++ == MAX_LEADING_EMPTY_LINES)
            return 400;
        r = expect_eol(c);
        if (r != 0)
            return r;
    }
    return 0;
}

/* One or more bytes of class `cls` followed by a single SP (RFC 9112 §3:
 * method SP request-target SP HTTP-version). The SP is consumed. */
static int scan_word(struct cursor *c, unsigned char cls, struct http_span *out)
{
    const char *p = c->p;

    while (p != c->end && has_class(*p, cls))
        p++;
    if (p == c->end)
        return PARTIAL;
    if (*p != ' ' || p == c->p)
        return 400;
    out->ptr = c->p;
    out->len = (size_t)(p - c->p);
    c->p = p + 1;
    return 0;
}

/* HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 9112 §2.3).
 * Each byte is checked as it arrives so that a bad version fails early; the
 * major version is judged only once the line is complete (RFC 9110 §15.6.6). */
static int parse_version(struct cursor *c, struct http_request *req)
{
    static const char pattern[] = "HTTP/#.#";
    const char *p = c->p;
    int r;

    for (size_t i = 0; pattern[i] != '\0'; i++, p++) {
        if (p == c->end)
            return PARTIAL;
        if (pattern[i] == '#' ? (*p < '0' || *p > '9') : *p != pattern[i])
            return 400;
    }
    req->version_major = c->p[5] - '0';
    req->version_minor = c->p[7] - '0';
    c->p = p;
    r = expect_eol(c);
    if (r == 0 && req->version_major != 1)
        return 505;
    return r;
}

/* method = token (RFC 9110 §9.1). No method that any registry knows is
 * nearly HTTP_METHOD_MAX bytes long, so a longer token is refused as soon as
 * it is seen: 501, as for any method the server does not know, rather than
 * 414 (which names the target) once max_head bytes have been waited for. */
static int parse_method(struct cursor *c, struct http_request *req)
{
    struct cursor m = {c->p, c->end};
    int capped = (size_t)(m.end - m.p) >= HTTP_METHOD_MAX + 1;
    int r;

    if (capped)
        m.end = m.p + HTTP_METHOD_MAX + 1; /* room for the longest method and its SP */
    r = scan_word(&m, C_TCHAR, &req->method);
    if (r == PARTIAL && capped)
        return 501;
    c->p = m.p;
    return r;
}

/* request-line = method SP request-target SP HTTP-version (RFC 9112 §3).
 * The target may hold any visible ASCII; its form is judged by the caller. */
static int parse_request_line(struct cursor *c, struct http_request *req)
{
    int r = parse_method(c, req);

    if (r == 0)
        r = scan_word(c, C_VCHAR, &req->target);
    if (r == 0)
        r = parse_version(c, req);
    return r;
}

/* field-line = field-name ":" OWS field-value OWS (RFC 9112 §5). A line that
 * starts with SP or HTAB is obs-fold, and whitespace before the colon is
 * forbidden (RFC 9112 §5.1-§5.2): both fail here as a bad name, with 400. */
static int parse_field(struct cursor *c, struct http_header *h)
{
    const char *p = c->p;
    const char *value;
    const char *value_end;

    while (p != c->end && has_class(*p, C_TCHAR))
        p++;
    if (p == c->end)
        return PARTIAL;
    if (*p != ':' || p == c->p)
        return 400;
    h->name.ptr = c->p;
    h->name.len = (size_t)(p - c->p);
    p++;
    while (p != c->end && is_ows(*p))
        p++;
    value = p;
    while (p != c->end && has_class(*p, C_FIELD))
        p++;
    if (p == c->end)
        return PARTIAL;
    value_end = p;
    while (value_end != value && is_ows(value_end[-1]))
        value_end--;
    h->value.ptr = value;
    h->value.len = (size_t)(value_end - value);
    c->p = p;
    return expect_eol(c);
}

/* Field lines up to and including the empty line that ends the head. */
static int parse_fields(struct cursor *c, struct http_header *headers, size_t *count)
{
    for (;;) {
        int r;

        if (c->p == c->end)
            return PARTIAL;
        if (*c->p == '\r' || *c->p == '\n')
            return expect_eol(c);
        /* Another non-empty line means one field too many, or a malformed
         * line: either way the message fails, so say so now. */
        if (*count == HTTP_MAX_HEADERS)
            return 431;
        r = parse_field(c, &headers[*count]);
        if (r != 0)
            return r;
        (*count)++;
    }
}

int http_parse_request(const char *buf, size_t len, size_t max_head, struct http_request *req, int *status)
{
    struct cursor c;
    int in_fields = 0;
    int r;

    /* The length is returned as an int. */
    if (max_head > INT_MAX)
        max_head = INT_MAX;
    /* Bytes at or past max_head are never needed: running out of bytes there
     * proves the head too long, which is reported as 414 or 431 below. */
    c.p = buf;
    c.end = buf + (len < max_head ? len : max_head);
    req->header_count = 0;
    req->head_len = 0;

    r = skip_empty_lines(&c);
    if (r == 0)
        r = parse_request_line(&c, req);
    if (r == 0) {
        in_fields = 1;
        r = parse_fields(&c, req->headers, &req->header_count);
    }
    if (r == 0) {
        req->head_len = (size_t)(c.p - buf);
        return (int)req->head_len;
    }
    if (r == PARTIAL && len < max_head)
        return HTTP_PARSE_INCOMPLETE;
    if (r == PARTIAL)
        r = in_fields ? 431 : 414;
    if (status)
        *status = r;
    return HTTP_PARSE_ERROR;
}

int http_span_ieq(struct http_span span, const char *lower)
{
    for (size_t i = 0; i < span.len; i++) {
        unsigned char ch = (unsigned char)span.ptr[i];

        if (ch >= 'A' && ch <= 'Z')
            ch = (unsigned char)(ch - 'A' + 'a');
        /* A NUL in `lower` ends the literal, so it also catches a span
         * longer than the literal. */
        if (lower[i] == '\0' || ch != (unsigned char)lower[i])
            return 0;
    }
    return lower[span.len] == '\0';
}

int http_hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int http_parse_length(struct http_span v, uint64_t *out)
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

int http_is_token_char(char c)
{
    return has_class(c, C_TCHAR);
}

int http_is_field_char(char c)
{
    return has_class(c, C_FIELD);
}

int http_list_next(struct http_span *list, struct http_span *item)
{
    const char *p = list->ptr;
    const char *end = list->ptr + list->len;

    while (p != end && (*p == ',' || is_ows(*p)))
        p++;
    if (p == end) {
        list->ptr = end;
        list->len = 0;
        return 0;
    }
    item->ptr = p;
    while (p != end && *p != ',')
        p++;
    item->len = (size_t)(p - item->ptr);
    while (item->len && is_ows(item->ptr[item->len - 1]))
        item->len--;
    list->ptr = p;
    list->len = (size_t)(end - p);
    return 1;
}

static const struct http_header *find_in(const struct http_header *headers, size_t count, const char *lower_name)
{
    for (size_t i = 0; i < count; i++) {
        if (http_span_ieq(headers[i].name, lower_name))
            return &headers[i];
    }
    return NULL;
}

const struct http_header *http_find_header(const struct http_request *req, const char *lower_name)
{
    return find_in(req->headers, req->header_count, lower_name);
}

const struct http_header *http_find_response_header(const struct http_response *res, const char *lower_name)
{
    return find_in(res->headers, res->header_count, lower_name);
}

/* status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 §4).
 * A missing SP after the code is tolerated, as the RFC asks clients to be
 * lenient with reason phrases. */
static int parse_status_line(struct cursor *c, struct http_response *res)
{
    static const char pattern[] = "HTTP/1.# ### ";
    const char *p = c->p;
    const char *reason;

    for (size_t i = 0; pattern[i] != '\0'; i++, p++) {
        if (p == c->end)
            return PARTIAL;
        if (i == sizeof pattern - 2 && (*p == '\r' || *p == '\n'))
            break; /* "HTTP/1.1 200" with no SP and no reason */
        if (pattern[i] == '#' ? (*p < '0' || *p > '9') : *p != pattern[i])
            return 400;
    }
    res->version_minor = c->p[7] - '0';
    res->status = (c->p[9] - '0') * 100 + (c->p[10] - '0') * 10 + (c->p[11] - '0');
    if (res->status < 100)
        return 400;
    reason = p;
    while (p != c->end && has_class(*p, C_FIELD))
        p++;
    if (p == c->end)
        return PARTIAL;
    res->reason.ptr = reason;
    res->reason.len = (size_t)(p - reason);
    c->p = p;
    return expect_eol(c);
}

int http_parse_response(const char *buf, size_t len, size_t max_head, struct http_response *res)
{
    struct cursor c;
    int r;

    if (max_head > INT_MAX)
        max_head = INT_MAX;
    c.p = buf;
    c.end = buf + (len < max_head ? len : max_head);
    res->header_count = 0;
    res->head_len = 0;
    res->reason.ptr = buf;
    res->reason.len = 0;
    r = parse_status_line(&c, res);
    if (r == 0)
        r = parse_fields(&c, res->headers, &res->header_count);
    if (r == 0) {
        res->head_len = (size_t)(c.p - buf);
        return (int)res->head_len;
    }
    if (r == PARTIAL && len < max_head)
        return HTTP_PARSE_INCOMPLETE;
    return HTTP_PARSE_ERROR;
}
