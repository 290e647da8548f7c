/* Content negotiation of Accept-Encoding (RFC 9110 §12.5.3), reduced to what
 * a static server with precompressed siblings needs to know. */
#ifndef DUCT_HTTP_ACCEPT_H
#define DUCT_HTTP_ACCEPT_H

#include "http/parse.h"

enum {
    HTTP_ACCEPT_BR = 1,          /* br has a q-value above 0 (itself or through "*") */
    HTTP_ACCEPT_GZIP = 2,        /* gzip (or x-gzip) likewise */
    HTTP_ACCEPT_PREFER_GZIP = 4, /* gzip is accepted with a q-value higher than br's; on a tie br wins */
};

/* The HTTP_ACCEPT_* bits for every Accept-Encoding line of req. An element
 * that does not parse is skipped; "identity;q=0" is not honoured, since the
 * identity representation always exists (the server sends it rather than 406). */
unsigned http_accept_encoding(const struct http_request *req);

#endif
