#include "serve/site.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "serve/log.h"

int serve_site_is_option(int opt)
{
    return opt >= SERVE_SITE_HEADER && opt <= SERVE_SITE_VHOSTS;
}

/* An index name is one file name: no '/', not "." or "..". */
static int add_index(struct serve_config *cfg, const char *name)
{
    if (cfg->index_count == SERVE_MAX_INDEX) {
        fprintf(stderr, "duct serve: at most %d --index names\n", SERVE_MAX_INDEX);
        return 2;
    }
    if (!*name || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strlen(name) > 255) {
        fprintf(stderr, "duct serve: --index wants a file name (no '/'), not \"%s\"\n", name);
        return 2;
    }
    cfg->index[cfg->index_count++] = name;
    return 0;
}

/* "--cors ORIGIN" as two arguments: getopt gives an optional argument only
 * as "--cors=ORIGIN", so the next argument is taken when it is an origin
 * (never a DIR: a directory is not named "*" or "scheme://..."). */
static const char *cors_origin(const char *arg, int argc, char **argv, int *optind)
{
    if (arg || *optind >= argc)
        return arg;
    const char *next = argv[*optind];
    if (strcmp(next, "*") == 0 || strcmp(next, "null") == 0 || strstr(next, "://")) {
        (*optind)++;
        return next;
    }
    return NULL;
}

int serve_site_option(struct serve_config *cfg, int opt, const char *arg, int argc, char **argv, int *optind)
{
    char err[256];
    int rc = 0;
    struct http_site *site = &cfg->site;
    switch (opt) {
    case SERVE_SITE_HEADER:
    case SERVE_SITE_HEADER_ALWAYS:
        rc = http_site_add_header(site, arg, opt == SERVE_SITE_HEADER_ALWAYS, err, sizeof err);
        break;
    case SERVE_SITE_CORS:
        rc = http_site_set_cors(site, cors_origin(arg, argc, argv, optind), err, sizeof err);
        break;
    case SERVE_SITE_FALLBACK:
        rc = http_site_set_fallback(site, arg, err, sizeof err);
        break;
    case SERVE_SITE_TRY_HTML:
        site->try_html = 1;
        break;
    case SERVE_SITE_ERROR_PAGE:
        rc = http_site_add_error_page(site, arg, err, sizeof err);
        break;
    case SERVE_SITE_INDEX:
        return add_index(cfg, arg);
    case SERVE_SITE_VHOSTS:
        if (cfg->site.vhosts) {
            fprintf(stderr, "duct serve: --vhosts is given once\n");
            return 2;
        }
        site->vhosts = 1;
        cfg->dir = arg;
        break;
    default:
        return 2;
    }
    if (rc != 0) {
        fprintf(stderr, "duct serve: %s\n", err);
        return 2;
    }
    return 0;
}

/* One line per page the first time it cannot be served: a missing page is a
 * site's mistake to fix, not news on every request. */
static atomic_int page_noted[HTTP_SITE_PAGES_MAX];

static void page_missing(void *ctx, int index)
{
    const struct http_site *site = ctx;
    if (index < 0 || index >= HTTP_SITE_PAGES_MAX || atomic_exchange(&page_noted[index], 1))
        return;
    log_error("--error-page %d=%s: not a readable file under the root; the built-in page is sent instead",
              site->pages[index].status, site->pages[index].path);
}

int serve_site_finish(struct serve_config *cfg, const char *dir)
{
    if (cfg->site.vhosts && dir) {
        fprintf(stderr, "duct serve: --vhosts DIR serves DIR's folders; give no other DIR (got \"%s\")\n", dir);
        return 2;
    }
    if (!cfg->site.vhosts)
        cfg->dir = dir;
    cfg->site.page_missing = page_missing;
    cfg->site.page_ctx = &cfg->site;
    return 0;
}
