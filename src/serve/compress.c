#include "serve/compress.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "serve/codec.h"
#include "serve/log.h"

#define BUCKETS 1024 /* a power of two */

enum variant_state { BUILDING, READY, NO_GAIN };

/* One coding of one version of one file. */
struct variant {
    dev_t dev;
    ino_t ino;
    uint64_t size;
    struct timespec mtime;
    unsigned coding;
    enum variant_state state;
    int file_fd;  /* the file, until the compressor is done with it */
    int body_fd;  /* READY: the sealed memfd */
    uint64_t len; /* READY: its length */
    int refs;     /* one per response, one while in the table, one while queued or compressing */
    int kept;
    struct variant *next_in_bucket;
    struct variant *newer, *older; /* the table's recency list */
    struct variant *next_job;
};

struct media_range {
    char text[64];
    size_t len;
    int whole_type; /* a whole type ("text" and a star): text is "text/" */
};

struct compress_cache {
    pthread_mutex_t lock;
    pthread_cond_t work;
    struct compress_settings settings;
    struct media_range types[COMPRESS_TYPES_MAX];
    int type_count;
    struct variant *buckets[BUCKETS];
    struct variant *newest, *oldest;
    int kept_count;
    size_t kept_bytes;
    struct variant *queue, **queue_tail;
    int queued;
    uint64_t compressed;
    int stopping;
    int started;
    pthread_t thread;
};

/* ---- the types ------------------------------------------------------------ */

static int is_token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* One element of a list, "type/subtype" or a whole type ("text/" and a star), into mr. 0, or -1. */
static int parse_range(const char *p, size_t len, struct media_range *mr)
{
    const char *slash = memchr(p, '/', len);
    if (!slash || slash == p || slash + 1 == p + len || len >= sizeof mr->text)
        return -1;
    for (size_t i = 0; i < len; i++)
        if (p + i != slash && !is_token_char(p[i]))
            return -1;
    if (memchr(slash + 1, '/', (size_t)(p + len - slash - 1)) || memchr(p, '*', (size_t)(slash - p)))
        return -1;
    mr->whole_type = slash + 2 == p + len && slash[1] == '*';
    mr->len = mr->whole_type ? len - 1 : len;
    memcpy(mr->text, p, mr->len);
    mr->text[mr->len] = '\0';
    return 0;
}

/* The list into out (NULL: only checked). The number of ranges, or -1. */
static int parse_types(const char *types, struct media_range *out, int max)
{
    int n = 0;
    const char *p = types;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        struct media_range mr;
        if (n == max || parse_range(p, len, &mr) != 0)
            return -1;
        if (out)
            out[n] = mr;
        n++;
        if (!end)
            return n;
        p = end + 1;
    }
}

int compress_types_check(const char *types, char *err, size_t errlen)
{
    if (parse_types(types, NULL, COMPRESS_TYPES_MAX) >= 0)
        return 0;
    snprintf(err, errlen,
             "--compress-types wants up to %d media types such as text/* or application/json, comma-separated, "
             "not \"%s\"",
             COMPRESS_TYPES_MAX, types);
    return -1;
}

/* content_type is what the MIME table gave ("text/css; charset=utf-8"). */
static int compressible_type(const struct compress_cache *cache, const char *content_type)
{
    if (!content_type)
        return 0;
    size_t len = strcspn(content_type, "; ");
    for (int i = 0; i < cache->type_count; i++) {
        const struct media_range *mr = &cache->types[i];
        if (mr->whole_type ? len > mr->len && strncasecmp(content_type, mr->text, mr->len) == 0
                           : len == mr->len && strncasecmp(content_type, mr->text, len) == 0)
            return 1;
    }
    return 0;
}

/* ---- the table (the lock is held) ----------------------------------------- */

