#include "serve/listing_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "serve/listing.h"
#include "serve/log.h"

/* One version of one directory's page. */
struct listing_page {
    dev_t dev;
    ino_t ino;
    struct timespec mtime;
    char *path;
    size_t path_len;
    int page_fd; /* the page, once built: a sealed memfd, or -1 */
    uint64_t len;
    int status;  /* 0 while not built; then 200, or the failure's 500 or 503 */
    int done_fd; /* eventfd, written once when status is set: then readable for ever */
    int dir_fd;  /* the directory, until the builder takes it */
    int refs;    /* one per response, one while kept, one while queued or building */
    int kept;
    struct listing_page *next;     /* in the table, newest first */
    struct listing_page *next_job; /* in the builder's queue */
};

struct listing_cache {
    pthread_mutex_t lock;
    pthread_cond_t work;
    size_t list_max;
    struct listing_page *kept; /* newest first */
    int kept_count;
    size_t kept_bytes;
    struct listing_page *queue, **queue_tail;
    int queued;
    int pages;
    uint64_t builds;
    int stopping;
    int builder_started;
    pthread_t builder;
};

static const char *const listing_type = "text/html; charset=utf-8";

/* ---- pages (the lock is held) ------------------------------------------ */

static struct listing_page *page_new(int dir_fd, const struct stat *st, const char *path, size_t path_len)
{
    struct listing_page *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->path = malloc(path_len + 1);
    p->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (!p->path || p->done_fd < 0) {
        if (p->done_fd >= 0)
            close(p->done_fd);
        free(p->path);
        free(p);
        return NULL;
    }
    memcpy(p->path, path, path_len);
    p->path[path_len] = '\0';
    p->path_len = path_len;
    p->dev = st->st_dev;
    p->ino = st->st_ino;
    p->mtime = st->st_mtim;
    p->dir_fd = dir_fd;
    p->page_fd = -1;
    return p;
}

static void page_free(struct listing_page *p)
{
    if (p->dir_fd >= 0)
        close(p->dir_fd);
    if (p->page_fd >= 0)
        close(p->page_fd);
    close(p->done_fd);
    free(p->path);
    free(p);
}

static void unref(struct listing_cache *cache, struct listing_page *p)
{
    if (--p->refs > 0)
        return;
    page_free(p);
    cache->pages--;
}

static void unkeep(struct listing_cache *cache, struct listing_page *p)
{
    struct listing_page **link = &cache->kept;
    while (*link && *link != p)
        link = &(*link)->next;
    if (!*link)
        return;
    *link = p->next;
    p->next = NULL;
    p->kept = 0;
    cache->kept_count--;
    if (p->status == 200)
        cache->kept_bytes -= p->len;
    unref(cache, p);
}

/* Drops the oldest versions while the table is over its bounds. */
static void trim(struct listing_cache *cache)
{
    while (cache->kept && (cache->kept_count > LISTING_CACHE_PAGES || cache->kept_bytes > LISTING_CACHE_BYTES)) {
        struct listing_page *oldest = cache->kept;
        while (oldest->next)
            oldest = oldest->next;
        unkeep(cache, oldest);
    }
}

static int same_dir(const struct listing_page *p, const struct stat *st, const char *path, size_t path_len)
{
    return p->dev == st->st_dev && p->ino == st->st_ino && p->path_len == path_len &&
           memcmp(p->path, path, path_len) == 0;
}

/* The kept version for st, after dropping the directory's older ones. */
static struct listing_page *find(struct listing_cache *cache, const struct stat *st, const char *path,
                                 size_t path_len)
{
    struct listing_page *p = cache->kept, *next, *found = NULL;
    for (; p; p = next) {
        next = p->next;
        if (!same_dir(p, st, path, path_len))
            continue;
        if (p->mtime.tv_sec == st->st_mtim.tv_sec && p->mtime.tv_nsec == st->st_mtim.tv_nsec)
            found = p;
        else
            unkeep(cache, p); /* the directory changed since */
    }
    return found;
}

/* ---- the builder --------------------------------------------------------- */

/* Whether the directory changed in the second the build began, or the one
 * before: then a later change may not move its modification time. */
