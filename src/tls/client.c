#include "tls/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

/* ALPN protocol list (RFC 7301 §3.1): length-prefixed names. */
static const unsigned char alpn_http11[] = "\x08http/1.1";

char *tls_client_error_text(const char *fallback, char *err, size_t errlen)
{
    unsigned long e, last = 0;
    while ((e = ERR_get_error()) != 0)
        last = e;
    if (last && ERR_reason_error_string(last))
        snprintf(err, errlen, "%s", ERR_reason_error_string(last));
    else
        snprintf(err, errlen, "%s", fallback);
    return err;
}

/* The new-session callback: a TLS 1.3 ticket arrives after the handshake,
 * so it is caught here rather than read with SSL_get1_session at the end. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
    SSL_SESSION **slot = SSL_get_app_data(ssl);
    if (!slot || !SSL_SESSION_is_resumable(sess))
        return 0;
    if (*slot)
        SSL_SESSION_free(*slot);
    *slot = sess;
    return 1; /* the reference is ours now */
}

SSL_CTX *tls_client_ctx(const struct tls_client_opts *opts, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        tls_client_error_text("SSL_CTX_new failed", err, errlen);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* A peer that closes without close_notify ends the stream as a TCP close
     * would: the HTTP framing (Content-Length, chunked) is what says whether
     * a body is whole, as curl and wget do. */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* SSL_CTX_set_alpn_protos returns 0 on success, unlike its neighbours. */
    if (opts->alpn_http11 && SSL_CTX_set_alpn_protos(ctx, alpn_http11, sizeof alpn_http11 - 1) != 0) {
        tls_client_error_text("SSL_CTX_set_alpn_protos failed", err, errlen);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (opts->resume) {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(ctx, on_new_session);
    } else {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    }
    if (opts->insecure) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        return ctx;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (SSL_CTX_set_default_verify_paths(ctx) != 1)
        ERR_clear_error(); /* no system store is not fatal: --cacert may be all there is */
    if (opts->cacert && SSL_CTX_load_verify_locations(ctx, opts->cacert, NULL) != 1) {
        char why[200];
        FILE *f = fopen(opts->cacert, "r");
        if (f) {
            fclose(f);
            tls_client_error_text("no PEM certificate in it", why, sizeof why);
        } else {
            ERR_clear_error();
            snprintf(why, sizeof why, "%s", strerror(errno));
        }
        snprintf(err, errlen, "--cacert %s: %s", opts->cacert, why);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static int is_ip_literal(const char *host)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

SSL *tls_client_new(SSL_CTX *ctx, int fd, const char *host)
{
    SSL *ssl = SSL_new(ctx);
    if (!ssl)
        return NULL;
    int ip = is_ip_literal(host);
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
    int ok = SSL_set_fd(ssl, fd) == 1;
    if (ok && !ip)
        ok = SSL_set_tlsext_host_name(ssl, host) == 1;
    if (ok && SSL_CTX_get_verify_mode(ctx) != SSL_VERIFY_NONE)
        ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host) == 1 : SSL_set1_host(ssl, host) == 1;
    if (!ok) {
        SSL_free(ssl);
        return NULL;
    }
    SSL_set_connect_state(ssl);
    return ssl;
}

/* A copy is offered, not the kept session itself: OpenSSL's TLS 1.3 client
 * marks the session it resumed as spent, and a server that gives no new
 * ticket on a resumed connection would then see every other reconnection
 * make a full handshake. The server decides whether a ticket may serve
 * again; CPython's ssl module copies for the same reason. */
void tls_client_keep_sessions(SSL *ssl, SSL_SESSION **slot)
{
    SSL_set_app_data(ssl, slot);
    SSL_SESSION *copy = *slot ? SSL_SESSION_dup(*slot) : NULL;
    if (copy) {
        SSL_set_session(ssl, copy);
        SSL_SESSION_free(copy); /* the SSL holds its own reference */
    }
}

enum tls_failure tls_client_failure(SSL *ssl, int rc, char *err, size_t errlen)
{
    long verify = SSL_get_verify_result(ssl);
    int kind = SSL_get_error(ssl, rc);
    if (verify != X509_V_OK) {
        ERR_clear_error();
        snprintf(err, errlen, "certificate verification failed: %s", X509_verify_cert_error_string(verify));
        return TLS_FAIL_VERIFY;
    }
    if (kind == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
        snprintf(err, errlen, "the connection closed during the TLS handshake");
        return TLS_FAIL_HANDSHAKE;
    }
    char why[200];
    snprintf(err, errlen, "TLS handshake failed: %s", tls_client_error_text("unknown error", why, sizeof why));
    return TLS_FAIL_HANDSHAKE;
}

char *tls_client_describe(SSL *ssl, char *out, size_t outlen)
{
    const unsigned char *alpn = NULL;
    unsigned alpn_len = 0;
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
    snprintf(out, outlen, "%s %s, ALPN %.*s%s", SSL_get_version(ssl), SSL_get_cipher_name(ssl),
             alpn_len ? (int)alpn_len : 4, alpn_len ? (const char *)alpn : "none",
             SSL_session_reused(ssl) ? ", resumed" : "");
    return out;
}

/* The failure of an SSL_read or SSL_write as errno. */
static ssize_t io_failed(SSL *ssl, int rc, const char *what, const char *command)
{
    char err[200];
    switch (SSL_get_error(ssl, rc)) {
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        errno = EAGAIN; /* a blocking socket only says so when its timeout expired */
        return -1;
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() == 0) {
            if (errno == 0)
                errno = ECONNRESET;
            return -1;
        }
        break; /* OpenSSL queued a reason */
    default:
        break;
    }
    fprintf(stderr, "%s: TLS %s: %s\n", command, what, tls_client_error_text("protocol error", err, sizeof err));
    errno = EPROTO;
    return -1;
}

ssize_t tls_client_recv(SSL *ssl, void *buf, size_t n, const char *command)
{
    ERR_clear_error();
    errno = 0;
    int rc = SSL_read(ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
    return rc > 0 ? rc : io_failed(ssl, rc, "read", command);
}

ssize_t tls_client_send(SSL *ssl, const void *buf, size_t n, const char *command)
{
    ERR_clear_error();
    errno = 0;
    int rc = SSL_write(ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
    return rc > 0 ? rc : io_failed(ssl, rc, "write", command);
}
