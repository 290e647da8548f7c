/* duct cat: bytes between stdin/stdout and a socket, in the manner of netcat
 * and socat, over TCP, UDP, Unix stream and Unix datagram sockets; or an echo
 * server (RFC 862) that runs any concurrency model of duct serve. */
#ifndef DUCT_CAT_CAT_H
#define DUCT_CAT_CAT_H

#include <poll.h>
#include <signal.h>

#include "net/addr.h"

struct ssl_st;     /* OpenSSL's SSL and SSL_CTX: only tls.c and stream.c see them */
struct ssl_ctx_st;

/* Exit statuses, shared in meaning with duct get and curl. */
enum {
    CAT_OK = 0,
    CAT_FAILED = 1,     /* an I/O error, or the peer reset the connection */
    CAT_USAGE = 2,
    CAT_RESOLVE = 6,    /* the host name did not resolve */
    CAT_CONNECT = 7,    /* connect, bind or listen failed; nobody answers */
    CAT_TIMEOUT = 28,   /* --timeout expired */
    CAT_TLS = 35,       /* the TLS handshake failed (curl's number) */
    CAT_TLS_CERT = 60,  /* the peer's certificate did not verify (curl's number) */
};

struct cat_config {
    struct net_addr addr;
    int socktype;    /* SOCK_STREAM or SOCK_DGRAM */
    const char *text; /* the address as given, for messages */
    int listen;
    int keep_open;
    int echo;
    int no_shutdown;
    int timeout_ms;  /* -1: none */
    int verbose;
    int tls;              /* tls://: TLS over the TCP stream */
    char tls_host[256];   /* tls:// client: the name (SNI) or address the certificate must carry */
    const char *cacert;   /* --cacert FILE: CAs trusted besides the system store */
    int insecure;         /* --insecure: no certificate verification */
    const char *tls_cert; /* --listen tls://: the certificate chain (PEM) */
    const char *tls_key;  /* and its private key */
};

/* Set by SIGINT and SIGTERM in the modes that run until stopped: their waits
 * return EINTR and they end cleanly (exit 0, socket file removed). */
extern volatile sig_atomic_t cat_stop_requested;

/* poll that lets the stop signals in only while it waits: -1 with EINTR once
 * one came. Every wait of the stream and datagram modes goes through it. */
int cat_poll(struct pollfd *fds, nfds_t n, int timeout_ms);

/* Installs the stop handlers and blocks the stop signals outside cat_poll. */
void cat_catch_stop_signals(void);

/* tls://: the context for cfg (a client's, or with --listen a server's
 * with --tls-cert and --tls-key). NULL having said why on stderr. */
struct ssl_ctx_st *cat_tls_context(const struct cat_config *cfg);

/* The handshake on the connected socket fd (non-blocking), each wait
 * bounded by --timeout. Returns CAT_OK with *ssl set, or CAT_TLS,
 * CAT_TLS_CERT or CAT_TIMEOUT having said why. */
int cat_tls_handshake(struct ssl_ctx_st *ctx, const struct cat_config *cfg, int fd, struct ssl_st **ssl);

/* close_notify: the TLS way to say that no more bytes come (a half-close). */
void cat_tls_shutdown(struct ssl_st *ssl);

/* Stream sockets (tcp://, unix:, tls://): connect, or listen for one client at a time. */
int cat_stream_run(const struct cat_config *cfg);

/* Datagram sockets (udp://, unixgram:): connect, listen, or echo. */
int cat_dgram_run(const struct cat_config *cfg);

/* cat_main's own: `duct cat ...`. */
int cat_main(int argc, char **argv);

#endif
