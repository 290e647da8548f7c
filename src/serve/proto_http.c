/* serve_proto_http: each member forwards to the http_conn function of the
 * same name, so HTTP behaves exactly as when the drivers called conn.c
 * directly; at -O2 each wrapper is a single jump. */
#include "serve/context.h"
#include "serve/proto.h"

static void http_init(void *conn, struct serve_ctx *ctx, const char *peer)
{
    http_conn_init(conn, &ctx->http, peer);
}

static enum http_want http_want(const void *conn)
{
    return http_conn_want(conn);
}

static char *http_read_space(void *conn, size_t *room)
{
    return http_conn_read_space(conn, room);
}

static void http_received(void *conn, size_t n, time_t now)
{
    http_conn_received(conn, n, now);
}

static const struct http_output *http_output(const void *conn)
{
    return http_conn_output(conn);
}

static void http_sent(void *conn, size_t n, time_t now)
{
    http_conn_sent(conn, n, now);
}

static void http_abort(void *conn)
{
    http_conn_abort(conn);
}

static void http_drain(void *conn, time_t now)
{
    http_conn_drain(conn, now);
}

static int http_idle(const void *conn)
{
    return http_conn_idle(conn);
}

static void http_release(void *conn)
{
    http_conn_release(conn);
}

const struct serve_proto serve_proto_http = {
    .name = "http",
    .conn_size = sizeof(struct http_conn),
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
    .release = http_release,
};
