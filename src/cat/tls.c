/* tls:// for duct cat: a client like `openssl s_client` (the system CA
 * store, --cacert, --insecure, SNI) and a one-client-at-a-time server like
 * `openssl s_server` or socat's OPENSSL-LISTEN (--tls-cert, --tls-key).
 * The relay in stream.c moves the bytes; this file makes the context, runs
 * the handshake with poll waits, and wraps SSL_read/SSL_write. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "cat/cat.h"
#include "tls/client.h"

static SSL_CTX *server_context(const struct cat_config *cfg)
{
    char err[200];
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        fprintf(stderr, "duct cat: SSL_CTX_new: %s\n", tls_client_error_text("failed", err, sizeof err));
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    const char *what = "--tls-cert";
    int ok = SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) == 1;
    if (ok) {
        what = "--tls-key";
        ok = SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) == 1 &&
             SSL_CTX_check_private_key(ctx) == 1;
    }
    if (!ok) {
        const char *file = what[6] == 'c' ? cfg->tls_cert : cfg->tls_key;
        fprintf(stderr, "duct cat: %s %s: %s\n", what, file, tls_client_error_text("cannot load", err, sizeof err));
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

SSL_CTX *cat_tls_context(const struct cat_config *cfg)
{
    SSL_CTX *ctx;
    if (cfg->listen) {
        ctx = server_context(cfg);
    } else {
        struct tls_client_opts opts = {.cacert = cfg->cacert, .insecure = cfg->insecure};
        char err[300];
        ctx = tls_client_ctx(&opts, err, sizeof err);
        if (!ctx)
            fprintf(stderr, "duct cat: %s\n", err);
    }
    /* OpenSSL writes with write(2), without MSG_NOSIGNAL: a peer gone must
     * be an EPIPE to report, not a signal that kills us. */
    if (ctx)
        signal(SIGPIPE, SIG_IGN);
    return ctx;
}

static int handshake_failed(SSL *ssl, int rc, const struct cat_config *cfg)
{
    char err[400];
    enum tls_failure f = tls_client_failure(ssl, rc, err, sizeof err);
    fprintf(stderr, "duct cat: %s%s: %s%s\n", cfg->listen ? "a client of " : "", cfg->text, err,
            f == TLS_FAIL_VERIFY ? " (--cacert FILE trusts another CA, --insecure skips the check)" : "");
    return f == TLS_FAIL_VERIFY ? CAT_TLS_CERT : CAT_TLS;
}

int cat_tls_handshake(SSL_CTX *ctx, const struct cat_config *cfg, int fd, SSL **out)
{
    SSL *ssl = cfg->listen ? SSL_new(ctx) : tls_client_new(ctx, fd, cfg->tls_host);
    if (!ssl || (cfg->listen && SSL_set_fd(ssl, fd) != 1)) {
        fprintf(stderr, "duct cat: TLS: cannot set up the connection\n");
        SSL_free(ssl);
        return CAT_TLS;
    }
    if (cfg->listen)
        SSL_set_accept_state(ssl);
    for (;;) {
        ERR_clear_error();
        int rc = SSL_do_handshake(ssl), kind = SSL_get_error(ssl, rc);
        if (rc == 1)
            break;
        if (kind != SSL_ERROR_WANT_READ && kind != SSL_ERROR_WANT_WRITE) {
            int status = handshake_failed(ssl, rc, cfg);
            SSL_free(ssl);
            return status;
        }
        struct pollfd p = {.fd = fd, .events = kind == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT};
        int n;
        do
            n = cat_poll(&p, 1, cfg->timeout_ms);
        while (n < 0 && errno == EINTR && !cat_stop_requested);
        if (n <= 0) {
            if (n == 0)
                fprintf(stderr, "duct cat: TLS handshake with %s: nothing for %d ms (--timeout)\n", cfg->text,
                        cfg->timeout_ms);
            SSL_free(ssl);
            return n == 0 ? CAT_TIMEOUT : CAT_TLS;
        }
    }
    if (cfg->verbose) {
        char text[200];
        fprintf(stderr, "duct cat: TLS: %s\n", tls_client_describe(ssl, text, sizeof text));
    }
    *out = ssl;
    return CAT_OK;
}

void cat_tls_shutdown(SSL *ssl)
{
    ERR_clear_error();
    SSL_shutdown(ssl);
    ERR_clear_error();
}
