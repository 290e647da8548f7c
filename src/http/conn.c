#include "http/conn.h"

#include <assert.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "http/request.h"

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
    http_reply_ctx_init(&ctx->reply, handler);
    ctx->pool.buf_size = max_head < 4096 ? 4096 : max_head;
}

void http_ctx_destroy(struct http_ctx *ctx)
{
    http_ctx_trim(ctx);
}

void http_ctx_trim(struct http_ctx *ctx)
{
    while (ctx->pool.free_list) {
        void **head = ctx->pool.free_list;
        ctx->pool.free_list = *head;
        free(head);
    }
}

void http_conn_init(struct http_conn *c, struct http_ctx *ctx, const char *peer)
{
    /* A connection is initialised for every request that follows an idle
     * spell (its object comes back from the worker's pool), so the head
     * buffer, written before it is read, is left as it is. */
    memset(c, 0, offsetof(struct http_conn, reply));
    c->ctx = ctx;
    c->state = HTTP_CONN_HEAD;
    http_reply_init(&c->reply);
    strncpy(c->peer, peer, sizeof c->peer - 1);
}

static void log_exchange(struct http_conn *c, time_t now);
static void gather(struct http_conn *c, time_t now);

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
    http_reply_release(&c->reply, &c->ctx->reply);
    if (c->buf) {
        pool_give(&c->ctx->pool, c->buf);
        c->buf = NULL;
    }
    if (c->batch) {
        pool_give(&c->ctx->pool, c->batch);
        c->batch = NULL;
    }
    c->state = HTTP_CONN_CLOSE;
}

enum http_want http_conn_want(const struct http_conn *c)
{
    if (c->batch)
        return HTTP_WANT_WRITE;
    switch (c->state) {
    case HTTP_CONN_HEAD:
    case HTTP_CONN_BODY:
        return HTTP_WANT_READ;
    case HTTP_CONN_SEND:
        return HTTP_WANT_WRITE;
    case HTTP_CONN_WAIT:
        return HTTP_WANT_WAIT;
    case HTTP_CONN_CLOSE:
        break;
    }
    return HTTP_WANT_CLOSE;
}

int http_conn_idle(const struct http_conn *c)
{
    return c->state == HTTP_CONN_HEAD && c->buf_start == c->buf_end && !c->batch;
}

const struct http_output *http_conn_output(const struct http_conn *c)
{
    return c->batch ? &c->batch_out : &c->reply.out;
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
    h = http_find_header(req, "referer");
    c->referer = h ? h->value : (struct http_span){NULL, 0};
    h = http_find_header(req, "user-agent");
    c->user_agent = h ? h->value : (struct http_span){NULL, 0};
}

/* The chunked body bytes that came with the head are decoded before the
 * answer is planned, so that a body already known to be malformed (or longer
 * than max_body) is answered 400 (413) and closed, rather than answered as if
 * it were fine: a fault that arrives after the answer can only end the
 * connection (step_chunked_body). Nothing is consumed: the body is decoded
 * again as it is discarded, and the head may have to be parsed again first
 * (a pending resource). */
static int check_buffered_chunks(const struct http_conn *c)
{
    struct http_chunked d;
    size_t pos = c->buf_start;
    http_chunked_init(&d, MAX_CHUNK_LINE, c->ctx->max_head);
    while (pos < c->buf_end && !http_chunked_done(&d)) {
        struct http_span data;
        long r = http_chunked_decode(&d, c->buf + pos, c->buf_end - pos, &data);
        if (r < 0)
            return 400;
        if (d.body_len > c->ctx->max_body)
            return 413;
        pos += (size_t)r;
    }
    return 0;
}

/* The answer to a request the connection can go on after: by its method
 * (405 for a known one not served, 501 for one not known), then its target. */
