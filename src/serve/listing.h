/* Directory listings for `duct serve --list-dirs`: an HTML page of a
 * directory without index.html, built on the heap for one response and freed
 * by the handler's release hook. */
#ifndef DUCT_SERVE_LISTING_H
#define DUCT_SERVE_LISTING_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "http/conn.h"

#define LISTING_SIZE_UNKNOWN UINT64_MAX

struct listing_entry {
    const char *name;
    size_t name_len;
    uint64_t size; /* LISTING_SIZE_UNKNOWN for a symbolic link */
    time_t mtime;
    int is_dir;
};

/* Writes src HTML-escaped (& < > " ') into out, which has room for 6 * len
 * bytes. Returns the length written. */
size_t listing_escape_html(const char *src, size_t len, char *out);

/* Directories first, then files, each in byte order of their names. */
void listing_sort(struct listing_entry *entries, size_t n);

/* The page for the directory at URL path (decoded, ending in '/'), listing
 * entries in their order, with a link to the parent unless path is "/".
 * Names are escaped in the text and percent-encoded in the links. Returns a
 * malloc'd page and its length, or NULL when out of memory. */
char *listing_render(const char *path, size_t path_len, const struct listing_entry *entries, size_t n,
                     size_t *len);

/* Reads the directory dir_fd (taken over and closed), hiding dot files, and
 * fills res with its page (200, HTTP_RES_GENERATED, data to be freed), or
 * with 503 when memory runs out or 500 when it cannot be read. */
void listing_resolve(int dir_fd, const char *path, size_t path_len, struct http_resource *res);

#endif
