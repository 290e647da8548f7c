#include "http/conn.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "http/conditional.h"
#include "http/head.h"
#include "http/path.h"
#include "http/request.h"
#include "http/status.h"

#define ALLOW_METHODS "GET, HEAD, OPTIONS"
#define SERVER_NAME "duct"
#define CONTINUE_HEAD "HTTP/1.1 100 Continue\r\n\r\n"
/* A chunk-size line is a few hex digits; its extensions are not used by this
 * server, so a generous fixed bound is enough. */
#define MAX_CHUNK_LINE 1024

/* The pool keeps freed buffers in a singly linked list threaded through their
 * first bytes, so taking and returning one is two pointer moves. */
static char *pool_take(struct http_buf_pool *pool)
{
    void **head = pool->free_list;
    if (head) {
        pool->free_list = *head;
        return (char *)head;
    }
    return malloc(pool->buf_size);
}

static void pool_give(struct http_buf_pool *pool, char *buf)
{
    *(void **)buf = pool->free_list;
    pool->free_list = buf;
}

void http_ctx_init(struct http_ctx *ctx, size_t max_head, uint64_t max_body, struct http_handler handler)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->max_head = max_head;
    ctx->max_body = max_body;
    ctx->handler = handler;
    ctx->max_age = -1;
    ctx->pool.buf_size = max_head < 4096 ? 4096 : max_head;
}

void http_ctx_destroy(struct http_ctx *ctx)
{
    while (ctx->pool.free_list) {
        void **head = ctx->pool.free_list;
        ctx->pool.free_list = *head;
        free(head);
    }
}

static void clear_output(struct http_conn *c)
{
    memset(&c->out, 0, sizeof c->out);
    c->out.file_fd = -1;
    c->parts = 0;
}

void http_conn_init(struct http_conn *c, struct http_ctx *ctx, const char *peer)
{
    memset(c, 0, sizeof *c);
    c->ctx = ctx;
    c->state = HTTP_CONN_HEAD;
    c->res.fd = -1;
    clear_output(c);
    strncpy(c->peer, peer, sizeof c->peer - 1);
}

static void log_exchange(struct http_conn *c, time_t now);

static void release_resource(struct http_conn *c)
{
    if (c->res.fd >= 0 || c->res.data)
        c->ctx->handler.release(c->ctx->handler.ctx, &c->res);
    memset(&c->res, 0, sizeof c->res);
    c->res.fd = -1;
}

/* Called only where no span into the buffer is still needed. */
static void drop_buffer_if_empty(struct http_conn *c)
{
    if (c->buf && c->buf_start == c->buf_end) {
        pool_give(&c->ctx->pool, c->buf);
        c->buf = NULL;
        c->buf_start = c->buf_end = 0;
    }
}

void http_conn_release(struct http_conn *c)
{
    /* A response cut short (client gone, timeout, stop) is logged with the
     * body bytes that did go out, as nginx does. */
    if (c->state == HTTP_CONN_SEND)
        log_exchange(c, c->now);
    release_resource(c);
    if (c->buf) {
        pool_give(&c->ctx->pool, c->buf);
        c->buf = NULL;
    }
    c->state = HTTP_CONN_CLOSE;
}

enum http_want http_conn_want(const struct http_conn *c)
{
    switch (c->state) {
    case HTTP_CONN_HEAD:
    case HTTP_CONN_BODY:
        return HTTP_WANT_READ;
    case HTTP_CONN_SEND:
        return HTTP_WANT_WRITE;
    case HTTP_CONN_CLOSE:
        break;
    }
    return HTTP_WANT_CLOSE;
}

int http_conn_idle(const struct http_conn *c)
{
    return c->state == HTTP_CONN_HEAD && c->buf_start == c->buf_end;
}

const struct http_output *http_conn_output(const struct http_conn *c)
{
    return &c->out;
}

