/* Directory listings built once per version of a directory and shared.
 *
 * Building a listing reads the whole directory: for 100,000 entries, 0.3 to
 * 0.6 s of readdir, fstatat, sorting and rendering. So a page is
 * built once per version, a version being the directory's device, inode and
 * modification time (to the nanosecond), the URL path it is listed under
 * (the page names it) and the cache's list_max; every response that sends
 * that version holds a reference to the one page.
 *
 * The page is written once into a sealed memfd, and responses send it like a
 * file, by sendfile from that one descriptor (each with its own offset). So
 * it is not copied even into the kernel: a client that reads slowly holds
 * references to the page's memory in its socket buffer, where a body sent
 * from the heap would have put a private copy of up to 4 MB (the send
 * buffer) per connection there, copied in the event loop's thread.
 *
 * Nothing is built in the thread that asks. One builder thread per process
 * builds versions in the order they were first asked for; until a version is
 * built, the responses that want it wait (HTTP_RES_PENDING) on a descriptor
 * that becomes readable when it is, and their event loop serves everyone
 * else meanwhile. A version nobody waits for any more is not built.
 *
 * What is kept is bounded: LISTING_CACHE_PAGES versions and
 * LISTING_CACHE_BYTES of pages, the oldest dropped first; asking for a new
 * version of a directory drops its old one. A dropped page lives on until its
 * last response is sent. A version whose directory changed in the second its
 * build began (or the one before) is handed to the responses that waited for
 * it but not kept: a change within one tick of the file system's clock would
 * leave the modification time as it was, and the page would hide it (git's
 * "racily clean" entries).
 *
 * One mutex guards the table; it is taken only for listings, never on the
 * way of a file. */
#ifndef DUCT_SERVE_LISTING_CACHE_H
#define DUCT_SERVE_LISTING_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "http/reply.h"

#define LISTING_CACHE_PAGES 16
#define LISTING_CACHE_BYTES ((size_t)64 << 20)
/* Builds waiting for the builder; beyond it a listing is answered 503. */
#define LISTING_CACHE_QUEUE 64

struct listing_cache;

struct listing_cache_stats {
    uint64_t builds;  /* pages built so far */
    int pages;        /* versions alive: kept, or held by a response or the builder */
    int kept;         /* versions in the table */
    size_t kept_bytes; /* bytes of the kept pages */
};

/* A cache whose pages list at most list_max entries. NULL when out of memory. */
struct listing_cache *listing_cache_new(size_t list_max);

/* Stops the builder and frees everything. Call once no response holds a
 * page. */
void listing_cache_free(struct listing_cache *cache);

/* The listing of the directory dir_fd (taken over), whose fstat is st, at
 * URL path (decoded, ending in '/'). Fills res with one of:
 *   - the built page: status 200, fd (the page's memfd, shared: never
 *     closed by the response) and size, HTTP_RES_GENERATED;
 *   - a version being built: status 0, HTTP_RES_PENDING, and res->fd a
 *     descriptor of the response's own that becomes readable when the page
 *     is built; then call listing_cache_finish;
 *   - 503 with nothing held (out of memory or descriptors, too many builds
 *     waiting).
 * In the first two, res->handle holds a reference, given back by
 * listing_cache_put. */
void listing_cache_get(struct listing_cache *cache, int dir_fd, const struct stat *st, const char *path,
                       size_t path_len, struct http_resource *res);

/* A pending res whose descriptor is readable: closes the descriptor and
 * fills res with the page (200), or with the status of a failed build (500,
 * 503) having given the reference back. A res whose page is in fact not built
 * yet (a stale wake-up) is left pending as it was. */
void listing_cache_finish(struct listing_cache *cache, struct http_resource *res);

/* Gives back res's reference (and closes a pending descriptor). */
void listing_cache_put(struct listing_cache *cache, struct http_resource *res);

void listing_cache_stats(struct listing_cache *cache, struct listing_cache_stats *out);

#endif
