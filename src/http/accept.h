/* Content negotiation of Accept-Encoding (RFC 9110 §12.5.3), reduced to what
 * a static server needs: which of the codings it can produce (zstd, br, gzip)
 * the client takes, in the client's order of preference. */
#ifndef DUCT_HTTP_ACCEPT_H
#define DUCT_HTTP_ACCEPT_H

#include "http/parse.h"

enum {
    HTTP_ACCEPT_ZSTD = 1, /* zstd has a q-value above 0 (itself or through "*") */
    HTTP_ACCEPT_BR = 2,   /* br likewise */
    HTTP_ACCEPT_GZIP = 4, /* gzip (or x-gzip) likewise */
    HTTP_ACCEPT_CODINGS = 7,
    /* Not from Accept-Encoding: set by the response builder when the request
     * asks for a range, which only a stored representation can answer
     * consistently (a file or a precompressed sibling, never a body
     * compressed on the fly that may not exist yet on the next request). */
    HTTP_ACCEPT_RANGE = 1u << 12,
};

/* The accepted codings of every Accept-Encoding line of req: the
 * HTTP_ACCEPT_* bits, and above them the same codings ranked by the client's
 * q-values (a tie goes to the server's order: zstd, br, gzip), for
 * http_accept_pick. An element that does not parse is skipped. A coding the
 * client ranks below identity (an explicit "identity;q=" or "*;q=" higher
 * than its own) is not accepted. "identity;q=0" is not honoured, since the
 * identity representation always exists (the server sends it rather than 406). */
unsigned http_accept_encoding(const struct http_request *req);

/* The coding (one HTTP_ACCEPT_* bit) the client prefers among those in
 * available, or 0 when it takes none of them. */
unsigned http_accept_pick(unsigned accept, unsigned available);

/* The Content-Encoding token of one HTTP_ACCEPT_* coding bit, or NULL. */
const char *http_accept_name(unsigned coding);

#endif
