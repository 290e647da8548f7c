/* The static-file handler: maps a normalised request path to a file below the
 * document root, or to an asset of the built-in demo site. */
#ifndef DUCT_SERVE_FILES_H
#define DUCT_SERVE_FILES_H

#include <stddef.h>
#include <time.h>

#include "http/conn.h"
#include "http/mime.h"
#include "serve/compress.h"
#include "serve/listing_cache.h"

struct files {
    int root_fd; /* the document root, or -1 when serving the demo site */
    struct mime_table *mime;
    time_t started; /* Last-Modified of the demo assets */
    struct listing_cache *listings; /* --list-dirs: a directory without index.html gets a listing
                                       instead of 403; NULL: no listings */
    const char *const *index;       /* --index names, tried in order; NULL: index.html */
    int index_count;
    int vhosts; /* --vhosts: a path's first segment names the host's folder under the root,
                   and a host with no folder is served from "_default" */
    struct compress_cache *compress; /* --compress on: text compressed on the fly; NULL: off */
};

/* Opens dir (NULL: the demo site) and builds the MIME table, extended by
 * /etc/mime.types when it exists. Returns 0, or -1 with a one-line reason. */
int files_open(struct files *files, const char *dir, char *err, size_t errlen);
void files_close(struct files *files);

/* Turns listings on (--list-dirs), each of at most list_max entries. 0, or -1
 * when out of memory. */
int files_list_dirs(struct files *files, size_t list_max);

/* Turns compression on the fly on (--compress on). 0, or -1 when out of
 * memory. */
int files_compress(struct files *files, const struct compress_settings *settings);

/* Starts what runs beside the workers (the compressor), once the process is
 * confined and the stop signals blocked. 0, or -1. */
int files_start(struct files *files);

/* The handler that http_conn calls; shared by all workers (it holds no
 * per-request state). */
struct http_handler files_handler(struct files *files);

#endif
