/* A TLS server's contexts, free of sockets: certificates and keys (several,
 * chosen by SNI), TLS 1.2 and 1.3 only with forward-secret AEAD suites,
 * ALPN, session tickets whose keys rotate in memory, and a reload of the
 * certificate files that leaves connections already open on the contexts
 * they began with. Each connection gets an SSL object (tls_server_ssl) that
 * tls/conn.h drives through memory, never through a descriptor.
 *
 * Thread-safe: workers take SSL objects while another thread reloads. */
#ifndef DUCT_TLS_SERVER_H
#define DUCT_TLS_SERVER_H

#include <stddef.h>
#include <stdint.h>

typedef struct ssl_st SSL;

#define TLS_MAX_CERTS 16

struct tls_server_config {
    const char *cert[TLS_MAX_CERTS]; /* PEM: the certificate, then its chain */
    const char *key[TLS_MAX_CERTS];  /* PEM private key of cert[i] */
    int count;                       /* pairs; the first is the default for SNI */
    int self_signed;                 /* no files: a fresh key and certificate for localhost */
    const char *alpn;                /* the one protocol offered ("http/1.1"), or NULL */
    int ticket_rotate_s;             /* seconds between ticket keys (0: 3600) */
};

struct tls_server;

/* NULL with a message in err on failure (a file unreadable, a key that does
 * not match its certificate). cfg is copied; its strings must outlive it. */
struct tls_server *tls_server_new(const struct tls_server_config *cfg, char *err, size_t cap);

void tls_server_free(struct tls_server *ts);

/* Reads the certificate files again and serves new connections with them.
 * On failure (err filled) the contexts in use stay. 0 or -1. */
int tls_server_reload(struct tls_server *ts, char *err, size_t cap);

/* A new server-side SSL object for one connection, or NULL (out of memory). */
SSL *tls_server_ssl(struct tls_server *ts);

/* "AB:CD:..." SHA-256 of the default certificate: 95 characters and a NUL. */
#define TLS_FINGERPRINT_MAX 96
void tls_server_fingerprint(struct tls_server *ts, char *out);

/* The calling thread is about to end: OpenSSL's state for it (error queue,
 * random generators) goes now, not in a destructor that may still run when
 * the process exits. */
void tls_thread_done(void);

/* The first TLS error queued on this thread, as text (and the queue cleared). */
void tls_error_text(char *out, size_t cap);

#endif
