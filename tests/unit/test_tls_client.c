/* The client side of src/tls/client.c against an OpenSSL server in the same
 * process, over a socketpair: certificates made here (a CA and a server
 * certificate it signs for localhost and 127.0.0.1), both handshakes driven
 * in turn without blocking. Checks verification (CA, name, address), the
 * failure kinds behind exit statuses 35 and 60, SNI, ALPN and resumption. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "test.h"
#include "tls/client.h"

static EVP_PKEY *ca_key, *server_key;
static X509 *ca_cert, *server_cert;
static char ca_path[] = "/tmp/duct-test-ca-XXXXXX";
static char sni_seen[256];

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    CHECK(ext != NULL && X509_add_ext(x, ext, -1) == 1);
    X509_EXTENSION_free(ext);
}

/* A certificate for key, signed by signer (itself when issuer is NULL). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, const char *san, X509 *issuer, EVP_PKEY *signer)
{
    static long serial = 1;
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(issuer ? issuer : x));
    add_ext(x, issuer ? issuer : x, NID_basic_constraints, issuer ? "CA:FALSE" : "critical,CA:TRUE");
    if (!issuer)
        add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
    if (san)
        add_ext(x, issuer, NID_subject_alt_name, san);
    CHECK(X509_sign(x, signer, EVP_sha256()) > 0);
    return x;
}

static void make_certs(void)
{
    ca_key = EVP_EC_gen("P-256");
    server_key = EVP_EC_gen("P-256");
    CHECK(ca_key != NULL && server_key != NULL);
    ca_cert = make_cert(ca_key, "duct unit CA", NULL, NULL, ca_key);
    server_cert = make_cert(server_key, "localhost", "DNS:localhost,IP:127.0.0.1", ca_cert, ca_key);
    int fd = mkstemp(ca_path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    CHECK(f != NULL && PEM_write_X509(f, ca_cert) == 1);
    if (f)
        fclose(f);
}

static int on_servername(SSL *ssl, int *alert, void *arg)
{
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    (void)alert;
    (void)arg;
    snprintf(sni_seen, sizeof sni_seen, "%s", name ? name : "");
    return SSL_TLSEXT_ERR_OK;
}

static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                   unsigned inlen, void *arg)
{
    static const unsigned char mine[] = "\x08http/1.1";
    (void)ssl;
    (void)arg;
    return SSL_select_next_proto((unsigned char **)out, outlen, mine, sizeof mine - 1, in, inlen) ==
                   OPENSSL_NPN_NEGOTIATED
               ? SSL_TLSEXT_ERR_OK
               : SSL_TLSEXT_ERR_NOACK;
}

static SSL_CTX *server_ctx(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    CHECK(SSL_CTX_use_certificate(ctx, server_cert) == 1 && SSL_CTX_use_PrivateKey(ctx, server_key) == 1);
    SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
    SSL_CTX_set_alpn_select_cb(ctx, on_alpn, NULL);
    return ctx;
}

struct pair {
    int fd[2];
    SSL *client, *server;
    int client_rc; /* the client's last SSL_do_handshake result */
};

static void pair_open(struct pair *p, SSL_CTX *cctx, SSL_CTX *sctx, const char *host)
{
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p->fd) == 0);
    p->client = tls_client_new(cctx, p->fd[0], host);
    p->server = SSL_new(sctx);
    CHECK(p->client != NULL && p->server != NULL);
    SSL_set_fd(p->server, p->fd[1]);
    SSL_set_accept_state(p->server);
    sni_seen[0] = '\0';
}

/* Drives both ends in turn. 1 when the client finished its handshake, 0
 * when it failed (p->client_rc says how). */
static int pair_handshake(struct pair *p)
{
    int server_done = 0, server_failed = 0;
    for (int i = 0; i < 200; i++) {
        p->client_rc = SSL_do_handshake(p->client);
        int ce = SSL_get_error(p->client, p->client_rc);
        if (p->client_rc != 1 && ce != SSL_ERROR_WANT_READ && ce != SSL_ERROR_WANT_WRITE)
            return 0;
        if (!server_done && !server_failed) {
            int rc = SSL_do_handshake(p->server), se = SSL_get_error(p->server, rc);
            server_done = rc == 1;
            server_failed = rc != 1 && se != SSL_ERROR_WANT_READ && se != SSL_ERROR_WANT_WRITE;
            if (server_failed)
                ERR_clear_error();
        }
        if (p->client_rc == 1 && (server_done || server_failed))
            return 1;
    }
    return 0;
}

static void pair_close(struct pair *p)
{
    SSL_free(p->client);
    SSL_free(p->server);
    close(p->fd[0]);
    close(p->fd[1]);
    ERR_clear_error();
}

static SSL_CTX *client_ctx(const char *cacert, int insecure, int resume)
{
    struct tls_client_opts o = {.cacert = cacert, .insecure = insecure, .alpn_http11 = 1, .resume = resume};
    char err[300] = "";
    SSL_CTX *ctx = tls_client_ctx(&o, err, sizeof err);
    CHECK(ctx != NULL);
    if (!ctx)
        fprintf(stderr, "     %s\n", err);
    return ctx;
}

static void test_bad_cacert(void)
{
    struct tls_client_opts o = {.cacert = "/nonexistent/ca.pem"};
    char err[300] = "";
    CHECK(tls_client_ctx(&o, err, sizeof err) == NULL);
    CHECK(strstr(err, "/nonexistent/ca.pem") != NULL && strstr(err, "No such file") != NULL);
    SSL_CTX *ctx = client_ctx(NULL, 1, 0);
    CHECK_EQ_INT(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_NONE);
    SSL_CTX_free(ctx);
}

