/* TLS as a protocol layer: the driver hands it ciphertext and sends the
 * ciphertext it gives, and the protocol inside (HTTP, echo) sees plaintext
 * through its own read_space/received/output/sent, so no driver learns TLS.
 * After every step the layer pumps: it runs the handshake, decrypts into the
 * inner protocol while it wants to read, and encrypts what it wants to send
 * (file bodies read into a 16 KiB buffer: sendfile cannot carry TLS in user
 * space; kTLS would plug in here, handing the socket the keys once the
 * handshake is done and letting the driver sendfile again).
 *
 * An idle TLS connection cannot drop its session, so the object stays
 * (keeps_state); what it holds then is the SSL state alone: the inner object,
 * the ciphertext buffers and the plaintext buffer are given back between
 * requests, and OpenSSL releases its record buffers (SSL_MODE_RELEASE_BUFFERS). */
#include "serve/proto_tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "serve/log.h"
#include "tls/conn.h"

/* Ciphertext queued before the driver is asked to send: four full records. */
#define OUT_TARGET (4 * TLS_RECORD_MAX)

/* The TLS record type of a handshake: any other first byte is not TLS. */
#define RECORD_HANDSHAKE 0x16

/* What nginx answers plain HTTP on a TLS port (its 400 "The plain HTTP
 * request was sent to HTTPS port"), then close. */
#define PLAIN_BODY "This port speaks HTTPS: use https:// to reach it\n"
#define PLAIN_BODY_LEN "49"
_Static_assert(sizeof PLAIN_BODY - 1 == 49, "PLAIN_BODY_LEN is the body's length");
static const char plain_refusal[] = "HTTP/1.1 400 Bad Request\r\n"
                                    "Content-Type: text/plain\r\n"
                                    "Content-Length: " PLAIN_BODY_LEN "\r\n"
                                    "Connection: close\r\n"
                                    "\r\n" PLAIN_BODY;

enum tls_state {
    TLS_HANDSHAKE, /* until the handshake is done */
    TLS_OPEN,      /* the inner protocol runs */
    TLS_CLOSING,   /* the last ciphertext (close_notify, an alert) leaves, then close */
    TLS_CLOSED,
    TLS_PLAIN,     /* not TLS: the plaintext 400 leaves, then close */
};

struct tls_proto_conn {
    struct tls_conn tls;
    const struct serve_proto *inner_p;
    struct tls_server *server;
    struct serve_ctx *ctx;
    void *inner;  /* the inner protocol's object while an exchange is under way, else NULL */
    char *plain;  /* TLS_PLAIN_MAX bytes to gather plaintext to encrypt, while sending */
    size_t refusal_sent;
    uint8_t state;
    uint8_t end;       /* enum serve_end, once closing */
    uint8_t unread;    /* input may be left unread at the close */
    uint8_t draining;
    uint8_t got_bytes; /* the first byte was checked */
    char peer[48];
};

static struct log_limit handshake_failed = LOG_LIMIT_INIT("TLS handshake failed");

static void closing(struct tls_proto_conn *t, enum serve_end end)
{
    size_t pending;
    tls_conn_out(&t->tls, &pending);
    t->state = pending ? TLS_CLOSING : TLS_CLOSED;
    t->end = (uint8_t)end;
}

static void drop_inner(struct tls_proto_conn *t)
{
    if (t->inner) {
        t->inner_p->release(t->inner);
        free(t->inner);
        t->inner = NULL;
    }
    free(t->plain);
    t->plain = NULL;
}

static void handshake_fails(struct tls_proto_conn *t)
{
    char why[160];
    tls_error_text(why, sizeof why);
    log_limited(&handshake_failed, "TLS handshake with %s failed: %s", t->peer, why);
    closing(t, SERVE_END_HANDSHAKE);
}

