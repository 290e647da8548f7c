/* A per-worker cache of open files in front of the static-file handler.
 *
 * Opening, stat-ing and closing a file costs three syscalls per request, as
 * many as receiving and sending it. A hot file's descriptor and metadata are
 * kept for the rest of the current second and shared by every response on
 * the worker (sendfile takes an explicit offset, so sharing is safe). The
 * next second's first request opens the file afresh, so a file replaced by
 * rename is seen within a second (lighttpd's default stat cache behaves the
 * same); a file rewritten in place, or deleted, is seen at once.
 *
 * A descriptor must not outlive its use: a deleted file keeps its disk space
 * while it is open. file_cache_tick, which every driver calls at least once a
 * second, closes what a past second opened, so the cache holds no file for
 * more than about two seconds beyond the last response that sends from it. */
#ifndef DUCT_SERVE_FILECACHE_H
#define DUCT_SERVE_FILECACHE_H

#include <stdint.h>
#include <time.h>

#include "http/conn.h"

struct file_cache;

/* A cache in front of base, keyed on the second clock() shows (NULL:
 * serve_clock; tests pass their own). NULL when out of memory. */
struct file_cache *file_cache_new(struct http_handler base, time_t (*clock)(void));
/* Call once no response holds a cached file. */
void file_cache_free(struct file_cache *cache);

struct http_handler file_cache_handler(struct file_cache *cache);

/* Lets go of every file opened before the second `now` (the clock's reading):
 * closed at once, or when the last response sending from it is released.
 * Does nothing when called again within the same second. */
void file_cache_tick(struct file_cache *cache, time_t now);

/* Adds the lookups answered from the cache (hits) and from the file system
 * (misses) since the last call, for /metrics. */
void file_cache_take_counts(struct file_cache *cache, uint64_t *hits, uint64_t *misses);

#endif
