#include "serve/proto_proxy.h"

#include <arpa/inet.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/proxy.h"

enum proxy_state {
    PROXY_AWAIT,   /* reading the header */
    PROXY_INNER,   /* the header is read: the inner protocol runs */
    PROXY_REFUSED, /* no valid header: close, counted */
    PROXY_GONE,    /* the peer closed before a whole header */
    PROXY_STOPPED, /* a stop came before the header: close */
};

/* One connection: the layer's state, then the inner protocol's object. */
struct proxy_conn {
    const struct serve_proto *inner;
    struct serve_ctx *ctx;
    uint16_t have;        /* header bytes in buf */
    uint16_t pending_at;  /* buf[pending_at..have): bytes after the header the inner protocol has not taken */
    uint8_t state;        /* enum proxy_state */
    char peer[INET6_ADDRSTRLEN]; /* the socket's peer: what stands when the header names no client */
    char buf[PROXY_MAX];
};

#define INNER_OFFSET \
    ((sizeof(struct proxy_conn) + alignof(max_align_t) - 1) / alignof(max_align_t) * alignof(max_align_t))

static void *inner_of(const void *conn)
{
    return (char *)(uintptr_t)conn + INNER_OFFSET;
}

static void proxy_init(void *conn, const struct serve_proto *self, struct serve_ctx *ctx, const char *peer)
{
    struct proxy_conn *pc = conn;
    pc->inner = self->inner;
    pc->ctx = ctx;
    pc->have = pc->pending_at = 0;
    pc->state = PROXY_AWAIT;
    snprintf(pc->peer, sizeof pc->peer, "%s", peer);
}

static enum serve_want proxy_want(const void *conn)
{
    const struct proxy_conn *pc = conn;
    switch (pc->state) {
    case PROXY_AWAIT:
        return SERVE_WANT_READ;
    case PROXY_INNER:
        return pc->inner->want(inner_of(conn));
    default:
        return SERVE_WANT_CLOSE;
    }
}

/* Gives the inner protocol what came after the header, as far as it reads:
 * after the header, and again whenever it may want to read once more (after
 * a send, a resume), so that the bytes keep their order and a driver asks
 * for socket bytes only once these are taken. */
static void feed(struct proxy_conn *pc, time_t now)
{
    void *in = inner_of(pc);
    while (pc->state == PROXY_INNER && pc->pending_at < pc->have && pc->inner->want(in) == SERVE_WANT_READ) {
        size_t room = 0;
        char *space = pc->inner->read_space(in, &room);
        if (!space || room == 0) {
            pc->inner->release(in);
            pc->state = PROXY_STOPPED; /* no memory for it: close */
            return;
        }
        size_t n = pc->have - pc->pending_at;
        if (n > room)
            n = room;
        memcpy(space, pc->buf + pc->pending_at, n);
        pc->pending_at = (uint16_t)(pc->pending_at + n);
        pc->inner->received(in, n, now);
    }
}

static char *proxy_read_space(void *conn, size_t *room)
{
    struct proxy_conn *pc = conn;
    if (pc->state == PROXY_INNER)
        return pc->inner->read_space(inner_of(conn), room);
    *room = sizeof pc->buf - pc->have;
    return pc->buf + pc->have;
}

/* The header is whole: the inner protocol starts with the client's address. */
static void begin_inner(struct proxy_conn *pc, const struct proxy_header *h, int len, time_t now)
{
    char client[INET6_ADDRSTRLEN];
    const char *peer = pc->peer;
    if (h->family && inet_ntop(h->family, h->src, client, sizeof client))
        peer = client;
    pc->inner->init(inner_of(pc), pc->inner, pc->ctx, peer);
    pc->state = PROXY_INNER;
    pc->pending_at = (uint16_t)len;
    feed(pc, now);
}

static void proxy_received(void *conn, size_t n, time_t now)
{
    struct proxy_conn *pc = conn;
    struct proxy_header h;
    if (pc->state == PROXY_INNER) {
        pc->inner->received(inner_of(conn), n, now);
        return;
    }
    if (pc->state != PROXY_AWAIT)
        return;
    if (n == 0) {
        pc->state = pc->have ? PROXY_REFUSED : PROXY_GONE; /* a bare connect, as a TCP health check makes */
        return;
    }
    pc->have = (uint16_t)(pc->have + n);
    int len = proxy_parse(pc->buf, pc->have, &h);
    if (len == PROXY_INCOMPLETE && pc->have < sizeof pc->buf)
        return;
    if (len <= 0) {
        pc->state = PROXY_REFUSED;
        return;
    }
    begin_inner(pc, &h, len, now);
}

