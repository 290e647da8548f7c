/* The response builder: turns a request (or a refusal) into a response plan,
 * the bytes and file ranges a connection sends to answer it.
 *
 * conn.c decides when to answer and drives the sending; this module decides
 * what the answer is: the status, the head (Date, validators, Content-Range,
 * Connection, ...), and where the body comes from (the head buffer, a
 * handler's memory, or a file range). A plan may be a sequence of outputs
 * (multipart/byteranges), advanced with http_reply_sent.
 *
 *   r->keep_alive = ...; r->http10 = ...; r->head_only = ...;
 *   http_reply_resource(r, rc, req, target, now);   (or _error, _options)
 *   do n = send some of what r->out describes;
 *   while (!http_reply_sent(r, rc, n));
 *   http_reply_release(r, rc);
 *
 * Like the rest of src/http/, it does no I/O, reads no clock and keeps no
 * global state: what it shares across one worker's answers is in
 * struct http_reply_ctx, which the caller owns. */
#ifndef DUCT_HTTP_REPLY_H
#define DUCT_HTTP_REPLY_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "http/accept.h"
#include "http/date.h"
#include "http/parse.h"
#include "http/range.h"
#include "http/site.h"

/* What the static-file handler found for a normalised path. */
struct http_resource {
    int status;               /* 200; 301 = a directory asked for without its '/'; or 403, 404, ...;
                                 0 while HTTP_RES_PENDING */
    int fd;                   /* body from this file when >= 0 (while pending: the descriptor to wait
                                 on); given back through release */
    const void *data;         /* else body from memory, which outlives the response */
    uint64_t size;            /* body length */
    time_t mtime;             /* Last-Modified */
    uint64_t etag_id;         /* the file's identity (inode); the ETag itself is mtime-size, so replicas agree */
    const char *content_type; /* lives as long as the handler */
    const char *encoding;     /* Content-Encoding of a precompressed sibling or a variant compressed on
                                 the fly ("zstd", "br", "gzip"), else NULL */
    unsigned flags;           /* HTTP_RES_* */
    void *handle;             /* the handler's own, for release */
};

enum {
    HTTP_RES_VARY = 1,      /* the file has a precompressed sibling: every answer says Vary: Accept-Encoding */
    HTTP_RES_GENERATED = 2, /* made by the handler (a listing): no validators, no ranges */
    HTTP_RES_PENDING = 4,   /* not ready yet: fd becomes readable when it is, then the handler's
                               resume fills the rest (a listing being built elsewhere) */
    HTTP_RES_SHARED = 8,    /* the body is data, which the handler shares between responses (a
                               variant compressed on the fly) and holds through handle; fd, when
                               >= 0, is the file it was made from, kept for a cache to check that
                               it did not change, never sent */
};

struct http_handler {
    /* Fills res for the decoded, normalised path (starts with '/', NUL-terminated);
     * accept holds the HTTP_ACCEPT_* codings the client takes. */
    void (*resolve)(void *ctx, const char *path, size_t path_len, unsigned accept, struct http_resource *res);
    /* Gives back what resolve acquired (closes res->fd). */
    void (*release)(void *ctx, struct http_resource *res);
    /* Completes a resource that resolve left HTTP_RES_PENDING, once its fd is
     * readable: fills res as resolve would have, without blocking (or leaves
     * it pending after a stale wake-up). NULL for a handler that never leaves
     * one pending. */
    void (*resume)(void *ctx, struct http_resource *res);
    void *ctx;
};

/* What to send now: first head[0..head_len), then either data[0..data_len) or
 * file_len bytes of file_fd from file_offset. Sent bytes are reported with
 * http_conn_sent (which calls http_reply_sent), which advances these fields.
 * A response may be a sequence of outputs (multipart/byteranges: each part's
 * header, then its file range), so when one is done the driver asks
 * http_conn_want and http_conn_output again. */
struct http_output {
    const char *head;
    size_t head_len;
    const char *data;
    size_t data_len;
    int file_fd;
    uint64_t file_offset;
    uint64_t file_len;
};

/* Room for the largest head duct builds: a redirect's Location (512 bytes at
 * most) or a preflight's echoed headers, plus the site's added header lines
 * (HTTP_SITE_FIELDS_MAX). */
#define HTTP_HEAD_BUF 2048
#define HTTP_LOCATION_MAX 512

/* Per-worker state shared by the answers of that worker's connections (not
 * thread-safe). */
