/* Incremental decoder of the chunked transfer coding (RFC 9112 §7.1), for
 * request bodies at the server and response bodies at the clients.
 *
 * Zero-copy like the head parser: it walks the caller's bytes and points at
 * the chunk data inside them. Strict where laxness lets two parsers disagree
 * about where a message ends (request smuggling): every line must end in
 * CRLF, the chunk size is bare hex without sign, space or overflow, chunk
 * extensions follow their grammar (RFC 9112 §7.1.1) although their meaning is
 * ignored, and the size line and trailer section are bounded. */
#ifndef DUCT_HTTP_CHUNKED_H
#define DUCT_HTTP_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

#include "http/parse.h"

struct http_chunked {
    int state;
    int trailer_colon;   /* the trailer line reached its ':' */
    unsigned digits;     /* hex digits of the chunk size so far */
    uint64_t chunk_left; /* data bytes of the current chunk still to come */
    size_t line_len;     /* bytes of the current size line */
    size_t trailer_len;  /* bytes of the trailer section so far */
    size_t max_line;
    size_t max_trailers;
    uint64_t body_len; /* data bytes decoded so far */
};

/* max_line bounds a chunk-size line with its extensions, max_trailers the
 * whole trailer section. */
void http_chunked_init(struct http_chunked *d, size_t max_line, size_t max_trailers);

/* Consumes bytes of buf[0..len). Returns how many (0..len), or -1 when the
 * body is malformed or over a limit. When data->len > 0 on return, that span,
 * which lies inside the consumed bytes, is body data. At most one data span
 * is returned per call, so call again until all bytes are consumed or
 * http_chunked_done says the body ended (bytes after it are the next
 * message's). */
long http_chunked_decode(struct http_chunked *d, const char *buf, size_t len, struct http_span *data);

int http_chunked_done(const struct http_chunked *d);

#endif