char *http_conn_read_space(struct http_conn *c, size_t *room)
{
    if (!c->buf) {
        c->buf = pool_take(&c->ctx->pool);
        if (!c->buf)
            return NULL;
        c->buf_start = c->buf_end = 0;
    }
    /* The compaction point: request spans are dead while reading, so the
     * unparsed tail can move to the front. */
    if (c->buf_start > 0) {
        memmove(c->buf, c->buf + c->buf_start, c->buf_end - c->buf_start);
        c->buf_end -= c->buf_start;
        c->buf_start = 0;
    }
    *room = c->ctx->pool.buf_size - c->buf_end;
    return c->buf + c->buf_end;
}

static void begin_head(struct http_conn *c, struct http_head *h, int status, time_t now)
{
    c->status = status;
    http_head_start(h, c->head, sizeof c->head, status);
    http_head_field_str(h, "Server", SERVER_NAME);
    http_head_field(h, "Date", http_date_cached(&c->ctx->date, now), HTTP_DATE_LEN);
}

/* HTTP/1.1 persists unless told otherwise; HTTP/1.0 only when both sides say
 * keep-alive (RFC 9112 §9.3). */
static void connection_field(struct http_conn *c, struct http_head *h)
{
    if (!c->keep_alive)
        http_head_field_str(h, "Connection", "close");
    else if (c->have_req && c->http10)
        http_head_field_str(h, "Connection", "keep-alive");
}

/* The response is head[0..len): the head, perhaps followed by a small body. */
static void set_output(struct http_conn *c, const struct http_head *h, size_t head_only_len)
{
    assert(!h->overflow); /* every head duct builds is bounded well below HTTP_HEAD_BUF */
    clear_output(c);
    c->out.head = c->head;
    c->out.head_len = h->len;
    c->head_only_len = head_only_len;
    c->bytes_sent = 0;
    c->state = HTTP_CONN_SEND;
}

static int is_head_request(const struct http_conn *c)
{
    return c->have_req && c->head_method;
}

/* An error answer: a short HTML body inside the head buffer, so that the whole
 * response leaves in one write. extra holds whole field lines, or is NULL. */
static void respond_error_with(struct http_conn *c, int status, const char *extra, size_t extra_len, time_t now)
{
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
    begin_head(c, &h, status, now);
    if (status == 405)
        http_head_field_str(&h, "Allow", ALLOW_METHODS);
    http_head_field_str(&h, "Content-Type", "text/html; charset=utf-8");
    http_head_field_u64(&h, "Content-Length", sizeof fmt_a - 1 + sizeof fmt_b - 1 + sizeof fmt_c - 1 + 2 * title_len);
    if (extra)
        http_head_append(&h, extra, extra_len);
    connection_field(c, &h);
    size_t head_len = http_head_finish(&h);
    if (!is_head_request(c)) {
        http_head_append(&h, fmt_a, sizeof fmt_a - 1);
        http_head_append(&h, title, title_len);
        http_head_append(&h, fmt_b, sizeof fmt_b - 1);
        http_head_append(&h, title, title_len);
        http_head_append(&h, fmt_c, sizeof fmt_c - 1);
    }
    set_output(c, &h, head_len);
}

static void respond_error(struct http_conn *c, int status, time_t now)
{
    respond_error_with(c, status, NULL, 0, now);
}

static void respond_options(struct http_conn *c, time_t now)
{
    struct http_head h;
    begin_head(c, &h, 204, now);
    http_head_field_str(&h, "Allow", ALLOW_METHODS);
    connection_field(c, &h);
    set_output(c, &h, http_head_finish(&h));
}

/* A directory asked for without its trailing slash. The Location is built
 * from the normalised path, re-encoded, so it is always a path on this server:
 * "//evil.example/dir" was normalised to "/evil.example/dir" and never
 * becomes a scheme-relative URL. The query is re-encoded too, so that no
 * byte a client sent reaches the head unescaped, whatever the parser admits. */
static void respond_redirect(struct http_conn *c, const char *path, size_t path_len, struct http_span query,
                             time_t now)
{
    char location[HTTP_HEAD_BUF / 2];
    long n = http_path_encode(path, path_len, location, sizeof location - 1);
    if (n < 0 || (size_t)n + 1 >= sizeof location) {
        respond_error(c, 414, now);
        return;
    }
    location[n++] = '/';
    long q = http_query_encode(query.ptr, query.len, location + n, sizeof location - (size_t)n);
    if (q < 0) {
        respond_error(c, 414, now);
        return;
    }
    n += q;

    struct http_head h;
    begin_head(c, &h, 301, now);
    http_head_field(&h, "Location", location, (size_t)n);
    http_head_field_str(&h, "Content-Length", "0");
    connection_field(c, &h);
    set_output(c, &h, http_head_finish(&h));
}

