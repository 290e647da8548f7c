/* duct cat: bytes between stdin/stdout and a socket, in the manner of netcat
 * and socat, over TCP, UDP, Unix stream and Unix datagram sockets; or an echo
 * server (RFC 862) that runs any concurrency model of duct serve. */
#ifndef DUCT_CAT_CAT_H
#define DUCT_CAT_CAT_H

#include <poll.h>
#include <signal.h>

#include "net/addr.h"

/* Exit statuses, shared in meaning with duct get and curl. */
enum {
    CAT_OK = 0,
    CAT_FAILED = 1,     /* an I/O error, or the peer reset the connection */
    CAT_USAGE = 2,
    CAT_RESOLVE = 6,    /* the host name did not resolve */
    CAT_CONNECT = 7,    /* connect, bind or listen failed; nobody answers */
    CAT_TIMEOUT = 28,   /* --timeout expired */
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
};

/* Set by SIGINT and SIGTERM in the modes that run until stopped: their waits
 * return EINTR and they end cleanly (exit 0, socket file removed). */
extern volatile sig_atomic_t cat_stop_requested;

/* poll that lets the stop signals in only while it waits: -1 with EINTR once
 * one came. Every wait of the stream and datagram modes goes through it. */
int cat_poll(struct pollfd *fds, nfds_t n, int timeout_ms);

/* Installs the stop handlers and blocks the stop signals outside cat_poll. */
void cat_catch_stop_signals(void);

/* Stream sockets (tcp://, unix:): connect, or listen for one client at a time. */
int cat_stream_run(const struct cat_config *cfg);

/* Datagram sockets (udp://, unixgram:): connect, listen, or echo. */
int cat_dgram_run(const struct cat_config *cfg);

/* cat_main's own: `duct cat ...`. */
int cat_main(int argc, char **argv);

#endif
