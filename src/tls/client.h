/* The TLS client side shared by duct get, duct bench and duct cat: one
 * OpenSSL context per run (the system CA store, plus --cacert, or no
 * verification at all with --insecure; TLS 1.2 and 1.3 only) and one SSL
 * object per connection that sends SNI, offers ALPN when asked and checks
 * the certificate against the host name or IP address it connected to.
 *
 * Nothing here reads or writes a socket by itself except through the SSL
 * object the caller drives: the blocking client (get), the epoll client
 * (bench) and the poll relay (cat) each handle WANT_READ / WANT_WRITE in
 * their own loop. */
#ifndef DUCT_TLS_CLIENT_H
#define DUCT_TLS_CLIENT_H

#include <stddef.h>

#include <openssl/ssl.h>
#include <sys/types.h>

struct tls_client_opts {
    const char *cacert;   /* a PEM file of CAs trusted besides the system store; NULL: none */
    int insecure;         /* skip certificate verification (-k) */
    int alpn_http11;      /* offer ALPN "http/1.1" */
    int resume;           /* keep sessions (tickets) for tls_client_new's caller to offer again */
};

/* Where a handshake failed, for curl's exit statuses (35 and 60). */
enum tls_failure {
    TLS_FAIL_HANDSHAKE, /* the peer does not speak TLS, or no version or cipher in common */
    TLS_FAIL_VERIFY,    /* the certificate chain or the name did not verify */
};

/* A context for the options. Returns NULL with a one-line reason in err
 * (an unreadable --cacert among them). */
SSL_CTX *tls_client_ctx(const struct tls_client_opts *opts, char *err, size_t errlen);

/* An SSL object on the connected socket fd, in client mode, for host (a
 * name, or an IPv4/IPv6 literal without brackets): SNI is sent for a name
 * only (RFC 6066 §3 forbids literals), and verification, unless the context
 * is insecure, checks the name or the address. NULL on failure. */
SSL *tls_client_new(SSL_CTX *ctx, int fd, const char *host);

/* After a failed handshake step (rc from SSL_connect/SSL_do_handshake):
 * which failure it is, with a one-line reason in err. Clears the thread's
 * OpenSSL error queue. */
enum tls_failure tls_client_failure(SSL *ssl, int rc, char *err, size_t errlen);

/* With opts->resume: offers a copy of *slot (when not NULL) on ssl and
 * stores in *slot every resumable session (ticket) the server gives on it,
 * freeing the one it replaces; a slot whose ticket is not replaced offers it
 * again next time. The caller frees the last with SSL_SESSION_free. slot must
 * outlive ssl. */
void tls_client_keep_sessions(SSL *ssl, SSL_SESSION **slot);

/* "TLSv1.3 TLS_AES_256_GCM_SHA384, ALPN http/1.1, resumed" for -v lines. */
char *tls_client_describe(SSL *ssl, char *out, size_t outlen);

/* The error queue's last reason ("certificate verify failed", ...) into
 * err, or fallback when it is empty; clears the queue. */
char *tls_client_error_text(const char *fallback, char *err, size_t errlen);

/* SSL_read and SSL_write with the answers of recv and send: bytes, 0 at the
 * peer's close_notify, or -1 with errno (EAGAIN when the socket would block
 * or its timeout expired, ECONNRESET, EPROTO after a one-line reason on
 * stderr, prefixed with command: "duct get"). */
ssize_t tls_client_recv(SSL *ssl, void *buf, size_t n, const char *command);
ssize_t tls_client_send(SSL *ssl, const void *buf, size_t n, const char *command);

#endif
