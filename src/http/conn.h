/* The per-connection HTTP/1.1 protocol state: bytes in, a response plan out.
 *
 * A connection never sees a descriptor. Its driver (a blocking loop, a
 * reactor, io_uring) asks where to read into, reports how many bytes arrived,
 * asks what to send (head bytes, then a memory body or a file range) and
 * reports how many were sent. Every concurrency model drives this one core, so
 * none of them parses HTTP or builds a response itself. This file is the
 * state machine; what an answer says is decided in reply.h.
 *
 *   for (;;) switch (http_conn_want(c)) {
 *   case HTTP_WANT_READ:  n = read(fd, http_conn_read_space(c, &room), room);
 *                         http_conn_received(c, n > 0 ? n : 0, now); break;
 *   case HTTP_WANT_WRITE: send what http_conn_output(c) describes;
 *                         http_conn_sent(c, n); break;
 *   case HTTP_WANT_WAIT:  wait until http_conn_wait_fd(c) is readable;
 *                         http_conn_resume(c, now); break;
 *   case HTTP_WANT_CLOSE: close(fd); http_conn_release(c); return;
 *   }
 */
#ifndef DUCT_HTTP_CONN_H
#define DUCT_HTTP_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "http/chunked.h"
#include "http/parse.h"
#include "http/reply.h"

/* One finished exchange, for the access log. Spans are valid only during the call. */
struct http_log_entry {
    const char *peer; /* "127.0.0.1" */
    const char *user; /* the authenticated user (combined's %u), or NULL */
    struct http_span request_line; /* empty when no request line could be parsed */
    int status;
    uint64_t body_bytes; /* body bytes actually sent */
    struct http_span referer;
    struct http_span user_agent;
    struct http_span host; /* the Host field as sent, when http_ctx.log_host */
    time_t now;
};

/* Fixed-size read buffers shared by the connections of one worker, so that
 * an idle keep-alive connection holds no buffer and no request allocates. */
struct http_buf_pool {
    size_t buf_size;
    void *free_list;
};

/* Authentication, asked before any request is answered. The hook is the
 * caller's (serve/auth.c): it may take a lock and run one password hash. */
struct http_auth {
    /* 1 when req may be answered, with user[0..cap) the user's name for the
     * log; 0 to answer 401. NULL: no authentication. */
    int (*check)(void *ctx, const struct http_request *req, char *user, size_t cap);
    void *ctx;
    const char *challenge; /* whole field lines a 401 carries: "WWW-Authenticate: ...\r\n" */
};

#define HTTP_USER_MAX 64

/* Per-worker context shared by that worker's connections (not thread-safe). */
struct http_ctx {
    size_t max_head;   /* request line and header section limit (414 / 431) */
    uint64_t max_body; /* Content-Length beyond this is 413 */
    void (*on_log)(void *log_ctx, const struct http_log_entry *entry); /* NULL: no log */
    void *log_ctx;
    int log_host; /* the log wants the Host field (--vhosts) */
    /* NULL, or a flag another process or thread may set at any time: while it
     * is set every answer closes its connection (a server handing over to its
     * successor lets each keep-alive client go after its next response). */
    const volatile int *close_all;
    struct http_buf_pool pool;
    int gather; /* answers to pipelined requests leave together (see gather in conn.c) */
    struct http_request req;     /* scratch: the request whose response is being built */
    struct http_reply_ctx reply; /* the handler, max_age and the builder's scratch */
    struct http_auth auth;       /* check NULL: none */
};

enum http_want {
    HTTP_WANT_READ,  /* waiting for request bytes */
    HTTP_WANT_WRITE, /* a response is ready to send */
    HTTP_WANT_CLOSE, /* done: the driver closes the socket and calls http_conn_release */
    HTTP_WANT_WAIT,  /* the answer waits for its resource: http_conn_wait_fd turns readable */
};

/* States of a connection, in the order one exchange visits them. */
enum http_conn_state {
    HTTP_CONN_HEAD,  /* reading a request head (possibly already buffered) */
    HTTP_CONN_WAIT,  /* the head is parsed but its resource is not ready (a listing being
                        built): nothing is read or sent; the head stays in the buffer and is
                        parsed again on resuming */
    HTTP_CONN_SEND,  /* sending the response: head, then body */
    HTTP_CONN_BODY,  /* discarding the rest of a request body (Content-Length or chunked) */
    HTTP_CONN_CLOSE, /* finished; nothing more will be read or sent */
};

