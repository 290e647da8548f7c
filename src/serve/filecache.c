#include "serve/filecache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "serve/clock.h"

#define KEY_MAX 240
/* In a resource handed out from an entry: its handle is the entry. (A
 * compressed variant that could not be kept has the handler's own handle.) */
#define HELD_HERE (1u << 31)

struct cached_file {
    struct http_resource res; /* status 200; res.fd owned by the entry, or -1 and res.data = bytes;
                                 a compressed variant (HTTP_RES_SHARED): res.handle is the
                                 handler's reference to it, res.fd its file, kept to check it */
    char *bytes;              /* a small file's whole content, owned; NULL: sent from res.fd */
    time_t second;            /* a descriptor: valid while the clock shows this second;
                                 bytes: the second they were last checked against the file */
    long mtime_nsec;          /* with res.mtime, tells a rewritten file */
    uint64_t file_size;       /* the file's, which a compressed variant's res.size is not */
    int refs;                 /* responses still sending from it */
    int evicted;              /* out of its slot: freed when refs drops to 0 */
    int used;                 /* handed out since the clock sweep last passed it */
    unsigned accept;          /* the codings the client took: they may choose a sibling */
    size_t key_len;
    char key[KEY_MAX];
};

struct file_cache {
    struct http_handler base;
    time_t (*clock)(void); /* the second resolve keys on */
    time_t ticked;         /* the second of the last file_cache_tick */
    struct file_cache_limits limits;
    uint64_t hits, misses; /* since file_cache_take_counts; a check of kept bytes is a hit */
    size_t bytes; /* held by entries with bytes, evicted ones included, until freed */
    size_t hand;  /* where the clock sweep goes on */
    size_t mask;  /* slots - 1 */
    struct cached_file **slots;
};

struct file_cache_limits file_cache_defaults(void)
{
    return (struct file_cache_limits){FILE_CACHE_MAX_FILE, FILE_CACHE_MAX_BYTES, FILE_CACHE_ENTRIES};
}

static size_t slot_of(const struct file_cache *cache, const char *key, size_t len, unsigned accept)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)key[i]) * 16777619u;
    h = (h ^ accept) * 16777619u;
    return h & cache->mask;
}

static void drop(struct file_cache *cache, struct cached_file *e)
{
    if (e->refs > 0) {
        e->evicted = 1;
        return;
    }
    if (e->bytes) {
        cache->bytes -= e->res.size;
        free(e->bytes);
    } else {
        cache->base.release(cache->base.ctx, &e->res);
    }
    free(e);
}

static void hand_out(struct cached_file *e, struct http_resource *res)
{
    e->refs++;
    e->used = 1;
    *res = e->res;
    res->handle = e;
    res->flags |= HELD_HERE;
}

/* The clock algorithm: an entry used since the hand last passed gets another
 * round; the others go until `need` more bytes fit. Two rounds at most, so a
 * miss never walks the table for long. Returns 1 when they fit. */
static int make_room(struct file_cache *cache, size_t need, size_t keep)
{
    size_t max = cache->limits.max_bytes;
    if (need > max)
        return 0;
    for (size_t step = 0; cache->bytes + need > max && step < 2 * (cache->mask + 1); step++) {
        size_t i = cache->hand;
        struct cached_file *e = cache->slots[i];
        cache->hand = (i + 1) & cache->mask;
        if (!e || !e->bytes || i == keep)
            continue;
        if (e->used) {
            e->used = 0;
            continue;
        }
        drop(cache, e);
        cache->slots[i] = NULL;
    }
    return cache->bytes + need <= max;
}

