/* What a site asks of the answers beyond serving files as they are: extra
 * response headers, CORS, a single-page-app fallback, clean URLs (.html
 * dropped), custom error pages and virtual hosts. All of it is off unless a
 * flag turns it on; the response builder (reply.c) then holds a pointer to
 * this configuration, and NULL when nothing is on, so the default path pays
 * one NULL test.
 *
 * Pure, like the rest of src/http/: the checks of flag values, the rendering
 * of header lines, and the Host and Access-Control-Request-Headers readers.
 * The I/O (which folder a host names, which index a directory has) is the
 * handler's, in src/serve/. */
#ifndef DUCT_HTTP_SITE_H
#define DUCT_HTTP_SITE_H

#include <stddef.h>

#include "http/parse.h"

/* Bytes of configured header lines at most: they ride in every head, whose
 * buffer (HTTP_HEAD_BUF) must still hold the rest of the answer. */
#define HTTP_SITE_FIELDS_MAX 768
#define HTTP_SITE_PAGES_MAX 16
#define HTTP_SITE_PATH_MAX 256
/* A host name (RFC 1035 §2.3.4: 253 characters) or a bracketed IPv6 literal. */
#define HTTP_SITE_HOST_MAX 256
/* The Access-Control-Request-Headers a preflight answer echoes, at most. */
#define HTTP_SITE_ACRH_MAX 512

struct http_error_page {
    int status;
    char path[HTTP_SITE_PATH_MAX]; /* normalised, under the root */
    size_t len;
};

struct http_site {
    /* Whole "Name: value\r\n" lines. file_fields go on answers about a file
     * (200, 206, 304) and on redirects: --header, --header-always and CORS;
     * error_fields on error answers: --header-always and CORS. */
    char file_fields[HTTP_SITE_FIELDS_MAX];
    size_t file_fields_len;
    char error_fields[HTTP_SITE_FIELDS_MAX];
    size_t error_fields_len;
    int cors;                      /* --cors: preflight OPTIONS answered with 204 */
    int cors_vary;                 /* the allowed origin is not "*": Vary: Origin */
    char fallback[HTTP_SITE_PATH_MAX]; /* --fallback, normalised; "" when off */
    size_t fallback_len;
    int try_html;                  /* --try-html: /about is /about.html; /about.html redirects */
    struct http_error_page pages[HTTP_SITE_PAGES_MAX];
    int page_count;
    int vhosts;                    /* --vhosts: the handler's paths start with "/host" */
    /* Called when an error page cannot be served (missing, not a file), with
     * its index in pages; the caller logs it once. NULL: silent. */
    void (*page_missing)(void *ctx, int index);
    void *page_ctx;
};

/* Checks "Name: value" (a token, a colon, a value of visible characters,
 * spaces and tabs; no CR, LF or NUL) and appends its line to the file fields
 * and, when always, to the error fields too. 0, or -1 with a reason in err. */
int http_site_add_header(struct http_site *site, const char *text, int always, char *err, size_t errlen);

/* --cors [ORIGIN]: "*" (NULL), "null", or scheme://host[:port]. Adds
 * Access-Control-Allow-Origin (and Vary: Origin for a named origin) to both
 * field sets. 0, or -1 with a reason. */
int http_site_set_cors(struct http_site *site, const char *origin, char *err, size_t errlen);

/* --fallback PATH and --error-page CODE=PATH: PATH starts with '/' and
 * names a file under the root (normalised here; no ".." above it). */
int http_site_set_fallback(struct http_site *site, const char *path, char *err, size_t errlen);
int http_site_add_error_page(struct http_site *site, const char *spec, char *err, size_t errlen);

/* The index in pages of status's error page, or -1. */
int http_site_page_for(const struct http_site *site, int status);

/* Whether the configuration turns anything on. */
int http_site_active(const struct http_site *site);

/* The Host of req for --vhosts: lower-cased, port and a trailing dot
 * removed, checked as a host name (letters, digits, '-', '_', '.' without
 * an empty label, or a bracketed IPv6 literal). Writes it into out (at
 * least HTTP_SITE_HOST_MAX bytes, NUL-terminated) and returns its length,
 * or 0 when the request has no usable Host. */
size_t http_site_host(const char *value, size_t len, char *out);

/* Access-Control-Request-Headers when it is a list of tokens: written into
 * out (at most cap bytes, lower-cased, ", "-separated) and its length
 * returned; 0 when it is empty, malformed or too long. */
size_t http_site_request_headers(const char *value, size_t len, char *out, size_t cap);

/* The last segment of path has an extension ("app.js"): a file, not a route. */
int http_site_looks_like_file(const char *path, size_t len);

#endif