static void plan_answer(struct http_conn *c, const struct http_request_info *info, time_t now)
{
    struct http_reply *r = &c->reply;
    struct http_reply_ctx *rc = &c->ctx->reply;
    const struct http_auth *auth = &c->ctx->auth;
    /* A CORS preflight carries no credentials (Fetch standard), so it is
     * answered before --auth asks for them; it reveals no content. */
    if (info->method == HTTP_METHOD_OPTIONS && http_reply_preflight(r, rc, &c->ctx->req, now))
        return;
    if (auth->check && !auth->check(auth->ctx, &c->ctx->req, c->user, sizeof c->user))
        http_reply_error_fields(r, rc, 401, auth->challenge, strlen(auth->challenge), now);
    else if (info->method == HTTP_METHOD_OPTIONS)
        http_reply_options(r, rc, now);
    else if (info->method == HTTP_METHOD_OTHER)
        http_reply_error(r, rc, 405, now);
    else if (info->method == HTTP_METHOD_UNKNOWN)
        http_reply_error(r, rc, 501, now);
    else if (info->asterisk)
        http_reply_error(r, rc, 400, now);
    else
        http_reply_resource(r, rc, &c->ctx->req, info->path, now);
}

/* Plans the answer to a parsed request head of head_len bytes. Returns 1
 * when the answer waits for its resource: the head is then left in the
 * buffer, to be parsed again when the connection resumes. */
static int start_exchange(struct http_conn *c, size_t head_len, time_t now)
{
    struct http_request_info info;
    const struct http_request *req = &c->ctx->req;
    struct http_reply *r = &c->reply;
    struct http_reply_ctx *rc = &c->ctx->reply;
    remember_request(c, req);
    c->buf_start += head_len;
    int status = http_request_interpret(req, &info);
    r->keep_alive = info.keep_alive && !c->draining && !(c->ctx->close_all && *c->ctx->close_all);
    r->http10 = req->version_minor == 0;
    r->head_only = req->method.len == 4 && memcmp(req->method.ptr, "HEAD", 4) == 0;
    r->host = info.host;
    if (c->ctx->log_host)
        c->host = info.host;
    if (status == 0 && info.content_length > c->ctx->max_body)
        status = 413;
    if (status == 0 && info.chunked)
        status = check_buffered_chunks(c);
    if (status != 0) {
        /* The body's framing is unknown or refused: the connection cannot go on. */
        r->keep_alive = 0;
        c->refused = 1;
        http_reply_error(r, rc, status, now);
        return 0;
    }
    c->body_left = info.content_length;
    c->body_chunked = info.chunked;
    if (info.chunked)
        http_chunked_init(&c->chunked, MAX_CHUNK_LINE, c->ctx->max_head);
    plan_answer(c, &info, now);
    if (http_reply_pending(r)) {
        c->buf_start -= head_len;
        return 1;
    }
    if (info.expect_continue && !r->http10 && r->keep_alive && (c->body_left || c->body_chunked))
        http_reply_continue(r);
    return 0;
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
    c->buf_start = c->buf_end;
    c->refused = 1;
    c->reply.keep_alive = 0;
    c->reply.http10 = 0;
    c->reply.head_only = 0;
    c->reply.host = (struct http_span){NULL, 0}; /* the head's fields are not to be trusted */
    http_reply_error(&c->reply, &c->ctx->reply, status, now);
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
    if (r == HTTP_PARSE_ERROR) {
        reject_head(c, status, now);
    } else if (start_exchange(c, (size_t)r, now)) {
        c->state = HTTP_CONN_WAIT;
        return 1;
    }
    c->state = HTTP_CONN_SEND; /* every head, parsed or refused, gets an answer */
    return 1;
}

/* A chunked body ends where the decoder says. A malformed one, or one longer
 * than max_body, leaves no trustworthy start for the next request: close. (When
 * the fault came with the head, check_buffered_chunks answered it already.) */
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
        case HTTP_CONN_WAIT:
        case HTTP_CONN_SEND:
        case HTTP_CONN_CLOSE:
            break;
        }
        if (!moved || (c->state != HTTP_CONN_HEAD && c->state != HTTP_CONN_BODY))
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
    gather(c, now);
}

