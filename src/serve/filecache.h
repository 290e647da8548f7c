/* A per-worker cache of open files in front of the static-file handler.
 *
 * Opening, stat-ing and closing a file costs three syscalls per request, as
 * many as receiving and sending it. A hot file's descriptor and metadata are
 * kept for the rest of the current second and shared by every response on
 * the worker (sendfile takes an explicit offset, so sharing is safe). The
 * next second's first request opens the file afresh, so a file replaced by
 * rename is seen within a second (lighttpd's default stat cache behaves the
 * same); a file rewritten in place is seen at once. */
#ifndef DUCT_SERVE_FILECACHE_H
#define DUCT_SERVE_FILECACHE_H

#include "http/conn.h"

struct file_cache;

/* A cache in front of base. NULL when out of memory. */
struct file_cache *file_cache_new(struct http_handler base);
/* Call once no response holds a cached file. */
void file_cache_free(struct file_cache *cache);

struct http_handler file_cache_handler(struct file_cache *cache);

#endif
