/* serve_proto_echo: the Echo Protocol (RFC 862) over a stream socket.
 *
 * One fixed buffer per connection, inside the connection object. Bytes read
 * fill it; while it holds any, the connection only writes. So a client that
 * sends without reading is simply not read any more once the kernel's
 * buffers fill: TCP flow control pushes back and memory never grows. At the
 * client's end of input (a half-close) what is buffered is sent, then the
 * connection closes, which the client sees as end of input in turn. */

#include "serve/proto.h"

#define ECHO_BUF 16384

enum echo_state {
    ECHO_OPEN,   /* reading and echoing */
    ECHO_ENDING, /* no more input (client EOF or a stop): send the rest, then close */
    ECHO_CLOSED, /* done */
};

struct echo_conn {
    enum echo_state state;
    size_t start, end; /* buffered bytes not yet sent back: buf[start..end) */
    struct serve_output out;
    char buf[ECHO_BUF];
};

static void echo_update(struct echo_conn *e)
{
    e->out.data = e->buf + e->start;
    e->out.data_len = e->end - e->start;
}

static void echo_init(void *conn, const struct serve_proto *self, struct serve_ctx *ctx, const char *peer)
{
    struct echo_conn *e = conn;
    (void)self;
    (void)ctx;
    (void)peer;
    e->state = ECHO_OPEN;
    e->start = e->end = 0;
    e->out = (struct serve_output){.file_fd = -1};
    echo_update(e);
}

static enum serve_want echo_want(const void *conn)
{
    const struct echo_conn *e = conn;
    if (e->state == ECHO_CLOSED)
        return SERVE_WANT_CLOSE;
    if (e->end > e->start)
        return SERVE_WANT_WRITE;
    return e->state == ECHO_OPEN ? SERVE_WANT_READ : SERVE_WANT_CLOSE;
}

static char *echo_read_space(void *conn, size_t *room)
{
    struct echo_conn *e = conn;
    *room = ECHO_BUF - e->end;
    return e->buf + e->end;
}

static void echo_received(void *conn, size_t n, time_t now)
{
    struct echo_conn *e = conn;
    (void)now;
    if (n == 0 && e->state == ECHO_OPEN)
        e->state = ECHO_ENDING;
    e->end += n;
    echo_update(e);
}

static void echo_output(const void *conn, struct serve_output *out)
{
    *out = ((const struct echo_conn *)conn)->out;
}

/* Reads only happen with an empty buffer, so the whole buffer is free again
 * once it has been sent back. */
static void echo_sent(void *conn, size_t n, time_t now)
{
    struct echo_conn *e = conn;
    (void)now;
    e->start += n;
    if (e->start == e->end)
        e->start = e->end = 0;
    echo_update(e);
}

static void echo_abort(void *conn)
{
    ((struct echo_conn *)conn)->state = ECHO_CLOSED;
}

static void echo_drain(void *conn, time_t now)
{
    struct echo_conn *e = conn;
    (void)now;
    if (e->state == ECHO_OPEN)
        e->state = ECHO_ENDING;
}

static int echo_idle(const void *conn)
{
    const struct echo_conn *e = conn;
    return e->end == e->start;
}

/* Echo closes only at the peer's end of input, after a stop, or when told to. */
static enum serve_end echo_end(const void *conn)
{
    (void)conn;
    return SERVE_END_PEER;
}

/* Everything read was sent back; what the peer sends after a stop is not
 * the echo's to answer. */
static int echo_unread(const void *conn)
{
    (void)conn;
    return 0;
}

/* The buffer is inside the object: nothing depends on the thread. */
static void echo_rebind(void *conn, struct serve_ctx *ctx)
{
    (void)conn;
    (void)ctx;
}

static void echo_release(void *conn)
{
    ((struct echo_conn *)conn)->state = ECHO_CLOSED;
}

const struct serve_proto serve_proto_echo = {
    .name = "echo",
    .conn_size = sizeof(struct echo_conn),
    .uses_files = 0,
    .refusal = NULL,
    .init = echo_init,
    .want = echo_want,
    .read_space = echo_read_space,
    .received = echo_received,
    .output = echo_output,
    .sent = echo_sent,
    .abort = echo_abort,
    .drain = echo_drain,
    .idle = echo_idle,
    .end = echo_end,
    .unread = echo_unread,
    .release = echo_release,
    .rebind = echo_rebind,
};