/* The inner protocol's object, made when the first plaintext is due. */
static int ensure_inner(struct tls_proto_conn *t, time_t now)
{
    if (t->inner)
        return 1;
    t->inner = malloc(t->inner_p->conn_size);
    if (!t->inner)
        return 0;
    t->inner_p->init(t->inner, t->inner_p, t->ctx, t->peer);
    if (t->draining)
        t->inner_p->drain(t->inner, now);
    return 1;
}

/* One record's worth of the inner output: its head, then its data or the
 * next piece of its file, in one record where they fit. */
static int encrypt_one(struct tls_proto_conn *t, time_t now)
{
    struct serve_output o;
    t->inner_p->output(t->inner, &o);
    if (o.head_len == 0 && o.data_len > 0) {
        size_t n = o.data_len < TLS_PLAIN_MAX ? o.data_len : TLS_PLAIN_MAX;
        if (tls_conn_write(&t->tls, o.data, n) != 0)
            return -1;
        t->inner_p->sent(t->inner, n, now);
        return 0;
    }
    if (!t->plain && !(t->plain = malloc(TLS_PLAIN_MAX)))
        return -1;
    size_t n = o.head_len < TLS_PLAIN_MAX ? o.head_len : TLS_PLAIN_MAX;
    memcpy(t->plain, o.head, n);
    size_t room = TLS_PLAIN_MAX - n;
    if (o.data_len) {
        size_t take = o.data_len < room ? o.data_len : room;
        memcpy(t->plain + n, o.data, take);
        n += take;
    } else if (o.file_len) { /* a head of 16 KiB leaves no room: then pread reads nothing */
        size_t want = o.file_len < room ? (size_t)o.file_len : room;
        ssize_t got = pread(o.file_fd, t->plain + n, want, (off_t)o.file_offset);
        if (got <= 0 && n == 0) {
            /* The file shrank (or failed) under its response. */
            t->inner_p->abort(t->inner);
            return 0;
        }
        if (got > 0)
            n += (size_t)got;
    }
    if (tls_conn_write(&t->tls, t->plain, n) != 0)
        return -1;
    t->inner_p->sent(t->inner, n, now);
    return 0;
}

/* Decrypted input for the inner protocol: 1 it took some, 0 nothing more
 * is there for now. */
static int decrypt_some(struct tls_proto_conn *t, time_t now)
{
    size_t room = 0;
    char *space = t->inner_p->read_space(t->inner, &room);
    if (!space) {
        closing(t, SERVE_END_DONE);
        return 0;
    }
    ssize_t n = tls_conn_read(&t->tls, space, room);
    if (n > 0) {
        t->inner_p->received(t->inner, (size_t)n, now);
        return 1;
    }
    if (n == TLS_READ_CLOSED) {
        t->inner_p->received(t->inner, 0, now);
        return 1;
    }
    if (n == TLS_READ_ERROR)
        closing(t, SERVE_END_REFUSED); /* a bad record: nothing more can be trusted */
    return 0;
}

/* The inner protocol has ended: our close_notify follows what it sent. */
static void inner_ends(struct tls_proto_conn *t)
{
    enum serve_end end = t->inner_p->end(t->inner);
    t->unread = (uint8_t)(t->inner_p->unread(t->inner) || tls_conn_has_input(&t->tls));
    drop_inner(t);
    tls_conn_shutdown(&t->tls);
    closing(t, end);
}

/* Between requests: no input waits, nothing is half done. */
static void maybe_rest(struct tls_proto_conn *t)
{
    if (t->inner && t->inner_p->want(t->inner) == SERVE_WANT_READ && t->inner_p->idle(t->inner) &&
        !tls_conn_has_input(&t->tls))
        drop_inner(t);
    if (!t->inner)
        tls_conn_trim(&t->tls);
}

