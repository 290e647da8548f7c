/* Conditional requests (RFC 9110 §13): evaluating If-Match,
 * If-Unmodified-Since, If-None-Match, If-Modified-Since and If-Range against
 * the validators of the selected representation. */
#ifndef DUCT_HTTP_CONDITIONAL_H
#define DUCT_HTTP_CONDITIONAL_H

#include <stddef.h>
#include <time.h>

#include "http/parse.h"

struct http_validators {
    const char *etag; /* the strong entity-tag with its quotes: "\"5f5e1000-3039\"" */
    size_t etag_len;
    time_t mtime;     /* Last-Modified */
};

/* Whether list (an If-Match or If-None-Match value) names etag: 1 yes, 0 no,
 * -1 when the value is not "*" or a list of entity-tags. With strong set, a
 * weak entity-tag never matches (§8.8.3.2); otherwise W/ is disregarded. */
int http_etag_list_match(struct http_span list, const char *etag, size_t etag_len, int strong);

/* The preconditions of §13.2.2 in their order: If-Match, If-Unmodified-Since
 * (only without If-Match), If-None-Match, If-Modified-Since (only without
 * If-None-Match, and only for GET or HEAD). Returns 0 to go on, 304 or 412.
 * Dates that are not valid HTTP-dates, or fields sent twice where one member
 * is allowed, are ignored (§13.1.3, §13.1.4). */
int http_conditional_eval(const struct http_request *req, int get_or_head, const struct http_validators *v);

/* §13.1.5: 1 when a Range may be honoured (no If-Range, or it matches: a
 * strong entity-tag equal to ours, or a date equal to Last-Modified), 0 when
 * the whole representation must be sent instead. */
int http_if_range_holds(const struct http_request *req, const struct http_validators *v);

#endif
