/* serve_proto_http: each member forwards to the http_conn function of the
 * same name, so HTTP behaves exactly as when the drivers called conn.c
 * directly; the translations between http_* and serve_* types are a few
 * moves each. Around the connection, the adapter keeps when its current
 * exchange began, for the response-time histogram of /metrics (the core
 * reads no clock). */
#include <stddef.h>

#include "serve/context.h"
#include "serve/proto.h"

struct timed_conn {
    struct http_conn c; /* first: the object is an http_conn to whoever casts it */
    int64_t started_us; /* 0: no exchange under way */
};

static struct serve_ctx *serve_ctx_of(struct http_conn *c)
{
    return (struct serve_ctx *)(void *)((char *)c->ctx - offsetof(struct serve_ctx, http));
}

/* Before a call that may finish an exchange: the log callback times it. */
static struct http_conn *timed(void *conn)
{
    struct timed_conn *t = conn;
    serve_ctx_of(&t->c)->started_us = &t->started_us;
    return &t->c;
}

static void http_init(void *conn, const struct serve_proto *self, struct serve_ctx *ctx, const char *peer)
{
    (void)self;
    struct timed_conn *t = conn;
    http_conn_init(&t->c, &ctx->http, peer);
    t->started_us = 0;
}

static enum serve_want http_want(const void *conn)
{
    switch (http_conn_want(conn)) {
    case HTTP_WANT_READ:
        return SERVE_WANT_READ;
    case HTTP_WANT_WRITE:
        return SERVE_WANT_WRITE;
    case HTTP_WANT_WAIT:
        return SERVE_WANT_WAIT;
    case HTTP_WANT_CLOSE:
        break;
    }
    return SERVE_WANT_CLOSE;
}

static char *http_read_space(void *conn, size_t *room)
{
    return http_conn_read_space(conn, room);
}

static void http_received(void *conn, size_t n, time_t now)
{
    struct timed_conn *t = conn;
    if (n && (t->started_us == 0 || http_conn_idle(&t->c)))
        t->started_us = metrics_now_us(); /* the first bytes of a request */
    http_conn_received(timed(conn), n, now);
}

static void http_output(const void *conn, struct serve_output *out)
{
    const struct http_output *o = http_conn_output(conn);
    *out = (struct serve_output){o->head, o->head_len, o->data, o->data_len, o->file_fd, o->file_offset, o->file_len};
}

static void http_sent(void *conn, size_t n, time_t now)
{
    struct http_conn *c = timed(conn);
    serve_ctx_of(c)->metrics.v[METRICS_SENT_BYTES] += n;
    http_conn_sent(c, n, now);
}

static void http_abort(void *conn)
{
    http_conn_abort(timed(conn));
}

static void http_drain(void *conn, time_t now)
{
    http_conn_drain(timed(conn), now);
}

static int http_idle(const void *conn)
{
    return http_conn_idle(conn);
}

static enum serve_end http_end(const void *conn)
{
    switch (http_conn_ending(conn)) {
    case HTTP_END_PEER:
        return SERVE_END_PEER;
    case HTTP_END_REFUSED:
        return SERVE_END_REFUSED;
    case HTTP_END_DONE:
        break;
    }
    return SERVE_END_DONE;
}

static int http_unread(const void *conn)
{
    return http_conn_unread(conn);
}

static void http_release(void *conn)
{
    struct http_conn *c = timed(conn);
    http_conn_release(c);
    serve_ctx_of(c)->started_us = NULL; /* the object goes back to a pool */
}

static int http_wait_fd(const void *conn)
{
    return http_conn_wait_fd(conn);
}

static void http_resume(void *conn, time_t now)
{
    http_conn_resume(timed(conn), now);
}

/* Buffers are plain heap blocks: one taken from another thread's pool is
 * given back to the new owner's. */
static void http_rebind(void *conn, struct serve_ctx *ctx)
{
    ((struct http_conn *)conn)->ctx = &ctx->http;
}

const struct serve_proto serve_proto_http = {
    .name = "http",
    .conn_size = sizeof(struct timed_conn),
    .uses_files = 1,
    .refusal = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\nRetry-After: 1\r\n\r\n",
    .init = http_init,
    .want = http_want,
    .read_space = http_read_space,
    .received = http_received,
    .output = http_output,
    .sent = http_sent,
    .abort = http_abort,
    .drain = http_drain,
    .idle = http_idle,
    .end = http_end,
    .unread = http_unread,
    .release = http_release,
    .wait_fd = http_wait_fd,
    .resume = http_resume,
    .rebind = http_rebind,
};
