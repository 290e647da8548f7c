#include "http/reply.h"

#include <assert.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>

#include "http/accept.h"
#include "http/conditional.h"
#include "http/head.h"
#include "http/path.h"
#include "http/status.h"

#define ALLOW_METHODS "GET, HEAD, OPTIONS"
#define SERVER_NAME "duct"
#define CONTINUE_HEAD "HTTP/1.1 100 Continue\r\n\r\n"

void http_reply_ctx_init(struct http_reply_ctx *rc, struct http_handler handler)
{
    memset(rc, 0, sizeof *rc);
    rc->handler = handler;
    rc->max_age = -1;
}

static void clear_output(struct http_reply *r)
{
    memset(&r->out, 0, sizeof r->out);
    r->out.file_fd = -1;
    r->parts = 0;
}

void http_reply_init(struct http_reply *r)
{
    memset(r, 0, offsetof(struct http_reply, head)); /* the head is written before it is read */
    r->res.fd = -1;
    clear_output(r);
}

static void release_resource(struct http_reply *r, struct http_reply_ctx *rc)
{
    if (r->res.fd >= 0 || r->res.data)
        rc->handler.release(rc->handler.ctx, &r->res);
    memset(&r->res, 0, sizeof r->res);
    r->res.fd = -1;
}

void http_reply_release(struct http_reply *r, struct http_reply_ctx *rc)
{
    release_resource(r, rc);
    clear_output(r);
}

static void begin_head(struct http_reply *r, struct http_reply_ctx *rc, struct http_head *h, int status,
                       time_t now)
{
    r->status = status;
    http_head_start(h, r->head, sizeof r->head, status);
    http_head_field_str(h, "Server", SERVER_NAME);
    http_head_field(h, "Date", http_date_cached(&rc->date, now), HTTP_DATE_LEN);
}

/* HTTP/1.1 persists unless told otherwise; HTTP/1.0 only when both sides say
 * keep-alive (RFC 9112 §9.3). */
static void connection_field(const struct http_reply *r, struct http_head *h)
{
    if (!r->keep_alive)
        http_head_field_str(h, "Connection", "close");
    else if (r->http10)
        http_head_field_str(h, "Connection", "keep-alive");
}

/* The site's added lines: on answers about a file and redirects, or (error)
 * on error answers. */
static void site_fields(const struct http_reply_ctx *rc, struct http_head *h, int error)
{
    const struct http_site *site = rc->site;
    if (!site)
        return;
    if (error)
        http_head_append(h, site->error_fields, site->error_fields_len);
    else
        http_head_append(h, site->file_fields, site->file_fields_len);
}

static void body_from(struct http_reply *r, uint64_t offset, uint64_t len);
static void lookup(struct http_reply *r, struct http_reply_ctx *rc, const char *rel, size_t rel_len,
                   const char *suffix, unsigned accept);

/* The response is head[0..len): the head, perhaps followed by a small body. */
static void set_output(struct http_reply *r, const struct http_head *h, size_t head_only_len)
{
    assert(!h->overflow); /* every head duct builds is bounded well below HTTP_HEAD_BUF */
    clear_output(r);
    r->out.head = r->head;
    r->out.head_len = h->len;
    r->head_only_len = head_only_len;
    r->bytes_sent = 0;
}

/* --error-page: the body is the page's file, sent whole with the error's
 * status and the file's type, without validators (they would describe the
 * page, not the missing resource) and never as a range. Returns 0 when there
 * is no page for status or it cannot be served, and the built-in page goes. */
static int respond_error_page(struct http_reply *r, struct http_reply_ctx *rc, int status, const char *extra,
                              size_t extra_len, time_t now)
{
    const struct http_site *site = rc->site;
    int i = site ? http_site_page_for(site, status) : -1;
    if (i < 0)
        return 0;
    release_resource(r, rc);
    lookup(r, rc, site->pages[i].path, site->pages[i].len, "", 0);
    if (r->res.status != 200 || (r->res.flags & (HTTP_RES_GENERATED | HTTP_RES_PENDING))) {
        release_resource(r, rc);
        if (site->page_missing)
            site->page_missing(site->page_ctx, i);
        return 0;
    }
    struct http_head h;
    begin_head(r, rc, &h, status, now);
    if (status == 405)
        http_head_field_str(&h, "Allow", ALLOW_METHODS);
    http_head_field_str(&h, "Content-Type", r->res.content_type);
    http_head_field_u64(&h, "Content-Length", r->res.size);
    if (extra)
        http_head_append(&h, extra, extra_len);
    site_fields(rc, &h, 1);
    connection_field(r, &h);
    set_output(r, &h, http_head_finish(&h));
    if (r->head_only)
        release_resource(r, rc);
    else
        body_from(r, 0, r->res.size);
    return 1;
}

