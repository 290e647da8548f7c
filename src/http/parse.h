/* Incremental, zero-copy HTTP/1.x request-head parser (RFC 9112 §2-§5).
 *
 * Stateless in the manner of picohttpparser: the caller hands over everything
 * received so far and the parser either finds a complete head or says it needs
 * more. Every span points into the caller's buffer and stays valid until the
 * caller moves or overwrites those bytes. Nothing is allocated or copied. */
#ifndef DUCT_HTTP_PARSE_H
#define DUCT_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEADERS 64
/* The longest method read: the longest registered (UPDATEREDIRECTREF) is 17. */
#define HTTP_METHOD_MAX 32

struct http_span {
    const char *ptr;
    size_t len;
};

struct http_header {
    struct http_span name;  /* as sent; compare with http_span_ieq */
    struct http_span value; /* leading and trailing OWS removed */
};

struct http_request {
    struct http_span method;
    struct http_span target; /* request-target exactly as sent */
    int version_major;       /* HTTP/1.1 gives 1 and 1 */
    int version_minor;
    size_t header_count;
    struct http_header headers[HTTP_MAX_HEADERS];
    size_t head_len; /* bytes of the head including the final CRLF CRLF */
};

/* A response head, for the clients (duct get, duct bench). */
struct http_response {
    int version_minor; /* HTTP/1.x */
    int status;        /* 100..999 */
    struct http_span reason;
    size_t header_count;
    struct http_header headers[HTTP_MAX_HEADERS];
    size_t head_len;
};

enum {
    HTTP_PARSE_INCOMPLETE = -2, /* the head is not complete yet: read more */
    HTTP_PARSE_ERROR = -1,      /* malformed: *status holds the HTTP status to answer */
};

/* Parses the request head at buf[0..len). Returns the head length (> 0) when a
 * complete head was found, HTTP_PARSE_INCOMPLETE, or HTTP_PARSE_ERROR with
 * *status set to 400 (malformed), 414 (request line longer than max_head),
 * 431 (header section longer than max_head or more than HTTP_MAX_HEADERS
 * fields), 501 (a method token longer than HTTP_METHOD_MAX bytes: no method
 * this server knows) or 505 (HTTP major version other than 1). A method,
 * request line or head that is too long is reported as soon as that is
 * certain, even while incomplete. Empty lines before the request line are skipped
 * (RFC 9112 §2.2) and count in the returned length. */
int http_parse_request(const char *buf, size_t len, size_t max_head, struct http_request *req, int *status);

/* Parses the response head at buf[0..len) with the same field rules as
 * requests. Returns the head length (> 0), HTTP_PARSE_INCOMPLETE, or
 * HTTP_PARSE_ERROR (malformed, not HTTP/1.x, or longer than max_head). */
int http_parse_response(const char *buf, size_t len, size_t max_head, struct http_response *res);

/* Case-insensitive comparison of a span with a NUL-terminated lower-case literal. */
int http_span_ieq(struct http_span span, const char *lower);

/* The first header named `lower_name` (case-insensitive), or NULL. */
const struct http_header *http_find_header(const struct http_request *req, const char *lower_name);

/* The value of a hex digit, or -1. */
int http_hex_value(unsigned char c);

/* Content-Length = 1*DIGIT (RFC 9110 §8.6): 0, or -1 for signs, spaces,
 * other bytes, nothing, or more digits than a 64-bit count holds. */
int http_parse_length(struct http_span v, uint64_t *out);

/* tchar (RFC 9110 §5.6.2), and a byte allowed in a field value (HTAB, SP,
 * VCHAR, obs-text: RFC 9110 §5.5). */
int http_is_token_char(char c);
int http_is_field_char(char c);

/* Takes the next element of a comma-separated field value (RFC 9110 §5.6.1)
 * from *list into *item, without surrounding whitespace; empty elements are
 * skipped. Returns 0 when the list is exhausted. Quoted commas are not
 * special: callers parse lists of tokens and entity tags, which hold none. */
int http_list_next(struct http_span *list, struct http_span *item);

/* The first response header named `lower_name`, or NULL. */
const struct http_header *http_find_response_header(const struct http_response *res, const char *lower_name);

#endif
