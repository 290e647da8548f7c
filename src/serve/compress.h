/* Compression on the fly: a compressed variant of a file, made once per
 * version of the file and coding, kept in a bounded cache and sent from
 * memory.
 *
 * A version is the file's device, inode, size and modification time (to the
 * nanosecond). A request for a version and coding that is not in the table
 * sends a job (the version, and the file's descriptor by SCM_RIGHTS) to the
 * compressor and is answered with the identity body: nothing is compressed
 * in an event loop's thread, and nothing waits for the compressor. One
 * compressor thread per server, started by compress_cache_start once the
 * process is confined, takes the jobs in order, skips a version already in
 * the table, and compresses the file with libzstd, libbrotli or zlib into
 * memory that every later response sends, as a body from memory.
 *
 * Jobs travel over a socket pair made before any fork, so the fork model's
 * children send theirs to the compressor in the parent; a child forked later
 * inherits the table with the variants done by then (the lock is taken
 * around fork, so no child inherits it held).
 *
 * Bounded: at most cache_bytes of variants and COMPRESS_ENTRIES entries
 * (the least recently used dropped first; a dropped variant lives on until
 * its last response is sent); the jobs in flight, by the socket's buffer
 * (beyond, a request just gets identity and a later one asks again); files
 * above max_size are never compressed. A variant that would not be smaller
 * than the file is remembered as such, so it is not tried again. A version
 * whose file changed in the second its compression began (or the one
 * before) is not kept: a change within one tick of the file system's clock
 * would leave the modification time as it was (the listing cache's "racily
 * clean" rule). */
#ifndef DUCT_SERVE_COMPRESS_H
#define DUCT_SERVE_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "http/reply.h"

#define COMPRESS_ENTRIES 4096
#define COMPRESS_TYPES_MAX 32
#define COMPRESS_DEFAULT_TYPES                                                                                     \
    "text/*,application/javascript,application/json,application/manifest+json,application/xml,"                   \
    "application/rss+xml,application/atom+xml,image/svg+xml,application/wasm"

struct compress_settings {
    const char *types;  /* comma-separated media types, a type with a star (text/ then *) for all of it */
    uint64_t min_size;  /* smaller files are sent as they are */
    uint64_t max_size;  /* larger ones too */
    size_t cache_bytes; /* of compressed variants kept */
};

struct compress_cache;

/* Checks a --compress-types list: 0, or -1 with a one-line reason. */
int compress_types_check(const char *types, char *err, size_t errlen);

/* NULL when out of memory or the types do not parse. */
struct compress_cache *compress_cache_new(const struct compress_settings *settings);

/* Starts the compressor thread. Call once the process is confined and the
 * stop signals are blocked (the thread inherits both), before any fork.
 * 0, or -1 after logging why. */
int compress_cache_start(struct compress_cache *cache);

/* Stops the compressor and frees everything; no response may hold a variant. */
void compress_cache_free(struct compress_cache *cache);

/* res is a 200 answer with a file body and no precompressed sibling. When
 * its type and size make it compressible, it says Vary: Accept-Encoding;
 * then, unless accept asks for a range, res becomes the cached variant in
 * the coding the client prefers (HTTP_RES_SHARED: res->data is the
 * variant's bytes, res->handle holds a reference and res->fd stays the
 * file's, both given back by compress_put), or the variant's compression is asked for
 * and res stays the identity answer. */
void compress_offer(struct compress_cache *cache, struct http_resource *res, unsigned accept);

/* Gives back the reference of an HTTP_RES_SHARED res. */
void compress_put(struct compress_cache *cache, struct http_resource *res);

struct compress_stats {
    uint64_t compressed; /* compressions done */
    int kept;            /* entries in the table */
    size_t kept_bytes;
};
void compress_stats(struct compress_cache *cache, struct compress_stats *out);

#endif