/* Runs the connection as far as it goes without the network. */
static void pump(struct tls_proto_conn *t, time_t now)
{
    if (t->state == TLS_HANDSHAKE) {
        int r = tls_conn_handshake(&t->tls);
        if (r < 0) {
            handshake_fails(t);
            return;
        }
        if (r == 0)
            return;
        t->state = TLS_OPEN;
    }
    while (t->state == TLS_OPEN) {
        size_t pending;
        tls_conn_out(&t->tls, &pending);
        if (pending >= OUT_TARGET)
            return;
        if (!t->inner) {
            if (!tls_conn_has_input(&t->tls) && !t->tls.in_eof) {
                tls_conn_trim(&t->tls);
                return;
            }
            if (!ensure_inner(t, now)) {
                closing(t, SERVE_END_DONE);
                return;
            }
        }
        switch (t->inner_p->want(t->inner)) {
        case SERVE_WANT_READ:
            if (!decrypt_some(t, now)) {
                if (t->state == TLS_OPEN)
                    maybe_rest(t);
                return;
            }
            break;
        case SERVE_WANT_WRITE:
            if (encrypt_one(t, now) != 0) {
                closing(t, SERVE_END_DONE);
                return;
            }
            break;
        case SERVE_WANT_WAIT:
            return;
        case SERVE_WANT_CLOSE:
        default:
            inner_ends(t);
            return;
        }
    }
}

/* ---- the serve_proto members ------------------------------------------------ */

static void tls_init(void *conn, const struct serve_proto *self, struct serve_ctx *ctx, const char *peer)
{
    struct tls_proto_conn *t = conn;
    memset(t, 0, sizeof *t);
    t->inner_p = self->inner;
    t->server = self->layer;
    t->ctx = ctx;
    snprintf(t->peer, sizeof t->peer, "%s", peer);
    t->state = TLS_HANDSHAKE;
    SSL *ssl = tls_server_ssl(t->server);
    if (!ssl || tls_conn_init(&t->tls, ssl) != 0) { /* tls_conn_free frees ssl on release */
        t->state = TLS_CLOSED;
        t->end = SERVE_END_DONE;
    }
}

static enum serve_want tls_want(const void *conn)
{
    const struct tls_proto_conn *t = conn;
    size_t pending;
    if (t->state == TLS_PLAIN)
        return t->refusal_sent < sizeof plain_refusal - 1 ? SERVE_WANT_WRITE : SERVE_WANT_CLOSE;
    if (tls_conn_out(&t->tls, &pending) && pending)
        return SERVE_WANT_WRITE;
    if (t->state == TLS_CLOSING || t->state == TLS_CLOSED)
        return SERVE_WANT_CLOSE;
    if (t->state == TLS_OPEN && t->inner && t->inner_p->want(t->inner) == SERVE_WANT_WAIT)
        return SERVE_WANT_WAIT;
    return SERVE_WANT_READ;
}

static char *tls_read_space(void *conn, size_t *room)
{
    struct tls_proto_conn *t = conn;
    return tls_conn_in_space(&t->tls, room);
}

/* The first byte tells TLS from plain text sent to the wrong port. */
static int looks_like_tls(struct tls_proto_conn *t)
{
    return (unsigned char)t->tls.in[t->tls.in_start] == RECORD_HANDSHAKE;
}

static void tls_received(void *conn, size_t n, time_t now)
{
    struct tls_proto_conn *t = conn;
    tls_conn_in_added(&t->tls, n);
    if (n > 0 && !t->got_bytes) {
        t->got_bytes = 1;
        if (!looks_like_tls(t)) {
            t->unread = 1;
            if (t->inner_p->uses_files) { /* an HTTP server: say so in HTTP */
                t->state = TLS_PLAIN;
                t->end = SERVE_END_REFUSED;
            } else {
                closing(t, SERVE_END_REFUSED);
            }
            return;
        }
    }
    if (n == 0 && t->state == TLS_HANDSHAKE && !t->got_bytes) {
        closing(t, SERVE_END_PEER); /* connected and left without a word: not a failed handshake */
        return;
    }
    if (t->state != TLS_PLAIN)
        pump(t, now);
}

static void tls_output(const void *conn, struct serve_output *out)
{
    const struct tls_proto_conn *t = conn;
    *out = (struct serve_output){.file_fd = -1};
    if (t->state == TLS_PLAIN) {
        out->data = plain_refusal + t->refusal_sent;
        out->data_len = sizeof plain_refusal - 1 - t->refusal_sent;
        return;
    }
    out->data = tls_conn_out(&t->tls, &out->data_len);
}