/* An error answer: a short HTML body inside the head buffer, so that the whole
 * response leaves in one write (or the site's page for the status). extra
 * holds whole field lines, or is NULL. */
static void respond_error_with(struct http_reply *r, struct http_reply_ctx *rc, int status, const char *extra,
                               size_t extra_len, time_t now)
{
    if (rc->site && respond_error_page(r, rc, status, extra, extra_len, now))
        return;
    static const char fmt_a[] = "<!DOCTYPE html>\n<html><head><title>";
    static const char fmt_b[] = "</title></head>\n<body><h1>";
    static const char fmt_c[] = "</h1></body></html>\n";
    char title[64];
    size_t title_len = http_u64_to_dec((uint64_t)status, title);
    const char *reason = http_status_text(status);
    size_t reason_len = strlen(reason);
    title[title_len++] = ' ';
    memcpy(title + title_len, reason, reason_len);
    title_len += reason_len;

    struct http_head h;
    begin_head(r, rc, &h, status, now);
    if (status == 405)
        http_head_field_str(&h, "Allow", ALLOW_METHODS);
    http_head_field_str(&h, "Content-Type", "text/html; charset=utf-8");
    http_head_field_u64(&h, "Content-Length", sizeof fmt_a - 1 + sizeof fmt_b - 1 + sizeof fmt_c - 1 + 2 * title_len);
    if (extra)
        http_head_append(&h, extra, extra_len);
    site_fields(rc, &h, 1);
    connection_field(r, &h);
    size_t head_len = http_head_finish(&h);
    if (!r->head_only) {
        http_head_append(&h, fmt_a, sizeof fmt_a - 1);
        http_head_append(&h, title, title_len);
        http_head_append(&h, fmt_b, sizeof fmt_b - 1);
        http_head_append(&h, title, title_len);
        http_head_append(&h, fmt_c, sizeof fmt_c - 1);
    }
    set_output(r, &h, head_len);
}

static void respond_error(struct http_reply *r, struct http_reply_ctx *rc, int status, time_t now)
{
    respond_error_with(r, rc, status, NULL, 0, now);
}

/* Under --vhosts, "/host" for the request's checked host, or "/_default";
 * else nothing. The handler's paths start with it. */
static void site_prefix(const struct http_reply *r, struct http_reply_ctx *rc)
{
    rc->site_prefix_len = 0;
    if (!rc->site->vhosts)
        return;
    size_t n = r->host.len ? http_site_host(r->host.ptr, r->host.len, rc->site_prefix + 1) : 0;
    if (n == 0)
        n = strlen(strcpy(rc->site_prefix + 1, "_default"));
    rc->site_prefix[0] = '/';
    rc->site_prefix_len = n + 1;
}

/* An error answered without a resource (a refused head, a method not
 * served): its error page, if any, is the request's host's. */
void http_reply_error(struct http_reply *r, struct http_reply_ctx *rc, int status, time_t now)
{
    if (rc->site)
        site_prefix(r, rc);
    respond_error(r, rc, status, now);
}

void http_reply_error_fields(struct http_reply *r, struct http_reply_ctx *rc, int status, const char *fields,
                             size_t len, time_t now)
{
    if (rc->site)
        site_prefix(r, rc);
    respond_error_with(r, rc, status, fields, len, now);
}

/* A CORS preflight (Fetch standard, "CORS-preflight request"): the methods
 * duct serves and, echoed, the headers the page wants to send (duct ignores
 * request headers it does not know, so any token is fine), for Max-Age
 * seconds (Chromium caps it at 7200). */