static size_t bucket_of(dev_t dev, ino_t ino, unsigned coding)
{
    uint64_t h = ((uint64_t)ino * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)dev << 17) ^ coding;
    return (size_t)(h >> 32) & (BUCKETS - 1);
}

static void variant_free(struct variant *v)
{
    if (v->file_fd >= 0)
        close(v->file_fd);
    if (v->body_fd >= 0)
        close(v->body_fd);
    free(v);
}

static void unref(struct variant *v)
{
    if (--v->refs == 0)
        variant_free(v);
}

static void unlink_recency(struct compress_cache *cache, struct variant *v)
{
    if (v->newer)
        v->newer->older = v->older;
    else
        cache->newest = v->older;
    if (v->older)
        v->older->newer = v->newer;
    else
        cache->oldest = v->newer;
    v->newer = v->older = NULL;
}

static void push_newest(struct compress_cache *cache, struct variant *v)
{
    v->older = cache->newest;
    v->newer = NULL;
    if (cache->newest)
        cache->newest->newer = v;
    else
        cache->oldest = v;
    cache->newest = v;
}

static void unkeep(struct compress_cache *cache, struct variant *v)
{
    struct variant **link = &cache->buckets[bucket_of(v->dev, v->ino, v->coding)];
    while (*link && *link != v)
        link = &(*link)->next_in_bucket;
    if (*link)
        *link = v->next_in_bucket;
    unlink_recency(cache, v);
    v->kept = 0;
    cache->kept_count--;
    if (v->state == READY)
        cache->kept_bytes -= v->len;
    unref(v);
}

/* Drops the least recently used variants while over the bounds; one being
 * compressed is skipped (its job holds it; it is weighed once done). */
static void trim(struct compress_cache *cache)
{
    struct variant *v = cache->oldest;
    while (v && (cache->kept_count > COMPRESS_ENTRIES || cache->kept_bytes > cache->settings.cache_bytes)) {
        struct variant *newer = v->newer;
        if (v->state != BUILDING)
            unkeep(cache, v);
        v = newer;
    }
}

static int same_version(const struct variant *v, const struct stat *st, unsigned coding)
{
    return v->ino == st->st_ino && v->dev == st->st_dev && v->coding == coding;
}

/* The variant for st's version, after dropping the file's older versions. */
static struct variant *find(struct compress_cache *cache, const struct stat *st, unsigned coding)
{
    struct variant *v = cache->buckets[bucket_of(st->st_dev, st->st_ino, coding)], *next, *found = NULL;
    for (; v; v = next) {
        next = v->next_in_bucket;
        if (!same_version(v, st, coding))
            continue;
        if (v->size == (uint64_t)st->st_size && v->mtime.tv_sec == st->st_mtim.tv_sec &&
            v->mtime.tv_nsec == st->st_mtim.tv_nsec)
            found = v;
        else if (v->state != BUILDING)
            unkeep(cache, v); /* the file changed since */
    }
    return found;
}

/* ---- the compressor -------------------------------------------------------- */

static int racy(const struct variant *v, const struct timespec *began)
{
    return v->mtime.tv_sec + 1 >= began->tv_sec;
}

/* The whole file, read with pread from the variant's own descriptor; NULL
 * when it cannot be read or is no longer the version asked for. */
