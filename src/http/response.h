/* What a parsed response head means for the body that follows (RFC 9112
 * §6.3), for the clients: duct get and duct bench read responses with it. */
#ifndef DUCT_HTTP_RESPONSE_H
#define DUCT_HTTP_RESPONSE_H

#include <stdint.h>

#include "http/parse.h"

enum http_body_framing {
    HTTP_BODY_NONE,        /* HEAD, 1xx, 204, 304: the head is the whole message */
    HTTP_BODY_LENGTH,      /* content_length bytes */
    HTTP_BODY_CHUNKED,     /* decode with http/chunked.h */
    HTTP_BODY_UNTIL_CLOSE, /* everything until the server closes */
};

struct http_response_info {
    enum http_body_framing framing;
    uint64_t content_length; /* for HTTP_BODY_LENGTH */
    int keep_alive;          /* the connection may carry another request */
};

/* Fills info from res; request_was_head says the request was HEAD. Returns 0,
 * or -1 when the framing cannot be trusted (a malformed or conflicting
 * Content-Length): the connection must then be closed. */
int http_response_interpret(const struct http_response *res, int request_was_head, struct http_response_info *info);

#endif