static int respond_preflight(struct http_reply *r, struct http_reply_ctx *rc, const struct http_request *req,
                             time_t now)
{
    char asked[HTTP_SITE_ACRH_MAX];
    const struct http_header *acrh;
    size_t asked_len = 0;
    if (!http_find_header(req, "origin") || !http_find_header(req, "access-control-request-method"))
        return 0;
    acrh = http_find_header(req, "access-control-request-headers");
    if (acrh)
        asked_len = http_site_request_headers(acrh->value.ptr, acrh->value.len, asked, sizeof asked);
    struct http_head h;
    begin_head(r, rc, &h, 204, now);
    http_head_field_str(&h, "Allow", ALLOW_METHODS);
    http_head_field_str(&h, "Access-Control-Allow-Methods", "GET, HEAD");
    if (asked_len)
        http_head_field(&h, "Access-Control-Allow-Headers", asked, asked_len);
    http_head_field_str(&h, "Access-Control-Max-Age", "7200");
    http_head_field_str(&h, "Vary", "Access-Control-Request-Headers");
    site_fields(rc, &h, 1);
    connection_field(r, &h);
    set_output(r, &h, http_head_finish(&h));
    return 1;
}

int http_reply_preflight(struct http_reply *r, struct http_reply_ctx *rc, const struct http_request *req, time_t now)
{
    return rc->site && rc->site->cors && respond_preflight(r, rc, req, now);
}

void http_reply_options(struct http_reply *r, struct http_reply_ctx *rc, time_t now)
{
    struct http_head h;
    begin_head(r, rc, &h, 204, now);
    http_head_field_str(&h, "Allow", ALLOW_METHODS);
    connection_field(r, &h);
    set_output(r, &h, http_head_finish(&h));
}

/* A directory asked for without its trailing slash (slash), or, under
 * --try-html, "/about.html" asked for by its old name. The Location is built
 * from the normalised path, re-encoded, so it is always a path on this server:
 * "//evil.example/dir" was normalised to "/evil.example/dir" and never
 * becomes a scheme-relative URL. The query is re-encoded too, so that no
 * byte a client sent reaches the head unescaped, whatever the parser admits. */
static void respond_redirect(struct http_reply *r, struct http_reply_ctx *rc, const char *path, size_t path_len,
                             int slash, struct http_span query, time_t now)
{
    char location[HTTP_LOCATION_MAX];
    long n = http_path_encode(path, path_len, location, sizeof location - 1);
    if (n < 0 || (size_t)n + 1 >= sizeof location) {
        respond_error(r, rc, 414, now);
        return;
    }
    if (slash)
        location[n++] = '/';
    long q = http_query_encode(query.ptr, query.len, location + n, sizeof location - (size_t)n);
    if (q < 0) {
        respond_error(r, rc, 414, now);
        return;
    }
    n += q;

    struct http_head h;
    begin_head(r, rc, &h, 301, now);
    http_head_field(&h, "Location", location, (size_t)n);
    http_head_field_str(&h, "Content-Length", "0");
    site_fields(rc, &h, 0);
    connection_field(r, &h);
    set_output(r, &h, http_head_finish(&h));
}

/* ETag as mtime-size in hex, like nginx, so replicas agree without sharing
 * state (RFC 9110 §8.8.3). A precompressed sibling is another representation:
 * its coding is appended, so its tag never equals the identity one's. */
size_t http_reply_etag(const struct http_resource *res, char out[HTTP_REPLY_ETAG_MAX])
{
    static const char hex[] = "0123456789abcdef";
    const uint64_t parts[2] = {(uint64_t)res->mtime, res->size};
    size_t n = 0;
    out[n++] = '"';
    for (int p = 0; p < 2; p++) {
        int shift = 60;
        while (shift > 0 && ((parts[p] >> shift) & 15) == 0)
            shift -= 4;
        for (; shift >= 0; shift -= 4)
            out[n++] = hex[(parts[p] >> shift) & 15];
        out[n++] = p == 0 ? '-' : '"';
    }
    if (res->encoding) {
        size_t len = strlen(res->encoding);
        assert(len < 16);
        out[n - 1] = '-';
        memcpy(out + n, res->encoding, len);
        n += len;
        out[n++] = '"';
    }
    return n;
}

/* What every answer about a file repeats, 304 included (RFC 9110 §15.4.5:
 * ETag, Cache-Control and Vary; Last-Modified helps caches holding no ETag). */