struct http_conn {
    /* What every connection holds, idle or not. */
    enum http_conn_state state;
    struct http_ctx *ctx;
    char *buf;        /* from ctx->pool while bytes are buffered, else NULL */
    size_t buf_start; /* unparsed bytes are buf[buf_start..buf_end) */
    size_t buf_end;
    uint64_t body_left; /* request body bytes still to discard */
    int body_chunked;   /* the body to discard is chunked: `chunked` finds its end */
    struct http_chunked chunked;
    int peer_eof;       /* the client shut down its sending side */
    int draining;       /* server stopping: answer what is buffered, then close */
    int refused;        /* input was refused (a 4xx that ends the connection, a bad chunked body) */
    time_t now;         /* the latest time a driver reported, for a log line written on release */
    char peer[48];
    /* Answers to pipelined requests, copied here to leave in one send (see
     * gather in conn.c): from ctx->pool while some are unsent, else NULL.
     * While it holds bytes they are the output, before anything else. */
    char *batch;
    struct http_output batch_out; /* the unsent rest of batch */
    /* What only an exchange in flight needs, from a parsed (or refused)
     * request head to the last byte of its answer. The spans point into buf,
     * which stays put while the answer is sent. */
    int have_req;               /* a request was parsed: referer and user_agent are valid */
    struct http_span log_line;  /* the request line as received, for the log */
    struct http_span referer;   /* for the log */
    struct http_span user_agent; /* for the log */
    struct http_span host;       /* for the log, when http_ctx.log_host */
    char user[HTTP_USER_MAX];   /* the authenticated user, for the log; "" when none */
    struct http_reply reply;    /* the answer: its plan, head buffer and resource */
};

void http_ctx_init(struct http_ctx *ctx, size_t max_head, uint64_t max_body, struct http_handler handler);
/* Frees the pooled buffers. Call when every connection is released. */
void http_ctx_destroy(struct http_ctx *ctx);

/* Frees the pooled buffers now; the context stays usable. */
void http_ctx_trim(struct http_ctx *ctx);

void http_conn_init(struct http_conn *c, struct http_ctx *ctx, const char *peer);
/* Gives back the buffer and any open resource. */
void http_conn_release(struct http_conn *c);

enum http_want http_conn_want(const struct http_conn *c);

/* Where the next read goes and how much room it has, or NULL when no buffer
 * is available (out of memory: the driver closes the connection). */
char *http_conn_read_space(struct http_conn *c, size_t *room);

/* n bytes were read into the read space; n == 0 means end of input. Runs the
 * state machine as far as the buffered bytes allow. */
void http_conn_received(struct http_conn *c, size_t n, time_t now);

const struct http_output *http_conn_output(const struct http_conn *c);

/* n bytes of the output were sent (head first, then body). */
void http_conn_sent(struct http_conn *c, size_t n, time_t now);

/* While http_conn_want says wait: the descriptor that becomes readable when
 * the answer can go on. The connection owns it: a driver that watches it
 * stops watching before the connection is released. */
int http_conn_wait_fd(const struct http_conn *c);

/* The wait descriptor is readable: the answer is planned, and the connection
 * wants to write (or, rarely, to wait again). */
void http_conn_resume(struct http_conn *c, time_t now);

/* The file ended before file_len bytes were sent (it shrank): the response
 * cannot be completed, so the connection must end. */
void http_conn_abort(struct http_conn *c);

/* The server is stopping: finish the current response and any request already
 * buffered, then close instead of waiting for more. */
void http_conn_drain(struct http_conn *c, time_t now);

/* True when the connection holds no partial request and no response. */
int http_conn_idle(const struct http_conn *c);

enum http_end {
    HTTP_END_DONE,    /* the last response said Connection: close (or HTTP/1.0), or a stop */
    HTTP_END_PEER,    /* the client closed its sending side */
    HTTP_END_REFUSED, /* a request or body was refused: where the next one starts is unknown */
};

/* Once http_conn_want says close: why the connection ends. */
enum http_end http_conn_ending(const struct http_conn *c);

/* Once http_conn_want says close: the client may have sent bytes that were
 * never read (a pipelined request, a refused body), which a close would
 * answer with a reset that can destroy the response still in flight. */
int http_conn_unread(const struct http_conn *c);

#endif