static void *read_version(const struct variant *v)
{
    struct stat st;
    char *buf = malloc(v->size ? v->size : 1);
    uint64_t got = 0;
    while (buf && got < v->size) {
        ssize_t n = pread(v->file_fd, buf + got, v->size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (uint64_t)n;
    }
    if (buf && (got != v->size || fstat(v->file_fd, &st) != 0 || (uint64_t)st.st_size != v->size ||
                st.st_mtim.tv_sec != v->mtime.tv_sec || st.st_mtim.tv_nsec != v->mtime.tv_nsec)) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* The compressed body into a sealed memfd; -1 when none could be made. */
static int to_memfd(const void *data, size_t len)
{
    int fd = memfd_create("duct-compressed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) {
        log_syscall("memfd_create", "compressed variant", errno);
        return -1;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, (const char *)data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            log_syscall("write", "compressed variant", errno);
            close(fd);
            return -1;
        }
        done += (size_t)n;
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
        log_syscall("fcntl", "F_ADD_SEALS", errno); /* the body stays as it is all the same */
    return fd;
}

/* Compresses one variant: its memfd and length, or -1 when it is not worth
 * keeping (no smaller than the file) or could not be made; *changed when the
 * file is no longer that version. */
static int compress_one(struct variant *v, uint64_t *len, int *changed)
{
    void *in = read_version(v), *out = NULL;
    size_t out_len = 0;
    int fd = -1;
    *changed = in == NULL;
    if (in && codec_compress(v->coding, in, v->size, &out, &out_len) == 0 && out_len < v->size) {
        fd = to_memfd(out, out_len);
        *len = out_len;
    }
    free(in);
    free(out);
    return fd;
}

static void done(struct compress_cache *cache, struct variant *v, int fd, uint64_t len, int changed,
                 const struct timespec *began)
{
    pthread_mutex_lock(&cache->lock);
    close(v->file_fd);
    v->file_fd = -1;
    v->body_fd = fd;
    v->len = fd >= 0 ? len : 0;
    v->state = fd >= 0 ? READY : NO_GAIN;
    cache->compressed++;
    if (v->kept && (changed || racy(v, began))) {
        unkeep(cache, v);
    } else if (v->kept) {
        cache->kept_bytes += v->len;
        trim(cache);
    }
    unref(v);
    pthread_mutex_unlock(&cache->lock);
}

static struct variant *next_job(struct compress_cache *cache)
{
    struct variant *v = NULL;
    pthread_mutex_lock(&cache->lock);
    while (!cache->stopping) {
        v = cache->queue;
        if (!v) {
            pthread_cond_wait(&cache->work, &cache->lock);
            continue;
        }
        cache->queue = v->next_job;
        if (!cache->queue)
            cache->queue_tail = &cache->queue;
        v->next_job = NULL;
        cache->queued--;
        break;
    }
    pthread_mutex_unlock(&cache->lock);
    return v;
}

static void *compressor_main(void *arg)
{
    struct compress_cache *cache = arg;
    struct variant *v;
    while ((v = next_job(cache))) {
        struct timespec began;
        uint64_t len = 0;
        int changed = 0;
        clock_gettime(CLOCK_REALTIME, &began);
        int fd = compress_one(v, &len, &changed);
        done(cache, v, fd, len, changed, &began);
    }
    return NULL;
}

/* ---- the API ----------------------------------------------------------------- */

/* Keeps a new variant and queues its compression. 0, or -1 with nothing kept. */
static int start_job(struct compress_cache *cache, const struct stat *st, unsigned coding, int file_fd)
{
    if (cache->queued >= COMPRESS_QUEUE)
        return -1;
    if (!cache->started) {
        int err = pthread_create(&cache->thread, NULL, compressor_main, cache);
        if (err != 0) {
            log_syscall("pthread_create", "compressor", err);
            return -1;
        }
        cache->started = 1;
    }
    struct variant *v = calloc(1, sizeof *v);
    if (!v)
        return -1;
    v->file_fd = fcntl(file_fd, F_DUPFD_CLOEXEC, 0);
    if (v->file_fd < 0) {
        free(v);
        return -1;
    }
    v->dev = st->st_dev;
    v->ino = st->st_ino;
    v->size = (uint64_t)st->st_size;
    v->mtime = st->st_mtim;
    v->coding = coding;
    v->state = BUILDING;
    v->body_fd = -1;
    v->refs = 2; /* the table's and the job's */
    v->kept = 1;
    size_t b = bucket_of(v->dev, v->ino, coding);
    v->next_in_bucket = cache->buckets[b];
    cache->buckets[b] = v;
    push_newest(cache, v);
    cache->kept_count++;
    *cache->queue_tail = v;
    cache->queue_tail = &v->next_job;
    cache->queued++;
    pthread_cond_signal(&cache->work);
    trim(cache);
    return 0;
}

/* A ready variant stands in for the file. */
static void hand_out(struct compress_cache *cache, struct variant *v, struct http_resource *res)
{
    v->refs++;
    unlink_recency(cache, v);
    push_newest(cache, v);
    close(res->fd);
    res->fd = v->body_fd; /* shared: sendfile takes an explicit offset */
    res->size = v->len;
    res->encoding = http_accept_name(v->coding);
    res->flags |= HTTP_RES_SHARED;
    res->handle = v;
}

void compress_offer(struct compress_cache *cache, struct http_resource *res, unsigned accept)
{
    struct stat st;
    if (res->status != 200 || res->fd < 0 || res->encoding || (res->flags & (HTTP_RES_GENERATED | HTTP_RES_PENDING)) ||
        res->size < cache->settings.min_size || res->size > cache->settings.max_size ||
        !compressible_type(cache, res->content_type))
        return;
    res->flags |= HTTP_RES_VARY;
    unsigned coding = http_accept_pick(accept, HTTP_ACCEPT_CODINGS);
    if (coding == 0 || (accept & HTTP_ACCEPT_RANGE) || fstat(res->fd, &st) != 0 || (uint64_t)st.st_size != res->size)
        return;
    pthread_mutex_lock(&cache->lock);
    struct variant *v = find(cache, &st, coding);
    if (v && v->state == READY)
        hand_out(cache, v, res);
    else if (!v)
        start_job(cache, &st, coding, res->fd);
    pthread_mutex_unlock(&cache->lock);
}

void compress_put(struct compress_cache *cache, struct http_resource *res)
{
    struct variant *v = res->handle;
    res->fd = -1;
    res->handle = NULL;
    res->flags &= ~(unsigned)HTTP_RES_SHARED;
    if (!v)
        return;
    pthread_mutex_lock(&cache->lock);
    unref(v);
    pthread_mutex_unlock(&cache->lock);
}

void compress_stats(struct compress_cache *cache, struct compress_stats *out)
{
    pthread_mutex_lock(&cache->lock);
    out->compressed = cache->compressed;
    out->kept = cache->kept_count;
    out->kept_bytes = cache->kept_bytes;
    pthread_mutex_unlock(&cache->lock);
}

struct compress_cache *compress_cache_new(const struct compress_settings *settings)
{
    struct compress_cache *cache = calloc(1, sizeof *cache);
    if (!cache)
        return NULL;
    cache->settings = *settings;
    cache->type_count = parse_types(settings->types, cache->types, COMPRESS_TYPES_MAX);
    if (cache->type_count < 0 || pthread_mutex_init(&cache->lock, NULL) != 0) {
        free(cache);
        return NULL;
    }
    if (pthread_cond_init(&cache->work, NULL) != 0) {
        pthread_mutex_destroy(&cache->lock);
        free(cache);
        return NULL;
    }
    cache->settings.types = NULL; /* parsed: the caller's string is not kept */
    cache->queue_tail = &cache->queue;
    return cache;
}

void compress_cache_free(struct compress_cache *cache)
{
    if (!cache)
        return;
    pthread_mutex_lock(&cache->lock);
    cache->stopping = 1;
    pthread_cond_signal(&cache->work);
    pthread_mutex_unlock(&cache->lock);
    if (cache->started)
        pthread_join(cache->thread, NULL);
    while (cache->queue) {
        struct variant *v = cache->queue;
        cache->queue = v->next_job;
        unref(v);
    }
    while (cache->newest)
        unkeep(cache, cache->newest);
    pthread_cond_destroy(&cache->work);
    pthread_mutex_destroy(&cache->lock);
    free(cache);
}
