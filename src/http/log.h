/* Access-log lines in the Combined Log Format, which GoAccess and AWStats read:
 *   127.0.0.1 - - [25/Nov/2026:12:00:00 +0000] "GET / HTTP/1.1" 200 1234 "referer" "agent"
 * Client-supplied fields are escaped so that no client can forge a line or a field. */
#ifndef DUCT_HTTP_LOG_H
#define DUCT_HTTP_LOG_H

#include <stddef.h>

#include "http/conn.h"

/* Room enough for any line http_log_combined writes. */
#define HTTP_LOG_LINE_MAX 8192

/* Every line is shorter than this, newline included: GoAccess reads lines in
 * a 4096-byte buffer and would split a longer one into two bad lines. */
#define HTTP_LOG_READER_MAX 4096

/* Writes one line, newline included, into out (at least HTTP_LOG_LINE_MAX
 * bytes). A quoted field longer than fits is cut, never the line's shape.
 * Returns the line's length. */
size_t http_log_combined(char *out, const struct http_log_entry *entry);

/* The same line after "host:port " (Apache's vhost_combined, GoAccess's
 * VCOMBINED): the host as --vhosts chose its folder (lower-cased, validated;
 * "-" when missing or not a host name), the port from the Host field or "-". */
size_t http_log_vhost_combined(char *out, const struct http_log_entry *entry);
/* A longer host is cut in the line (a label is 63 bytes at most; whole
 * names this long are rare). */
#define HTTP_LOG_VHOST_MAX 64

/* Escapes src into out like nginx's escape=default: '"' and '\' get a
 * backslash; bytes below 0x20, 0x7F and above become \xHH. Writes at most cap
 * bytes and never splits an escape. Returns the length written. */
size_t http_log_escape(const char *src, size_t len, char *out, size_t cap);

#endif
