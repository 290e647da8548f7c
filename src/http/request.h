/* What a parsed request head means for framing and routing (RFC 9112 §6, §9;
 * RFC 9110 §7.2, §9). Separate from the parser, which only checks syntax. */
#ifndef DUCT_HTTP_REQUEST_H
#define DUCT_HTTP_REQUEST_H

#include <stdint.h>

#include "http/parse.h"

enum http_method {
    HTTP_METHOD_GET,
    HTTP_METHOD_HEAD,
    HTTP_METHOD_OPTIONS,
    HTTP_METHOD_OTHER,   /* a method of RFC 9110 or RFC 5789 this server does not serve: 405 */
    HTTP_METHOD_UNKNOWN, /* any other token: 501 */
};

struct http_request_info {
    enum http_method method;
    int keep_alive;          /* the client allows the connection to persist */
    uint64_t content_length; /* request body length (0 when none) */
    int chunked;             /* the body is in the chunked coding instead */
    int expect_continue;     /* the client waits for 100 (Continue) before its body */
    struct http_span path;   /* origin-form path and query ("/a?b"); empty for "*" */
    struct http_span host;   /* Host field, or the authority of an absolute-form target */
    int asterisk;            /* the target was "*" (only meaningful for OPTIONS) */
};

/* Fills info from req. Returns 0, or the status to answer before closing:
 * 400 (no or several Host in HTTP/1.1, an invalid Host or one with an empty
 * host for an origin-form or asterisk-form target, bad or conflicting
 * Content-Length, Content-Length with Transfer-Encoding, Transfer-Encoding in
 * HTTP/1.0 or whose final coding is not chunked, a target of no known form or
 * with a fragment), 417 (an expectation other than 100-continue), or 501
 * (codings under chunked, which this server does not decode). */
int http_request_interpret(const struct http_request *req, struct http_request_info *info);

#endif
