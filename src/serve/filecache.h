/* A per-worker cache of open files, and of small files' bytes, in front of
 * the static-file handler.
 *
 * Opening, stat-ing and closing a file costs three syscalls per request, as
 * many as receiving and sending it; sending a small file from a descriptor
 * costs one more (sendfile after the head). So two kinds of entry:
 *
 * - A small file (at most limits.max_file bytes) is read into memory once and
 *   handed out as a memory body: the response leaves in one send, head and
 *   body together, and the entry holds no descriptor. It is checked against
 *   the file system at most once a second (the first request of a second
 *   opens the path again and compares inode, size and modification time), so
 *   a file changed, shrunk, replaced or deleted is seen within a second, and
 *   a request costs no stat. The bytes served are always one whole version:
 *   a file caught being written while read is not kept in memory.
 * - A larger file's descriptor and metadata are kept for the rest of the
 *   current second and shared by every response on the worker (sendfile takes
 *   an explicit offset, so sharing is safe); each request checks it with one
 *   fstat, so a file rewritten in place or deleted is seen at once, and one
 *   replaced by rename within a second (as lighttpd's stat cache).
 *
 * The response head is not kept: src/http/reply.c builds it for every
 * answer (a few hundred bytes copied, the Date formatted once a second), so
 * that whatever the reply code puts in a head (304, Range, HEAD, Vary, any
 * header added there later) holds for kept files as for any other, with no
 * second copy of those rules to keep in step. The syscalls were the cost, not
 * the head: a profile of a keep-alive load puts the head's building at about
 * 1% of the worker's CPU time.
 *
 * Memory is bounded: limits.entries slots (direct-mapped by path; a collision
 * replaces), and limits.max_bytes of file bytes, counted until the last
 * response sending them is released; beyond it, a clock sweep evicts entries
 * not used since it last passed, and a file that still does not fit is sent
 * from its descriptor.
 *
 * A descriptor must not outlive its use: a deleted file keeps its disk space
 * while it is open. file_cache_tick, which every driver calls at least once a
 * second, closes what a past second opened, so the cache holds no file for
 * more than about two seconds beyond the last response that sends from it. */
#ifndef DUCT_SERVE_FILECACHE_H
#define DUCT_SERVE_FILECACHE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "http/conn.h"

#define FILE_CACHE_MAX_FILE (64 * 1024)
#define FILE_CACHE_MAX_BYTES (32 * 1024 * 1024)
#define FILE_CACHE_ENTRIES 1024
/* A cache that lives as long as one connection (the thread and fork models)
 * keeps less: a page and its assets, not a site, so that many connections
 * cannot hold many times --cache-max-bytes. */
#define FILE_CACHE_CONN_BYTES (256 * 1024)

struct file_cache_limits {
    size_t max_file;  /* files of at most this many bytes are kept in memory; 0: none */
    size_t max_bytes; /* file bytes in memory at most, over all entries */
    size_t entries;   /* slots, rounded up to a power of two */
};

/* FILE_CACHE_MAX_FILE, FILE_CACHE_MAX_BYTES, FILE_CACHE_ENTRIES. */
struct file_cache_limits file_cache_defaults(void);

struct file_cache;

/* A cache in front of base, keyed on the second clock() shows (NULL:
 * serve_clock; tests pass their own); limits NULL: the defaults. NULL when
 * out of memory. */
struct file_cache *file_cache_new(struct http_handler base, time_t (*clock)(void),
                                  const struct file_cache_limits *limits);
/* Call once no response holds a cached file. */
void file_cache_free(struct file_cache *cache);

struct http_handler file_cache_handler(struct file_cache *cache);

/* Lets go of every descriptor opened before the second `now` (the clock's
 * reading): closed at once, or when the last response sending from it is
 * released. Does nothing when called again within the same second. */
void file_cache_tick(struct file_cache *cache, time_t now);

/* File bytes held in memory now, released or not yet (for tests). */
size_t file_cache_bytes(const struct file_cache *cache);
/* Adds the lookups answered from the cache (hits) and from the file system
 * (misses) since the last call, for /metrics. */
void file_cache_take_counts(struct file_cache *cache, uint64_t *hits, uint64_t *misses);

#endif