/* ETag as mtime-size in hex, like nginx, so replicas agree without sharing
 * state (RFC 9110 §8.8.3). A precompressed sibling is another representation:
 * its coding is appended, so its tag never equals the identity one's. */
static size_t format_etag(const struct http_resource *res, char *out)
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
static void validator_fields(struct http_conn *c, struct http_head *h, const struct http_validators *v)
{
    char date[HTTP_DATE_LEN + 1];
    http_date_format(v->mtime, date);
    http_head_field(h, "Last-Modified", date, HTTP_DATE_LEN);
    http_head_field(h, "ETag", v->etag, v->etag_len);
    if (c->ctx->max_age >= 0) {
        char num[24];
        http_head_append(h, "Cache-Control: max-age=", 23);
        http_head_append(h, num, http_u64_to_dec((uint64_t)c->ctx->max_age, num));
        http_head_append(h, "\r\n", 2);
    }
    if (c->res.flags & HTTP_RES_VARY)
        http_head_field_str(h, "Vary", "Accept-Encoding");
}

static void content_fields(struct http_conn *c, struct http_head *h, uint64_t length)
{
    http_head_field_str(h, "Content-Type", c->res.content_type);
    if (c->res.encoding)
        http_head_field_str(h, "Content-Encoding", c->res.encoding);
    http_head_field_u64(h, "Content-Length", length);
}

static void content_range_field(struct http_head *h, const struct http_range *r, uint64_t size)
{
    char num[24];
    http_head_append(h, "Content-Range: bytes ", 21);
    http_head_append(h, num, http_u64_to_dec(r->first, num));
    http_head_append(h, "-", 1);
    http_head_append(h, num, http_u64_to_dec(r->last, num));
    http_head_append(h, "/", 1);
    http_head_append(h, num, http_u64_to_dec(size, num));
    http_head_append(h, "\r\n", 2);
}

static void body_from(struct http_conn *c, uint64_t offset, uint64_t len)
{
    if (c->res.fd >= 0) {
        c->out.file_fd = c->res.fd;
        c->out.file_offset = offset;
        c->out.file_len = len;
    } else {
        c->out.data = (const char *)c->res.data + offset;
        c->out.data_len = (size_t)len;
    }
}

/* The whole representation; v is NULL for a generated one (no validators). */
static void respond_full(struct http_conn *c, const struct http_validators *v, time_t now)
{
    struct http_head h;
    begin_head(c, &h, 200, now);
    content_fields(c, &h, c->res.size);
    if (v) {
        http_head_field_str(&h, "Accept-Ranges", "bytes");
        validator_fields(c, &h, v);
    }
    connection_field(c, &h);
    set_output(c, &h, http_head_finish(&h));
    if (is_head_request(c))
        release_resource(c);
    else
        body_from(c, 0, c->res.size);
}

static void respond_not_modified(struct http_conn *c, const struct http_validators *v, time_t now)
{
    struct http_head h;
    begin_head(c, &h, 304, now);
    validator_fields(c, &h, v);
    connection_field(c, &h);
    set_output(c, &h, http_head_finish(&h));
    release_resource(c);
}

/* 412 or 416 about a file: still Vary when it has siblings, and a 416 tells
 * the length (RFC 9110 §15.5.17). */
static void respond_refused(struct http_conn *c, int status, time_t now)
{
    char extra[128];
    struct http_head h = {extra, sizeof extra, 0, 0};
    if (status == 416) {
        char num[24];
        http_head_append(&h, "Content-Range: bytes */", 23);
        http_head_append(&h, num, http_u64_to_dec(c->res.size, num));
        http_head_append(&h, "\r\n", 2);
    }
    if (c->res.flags & HTTP_RES_VARY)
        http_head_field_str(&h, "Vary", "Accept-Encoding");
    respond_error_with(c, status, extra, h.len, now);
}