static void validator_fields(const struct http_reply *r, struct http_reply_ctx *rc, struct http_head *h,
                             const struct http_validators *v)
{
    http_head_field(h, "Last-Modified", http_date_cached(&rc->last_modified, v->mtime), HTTP_DATE_LEN);
    http_head_field(h, "ETag", v->etag, v->etag_len);
    if (rc->max_age >= 0) {
        char num[24];
        http_head_append(h, "Cache-Control: max-age=", 23);
        http_head_append(h, num, http_u64_to_dec((uint64_t)rc->max_age, num));
        http_head_append(h, "\r\n", 2);
    }
    if (r->res.flags & HTTP_RES_VARY)
        http_head_field_str(h, "Vary", "Accept-Encoding");
}

static void content_fields(const struct http_reply *r, struct http_head *h, uint64_t length)
{
    http_head_field_str(h, "Content-Type", r->res.content_type);
    if (r->res.encoding)
        http_head_field_str(h, "Content-Encoding", r->res.encoding);
    http_head_field_u64(h, "Content-Length", length);
}

static void content_range_field(struct http_head *h, const struct http_range *range, uint64_t size)
{
    char num[24];
    http_head_append(h, "Content-Range: bytes ", 21);
    http_head_append(h, num, http_u64_to_dec(range->first, num));
    http_head_append(h, "-", 1);
    http_head_append(h, num, http_u64_to_dec(range->last, num));
    http_head_append(h, "/", 1);
    http_head_append(h, num, http_u64_to_dec(size, num));
    http_head_append(h, "\r\n", 2);
}

static void body_from(struct http_reply *r, uint64_t offset, uint64_t len)
{
    if (r->res.fd >= 0 && !(r->res.flags & HTTP_RES_SHARED)) {
        r->out.file_fd = r->res.fd;
        r->out.file_offset = offset;
        r->out.file_len = len;
    } else {
        r->out.data = (const char *)r->res.data + offset;
        r->out.data_len = (size_t)len;
    }
}

/* The whole representation; v is NULL for a generated one (no validators). */
static void respond_full(struct http_reply *r, struct http_reply_ctx *rc, const struct http_validators *v,
                         time_t now)
{
    struct http_head h;
    begin_head(r, rc, &h, 200, now);
    content_fields(r, &h, r->res.size);
    if (v) {
        http_head_field_str(&h, "Accept-Ranges", "bytes");
        validator_fields(r, rc, &h, v);
    }
    site_fields(rc, &h, 0);
    connection_field(r, &h);
    set_output(r, &h, http_head_finish(&h));
    if (r->head_only)
        release_resource(r, rc);
    else
        body_from(r, 0, r->res.size);
}

static void respond_not_modified(struct http_reply *r, struct http_reply_ctx *rc, const struct http_validators *v,
                                 time_t now)
{
    struct http_head h;
    begin_head(r, rc, &h, 304, now);
    validator_fields(r, rc, &h, v);
    site_fields(rc, &h, 0);
    connection_field(r, &h);
    set_output(r, &h, http_head_finish(&h));
    release_resource(r, rc);
}

/* 412 or 416 about a file: still Vary when it has siblings, and a 416 tells
 * the length (RFC 9110 §15.5.17). */
static void respond_refused(struct http_reply *r, struct http_reply_ctx *rc, int status, time_t now)
{
    char extra[128];
    struct http_head h = {extra, sizeof extra, 0, 0};
    if (status == 416) {
        char num[24];
        http_head_append(&h, "Content-Range: bytes */", 23);
        http_head_append(&h, num, http_u64_to_dec(r->res.size, num));
        http_head_append(&h, "\r\n", 2);
    }
    if (r->res.flags & HTTP_RES_VARY)
        http_head_field_str(&h, "Vary", "Accept-Encoding");
    respond_error_with(r, rc, status, extra, h.len, now);
}

static void respond_range(struct http_reply *r, struct http_reply_ctx *rc, const struct http_validators *v,
                          const struct http_range *range, time_t now)
{
    struct http_head h;
    begin_head(r, rc, &h, 206, now);
    content_fields(r, &h, range->last - range->first + 1);
    content_range_field(&h, range, r->res.size);
    http_head_field_str(&h, "Accept-Ranges", "bytes");
    validator_fields(r, rc, &h, v);
    site_fields(rc, &h, 0);
    connection_field(r, &h);
    set_output(r, &h, http_head_finish(&h));
    body_from(r, range->first, range->last - range->first + 1);
}

static void boundary_text(uint64_t boundary, char out[16])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++)
        out[i] = hex[(boundary >> (60 - 4 * i)) & 15];
}