struct http_reply_ctx {
    struct http_handler handler;
    long max_age; /* Cache-Control: max-age of file answers; < 0: none */
    struct http_date_cache date;
    struct http_date_cache last_modified; /* the last Last-Modified formatted: a hot file's */
    struct http_range ranges[HTTP_RANGE_MAX]; /* scratch: the ranges of the part being planned */
    uint64_t boundaries;                      /* multipart answers so far, to vary the boundary */
    /* --header, --cors, --fallback, --try-html, --error-page, --vhosts; NULL
     * when none is on, and then nothing below is touched. */
    const struct http_site *site;
    /* Scratch while an answer is planned with a site: "/host" under --vhosts
     * (else empty), and the handler's path built from it. */
    char site_prefix[HTTP_SITE_HOST_MAX + 2];
    size_t site_prefix_len;
    char site_path[HTTP_SITE_HOST_MAX + 2 + PATH_MAX + 8]; /* + ".html" */
};

/* One answer being planned or sent. Everything in it belongs to the exchange
 * in flight: an idle connection needs none of it. */
struct http_reply {
    /* Set by the caller before an answer is planned. */
    int keep_alive; /* the connection survives this answer; else it says Connection: close */
    int http10;     /* the request was HTTP/1.0: a kept connection says so (RFC 9112 §9.3) */
    int head_only;  /* the request was HEAD: the head without its body */
    struct http_span host; /* the request's host (Host, or an absolute-form target's), for --vhosts;
                              empty when unknown */
    /* The plan. */
    struct http_resource res; /* what the handler resolved, until the answer is sent */
    struct http_output out;   /* what to send now */
    int status;               /* of this answer, for the log */
    size_t head_only_len;     /* head bytes of this answer; the rest is body */
    uint64_t bytes_sent;      /* of this answer, head included */
    /* A multipart/byteranges answer sends part after part: the Range value
     * (a span into the request's buffer, which must stay put until the answer
     * is sent) is parsed again for each, so no list of ranges is kept. */
    struct http_span range_spec;
    uint64_t boundary;
    int part;  /* the next part to send */
    int parts; /* 0 when the answer is not multipart or its closing delimiter is planned */
    char head[HTTP_HEAD_BUF];
};

/* "mtime-size" in hex, quoted, with "-coding" for a precompressed sibling. */
#define HTTP_REPLY_ETAG_MAX 64

void http_reply_ctx_init(struct http_reply_ctx *rc, struct http_handler handler);

/* An empty reply: no resource, nothing to send, the flags 0. */
void http_reply_init(struct http_reply *r);

/* Plans an error answer: status, a short HTML body (none for HEAD), and Allow
 * for 405. */
void http_reply_error(struct http_reply *r, struct http_reply_ctx *rc, int status, time_t now);

/* The same with extra field lines (each ending in CRLF), such as a 401's
 * WWW-Authenticate. */
void http_reply_error_fields(struct http_reply *r, struct http_reply_ctx *rc, int status, const char *fields,
                             size_t len, time_t now);

/* Plans the answer to OPTIONS: 204 with Allow. */
void http_reply_options(struct http_reply *r, struct http_reply_ctx *rc, time_t now);

/* With --cors, plans the answer to a CORS preflight (an OPTIONS with Origin
 * and Access-Control-Request-Method): 204 with the Access-Control-Allow-*
 * fields. Returns 0, planning nothing, for any other request. */
int http_reply_preflight(struct http_reply *r, struct http_reply_ctx *rc, const struct http_request *req, time_t now);

/* Plans the answer to a GET or HEAD of target (origin-form, query included):
 * normalises its path, resolves it through rc->handler and answers with the
 * resource, a redirect or an error, after req's preconditions and Range.
 * req's spans must stay valid until the answer is sent.
 *
 * When the handler leaves the resource pending, nothing is planned and
 * http_reply_pending says so: the caller waits until http_reply_wait_fd is
 * readable, then calls http_reply_resource again with the same request, which
 * completes the resource (rc->handler.resume) instead of resolving it anew. */
void http_reply_resource(struct http_reply *r, struct http_reply_ctx *rc, const struct http_request *req,
                         struct http_span target, time_t now);

/* The resource is not ready yet (HTTP_RES_PENDING): nothing is planned. */
int http_reply_pending(const struct http_reply *r);

/* While pending: the descriptor that becomes readable when the resource is ready. */
int http_reply_wait_fd(const struct http_reply *r);

/* Puts an interim "100 Continue" in front of the planned answer, when the
 * head buffer has room for it. */
void http_reply_continue(struct http_reply *r);

/* n bytes of r->out were sent (head first, then body); plans the next part of
 * a multipart answer when one is done. Returns 1 when the whole answer is sent. */
int http_reply_sent(struct http_reply *r, struct http_reply_ctx *rc, size_t n);

/* Body bytes sent so far, for the log. */
uint64_t http_reply_body_bytes(const struct http_reply *r);

/* Gives back the resource (through rc->handler) and clears the output. */
void http_reply_release(struct http_reply *r, struct http_reply_ctx *rc);

/* Writes res's strong ETag (RFC 9110 §8.8.3) into out; returns its length. */
size_t http_reply_etag(const struct http_resource *res, char out[HTTP_REPLY_ETAG_MAX]);

#endif