static void respond_range(struct http_conn *c, const struct http_validators *v, const struct http_range *r,
                          time_t now)
{
    struct http_head h;
    begin_head(c, &h, 206, now);
    content_fields(c, &h, r->last - r->first + 1);
    content_range_field(&h, r, c->res.size);
    http_head_field_str(&h, "Accept-Ranges", "bytes");
    validator_fields(c, &h, v);
    connection_field(c, &h);
    set_output(c, &h, http_head_finish(&h));
    body_from(c, r->first, r->last - r->first + 1);
}

static void boundary_text(uint64_t boundary, char out[16])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++)
        out[i] = hex[(boundary >> (60 - 4 * i)) & 15];
}

/* Each part starts with its delimiter and header (RFC 9110 §14.6); the CRLF
 * before a delimiter belongs to it (RFC 2046 §5.1.1), hence the leading CRLF. */
static void part_header(const struct http_conn *c, struct http_head *h, const struct http_range *r)
{
    char b[16];
    boundary_text(c->boundary, b);
    http_head_append(h, "\r\n--", 4);
    http_head_append(h, b, sizeof b);
    http_head_append(h, "\r\n", 2);
    http_head_field_str(h, "Content-Type", c->res.content_type);
    content_range_field(h, r, c->res.size);
    http_head_append(h, "\r\n", 2);
}

static void closing_delimiter(const struct http_conn *c, struct http_head *h)
{
    char b[16];
    boundary_text(c->boundary, b);
    http_head_append(h, "\r\n--", 4);
    http_head_append(h, b, sizeof b);
    http_head_append(h, "--\r\n", 4);
}

/* The boundary must not occur in the parts; 64 bits varied per answer make
 * that a matter of chance no file is likely to meet. */
static uint64_t next_boundary(struct http_ctx *ctx, const struct http_resource *res)
{
    uint64_t x = ++ctx->boundaries ^ ((uint64_t)res->mtime << 24) ^ (res->size << 8) ^ (res->etag_id << 40);
    x *= 0x9E3779B97F4A7C15u;
    return x ^ (x >> 31);
}

/* Content-Length is known up front: every part header is measured before the
 * head goes out. The first part's header leaves with the head; http_conn_sent
 * plans the others (next_part). */
static void respond_multipart(struct http_conn *c, const struct http_validators *v, size_t n, time_t now)
{
    char scratch[HTTP_HEAD_BUF], b[16];
    const struct http_range *ranges = c->ctx->ranges;
    struct http_head h = {scratch, sizeof scratch, 0, 0};
    c->boundary = next_boundary(c->ctx, &c->res);
    closing_delimiter(c, &h);
    uint64_t length = h.len;
    for (size_t i = 0; i < n; i++) {
        h.len = 0;
        part_header(c, &h, &ranges[i]);
        length += h.len + ranges[i].last - ranges[i].first + 1;
    }
    boundary_text(c->boundary, b);
    begin_head(c, &h, 206, now);
    http_head_append(&h, "Content-Type: multipart/byteranges; boundary=", 45);
    http_head_append(&h, b, sizeof b);
    http_head_append(&h, "\r\n", 2);
    http_head_field_u64(&h, "Content-Length", length);
    http_head_field_str(&h, "Accept-Ranges", "bytes");
    validator_fields(c, &h, v);
    connection_field(c, &h);
    size_t head_len = http_head_finish(&h);
    part_header(c, &h, &ranges[0]);
    set_output(c, &h, head_len);
    body_from(c, ranges[0].first, ranges[0].last - ranges[0].first + 1);
    c->part = 1;
    c->parts = (int)n;
}

/* After a part's bytes, the next part's header and bytes; the closing
 * delimiter last. Returns 0 when the answer is complete. */