static void log_exchange(struct http_conn *c, time_t now)
{
    if (!c->ctx->on_log)
        return;
    struct http_log_entry e = {
        .peer = c->peer,
        .user = c->user[0] ? c->user : NULL,
        .request_line = c->log_line,
        .status = c->reply.status,
        .body_bytes = http_reply_body_bytes(&c->reply),
        .now = now,
    };
    if (c->have_req) {
        e.referer = c->referer;
        e.user_agent = c->user_agent;
        e.host = c->host;
    }
    c->ctx->on_log(c->ctx->log_ctx, &e);
}

static void finish_exchange(struct http_conn *c, time_t now)
{
    log_exchange(c, now);
    http_reply_release(&c->reply, &c->ctx->reply);
    c->have_req = 0;
    c->user[0] = '\0';
    c->log_line = (struct http_span){NULL, 0};
    if (!c->reply.keep_alive)
        c->state = HTTP_CONN_CLOSE;
    else
        c->state = c->body_left || c->body_chunked ? HTTP_CONN_BODY : HTTP_CONN_HEAD;
    advance(c, now);
}

/* Pipelined requests read in one recv are answered in one send: while the
 * answer planned is all in memory (a cached file, a 304, an error, a HEAD)
 * and another request head is already buffered, the answer is copied into
 * the batch and its exchange finished as if it were sent, and the next
 * request is planned. The batch then leaves as one output. It ends at an
 * answer with a file body (sent from its descriptor after the batch), at one
 * that closes the connection, when the buffer runs out of complete heads, or
 * when the batch is full. The access log lists the exchanges in order, when
 * their answer is handed to the batch, as nginx logs one handed to the
 * kernel. */
static int gatherable(const struct http_conn *c)
{
    const struct http_output *o = &c->reply.out;
    return c->state == HTTP_CONN_SEND && o->file_len == 0 && c->reply.parts == 0;
}

static int head_buffered(const struct http_conn *c)
{
    return c->buf && c->buf_start < c->buf_end && memmem(c->buf + c->buf_start, c->buf_end - c->buf_start, "\r\n\r\n", 4);
}

static void gather(struct http_conn *c, time_t now)
{
    size_t cap = c->ctx->pool.buf_size;
    while (c->ctx->gather && gatherable(c) && (c->batch || head_buffered(c))) {
        const struct http_output *o = &c->reply.out;
        size_t n = o->head_len + o->data_len;
        if ((c->batch ? c->batch_out.head_len : 0) + n > cap)
            return; /* the batch goes first, then this answer from where it was built */
        if (!c->batch) {
            if (!(c->batch = pool_take(&c->ctx->pool)))
                return;
            c->batch_out = (struct http_output){c->batch, 0, NULL, 0, -1, 0, 0};
        }
        char *end = c->batch + c->batch_out.head_len;
        memcpy(end, o->head, o->head_len);
        if (o->data_len)
            memcpy(end + o->head_len, o->data, o->data_len);
        c->batch_out.head_len += n;
        int done = http_reply_sent(&c->reply, &c->ctx->reply, n);
        assert(done);
        (void)done;
        finish_exchange(c, now);
    }
}

void http_conn_sent(struct http_conn *c, size_t n, time_t now)
{
    c->now = now;
    if (c->batch) {
        assert(n <= c->batch_out.head_len);
        c->batch_out.head += n;
        c->batch_out.head_len -= n;
        if (c->batch_out.head_len == 0) {
            pool_give(&c->ctx->pool, c->batch);
            c->batch = NULL;
            gather(c, now);
        }
        return;
    }
    assert(c->state == HTTP_CONN_SEND);
    if (http_reply_sent(&c->reply, &c->ctx->reply, n)) {
        finish_exchange(c, now);
        gather(c, now);
    }
}

int http_conn_wait_fd(const struct http_conn *c)
{
    return c->state == HTTP_CONN_WAIT ? http_reply_wait_fd(&c->reply) : -1;
}

void http_conn_resume(struct http_conn *c, time_t now)
{
    assert(c->state == HTTP_CONN_WAIT);
    c->now = now;
    c->state = HTTP_CONN_HEAD;
    advance(c, now);
}

void http_conn_abort(struct http_conn *c)
{
    if (c->state == HTTP_CONN_SEND)
        log_exchange(c, c->now);
    http_reply_release(&c->reply, &c->ctx->reply);
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
