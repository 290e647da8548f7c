/* Turning a request-target into a safe path below the document root. */
#ifndef DUCT_HTTP_PATH_H
#define DUCT_HTTP_PATH_H

#include <stddef.h>

/* Decodes the path part of an origin-form request-target (everything before
 * '?' or '#') and normalises it into out, which receives a NUL-terminated path
 * that starts with '/' and never contains a "." or ".." segment, an empty
 * segment ("//"), a NUL byte or a backslash. A trailing '/' is kept, since it
 * distinguishes a directory URL.
 *
 * Returns the length of out (> 0), or -400 when the target is not origin-form
 * (does not start with '/'), holds a malformed or NUL (%00) escape, a decoded
 * '/' (%2F) or backslash, or a ".." that would climb above the root; -414 when
 * the result does not fit in outsize. Percent-decoding happens exactly once,
 * so "%252e%252e" stays the literal name "%2e%2e". */
long http_path_normalize(const char *target, size_t len, char *out, size_t outsize);

/* Writes src percent-encoded for use in a Location header or an HTML href:
 * unreserved characters and '/' are kept, everything else becomes %XX.
 * Returns the length written, or -1 if it does not fit (out is NUL-terminated). */
long http_path_encode(const char *src, size_t len, char *out, size_t outsize);

/* Writes a query (from '?' on, as received) for a Location header: the
 * characters RFC 3986 §3.4 allows in a query, and '%' of an escape the client
 * sent, are kept; every other byte (a quote, '<', '\\', a control byte)
 * becomes %XX. Returns the length written, or -1 if it does not fit. */
long http_query_encode(const char *src, size_t len, char *out, size_t outsize);

#endif
