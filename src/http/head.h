/* Building response heads into a caller's fixed buffer (RFC 9112 §4, §5). */
#ifndef DUCT_HTTP_HEAD_H
#define DUCT_HTTP_HEAD_H

#include <stddef.h>
#include <stdint.h>

struct http_head {
    char *buf;
    size_t cap;
    size_t len;
    int overflow; /* something did not fit: the head must not be sent */
};

/* Starts "HTTP/1.1 <status> <reason>\r\n" in buf. */
void http_head_start(struct http_head *h, char *buf, size_t cap, int status);

/* Appends "name: value\r\n". The value must already be safe to send (no CR,
 * LF or NUL): callers escape or encode anything a client supplied. */
void http_head_field(struct http_head *h, const char *name, const char *value, size_t value_len);
void http_head_field_str(struct http_head *h, const char *name, const char *value);
void http_head_field_u64(struct http_head *h, const char *name, uint64_t value);

/* Appends raw bytes (a field built piecewise, or a small body after the head). */
void http_head_append(struct http_head *h, const char *bytes, size_t len);

/* Ends the head with the empty line. Returns its length, or 0 on overflow. */
size_t http_head_finish(struct http_head *h);

/* Writes value in decimal into out (at least 21 bytes); returns the length. */
size_t http_u64_to_dec(uint64_t value, char *out);

#endif
