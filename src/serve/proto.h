/* The connection protocol a driver runs, in its own terms: every concurrency
 * model serves HTTP (`duct serve`) or echo (`duct cat --listen --echo`)
 * without knowing which, and no driver sees an HTTP type.
 *
 * A driver gets a protocol object (conn_size bytes, aligned for any type)
 * only while the connection has something in flight, then drives it: want,
 * then read_space + received, output + sent, or (wait) wait_fd + resume,
 * until want says close, then release. An object whose `idle` says it holds nothing may be released and
 * a fresh one initialised when the next byte arrives: that is how an idle
 * connection keeps no protocol memory. Each step is one indirect call; no
 * member allocates per call. */
#ifndef DUCT_SERVE_PROTO_H
#define DUCT_SERVE_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct serve_ctx;

enum serve_want {
    SERVE_WANT_READ,  /* waiting for bytes from the peer */
    SERVE_WANT_WRITE, /* something is ready to send */
    SERVE_WANT_CLOSE, /* done: the driver closes the socket and releases the object */
    SERVE_WANT_WAIT,  /* work done elsewhere (a listing being built): wait until wait_fd is
                         readable, neither reading nor writing the socket, then resume */
};

/* What to send now: head[0..head_len), then either data[0..data_len) or
 * file_len bytes of file_fd from file_offset. A protocol that sends only
 * memory leaves file_len at 0. */
struct serve_output {
    const char *head;
    size_t head_len;
    const char *data;
    size_t data_len;
    int file_fd;
    uint64_t file_offset;
    uint64_t file_len;
};

/* Why a protocol ended a connection (want returned SERVE_WANT_CLOSE). */
enum serve_end {
    SERVE_END_DONE,   /* the exchange is over and the protocol chose to close */
    SERVE_END_PEER,   /* the peer closed its side first */
    SERVE_END_REFUSED, /* the peer's input was refused (a 4xx), framing no longer trusted */
    SERVE_END_PROXY_HEADER, /* a listener that wants a PROXY header did not get a valid one */
};

struct serve_proto {
    const char *name;        /* "http", "echo": for the start-up line */
    size_t conn_size;        /* bytes of one connection object */
    int uses_files;          /* needs the per-worker file cache and HTTP context */
    const char *refusal;     /* sent to a client no one can serve (an HTTP 503), or NULL: just close */
    /* A new connection; self is the protocol being run (a layer finds its
     * inner protocol and shared state there). */
    void (*init)(void *conn, const struct serve_proto *self, struct serve_ctx *ctx, const char *peer);
    enum serve_want (*want)(const void *conn);                         /* read, write or close next */
    char *(*read_space)(void *conn, size_t *room);       /* where to read; NULL: no memory, close */
    void (*received)(void *conn, size_t n, time_t now);  /* n bytes read; 0 is end of input */
    void (*output)(const void *conn, struct serve_output *out); /* what to send now */
    void (*sent)(void *conn, size_t n, time_t now);      /* n bytes of the output went out */
    void (*abort)(void *conn);                           /* a file body shrank: end the connection */
    void (*drain)(void *conn, time_t now);               /* stopping: finish what is buffered, then close */
    int (*idle)(const void *conn);                       /* nothing partial in or out: may be released */
    enum serve_end (*end)(const void *conn);             /* after want said close: why */
    int (*unread)(const void *conn);                     /* input may be left unread (lingering close) */
    void (*release)(void *conn);                         /* give back what the connection holds */
    /* While want says wait: the descriptor to watch for readability. The
     * object owns it and closes it when it resumes or is released, so a
     * driver stops watching it first (epoll would otherwise keep watching
     * a descriptor closed under it). NULL for a protocol that never waits. */
    int (*wait_fd)(const void *conn);
    void (*resume)(void *conn, time_t now);              /* wait_fd is readable: go on */
    /* The object moves to another thread, which serves it from now on with
     * its own context (the pool model hands connections between threads). */
    void (*rebind)(void *conn, struct serve_ctx *ctx);
    /* A layer (TLS in front of HTTP) is a protocol built at start-up for the
     * listeners that ask for it: the protocol it carries, and its own state
     * shared by all its connections (certificates). NULL in a protocol that
     * is not a layer. */
    const struct serve_proto *inner;
    void *layer;
    /* Its objects hold what a connection cannot lose between requests (the
     * client address of a PROXY header, a TLS session): a driver never
     * releases one while the connection lives, even when idle says so. */
    int keeps_state;
};

/* Whether a driver may release a connection's object now and attach a fresh
 * one when its next bytes come: an idle connection of a protocol that can
 * start again from nothing. */
static inline int serve_proto_releasable(const struct serve_proto *p, const void *conn)
{
    return !p->keeps_state && p->want(conn) == SERVE_WANT_READ && p->idle(conn);
}

/* The static-file HTTP/1.1 server: a thin adapter around http_conn. */
extern const struct serve_proto serve_proto_http;

/* RFC 862 echo: every byte received is sent back, through a bounded buffer
 * (a client that never reads stops being read); at the client's end of input
 * what is buffered is sent, then the connection closes. */
extern const struct serve_proto serve_proto_echo;

#endif