static int racy(const struct listing_page *p, const struct timespec *began)
{
    return p->mtime.tv_sec + 1 >= began->tv_sec;
}

/* Sets the outcome of a build and wakes its waiters. */
static void built(struct listing_cache *cache, struct listing_page *p, int page_fd, uint64_t len, int status,
                  const struct timespec *began)
{
    pthread_mutex_lock(&cache->lock);
    p->page_fd = page_fd;
    p->len = page_fd >= 0 ? len : 0;
    p->status = status;
    cache->builds++;
    if (p->kept && (status != 200 || racy(p, began))) {
        unkeep(cache, p);
    } else if (p->kept) {
        cache->kept_bytes += p->len;
        trim(cache);
    }
    if (eventfd_write(p->done_fd, 1) != 0)
        log_syscall("write", "listing eventfd", errno);
    unref(cache, p);
    pthread_mutex_unlock(&cache->lock);
}

/* The next version to build, or NULL when stopping. One that nobody waits
 * for and the table dropped is given up at once. */
static struct listing_page *next_job(struct listing_cache *cache)
{
    struct listing_page *p = NULL;
    pthread_mutex_lock(&cache->lock);
    while (!cache->stopping) {
        p = cache->queue;
        if (!p) {
            pthread_cond_wait(&cache->work, &cache->lock);
            continue;
        }
        cache->queue = p->next_job;
        if (!cache->queue)
            cache->queue_tail = &cache->queue;
        p->next_job = NULL;
        cache->queued--;
        if (p->refs > 1 || p->kept)
            break;
        unref(cache, p);
        p = NULL;
    }
    pthread_mutex_unlock(&cache->lock);
    return p;
}

/* Builds one page into a memfd, sealed once written. Returns the status;
 * *page_fd is the memfd when it is 200, else -1. */