static int next_part(struct http_conn *c)
{
    struct http_head h = {c->head, sizeof c->head, 0, 0};
    if (c->parts == 0)
        return 0;
    memset(&c->out, 0, sizeof c->out);
    c->out.file_fd = -1;
    if (c->part < c->parts) {
        size_t n = 0;
        http_range_parse(c->range_spec.ptr, c->range_spec.len, c->res.size, c->ctx->ranges, HTTP_RANGE_MAX, &n);
        assert((int)n == c->parts);
        const struct http_range *r = &c->ctx->ranges[c->part++];
        part_header(c, &h, r);
        body_from(c, r->first, r->last - r->first + 1);
    } else {
        closing_delimiter(c, &h);
        c->parts = 0;
    }
    c->out.head = c->head;
    c->out.head_len = h.len;
    return 1;
}

/* Range is honoured only for GET (RFC 9110 §14.2) and only when If-Range
 * allows it. Several ranges of a content-coded representation get the whole
 * of it: a multipart body has no place to say its parts are encoded. */
static void respond_ranges_or_full(struct http_conn *c, const struct http_validators *v, time_t now)
{
    const struct http_request *req = &c->ctx->req;
    const struct http_header *range = is_head_request(c) ? NULL : http_find_header(req, "range");
    enum http_range_result r = HTTP_RANGE_IGNORE;
    size_t n = 0;
    if (range && http_if_range_holds(req, v))
        r = http_range_parse(range->value.ptr, range->value.len, c->res.size, c->ctx->ranges, HTTP_RANGE_MAX, &n);
    if (r == HTTP_RANGE_UNSATISFIABLE) {
        respond_refused(c, 416, now);
    } else if (r == HTTP_RANGE_PARTIAL && n == 1) {
        respond_range(c, v, &c->ctx->ranges[0], now);
    } else if (r == HTTP_RANGE_PARTIAL && !c->res.encoding) {
        c->range_spec = range->value;
        respond_multipart(c, v, n, now);
    } else {
        respond_full(c, v, now);
    }
}

/* Preconditions first, in the order of RFC 9110 §13.2.2; Range last. */
static void respond_resource(struct http_conn *c, time_t now)
{
    char etag[64];
    if (c->res.flags & HTTP_RES_GENERATED) {
        respond_full(c, NULL, now);
        return;
    }
    struct http_validators v = {etag, format_etag(&c->res, etag), c->res.mtime};
    int status = http_conditional_eval(&c->ctx->req, 1, &v);
    if (status == 304)
        respond_not_modified(c, &v, now);
    else if (status != 0)
        respond_refused(c, status, now);
    else
        respond_ranges_or_full(c, &v, now);
}

static void route_path(struct http_conn *c, struct http_span target, time_t now)
{
    char path[4096];
    long len = http_path_normalize(target.ptr, target.len, path, sizeof path);
    if (len < 0) {
        respond_error(c, (int)-len, now);
        return;
    }
    const struct http_handler *handler = &c->ctx->handler;
    handler->resolve(handler->ctx, path, (size_t)len, http_accept_encoding(&c->ctx->req), &c->res);
    if (c->res.status == 200) {
        respond_resource(c, now);
        return;
    }
    int status = c->res.status;
    release_resource(c);
    if (status == 301) {
        const char *q = memchr(target.ptr, '?', target.len);
        struct http_span query = {q, q ? (size_t)(target.ptr + target.len - q) : 0};
        respond_redirect(c, path, (size_t)len, query, now);
    } else {
        respond_error(c, status, now);
    }
}

/* The request line as sent, for the access log: method, target and version. */
static struct http_span request_line_of(const struct http_request *req)
{
    const char *end = req->target.ptr + req->target.len + 9; /* " HTTP/x.y" */
    return (struct http_span){req->method.ptr, (size_t)(end - req->method.ptr)};
}

/* The parsed request lives in the worker's context only while its response
 * is being built; what later steps need (the log line, the fields the log
 * quotes) is kept here, as spans into the connection's buffer. */
static void remember_request(struct http_conn *c, const struct http_request *req)
{
    const struct http_header *h;
    c->have_req = 1;
    c->log_line = request_line_of(req);
    c->http10 = req->version_minor == 0;
    c->head_method = req->method.len == 4 && memcmp(req->method.ptr, "HEAD", 4) == 0;
    h = http_find_header(req, "referer");
    c->referer = h ? h->value : (struct http_span){NULL, 0};
    h = http_find_header(req, "user-agent");
    c->user_agent = h ? h->value : (struct http_span){NULL, 0};
}

