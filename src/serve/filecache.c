#include "serve/filecache.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "serve/clock.h"

#define SLOTS 512 /* direct-mapped by path hash; a collision replaces */
#define KEY_MAX 240
/* In a resource handed out from an entry: its handle is the entry. (A
 * compressed variant that could not be kept has the handler's own handle.) */
#define HELD_HERE (1u << 31)

struct cached_file {
    struct http_resource res; /* status 200, fd owned by the entry */
    time_t second;            /* valid while the clock shows this second */
    long mtime_nsec;          /* with res.mtime, tells a rewritten file */
    uint64_t file_size;       /* the file's, which a compressed variant's res.size is not */
    int refs;                 /* responses still sending from res.fd */
    int evicted;              /* out of its slot: freed when refs drops to 0 */
    unsigned accept;          /* the codings the client took: they may choose a sibling */
    size_t key_len;
    char key[KEY_MAX];
};

struct file_cache {
    struct http_handler base;
    time_t (*clock)(void); /* the second resolve keys on */
    time_t ticked;         /* the second of the last file_cache_tick */
    uint64_t hits, misses; /* since file_cache_take_counts */
    struct cached_file *slots[SLOTS];
};

static size_t slot_of(const char *key, size_t len, unsigned accept)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)key[i]) * 16777619u;
    h = (h ^ accept) * 16777619u;
    return h & (SLOTS - 1);
}

static void drop(struct file_cache *cache, struct cached_file *e)
{
    if (e->refs > 0) {
        e->evicted = 1;
        return;
    }
    cache->base.release(cache->base.ctx, &e->res);
    free(e);
}

static void hand_out(struct cached_file *e, struct http_resource *res)
{
    e->refs++;
    *res = e->res;
    res->handle = e;
    res->flags |= HELD_HERE;
}

/* Keeps a freshly opened file for the rest of this second. */
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
    e->mtime_nsec = st.st_mtim.tv_nsec;
    e->file_size = (uint64_t)st.st_size;
    e->second = now;
    e->refs = 0;
    e->evicted = 0;
    e->key_len = len;
    e->accept = accept;
    memcpy(e->key, path, len);
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

static int same_key(const struct cached_file *e, const char *path, size_t len, unsigned accept)
{
    return e->key_len == len && e->accept == accept && memcmp(e->key, path, len) == 0;
}

static void resolve(void *ctx, const char *path, size_t len, unsigned accept, struct http_resource *res)
{
    struct file_cache *cache = ctx;
    time_t now = cache->clock();
    size_t slot = slot_of(path, len, accept);
    struct cached_file *e = cache->slots[slot];
    int mine = e && same_key(e, path, len, accept);
    if (mine && e->second == now && unchanged(e)) {
        cache->hits++;
        hand_out(e, res);
        return;
    }
    cache->misses++;
    /* An entry that can no longer be handed out lets its file go now, even
     * when the file is gone and the answer is a 404. */
    if (e && (e->second != now || mine)) {
        drop(cache, e);
        cache->slots[slot] = NULL;
    }
    cache->base.resolve(cache->base.ctx, path, len, accept, res);
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
    res->handle = NULL;
}

struct file_cache *file_cache_new(struct http_handler base, time_t (*clock)(void))
{
    struct file_cache *cache = calloc(1, sizeof *cache);
    if (cache) {
        cache->base = base;
        cache->clock = clock ? clock : serve_clock;
    }
    return cache;
}

/* An entry is handed out only in the second it was opened, so once that
 * second is over it only holds a descriptor (and, for a deleted file, its
 * disk space): it goes, or, while a response still sends from it, goes when
 * that response releases it. A walk of the slots costs no syscall. */
void file_cache_tick(struct file_cache *cache, time_t now)
{
    if (now == cache->ticked)
        return;
    cache->ticked = now;
    for (size_t i = 0; i < SLOTS; i++) {
        struct cached_file *e = cache->slots[i];
        if (e && e->second != now) {
            drop(cache, e);
            cache->slots[i] = NULL;
        }
    }
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
    for (size_t i = 0; i < SLOTS; i++)
        if (cache->slots[i])
            drop(cache, cache->slots[i]);
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
