#include "get/tls.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "tls/client.h"

int get_tls_context(SSL_CTX **ctx, const struct get_config *cfg)
{
    struct tls_client_opts opts = {.cacert = cfg->cacert, .insecure = cfg->insecure, .alpn_http11 = 1};
    char err[300];
    if (*ctx)
        return GET_OK;
    *ctx = tls_client_ctx(&opts, err, sizeof err);
    if (!*ctx) {
        fprintf(stderr, "duct get: %s\n", err);
        return cfg->cacert && strstr(err, "--cacert") ? GET_CACERT : GET_TLS_HANDSHAKE;
    }
    /* OpenSSL writes with write(2), without MSG_NOSIGNAL: a peer gone must
     * be an EPIPE to report, not a signal that kills us. */
    signal(SIGPIPE, SIG_IGN);
    return GET_OK;
}

static int handshake_failed(SSL *ssl, int rc, const struct get_config *cfg, const char *host)
{
    char err[400];
    int kind = SSL_get_error(ssl, rc);
    if ((kind == SSL_ERROR_WANT_READ || kind == SSL_ERROR_WANT_WRITE) && SSL_get_verify_result(ssl) == X509_V_OK) {
        ERR_clear_error();
        fprintf(stderr, "duct get: TLS handshake with %s: no answer for %d ms (--timeout)\n", host, cfg->timeout_ms);
        return GET_TIMEOUT;
    }
    if (tls_client_failure(ssl, rc, err, sizeof err) == TLS_FAIL_VERIFY) {
        fprintf(stderr, "duct get: %s: %s (--cacert FILE trusts another CA, -k skips the check)\n", host, err);
        return GET_TLS_CERT;
    }
    fprintf(stderr, "duct get: %s: %s\n", host, err);
    return GET_TLS_HANDSHAKE;
}

int get_tls_start(SSL_CTX **ctx, const struct get_config *cfg, int fd, const char *host, SSL **ssl)
{
    int status;
    *ssl = tls_client_new(*ctx, fd, host);
    if (!*ssl) {
        char err[200];
        fprintf(stderr, "duct get: TLS for %s: %s\n", host, tls_client_error_text("cannot set up", err, sizeof err));
        return GET_TLS_HANDSHAKE;
    }
    ERR_clear_error();
    int rc = SSL_connect(*ssl);
    if (rc == 1) {
        if (cfg->verbose) {
            char text[200];
            fprintf(stderr, "* TLS: %s, certificate %s\n", tls_client_describe(*ssl, text, sizeof text),
                    cfg->insecure ? "not verified (-k)" : "verified");
        }
        return GET_OK;
    }
    status = handshake_failed(*ssl, rc, cfg, host);
    SSL_free(*ssl);
    *ssl = NULL;
    return status;
}

void get_tls_end(SSL *ssl, int clean)
{
    if (!ssl)
        return;
    if (clean)
        SSL_shutdown(ssl);
    SSL_free(ssl);
}
