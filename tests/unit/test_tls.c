/* The TLS layer without a socket: a server and a client tls_conn (src/tls/)
 * handing ciphertext to each other in memory, then the serve_proto TLS layer
 * (src/serve/proto_tls.c) in front of echo, driven by hand as a driver would,
 * against an in-memory client. */
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve/proto_tls.h"
#include "tls/conn.h"
#include "tls/server.h"
#include "test.h"

static struct tls_server *server;

static SSL *client_ssl(void)
{
    static SSL_CTX *ctx;
    if (!ctx) {
        ctx = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    SSL *ssl = SSL_new(ctx);
    SSL_set_connect_state(ssl);
    SSL_set_tlsext_host_name(ssl, "localhost");
    return ssl;
}

/* Moves what `from` has to send into `to`; returns the bytes moved. */
static size_t carry(struct tls_conn *from, struct tls_conn *to)
{
    size_t moved = 0, len, room;
    const char *out;
    while ((out = tls_conn_out(from, &len)) != NULL) {
        char *space = tls_conn_in_space(to, &room);
        size_t n = len < room ? len : room;
        if (!space || n == 0)
            break;
        memcpy(space, out, n);
        tls_conn_in_added(to, n);
        tls_conn_out_sent(from, n);
        moved += n;
    }
    return moved;
}

static int handshake_pair(struct tls_conn *s, struct tls_conn *c)
{
    for (int round = 0; round < 10; round++) {
        int rc = tls_conn_handshake(c);
        carry(c, s);
        int rs = tls_conn_handshake(s);
        carry(s, c);
        if (rc < 0 || rs < 0)
            return -1;
        if (rc == 1 && rs == 1)
            return 0;
    }
    return -1;
}

static void test_memory_pair(void)
{
    struct tls_conn s, c;
    char buf[70000];
    CHECK_EQ_INT(tls_conn_init(&s, tls_server_ssl(server)), 0);
    CHECK_EQ_INT(tls_conn_init(&c, client_ssl()), 0);
    CHECK_EQ_INT(handshake_pair(&s, &c), 0);
    /* A message both ways. */
    CHECK_EQ_INT(tls_conn_write(&c, "hello", 5), 0);
    carry(&c, &s);
    CHECK_EQ_INT(tls_conn_read(&s, buf, sizeof buf), 5);
    CHECK_EQ_MEM(buf, 5, "hello", 5);
    CHECK_EQ_INT(tls_conn_read(&s, buf, sizeof buf), TLS_READ_AGAIN);
    /* 64 KiB in one write: several records, every byte in order. */
    static char big[65536];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)(i * 7);
    CHECK_EQ_INT(tls_conn_write(&s, big, sizeof big), 0);
    size_t got = 0;
    while (got < sizeof big) {
        carry(&s, &c);
        ssize_t n = tls_conn_read(&c, buf + got, sizeof buf - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    CHECK_EQ_INT(got, sizeof big);
    CHECK(memcmp(buf, big, sizeof big) == 0);
    /* Nothing pending: the buffers can go, and come back when needed. */
    CHECK(!tls_conn_has_input(&s));
    tls_conn_trim(&s);
    CHECK(s.in == NULL && s.out == NULL);
    /* close_notify reads as a close. */
    tls_conn_shutdown(&c);
    carry(&c, &s);
    CHECK_EQ_INT(tls_conn_read(&s, buf, sizeof buf), TLS_READ_CLOSED);
    tls_conn_free(&s);
    tls_conn_free(&c);
}

static void test_bad_input(void)
{
    struct tls_conn s;
    size_t room;
    char buf[64];
    /* Garbage that looks like a handshake record: failed, not waiting. */
    CHECK_EQ_INT(tls_conn_init(&s, tls_server_ssl(server)), 0);
    char *space = tls_conn_in_space(&s, &room);
    memcpy(space, "\x16\x03\x01\x00\x10garbagegarbage!!", 21);
    tls_conn_in_added(&s, 21);
    CHECK_EQ_INT(tls_conn_handshake(&s), -1);
    tls_error_text(buf, sizeof buf);
    tls_conn_free(&s);
    /* A truncated ClientHello, then the end of input: failed. */
    struct tls_conn c;
    CHECK_EQ_INT(tls_conn_init(&s, tls_server_ssl(server)), 0);
    CHECK_EQ_INT(tls_conn_init(&c, client_ssl()), 0);
    CHECK_EQ_INT(tls_conn_handshake(&c), 0);
    const char *hello = tls_conn_out(&c, &room);
    CHECK(hello && room > 40);
    space = tls_conn_in_space(&s, &room);
    memcpy(space, hello, 40);
    tls_conn_in_added(&s, 40);
    CHECK_EQ_INT(tls_conn_handshake(&s), 0); /* waits for the rest */
    tls_conn_in_added(&s, 0);
    CHECK_EQ_INT(tls_conn_handshake(&s), -1);
    tls_conn_free(&s);
    tls_conn_free(&c);
}

/* A connection to ts, resuming sess if given: 1 when it resumed. *out gets
 * the session it ends with (its ticket read). */
static int resumes(struct tls_server *ts, SSL_SESSION *sess, SSL_SESSION **out)
{
    struct tls_conn s, c;
    char buf[64];
    tls_conn_init(&s, tls_server_ssl(ts));
    SSL *ssl = client_ssl();
    if (sess)
        SSL_set_session(ssl, sess);
    tls_conn_init(&c, ssl);
    CHECK_EQ_INT(handshake_pair(&s, &c), 0);
    tls_conn_read(&c, buf, sizeof buf); /* takes the ticket */
    int reused = SSL_session_reused(c.ssl);
    if (out)
        *out = SSL_get1_session(c.ssl);
    tls_conn_shutdown(&c); /* a session freed without it is no longer resumable */
    tls_conn_free(&s);
    tls_conn_free(&c);
    return reused;
}

/* A little more than a rotation period; less than a ticket's life (two). */
static void next_period(void)
{
    struct timespec t = {1, 100 * 1000 * 1000};
    nanosleep(&t, NULL);
}

/* Ticket keys rotate (here every second): a ticket sealed with the key
 * before is still taken, one sealed two keys ago is not. */
static void test_ticket_rotation(void)
{
    char err[256];
    struct tls_server_config cfg = {.self_signed = 1, .ticket_rotate_s = 1};
    struct tls_server *ts = tls_server_new(&cfg, err, sizeof err);
    SSL_SESSION *first = NULL, *later = NULL;
    CHECK(ts != NULL);
    if (!ts)
        return;
    CHECK_EQ_INT(resumes(ts, NULL, &first), 0);
    CHECK_EQ_INT(resumes(ts, first, NULL), 1);
    next_period();
    CHECK_EQ_INT(resumes(ts, NULL, &later), 0); /* sealing its ticket rotates the key */
    CHECK_EQ_INT(resumes(ts, first, NULL), 1);  /* the previous key still opens */
    next_period();
    CHECK_EQ_INT(resumes(ts, NULL, NULL), 0);   /* rotates again */
    CHECK_EQ_INT(resumes(ts, first, NULL), 0);  /* two keys ago: a full handshake */
    CHECK_EQ_INT(resumes(ts, later, NULL), 1);
    SSL_SESSION_free(first);
    SSL_SESSION_free(later);
    tls_server_free(ts);
}

/* ---- the serve_proto layer over echo ---- */

static struct serve_proto layer;

/* Runs the layer's output into the client until it has nothing to send. */
static void layer_to_client(void *conn, struct tls_conn *c)
{
    struct serve_output out;
    size_t room;
    while (layer.want(conn) == SERVE_WANT_WRITE) {
        layer.output(conn, &out);
        CHECK(out.head_len == 0 && out.file_len == 0);
        char *space = tls_conn_in_space(c, &room);
        size_t n = out.data_len < room ? out.data_len : room;
        memcpy(space, out.data, n);
        tls_conn_in_added(c, n);
        layer.sent(conn, n, 0);
    }
}

static void client_to_layer(struct tls_conn *c, void *conn)
{
    size_t len, room;
    const char *out;
    while ((out = tls_conn_out(c, &len)) != NULL) {
        char *space = layer.read_space(conn, &room);
        size_t n = len < room ? len : room;
        memcpy(space, out, n);
        layer.received(conn, n, 0);
        tls_conn_out_sent(c, n);
    }
}

static void test_layer_over_echo(void)
{
    void *conn = malloc(layer.conn_size);
    struct tls_conn c;
    char buf[256];
    layer.init(conn, &layer, NULL, "peer");
    CHECK_EQ_INT(layer.want(conn), SERVE_WANT_READ);
    CHECK(!layer.idle(conn)); /* handshaking: under the header timeout */
    CHECK_EQ_INT(tls_conn_init(&c, client_ssl()), 0);
    for (int round = 0; round < 5 && tls_conn_handshake(&c) != 1; round++) {
        client_to_layer(&c, conn);
        layer_to_client(conn, &c);
    }
    CHECK_EQ_INT(tls_conn_handshake(&c), 1);
    client_to_layer(&c, conn); /* the client's Finished */
    layer_to_client(conn, &c); /* the session ticket */
    CHECK_EQ_INT(tls_conn_read(&c, buf, sizeof buf), TLS_READ_AGAIN);
    CHECK(layer.idle(conn)); /* between exchanges: idle, yet kept */
    CHECK(layer.keeps_state);
    /* Echo through the layer: plaintext in, the same plaintext out. */
    CHECK_EQ_INT(tls_conn_write(&c, "ping", 4), 0);
    client_to_layer(&c, conn);
    CHECK_EQ_INT(layer.want(conn), SERVE_WANT_WRITE);
    layer_to_client(conn, &c);
    CHECK_EQ_INT(tls_conn_read(&c, buf, sizeof buf), 4);
    CHECK_EQ_MEM(buf, 4, "ping", 4);
    CHECK(layer.idle(conn));
    /* The client closes: echo ends, our close_notify goes out, then close. */
    tls_conn_shutdown(&c);
    client_to_layer(&c, conn);
    layer_to_client(conn, &c);
    CHECK_EQ_INT(layer.want(conn), SERVE_WANT_CLOSE);
    CHECK_EQ_INT(tls_conn_read(&c, buf, sizeof buf), TLS_READ_CLOSED);
    layer.release(conn);
    tls_conn_free(&c);

    /* Plain text on a TLS port (echo inside: no HTTP 400, just a close). */
    layer.init(conn, &layer, NULL, "peer");
    size_t room;
    char *space = layer.read_space(conn, &room);
    memcpy(space, "GET / HTTP/1.1\r\n", 16);
    layer.received(conn, 16, 0);
    CHECK_EQ_INT(layer.want(conn), SERVE_WANT_CLOSE);
    CHECK_EQ_INT(layer.end(conn), SERVE_END_REFUSED);
    layer.release(conn);

    /* Garbage in a handshake record: a failed handshake. */
    layer.init(conn, &layer, NULL, "peer");
    space = layer.read_space(conn, &room);
    memcpy(space, "\x16\x03\x01\x00\x08garbage!", 13);
    layer.received(conn, 13, 0);
    struct serve_output alert;
    while (layer.want(conn) == SERVE_WANT_WRITE) { /* the alert */
        layer.output(conn, &alert);
        layer.sent(conn, alert.data_len, 0);
    }
    CHECK_EQ_INT(layer.want(conn), SERVE_WANT_CLOSE);
    CHECK_EQ_INT(layer.end(conn), SERVE_END_HANDSHAKE);
    layer.release(conn);

    /* Connected and gone without a byte: the peer closed, nothing failed. */
    layer.init(conn, &layer, NULL, "peer");
    layer.read_space(conn, &room);
    layer.received(conn, 0, 0);
    CHECK_EQ_INT(layer.want(conn), SERVE_WANT_CLOSE);
    CHECK_EQ_INT(layer.end(conn), SERVE_END_PEER);
    layer.release(conn);
    free(conn);
}

int main(void)
{
    char err[256];
    struct tls_server_config cfg = {.self_signed = 1, .alpn = "http/1.1"};
    server = tls_server_new(&cfg, err, sizeof err);
    CHECK(server != NULL);
    if (!server)
        return test_report();
    char fp[TLS_FINGERPRINT_MAX];
    tls_server_fingerprint(server, fp);
    CHECK_EQ_INT(strlen(fp), 95);
    CHECK_EQ_INT(tls_server_reload(server, err, sizeof err), 0); /* nothing on disk: a no-op */
    test_memory_pair();
    test_bad_input();
    test_ticket_rotation();
    serve_proto_tls_make(&layer, &serve_proto_echo, server);
    test_layer_over_echo();
    tls_server_free(server);
    return test_report();
}