static int build(const struct listing_cache *cache, struct listing_page *p, int *page_fd, uint64_t *len)
{
    int dir_fd = p->dir_fd;
    p->dir_fd = -1; /* listing_build closes it; only this thread touches it now */
    *page_fd = memfd_create("duct-listing", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (*page_fd < 0) {
        log_syscall("memfd_create", p->path, errno);
        close(dir_fd);
        return 503;
    }
    int status = listing_build(dir_fd, p->path, p->path_len, cache->list_max, *page_fd, len);
    if (status == 200 && fcntl(*page_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
        log_syscall("fcntl", "F_ADD_SEALS", errno); /* the page stays as it is all the same */
    if (status != 200) {
        close(*page_fd);
        *page_fd = -1;
    }
    return status;
}

static void *builder_main(void *arg)
{
    struct listing_cache *cache = arg;
    struct listing_page *p;
    while ((p = next_job(cache))) {
        struct timespec began;
        uint64_t len = 0;
        int page_fd;
        clock_gettime(CLOCK_REALTIME, &began);
        int status = build(cache, p, &page_fd, &len);
        built(cache, p, page_fd, len, status, &began);
    }
    return NULL;
}

/* ---- the API --------------------------------------------------------------- */

/* Keeps a new version and queues its build. 0, or -1 with nothing changed. */
static int start_build(struct listing_cache *cache, struct listing_page *p)
{
    if (cache->queued >= LISTING_CACHE_QUEUE)
        return -1;
    if (!cache->builder_started) {
        int err = pthread_create(&cache->builder, NULL, builder_main, cache);
        if (err != 0) {
            log_syscall("pthread_create", "listing builder", err);
            return -1;
        }
        cache->builder_started = 1;
    }
    p->refs = 2; /* the table's and the builder's */
    p->kept = 1;
    p->next = cache->kept;
    cache->kept = p;
    cache->kept_count++;
    cache->pages++;
    *cache->queue_tail = p;
    cache->queue_tail = &p->next_job;
    cache->queued++;
    pthread_cond_signal(&cache->work);
    trim(cache);
    return 0;
}

static void fill_built(struct listing_page *p, struct http_resource *res)
{
    res->status = 200;
    res->fd = p->page_fd; /* shared: sendfile takes an explicit offset */
    res->data = NULL;
    res->size = p->len;
    res->content_type = listing_type;
    res->flags = (res->flags & ~(unsigned)HTTP_RES_PENDING) | HTTP_RES_GENERATED;
    res->handle = p;
}

/* A reference to the version for a response, with a descriptor of its own
 * to wait on while the page is not built. -1 when out of descriptors. */
static int hand_out(struct listing_page *p, struct http_resource *res)
{
    if (p->status == 200) {
        fill_built(p, res);
        p->refs++;
        return 0;
    }
    /* epoll watches a descriptor and its file together: each waiting
     * response needs its own, which its loop removes before it is closed. */
    int fd = fcntl(p->done_fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    res->status = 0;
    res->fd = fd;
    res->flags |= HTTP_RES_PENDING;
    res->handle = p;
    p->refs++;
    return 0;
}

void listing_cache_get(struct listing_cache *cache, int dir_fd, const struct stat *st, const char *path,
                       size_t path_len, struct http_resource *res)
{
    res->status = 503;
    pthread_mutex_lock(&cache->lock);
    struct listing_page *p = find(cache, st, path, path_len);
    if (!p) {
        p = page_new(dir_fd, st, path, path_len);
        if (p && start_build(cache, p) == 0) {
            dir_fd = -1; /* the builder's now */
        } else if (p) {
            p->dir_fd = -1; /* closed below */
            page_free(p);
            p = NULL;
        }
    }
    if (p && hand_out(p, res) != 0)
        res->status = 503;
    pthread_mutex_unlock(&cache->lock);
    if (dir_fd >= 0)
        close(dir_fd);
}

void listing_cache_finish(struct listing_cache *cache, struct http_resource *res)
{
    struct listing_page *p = res->handle;
    pthread_mutex_lock(&cache->lock);
    if (p->status == 0) {
        pthread_mutex_unlock(&cache->lock);
        return; /* a wake-up meant for someone else: still pending */
    }
    close(res->fd);
    res->fd = -1;
    res->flags &= ~(unsigned)HTTP_RES_PENDING;
    if (p->status == 200) {
        fill_built(p, res);
    } else {
        res->status = p->status;
        res->handle = NULL;
        unref(cache, p);
    }
    pthread_mutex_unlock(&cache->lock);
}

void listing_cache_put(struct listing_cache *cache, struct http_resource *res)
{
    struct listing_page *p = res->handle;
    if (res->flags & HTTP_RES_PENDING)
        close(res->fd); /* the response's own; a built page's belongs to the page */
    res->fd = -1;
    res->data = NULL;
    res->handle = NULL;
    if (!p)
        return;
    pthread_mutex_lock(&cache->lock);
    unref(cache, p);
    pthread_mutex_unlock(&cache->lock);
}

void listing_cache_stats(struct listing_cache *cache, struct listing_cache_stats *out)
{
    pthread_mutex_lock(&cache->lock);
    out->builds = cache->builds;
    out->pages = cache->pages;
    out->kept = cache->kept_count;
    out->kept_bytes = cache->kept_bytes;
    pthread_mutex_unlock(&cache->lock);
}

struct listing_cache *listing_cache_new(size_t list_max)
{
    struct listing_cache *cache = calloc(1, sizeof *cache);
    if (!cache)
        return NULL;
    if (pthread_mutex_init(&cache->lock, NULL) != 0) {
        free(cache);
        return NULL;
    }
    if (pthread_cond_init(&cache->work, NULL) != 0) {
        pthread_mutex_destroy(&cache->lock);
        free(cache);
        return NULL;
    }
    cache->list_max = list_max;
    cache->queue_tail = &cache->queue;
    return cache;
}

void listing_cache_free(struct listing_cache *cache)
{
    if (!cache)
        return;
    pthread_mutex_lock(&cache->lock);
    cache->stopping = 1;
    pthread_cond_signal(&cache->work);
    pthread_mutex_unlock(&cache->lock);
    if (cache->builder_started)
        pthread_join(cache->builder, NULL);
    while (cache->queue) {
        struct listing_page *p = cache->queue;
        cache->queue = p->next_job;
        unref(cache, p);
    }
    while (cache->kept)
        unkeep(cache, cache->kept);
    pthread_cond_destroy(&cache->work);
    pthread_mutex_destroy(&cache->lock);
    free(cache);
}
