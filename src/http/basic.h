/* The credentials of HTTP Basic authentication (RFC 7617): the
 * Authorization field's "Basic" token68, decoded into user-id and password. */
#ifndef DUCT_HTTP_BASIC_H
#define DUCT_HTTP_BASIC_H

#include <stddef.h>

#include "http/parse.h"

enum {
    HTTP_BASIC_OK = 0,
    HTTP_BASIC_ABSENT = -1,    /* no Authorization field */
    HTTP_BASIC_MALFORMED = -2, /* another scheme, several fields, bad base64, no ':', a control char,
                                  or longer than buf */
};

/* Decodes req's Basic credentials into buf[0..cap): on HTTP_BASIC_OK, user
 * and pass point into buf (the user-id is everything before the first ':',
 * RFC 7617 §2). The caller wipes buf when done: it holds a password. */
int http_basic_credentials(const struct http_request *req, char *buf, size_t cap, struct http_span *user,
                           struct http_span *pass);

#endif
