/* HTTP-date (RFC 9110 §5.6.7): IMF-fixdate out, all three formats in. */
#ifndef DUCT_HTTP_DATE_H
#define DUCT_HTTP_DATE_H

#include <stddef.h>
#include <time.h>

#define HTTP_DATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */

/* Writes the IMF-fixdate of t into out (HTTP_DATE_LEN chars plus NUL). Does not
 * use the process's time zone or locale. */
void http_date_format(time_t t, char out[HTTP_DATE_LEN + 1]);

/* Parses IMF-fixdate, obsolete RFC 850 and asctime forms. Returns 0 and sets *t,
 * or -1 when the text is not a valid HTTP-date. */
int http_date_parse(const char *text, size_t len, time_t *t);

/* The Date header value for "now", recomputed only when the second changes.
 * One per thread: the caller passes the time, since this layer reads no clock. */
struct http_date_cache {
    time_t second;
    char text[HTTP_DATE_LEN + 1];
};

const char *http_date_cached(struct http_date_cache *cache, time_t now);

#endif