/* Each part starts with its delimiter and header (RFC 9110 §14.6); the CRLF
 * before a delimiter belongs to it (RFC 2046 §5.1.1), hence the leading CRLF. */
static void part_header(const struct http_reply *r, struct http_head *h, const struct http_range *range)
{
    char b[16];
    boundary_text(r->boundary, b);
    http_head_append(h, "\r\n--", 4);
    http_head_append(h, b, sizeof b);
    http_head_append(h, "\r\n", 2);
    http_head_field_str(h, "Content-Type", r->res.content_type);
    content_range_field(h, range, r->res.size);
    http_head_append(h, "\r\n", 2);
}

static void closing_delimiter(const struct http_reply *r, struct http_head *h)
{
    char b[16];
    boundary_text(r->boundary, b);
    http_head_append(h, "\r\n--", 4);
    http_head_append(h, b, sizeof b);
    http_head_append(h, "--\r\n", 4);
}

/* The boundary must not occur in the parts; 64 bits varied per answer make
 * that a matter of chance no file is likely to meet. */
static uint64_t next_boundary(struct http_reply_ctx *rc, const struct http_resource *res)
{
    uint64_t x = ++rc->boundaries ^ ((uint64_t)res->mtime << 24) ^ (res->size << 8) ^ (res->etag_id << 40);
    x *= 0x9E3779B97F4A7C15u;
    return x ^ (x >> 31);
}

/* Content-Length is known up front: every part header is measured before the
 * head goes out. The first part's header leaves with the head; http_reply_sent
 * plans the others (next_part). */
static void respond_multipart(struct http_reply *r, struct http_reply_ctx *rc, const struct http_validators *v,
                              size_t n, time_t now)
{
    char scratch[HTTP_HEAD_BUF], b[16];
    const struct http_range *ranges = rc->ranges;
    struct http_head h = {scratch, sizeof scratch, 0, 0};
    r->boundary = next_boundary(rc, &r->res);
    closing_delimiter(r, &h);
    uint64_t length = h.len;
    for (size_t i = 0; i < n; i++) {
        h.len = 0;
        part_header(r, &h, &ranges[i]);
        length += h.len + ranges[i].last - ranges[i].first + 1;
    }
    boundary_text(r->boundary, b);
    begin_head(r, rc, &h, 206, now);
    http_head_append(&h, "Content-Type: multipart/byteranges; boundary=", 45);
    http_head_append(&h, b, sizeof b);
    http_head_append(&h, "\r\n", 2);
    http_head_field_u64(&h, "Content-Length", length);
    http_head_field_str(&h, "Accept-Ranges", "bytes");
    validator_fields(r, rc, &h, v);
    site_fields(rc, &h, 0);
    connection_field(r, &h);
    size_t head_len = http_head_finish(&h);
    part_header(r, &h, &ranges[0]);
    set_output(r, &h, head_len);
    body_from(r, ranges[0].first, ranges[0].last - ranges[0].first + 1);
    r->part = 1;
    r->parts = (int)n;
}

/* After a part's bytes, the next part's header and bytes; the closing
 * delimiter last. Returns 0 when the answer is complete. */
static int next_part(struct http_reply *r, struct http_reply_ctx *rc)
{
    struct http_head h = {r->head, sizeof r->head, 0, 0};
    if (r->parts == 0)
        return 0;
    memset(&r->out, 0, sizeof r->out);
    r->out.file_fd = -1;
    if (r->part < r->parts) {
        size_t n = 0;
        http_range_parse(r->range_spec.ptr, r->range_spec.len, r->res.size, rc->ranges, HTTP_RANGE_MAX, &n);
        assert((int)n == r->parts);
        const struct http_range *range = &rc->ranges[r->part++];
        part_header(r, &h, range);
        body_from(r, range->first, range->last - range->first + 1);
    } else {
        closing_delimiter(r, &h);
        r->parts = 0;
    }
    r->out.head = r->head;
    r->out.head_len = h.len;
    return 1;
}

/* Range is honoured only for GET (RFC 9110 §14.2) and only when If-Range
 * allows it. Several ranges of a content-coded representation get the whole
 * of it: a multipart body has no place to say its parts are encoded. */
