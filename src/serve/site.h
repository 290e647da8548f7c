/* The site flags of `duct serve` (--header, --header-always, --cors,
 * --fallback, --try-html, --error-page, --index, --vhosts): their parsing
 * into serve_config, and the run-time note about a missing error page. The
 * answers themselves are built by src/http/reply.c (http/site.h) and the
 * files found by src/serve/files.c. */
#ifndef DUCT_SERVE_SITE_H
#define DUCT_SERVE_SITE_H

#include "serve/server.h"

enum {
    SERVE_SITE_HEADER = 512,
    SERVE_SITE_HEADER_ALWAYS,
    SERVE_SITE_CORS,
    SERVE_SITE_FALLBACK,
    SERVE_SITE_TRY_HTML,
    SERVE_SITE_ERROR_PAGE,
    SERVE_SITE_INDEX,
    SERVE_SITE_VHOSTS,
};

/* The getopt_long entries of the flags above. */
#define SERVE_SITE_OPTIONS                                                                                           \
    {"header", required_argument, NULL, SERVE_SITE_HEADER},                                                          \
        {"header-always", required_argument, NULL, SERVE_SITE_HEADER_ALWAYS},                                        \
        {"cors", optional_argument, NULL, SERVE_SITE_CORS}, {"fallback", required_argument, NULL, SERVE_SITE_FALLBACK}, \
        {"try-html", no_argument, NULL, SERVE_SITE_TRY_HTML},                                                        \
        {"error-page", required_argument, NULL, SERVE_SITE_ERROR_PAGE},                                              \
        {"index", required_argument, NULL, SERVE_SITE_INDEX}, {"vhosts", required_argument, NULL, SERVE_SITE_VHOSTS}

/* Whether opt is one of the site flags. */
int serve_site_is_option(int opt);

/* Applies one site flag; arg is its value (NULL for --cors alone: then the
 * next argument is taken as the origin when it looks like one, and *optind
 * moves past it). 0, or 2 after a usage message. */
int serve_site_option(struct serve_config *cfg, int opt, const char *arg, int argc, char **argv, int *optind);

/* After every flag: --vhosts and DIR exclude each other; the error-page
 * note is hooked up. 0, or 2 after a usage message. */
int serve_site_finish(struct serve_config *cfg, const char *dir);

#endif