static void proxy_output(const void *conn, struct serve_output *out)
{
    const struct proxy_conn *pc = conn;
    pc->inner->output(inner_of(conn), out);
}

static void proxy_sent(void *conn, size_t n, time_t now)
{
    struct proxy_conn *pc = conn;
    pc->inner->sent(inner_of(conn), n, now);
    feed(pc, now);
}

static void proxy_abort(void *conn)
{
    struct proxy_conn *pc = conn;
    if (pc->state == PROXY_INNER)
        pc->inner->abort(inner_of(conn));
}

static void proxy_drain(void *conn, time_t now)
{
    struct proxy_conn *pc = conn;
    if (pc->state == PROXY_INNER)
        pc->inner->drain(inner_of(conn), now);
    else if (pc->state == PROXY_AWAIT)
        pc->state = PROXY_STOPPED;
}

/* Waiting for a header is the header phase, not an idle connection. */
static int proxy_idle(const void *conn)
{
    const struct proxy_conn *pc = conn;
    if (pc->state == PROXY_INNER)
        return pc->pending_at == pc->have && pc->inner->idle(inner_of(conn));
    return pc->state != PROXY_AWAIT;
}

static enum serve_end proxy_end(const void *conn)
{
    const struct proxy_conn *pc = conn;
    switch (pc->state) {
    case PROXY_INNER:
        return pc->inner->end(inner_of(conn));
    case PROXY_REFUSED:
        return SERVE_END_PROXY_HEADER;
    case PROXY_GONE:
        return SERVE_END_PEER;
    default:
        return SERVE_END_DONE;
    }
}

static int proxy_unread(const void *conn)
{
    const struct proxy_conn *pc = conn;
    return pc->state == PROXY_INNER && pc->inner->unread(inner_of(conn));
}

static void proxy_release(void *conn)
{
    struct proxy_conn *pc = conn;
    if (pc->state == PROXY_INNER)
        pc->inner->release(inner_of(conn));
    pc->state = PROXY_STOPPED;
}

static int proxy_wait_fd(const void *conn)
{
    const struct proxy_conn *pc = conn;
    return pc->state == PROXY_INNER && pc->inner->wait_fd ? pc->inner->wait_fd(inner_of(conn)) : -1;
}

static void proxy_resume(void *conn, time_t now)
{
    struct proxy_conn *pc = conn;
    if (pc->state == PROXY_INNER && pc->inner->resume) {
        pc->inner->resume(inner_of(conn), now);
        feed(pc, now);
    }
}

static void proxy_rebind(void *conn, struct serve_ctx *ctx)
{
    struct proxy_conn *pc = conn;
    pc->ctx = ctx;
    if (pc->state == PROXY_INNER && pc->inner->rebind)
        pc->inner->rebind(inner_of(conn), ctx);
}

struct serve_proto *proto_proxy_new(const struct serve_proto *inner)
{
    struct serve_proto *p = malloc(sizeof *p);
    if (!p)
        return NULL;
    *p = (struct serve_proto){
        .name = inner->name,
        .conn_size = INNER_OFFSET + inner->conn_size,
        .uses_files = inner->uses_files,
        .refusal = inner->refusal,
        .init = proxy_init,
        .want = proxy_want,
        .read_space = proxy_read_space,
        .received = proxy_received,
        .output = proxy_output,
        .sent = proxy_sent,
        .abort = proxy_abort,
        .drain = proxy_drain,
        .idle = proxy_idle,
        .end = proxy_end,
        .unread = proxy_unread,
        .release = proxy_release,
        .wait_fd = proxy_wait_fd,
        .resume = proxy_resume,
        .rebind = proxy_rebind,
        .inner = inner,
        .keeps_state = 1,
    };
    return p;
}

void proto_proxy_free(struct serve_proto *layer)
{
    free(layer);
}
