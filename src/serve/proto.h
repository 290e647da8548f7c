/* The connection protocol a driver runs: the http_conn API made generic, so
 * that every concurrency model serves HTTP (`duct serve`) or echo
 * (`duct cat --listen --echo`) without knowing which.
 *
 * A driver allocates conn_size bytes per connection (aligned for any type),
 * then drives the object exactly as conn.h shows for http_conn: want, then
 * read_space + received or output + sent, until want says close, then
 * release. Each step is one indirect call; no member allocates per call. */
#ifndef DUCT_SERVE_PROTO_H
#define DUCT_SERVE_PROTO_H

#include <stddef.h>
#include <time.h>

#include "http/conn.h"

struct serve_ctx;

/* The output shape and the wants are those of the HTTP core: a protocol that
 * sends only memory fills head or data and leaves file_len at 0. */
struct serve_proto {
    const char *name;        /* "http", "echo": for the start-up line */
    size_t conn_size;        /* bytes of one connection object */
    int uses_files;          /* needs the per-worker file cache and HTTP context */
    const char *refusal;     /* sent to a client no one can serve (an HTTP 503), or NULL: just close */
    void (*init)(void *conn, struct serve_ctx *ctx, const char *peer); /* a new connection */
    enum http_want (*want)(const void *conn);                          /* read, write or close next */
    char *(*read_space)(void *conn, size_t *room);       /* where to read; NULL: no memory, close */
    void (*received)(void *conn, size_t n, time_t now);  /* n bytes read; 0 is end of input */
    const struct http_output *(*output)(const void *conn); /* what to send now */
    void (*sent)(void *conn, size_t n, time_t now);      /* n bytes of the output went out */
    void (*abort)(void *conn);                           /* a file body shrank: end the connection */
    void (*drain)(void *conn, time_t now);               /* stopping: finish what is buffered, then close */
    int (*idle)(const void *conn);                       /* nothing partial in or out (timeouts) */
    void (*release)(void *conn);                         /* give back what the connection holds */
};

/* The static-file HTTP/1.1 server: a thin adapter around http_conn. */
extern const struct serve_proto serve_proto_http;

/* RFC 862 echo: every byte received is sent back, through a bounded buffer
 * (a client that never reads stops being read); at the client's end of input
 * what is buffered is sent, then the connection closes. */
extern const struct serve_proto serve_proto_echo;

#endif