/* RFC 9110 §10.1.1: a client that sent "Expect: 100-continue" waits for an
 * interim 100 before its body. The final response does not depend on the
 * body, so both leave together: the 100 goes in front of the response head
 * and the body is then read and discarded as usual. With no room for it, the
 * final response goes alone: a client may not wait for 100 forever (curl
 * waits a second), and its body is still read and discarded when it comes. */
static void prepend_continue(struct http_conn *c)
{
    size_t n = sizeof CONTINUE_HEAD - 1;
    if (c->out.head != c->head || c->out.head_len + n > sizeof c->head)
        return;
    memmove(c->head + n, c->head, c->out.head_len);
    memcpy(c->head, CONTINUE_HEAD, n);
    c->out.head_len += n;
    c->head_only_len += n;
}

static void start_exchange(struct http_conn *c, size_t head_len, time_t now)
{
    struct http_request_info info;
    const struct http_request *req = &c->ctx->req;
    remember_request(c, req);
    c->buf_start += head_len;
    int status = http_request_interpret(req, &info);
    c->keep_alive = info.keep_alive && !c->draining;
    if (status == 0 && info.content_length > c->ctx->max_body)
        status = 413;
    if (status != 0) {
        /* The body's framing is unknown or refused: the connection cannot go on. */
        c->keep_alive = 0;
        c->refused = 1;
        respond_error(c, status, now);
        return;
    }
    c->body_left = info.content_length;
    c->body_chunked = info.chunked;
    if (info.chunked)
        http_chunked_init(&c->chunked, MAX_CHUNK_LINE, c->ctx->max_head);
    if (info.method == HTTP_METHOD_OPTIONS)
        respond_options(c, now);
    else if (info.method == HTTP_METHOD_OTHER)
        respond_error(c, 405, now);
    else if (info.asterisk)
        respond_error(c, 400, now);
    else
        route_path(c, info.path, now);
    if (info.expect_continue && !c->http10 && c->keep_alive && (c->body_left || c->body_chunked))
        prepend_continue(c);
}

/* A head the parser refused: answer its status and close, since where the
 * next request would begin is unknown. */
static void reject_head(struct http_conn *c, int status, time_t now)
{
    const char *p = c->buf + c->buf_start;
    size_t avail = c->buf_end - c->buf_start, n = 0;
    while (n < avail && n < 1024 && p[n] != '\r' && p[n] != '\n')
        n++;
    c->log_line = (struct http_span){p, n};
    c->have_req = 0;
    c->keep_alive = 0;
    c->refused = 1;
    c->buf_start = c->buf_end;
    respond_error(c, status, now);
}

/* Returns 1 when the state changed and the machine should run again. */
static int step_head(struct http_conn *c, time_t now)
{
    if (c->buf_start == c->buf_end) {
        drop_buffer_if_empty(c);
        if (c->peer_eof || c->draining) {
            c->state = HTTP_CONN_CLOSE;
            return 1;
        }
        return 0;
    }
    int status = 0;
    int r = http_parse_request(c->buf + c->buf_start, c->buf_end - c->buf_start, c->ctx->max_head, &c->ctx->req,
                               &status);
    if (r == HTTP_PARSE_INCOMPLETE) {
        if (c->peer_eof) {
            c->state = HTTP_CONN_CLOSE;
            return 1;
        }
        return 0;
    }
    if (r == HTTP_PARSE_ERROR)
        reject_head(c, status, now);
    else
        start_exchange(c, (size_t)r, now);
    return 1;
}

/* A chunked body ends where the decoder says. A malformed one, or one longer
 * than max_body, leaves no trustworthy start for the next request: close. */