static void test_verified(SSL_CTX *sctx)
{
    SSL_CTX *ctx = client_ctx(ca_path, 0, 0);
    struct pair p;
    char text[200];
    pair_open(&p, ctx, sctx, "localhost");
    CHECK_EQ_INT(pair_handshake(&p), 1);
    CHECK_EQ_STR(sni_seen, "localhost");
    CHECK(strstr(tls_client_describe(p.client, text, sizeof text), "ALPN http/1.1") != NULL);
    CHECK_EQ_INT(SSL_get_verify_result(p.client), X509_V_OK);
    pair_close(&p);

    /* An address: checked against the IP entry, and no SNI (RFC 6066 §3). */
    pair_open(&p, ctx, sctx, "127.0.0.1");
    CHECK_EQ_INT(pair_handshake(&p), 1);
    CHECK_EQ_STR(sni_seen, "");
    pair_close(&p);
    SSL_CTX_free(ctx);
}

static void check_failure(SSL_CTX *ctx, SSL_CTX *sctx, const char *host, enum tls_failure want, const char *why)
{
    struct pair p;
    char err[300] = "";
    pair_open(&p, ctx, sctx, host);
    CHECK_EQ_INT(pair_handshake(&p), 0);
    CHECK_EQ_INT(tls_client_failure(p.client, p.client_rc, err, sizeof err), want);
    CHECK(strstr(err, why) != NULL);
    if (!strstr(err, why))
        fprintf(stderr, "     got \"%s\", want \"%s\"\n", err, why);
    CHECK_EQ_INT(ERR_peek_error(), 0); /* the queue is left clean */
    pair_close(&p);
}

static void test_failures(SSL_CTX *sctx)
{
    SSL_CTX *ctx = client_ctx(ca_path, 0, 0), *system = client_ctx(NULL, 0, 0), *insecure = client_ctx(NULL, 1, 0);
    check_failure(ctx, sctx, "other.example", TLS_FAIL_VERIFY, "hostname mismatch");
    check_failure(ctx, sctx, "127.0.0.2", TLS_FAIL_VERIFY, "IP address mismatch");
    check_failure(system, sctx, "localhost", TLS_FAIL_VERIFY, "certificate verification failed");

    struct pair p;
    pair_open(&p, insecure, sctx, "other.example");
    CHECK_EQ_INT(pair_handshake(&p), 1); /* --insecure: neither the CA nor the name is checked */
    pair_close(&p);

    /* A server that answers in plain HTTP: a handshake failure, not a certificate one. */
    static const char plain[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    int fd[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fd) == 0);
    CHECK(write(fd[1], plain, sizeof plain - 1) == (ssize_t)(sizeof plain - 1));
    SSL *ssl = tls_client_new(ctx, fd[0], "localhost");
    char err[300];
    int rc = SSL_do_handshake(ssl);
    CHECK_EQ_INT(tls_client_failure(ssl, rc, err, sizeof err), TLS_FAIL_HANDSHAKE);
    CHECK(strstr(err, "TLS handshake failed") != NULL);
    SSL_free(ssl);
    close(fd[0]);

    /* A close before any answer. */
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fd) == 0);
    close(fd[1]);
    ssl = tls_client_new(ctx, fd[0], "localhost");
    rc = SSL_do_handshake(ssl);
    CHECK_EQ_INT(tls_client_failure(ssl, rc, err, sizeof err), TLS_FAIL_HANDSHAKE);
    SSL_free(ssl);
    close(fd[0]);
    SSL_CTX_free(ctx);
    SSL_CTX_free(system);
    SSL_CTX_free(insecure);
}

/* A TLS 1.3 ticket comes after the handshake, with the server's first
 * write: read it, then offer it on a second connection. */
static void test_resumption(SSL_CTX *sctx)
{
    SSL_CTX *ctx = client_ctx(ca_path, 0, 1);
    SSL_SESSION *slot = NULL;
    struct pair p;
    char byte;
    pair_open(&p, ctx, sctx, "localhost");
    tls_client_keep_sessions(p.client, &slot);
    CHECK_EQ_INT(pair_handshake(&p), 1);
    CHECK_EQ_INT(SSL_session_reused(p.client), 0);
    CHECK_EQ_INT(SSL_write(p.server, "x", 1), 1);
    CHECK_EQ_INT(SSL_read(p.client, &byte, 1), 1);
    CHECK(slot != NULL);
    SSL_shutdown(p.client);
    pair_close(&p);

    /* A server that gives no new ticket on resumed connections: the kept
     * one serves each time (OpenSSL's client would mark it spent if it were
     * offered itself rather than a copy). */
    for (int i = 0; i < 3; i++) {
        pair_open(&p, ctx, sctx, "localhost");
        SSL_set_num_tickets(p.server, 0);
        tls_client_keep_sessions(p.client, &slot);
        CHECK_EQ_INT(pair_handshake(&p), 1);
        CHECK_EQ_INT(SSL_session_reused(p.client), 1);
        CHECK_EQ_INT(SSL_write(p.server, "x", 1), 1);
        CHECK_EQ_INT(SSL_read(p.client, &byte, 1), 1);
        SSL_shutdown(p.client);
        pair_close(&p);
    }
    SSL_SESSION_free(slot);
    SSL_CTX_free(ctx);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as every client does: a write to a closed peer is EPIPE */
    make_certs();
    SSL_CTX *sctx = server_ctx();
    test_bad_cacert();
    test_verified(sctx);
    test_failures(sctx);
    test_resumption(sctx);
    SSL_CTX_free(sctx);
    X509_free(ca_cert);
    X509_free(server_cert);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(server_key);
    unlink(ca_path);
    return test_report();
}