static int same_mtime(const struct stat *a, const struct stat *b)
{
    return a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* The whole file, or NULL when it cannot be read or changed while it was
 * read (a writer at work): then it is sent from its descriptor, as before. */
static char *read_whole(int fd, uint64_t size, const struct stat *before)
{
    char *buf = malloc(size ? (size_t)size : 1);
    size_t got = 0;
    while (buf && got < size) {
        ssize_t n = pread(fd, buf + got, (size_t)size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    struct stat after;
    if (buf && (got != size || fstat(fd, &after) != 0 || after.st_size != before->st_size ||
                !same_mtime(&after, before))) {
        free(buf);
        buf = NULL;
    }
    return buf;
}

/* A small file's bytes replace its descriptor, which is closed at once. */
static void keep_bytes(struct file_cache *cache, struct cached_file *e, size_t slot, const struct stat *st)
{
    if ((e->res.flags & HTTP_RES_SHARED) || e->res.size > cache->limits.max_file ||
        !make_room(cache, (size_t)e->res.size, slot))
        return; /* a compressed variant is the handler's memory already */
    e->bytes = read_whole(e->res.fd, e->res.size, st);
    if (!e->bytes)
        return;
    cache->bytes += (size_t)e->res.size;
    struct http_resource opened = e->res;
    opened.data = NULL;
    cache->base.release(cache->base.ctx, &opened);
    e->res.fd = -1;
    e->res.data = e->bytes;
}

/* Keeps a freshly opened file: its bytes when it is small, else its
 * descriptor for the rest of this second. */
static void remember(struct file_cache *cache, size_t slot, const char *path, size_t len, unsigned accept,
                     time_t now, struct http_resource *res, void *handler_own)
{
    struct cached_file *e = malloc(sizeof *e);
    if (!e)
        return; /* uncached: res->handle stays NULL and release closes it */
    struct stat st;
    if (fstat(res->fd, &st) != 0 || st.st_mtim.tv_sec != res->mtime ||
        (!(res->flags & HTTP_RES_SHARED) && (uint64_t)st.st_size != res->size)) {
        free(e);
        return;
    }
    e->res = *res;
    e->res.handle = handler_own;
    e->bytes = NULL;
    e->mtime_nsec = st.st_mtim.tv_nsec;
    e->file_size = (uint64_t)st.st_size;
    e->second = now;
    e->refs = 0;
    e->evicted = 0;
    e->used = 0;
    e->key_len = len;
    e->accept = accept;
    memcpy(e->key, path, len);
    keep_bytes(cache, e, slot, &st);
    if (cache->slots[slot])
        drop(cache, cache->slots[slot]);
    cache->slots[slot] = e;
    hand_out(e, res);
}

/* A file rewritten in place must not be sent with its old length, and a
 * deleted one must not be served at all: one fstat on the cached descriptor
 * (no path walk) catches both. A file replaced by rename has lost its last
 * link too, unless it has another name; then it keeps serving its previous,
 * complete version until the second ends. */
static int unchanged(const struct cached_file *e)
{
    struct stat st;
    return fstat(e->res.fd, &st) == 0 && st.st_nlink > 0 && (uint64_t)st.st_size == e->file_size &&
           st.st_mtim.tv_sec == e->res.mtime && st.st_mtim.tv_nsec == e->mtime_nsec;
}

/* The path, opened again, still names the version whose bytes are kept: the
 * same file (inode), size, modification time, coding and type. */
static int same_version(const struct cached_file *e, const struct http_resource *fresh)
{
    struct stat st;
    const struct http_resource *old = &e->res;
    return fresh->status == 200 && fresh->fd >= 0 && fresh->flags == old->flags &&
           fresh->etag_id == old->etag_id && fresh->size == old->size && fresh->mtime == old->mtime &&
           fresh->encoding == old->encoding && fresh->content_type == old->content_type &&
           fstat(fresh->fd, &st) == 0 && st.st_mtim.tv_nsec == e->mtime_nsec;
}

static int same_key(const struct cached_file *e, const char *path, size_t len, unsigned accept)
{
    return e->key_len == len && e->accept == accept && memcmp(e->key, path, len) == 0;
}

static void resolve(void *ctx, const char *path, size_t len, unsigned accept, struct http_resource *res)
{
    struct file_cache *cache = ctx;
    time_t now = cache->clock();
    size_t slot = slot_of(cache, path, len, accept);
    struct cached_file *e = cache->slots[slot];
    int mine = e && same_key(e, path, len, accept);
    if (mine && e->second == now && (e->bytes || unchanged(e))) {
        cache->hits++;
        hand_out(e, res);
        return;
    }
    cache->base.resolve(cache->base.ctx, path, len, accept, res);
    if (mine && e->bytes && !(res->flags & HTTP_RES_SHARED) && same_version(e, res)) {
        /* Checked for this second: the descriptor just opened goes again. */
        cache->base.release(cache->base.ctx, res);
        e->second = now;
        cache->hits++;
        hand_out(e, res);
        return;
    }
    cache->misses++;
    /* An entry that can no longer be handed out lets its file go now, even
     * when the file is gone and the answer is a 404. */
    if (e && (mine || (!e->bytes && e->second != now))) {
        drop(cache, e);
        cache->slots[slot] = NULL;
    }
    if (res->flags & (HTTP_RES_GENERATED | HTTP_RES_PENDING))
        return; /* a listing: never cached here, and its handle is the handler's */
    void *handler_own = res->handle; /* a compressed variant's reference */
    res->handle = NULL;
    if (res->status == 200 && res->fd >= 0 && len <= KEY_MAX)
        remember(cache, slot, path, len, accept, now, res, handler_own);
    if (!res->handle)
        res->handle = handler_own; /* not cached: the handler's release takes it back */
}

static void release(void *ctx, struct http_resource *res)
{
    struct file_cache *cache = ctx;
    struct cached_file *e = res->handle;
    if (!(res->flags & HELD_HERE)) {
        cache->base.release(cache->base.ctx, res);
        return;
    }
    e->refs--;
    if (e->evicted && e->refs == 0)
        drop(cache, e);
    res->fd = -1;
    res->data = NULL;
    res->handle = NULL;
}

struct file_cache *file_cache_new(struct http_handler base, time_t (*clock)(void),
                                  const struct file_cache_limits *limits)
{
    struct file_cache *cache = calloc(1, sizeof *cache);
    if (!cache)
        return NULL;
    cache->base = base;
    cache->clock = clock ? clock : serve_clock;
    cache->limits = limits ? *limits : file_cache_defaults();
    size_t slots = 1;
    while (slots < cache->limits.entries && slots < ((size_t)1 << 24))
        slots <<= 1;
    cache->mask = slots - 1;
    cache->slots = calloc(slots, sizeof *cache->slots);
    if (!cache->slots) {
        free(cache);
        return NULL;
    }
    return cache;
}

/* A descriptor is handed out only in the second it was opened, so once that
 * second is over it only holds a descriptor (and, for a deleted file, its
 * disk space): it goes, or, while a response still sends from it, goes when
 * that response releases it. Bytes stay: they hold no file, and the next
 * request checks them. A walk of the slots costs no syscall. */
void file_cache_tick(struct file_cache *cache, time_t now)
{
    if (now == cache->ticked)
        return;
    cache->ticked = now;
    for (size_t i = 0; i <= cache->mask; i++) {
        struct cached_file *e = cache->slots[i];
        if (e && !e->bytes && e->second != now) {
            drop(cache, e);
            cache->slots[i] = NULL;
        }
    }
}

size_t file_cache_bytes(const struct file_cache *cache)
{
    return cache->bytes;
}

void file_cache_take_counts(struct file_cache *cache, uint64_t *hits, uint64_t *misses)
{
    *hits += cache->hits;
    *misses += cache->misses;
    cache->hits = cache->misses = 0;
}

void file_cache_free(struct file_cache *cache)
{
    if (!cache)
        return;
    for (size_t i = 0; i <= cache->mask; i++)
        if (cache->slots[i])
            drop(cache, cache->slots[i]);
    free(cache->slots);
    free(cache);
}

static void resume(void *ctx, struct http_resource *res)
{
    struct file_cache *cache = ctx;
    cache->base.resume(cache->base.ctx, res);
}

struct http_handler file_cache_handler(struct file_cache *cache)
{
    struct http_handler h = {.resolve = resolve, .release = release, .resume = resume, .ctx = cache};
    return h;
}