static int step_chunked_body(struct http_conn *c)
{
    while (c->buf_start < c->buf_end) {
        struct http_span data;
        long r = http_chunked_decode(&c->chunked, c->buf + c->buf_start, c->buf_end - c->buf_start, &data);
        if (r < 0 || c->chunked.body_len > c->ctx->max_body) {
            c->refused = 1;
            c->state = HTTP_CONN_CLOSE;
            return 1;
        }
        c->buf_start += (size_t)r;
        if (http_chunked_done(&c->chunked)) {
            c->body_chunked = 0;
            c->state = HTTP_CONN_HEAD;
            return 1;
        }
    }
    drop_buffer_if_empty(c);
    if (c->peer_eof) {
        c->state = HTTP_CONN_CLOSE;
        return 1;
    }
    return 0;
}

static int step_body(struct http_conn *c)
{
    if (c->body_chunked)
        return step_chunked_body(c);
    size_t avail = c->buf_end - c->buf_start;
    size_t take = avail < c->body_left ? avail : (size_t)c->body_left;
    c->buf_start += take;
    c->body_left -= take;
    if (c->body_left == 0) {
        c->state = HTTP_CONN_HEAD;
        return 1;
    }
    drop_buffer_if_empty(c);
    if (c->peer_eof) {
        c->state = HTTP_CONN_CLOSE;
        return 1;
    }
    return 0;
}

static void advance(struct http_conn *c, time_t now)
{
    for (;;) {
        int moved = 0;
        switch (c->state) {
        case HTTP_CONN_HEAD:
            moved = step_head(c, now);
            break;
        case HTTP_CONN_BODY:
            moved = step_body(c);
            break;
        case HTTP_CONN_SEND:
        case HTTP_CONN_CLOSE:
            break;
        }
        if (!moved || c->state == HTTP_CONN_SEND || c->state == HTTP_CONN_CLOSE)
            return;
    }
}

void http_conn_received(struct http_conn *c, size_t n, time_t now)
{
    c->now = now;
    assert(c->state == HTTP_CONN_HEAD || c->state == HTTP_CONN_BODY);
    c->buf_end += n;
    if (n == 0)
        c->peer_eof = 1;
    advance(c, now);
}

static void log_exchange(struct http_conn *c, time_t now)
{
    if (!c->ctx->on_log)
        return;
    struct http_log_entry e = {
        .peer = c->peer,
        .request_line = c->log_line,
        .status = c->status,
        .body_bytes = c->bytes_sent > c->head_only_len ? c->bytes_sent - c->head_only_len : 0,
        .now = now,
    };
    if (c->have_req) {
        e.referer = c->referer;
        e.user_agent = c->user_agent;
    }
    c->ctx->on_log(c->ctx->log_ctx, &e);
}

static void finish_exchange(struct http_conn *c, time_t now)
{
    log_exchange(c, now);
    release_resource(c);
    clear_output(c);
    c->have_req = 0;
    c->log_line = (struct http_span){NULL, 0};
    if (!c->keep_alive)
        c->state = HTTP_CONN_CLOSE;
    else
        c->state = c->body_left || c->body_chunked ? HTTP_CONN_BODY : HTTP_CONN_HEAD;
    advance(c, now);
}

void http_conn_sent(struct http_conn *c, size_t n, time_t now)
{
    c->now = now;
    assert(c->state == HTTP_CONN_SEND);
    struct http_output *o = &c->out;
    c->bytes_sent += n;
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
    if (o->head_len == 0 && o->data_len == 0 && o->file_len == 0 && !next_part(c))
        finish_exchange(c, now);
}

void http_conn_abort(struct http_conn *c)
{
    if (c->state == HTTP_CONN_SEND)
        log_exchange(c, c->now);
    release_resource(c);
    clear_output(c);
    c->state = HTTP_CONN_CLOSE;
}

enum http_end http_conn_ending(const struct http_conn *c)
{
    if (c->refused)
        return HTTP_END_REFUSED;
    return c->peer_eof ? HTTP_END_PEER : HTTP_END_DONE;
}

int http_conn_unread(const struct http_conn *c)
{
    if (c->peer_eof)
        return 0;
    return c->refused || c->buf_start != c->buf_end || c->body_left > 0 || c->body_chunked;
}

void http_conn_drain(struct http_conn *c, time_t now)
{
    c->draining = 1;
    if (c->state == HTTP_CONN_HEAD)
        advance(c, now);
}