static void tls_sent(void *conn, size_t n, time_t now)
{
    struct tls_proto_conn *t = conn;
    if (t->state == TLS_PLAIN) {
        t->refusal_sent += n;
        return;
    }
    tls_conn_out_sent(&t->tls, n);
    size_t pending;
    tls_conn_out(&t->tls, &pending);
    if (t->state == TLS_CLOSING && !pending)
        t->state = TLS_CLOSED;
    pump(t, now);
}

static void tls_abort(void *conn)
{
    struct tls_proto_conn *t = conn;
    if (t->inner)
        t->inner_p->abort(t->inner);
    closing(t, SERVE_END_DONE);
}

static void tls_drain(void *conn, time_t now)
{
    struct tls_proto_conn *t = conn;
    t->draining = 1;
    if (t->inner) {
        t->inner_p->drain(t->inner, now);
        pump(t, now);
    } else if (t->state == TLS_OPEN && !tls_conn_has_input(&t->tls)) {
        tls_conn_shutdown(&t->tls);
        closing(t, SERVE_END_DONE);
    } else if (t->state == TLS_HANDSHAKE) {
        closing(t, SERVE_END_DONE);
    }
}

static int tls_idle(const void *conn)
{
    const struct tls_proto_conn *t = conn;
    size_t pending;
    tls_conn_out(&t->tls, &pending);
    return t->state == TLS_OPEN && !t->inner && !pending && !tls_conn_has_input(&t->tls);
}

static enum serve_end tls_end(const void *conn)
{
    return (enum serve_end)((const struct tls_proto_conn *)conn)->end;
}

static int tls_unread(const void *conn)
{
    return ((const struct tls_proto_conn *)conn)->unread;
}

static void tls_release(void *conn)
{
    struct tls_proto_conn *t = conn;
    drop_inner(t);
    tls_conn_free(&t->tls);
}

static int tls_wait_fd(const void *conn)
{
    const struct tls_proto_conn *t = conn;
    return t->inner ? t->inner_p->wait_fd(t->inner) : -1;
}

static void tls_resume(void *conn, time_t now)
{
    struct tls_proto_conn *t = conn;
    if (t->inner)
        t->inner_p->resume(t->inner, now);
    pump(t, now);
}

static void tls_rebind(void *conn, struct serve_ctx *ctx)
{
    struct tls_proto_conn *t = conn;
    t->ctx = ctx;
    if (t->inner)
        t->inner_p->rebind(t->inner, ctx);
}

/* Idle between requests: the buffer a read that found nothing took goes back. */
static void tls_trim(void *conn)
{
    struct tls_proto_conn *t = conn;
    if (!t->inner)
        tls_conn_trim(&t->tls);
}

static const struct serve_proto tls_layer = {
    .name = "tls",
    .conn_size = sizeof(struct tls_proto_conn),
    .keeps_state = 1,
    .refusal = NULL, /* a 503 in plain text would be garbage to a TLS client: just close */
    .init = tls_init,
    .want = tls_want,
    .read_space = tls_read_space,
    .received = tls_received,
    .output = tls_output,
    .sent = tls_sent,
    .abort = tls_abort,
    .drain = tls_drain,
    .idle = tls_idle,
    .end = tls_end,
    .unread = tls_unread,
    .release = tls_release,
    .wait_fd = tls_wait_fd,
    .resume = tls_resume,
    .rebind = tls_rebind,
    .trim = tls_trim,
};

void serve_proto_tls_make(struct serve_proto *out, const struct serve_proto *inner, struct tls_server *server)
{
    *out = tls_layer;
    out->uses_files = inner->uses_files;
    out->inner = inner;
    out->layer = server;
}

size_t serve_proto_tls_idle_bytes(void)
{
    return sizeof(struct tls_proto_conn);
}