static void respond_ranges_or_full(struct http_reply *r, struct http_reply_ctx *rc, const struct http_request *req,
                                   const struct http_validators *v, time_t now)
{
    const struct http_header *range = r->head_only ? NULL : http_find_header(req, "range");
    enum http_range_result result = HTTP_RANGE_IGNORE;
    size_t n = 0;
    if (range && http_if_range_holds(req, v))
        result = http_range_parse(range->value.ptr, range->value.len, r->res.size, rc->ranges, HTTP_RANGE_MAX, &n);
    if (result == HTTP_RANGE_UNSATISFIABLE) {
        respond_refused(r, rc, 416, now);
    } else if (result == HTTP_RANGE_PARTIAL && n == 1) {
        respond_range(r, rc, v, &rc->ranges[0], now);
    } else if (result == HTTP_RANGE_PARTIAL && !r->res.encoding) {
        r->range_spec = range->value;
        respond_multipart(r, rc, v, n, now);
    } else {
        respond_full(r, rc, v, now);
    }
}

/* Preconditions first, in the order of RFC 9110 §13.2.2; Range last. */
static void respond_resource(struct http_reply *r, struct http_reply_ctx *rc, const struct http_request *req,
                             time_t now)
{
    char etag[HTTP_REPLY_ETAG_MAX];
    if (r->res.flags & HTTP_RES_GENERATED) {
        respond_full(r, rc, NULL, now);
        return;
    }
    struct http_validators v = {etag, http_reply_etag(&r->res, etag), r->res.mtime};
    int status = http_conditional_eval(req, 1, &v);
    if (status == 304)
        respond_not_modified(r, rc, &v, now);
    else if (status != 0)
        respond_refused(r, rc, status, now);
    else
        respond_ranges_or_full(r, rc, req, &v, now);
}

/* The codings the client takes, and whether it asks for a range (which
 * only a GET can: RFC 9110 §14.2). */
static unsigned accept_of(const struct http_reply *r, const struct http_request *req)
{
    unsigned accept = http_accept_encoding(req);
    if (!r->head_only && http_find_header(req, "range"))
        accept |= HTTP_ACCEPT_RANGE;
    return accept;
}

/* Resolves prefix + rel + suffix (the prefix being "/host" under --vhosts)
 * into r->res through the handler. */
static void lookup(struct http_reply *r, struct http_reply_ctx *rc, const char *rel, size_t rel_len,
                   const char *suffix, unsigned accept)
{
    size_t suffix_len = strlen(suffix), p = rc->site_prefix_len;
    char *path = rc->site_path;
    memset(&r->res, 0, sizeof r->res);
    r->res.fd = -1;
    if (p + rel_len + suffix_len >= sizeof rc->site_path) {
        r->res.status = 404;
        return;
    }
    memcpy(path, rc->site_prefix, p);
    memcpy(path + p, rel, rel_len);
    memcpy(path + p + rel_len, suffix, suffix_len + 1);
    rc->handler.resolve(rc->handler.ctx, path, p + rel_len + suffix_len, accept, &r->res);
}

/* "/about.html" → "/about", "/docs/index.html" → "/docs/": the clean name
 * under --try-html. Returns its length, or 0 when path is not such a file. */
static size_t clean_name(const char *path, size_t len)
{
    static const char ext[] = ".html", index[] = "/index";
    if (len <= sizeof ext || memcmp(path + len - (sizeof ext - 1), ext, sizeof ext - 1) != 0 ||
        path[len - sizeof ext] == '/')
        return 0;
    len -= sizeof ext - 1;
    if (len >= sizeof index - 1 && memcmp(path + len - (sizeof index - 1), index, sizeof index - 1) == 0)
        len -= sizeof index - 2;
    return len;
}

/* The resolution chain of a site, nginx's try_files $uri $uri.html FALLBACK:
 * the path itself; under --try-html, the path + ".html" when the path is not
 * there; then the --fallback file for a path that does not look like a file.
 * Returns the length of a --try-html redirect target, else 0. */
static size_t resolve_site(struct http_reply *r, struct http_reply_ctx *rc, const struct http_request *req,
                           const char *path, size_t len)
{
    const struct http_site *site = rc->site;
    unsigned accept = accept_of(r, req);
    site_prefix(r, rc);
    lookup(r, rc, path, len, "", accept);
    if (site->try_html && r->res.status == 200 && !(r->res.flags & (HTTP_RES_GENERATED | HTTP_RES_PENDING))) {
        size_t clean = clean_name(path, len);
        if (clean)
            return clean;
    }
    if (r->res.status == 404 && site->try_html && path[len - 1] != '/') {
        release_resource(r, rc);
        lookup(r, rc, path, len, ".html", accept);
        if (r->res.status != 200 && !(r->res.flags & HTTP_RES_PENDING)) {
            release_resource(r, rc);
            r->res.status = 404; /* "about.html/" being a directory makes no "/about" */
        }
    }
    if (r->res.status == 404 && site->fallback_len && !http_site_looks_like_file(path, len)) {
        release_resource(r, rc);
        lookup(r, rc, site->fallback, site->fallback_len, "", accept);
        if (r->res.status != 200 && !(r->res.flags & HTTP_RES_PENDING))
            r->res.status = 404; /* the fallback's own trouble is not the request's */
    }
    return 0;
}

void http_reply_resource(struct http_reply *r, struct http_reply_ctx *rc, const struct http_request *req,
                         struct http_span target, time_t now)
{
    char path[PATH_MAX];
    size_t clean = 0;
    long len = http_path_normalize(target.ptr, target.len, path, sizeof path);
    if (len < 0) {
        /* A path that does not fit in PATH_MAX names no file the kernel
         * would open (ENAMETOOLONG): 404, as nginx answers, not 414, since
         * the target itself was within what the server reads. */
        http_reply_error(r, rc, len == -414 ? 404 : (int)-len, now);
        return;
    }
    if (rc->site && (r->res.flags & HTTP_RES_PENDING))
        site_prefix(r, rc); /* other answers planned meanwhile used the scratch */
    if (r->res.flags & HTTP_RES_PENDING)
        rc->handler.resume(rc->handler.ctx, &r->res);
    else if (rc->site)
        clean = resolve_site(r, rc, req, path, (size_t)len);
    else
        rc->handler.resolve(rc->handler.ctx, path, (size_t)len, accept_of(r, req), &r->res);
    if (r->res.flags & HTTP_RES_PENDING)
        return; /* the caller waits, then asks again */
    if (r->res.status == 200 && !clean) {
        respond_resource(r, rc, req, now);
        return;
    }
    int status = clean ? 301 : r->res.status;
    release_resource(r, rc);
    if (status == 301) {
        const char *q = memchr(target.ptr, '?', target.len);
        struct http_span query = {q, q ? (size_t)(target.ptr + target.len - q) : 0};
        respond_redirect(r, rc, path, clean ? clean : (size_t)len, !clean, query, now);
    } else {
        respond_error(r, rc, status, now);
    }
}

int http_reply_pending(const struct http_reply *r)
{
    return (r->res.flags & HTTP_RES_PENDING) != 0;
}

int http_reply_wait_fd(const struct http_reply *r)
{
    return http_reply_pending(r) ? r->res.fd : -1;
}

/* RFC 9110 §10.1.1: a client that sent "Expect: 100-continue" waits for an
 * interim 100 before its body. The final response does not depend on the
 * body, so both leave together: the 100 goes in front of the response head
 * and the body is then read and discarded as usual. With no room for it, the
 * final response goes alone: a client may not wait for 100 forever (curl
 * waits a second), and its body is still read and discarded when it comes. */
void http_reply_continue(struct http_reply *r)
{
    size_t n = sizeof CONTINUE_HEAD - 1;
    if (r->out.head != r->head || r->out.head_len + n > sizeof r->head)
        return;
    memmove(r->head + n, r->head, r->out.head_len);
    memcpy(r->head, CONTINUE_HEAD, n);
    r->out.head_len += n;
    r->head_only_len += n;
}

int http_reply_sent(struct http_reply *r, struct http_reply_ctx *rc, size_t n)
{
    struct http_output *o = &r->out;
    r->bytes_sent += n;
    size_t take = n < o->head_len ? n : o->head_len;
    o->head += take;
    o->head_len -= take;
    n -= take;
    take = n < o->data_len ? n : o->data_len;
    if (take > 0) {
        o->data += take;
        o->data_len -= take;
        n -= take;
    }
    assert(n <= o->file_len);
    o->file_offset += n;
    o->file_len -= n;
    return o->head_len == 0 && o->data_len == 0 && o->file_len == 0 && !next_part(r, rc);
}

uint64_t http_reply_body_bytes(const struct http_reply *r)
{
    return r->bytes_sent > r->head_only_len ? r->bytes_sent - r->head_only_len : 0;
}
