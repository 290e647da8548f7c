#include "serve/compress.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "serve/codec.h"
#include "serve/fork_gate.h"
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
    void *body;   /* READY: the compressed bytes */
    uint64_t len; /* READY: their length */
    int refs;     /* one per response, one while in the table, one while compressing */
    int kept;
    struct variant *next_in_bucket;
    struct variant *newer, *older; /* the table's recency list */
};

/* What a request sends the compressor, with the file's descriptor. */
struct job {
    dev_t dev;
    ino_t ino;
    uint64_t size;
    struct timespec mtime;
    unsigned coding;
};

struct media_range {
    char text[64];
    size_t len;
    int whole_type; /* a whole type ("text" and a star): text is "text/" */
};

struct compress_cache {
    pthread_mutex_t lock;
    struct compress_settings settings;
    struct media_range types[COMPRESS_TYPES_MAX];
    int type_count;
    struct variant *buckets[BUCKETS];
    struct variant *newest, *oldest;
    int kept_count;
    size_t kept_bytes;
    int jobs[2]; /* a SOCK_SEQPACKET pair: requests send on [1], the compressor receives on [0] */
    uint64_t compressed;
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
    free(v->body);
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
 * compressed is skipped (it is weighed once done). */
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

/* The variant of the job's version, after dropping the file's older versions. */
static struct variant *find(struct compress_cache *cache, const struct job *job)
{
    struct variant *v = cache->buckets[bucket_of(job->dev, job->ino, job->coding)], *next, *found = NULL;
    for (; v; v = next) {
        next = v->next_in_bucket;
        if (v->ino != job->ino || v->dev != job->dev || v->coding != job->coding)
            continue;
        if (v->size == job->size && v->mtime.tv_sec == job->mtime.tv_sec && v->mtime.tv_nsec == job->mtime.tv_nsec)
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

/* The whole file, read with pread; NULL when it cannot be read or is no
 * longer the version asked for. */
static void *read_version(const struct variant *v, int fd)
{
    struct stat st;
    char *buf = malloc(v->size ? v->size : 1);
    uint64_t got = 0;
    while (buf && got < v->size) {
        ssize_t n = pread(fd, buf + got, v->size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (uint64_t)n;
    }
    if (buf && (got != v->size || fstat(fd, &st) != 0 || (uint64_t)st.st_size != v->size ||
                st.st_mtim.tv_sec != v->mtime.tv_sec || st.st_mtim.tv_nsec != v->mtime.tv_nsec)) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Compresses one variant from the file fd into v->body and v->len (NULL
 * when not worth keeping: no smaller than the file, or a library error).
 * Returns -1 when the file is no longer that version. */
static int compress_one(struct variant *v, int fd)
{
    void *in = read_version(v, fd), *out = NULL;
    size_t out_len = 0;
    if (!in)
        return -1;
    if (codec_compress(v->coding, in, v->size, &out, &out_len) == 0 && out_len < v->size) {
        v->body = out;
        v->len = out_len;
    } else {
        free(out);
    }
    free(in);
    return 0;
}

static void done(struct compress_cache *cache, struct variant *v, int changed, const struct timespec *began)
{
    pthread_mutex_lock(&cache->lock);
    v->state = v->body ? READY : NO_GAIN;
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

/* The next job and its file's descriptor; 0 when the channel is shut. */
static int next_job(struct compress_cache *cache, struct job *job, int *fd)
{
    for (;;) {
        char control[CMSG_SPACE(sizeof(int))];
        struct iovec iov = {job, sizeof *job};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                             .msg_controllen = sizeof control};
        ssize_t n = recvmsg(cache->jobs[0], &msg, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 0;
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            memcpy(fd, CMSG_DATA(c), sizeof *fd);
            if (n == (ssize_t)sizeof *job)
                return 1;
            close(*fd);
        }
    }
}

/* A new variant in the table for job, or NULL when it is there already
 * (asked again before it was done, or by another process of the fork model). */
static struct variant *claim(struct compress_cache *cache, const struct job *job)
{
    struct variant *v = NULL;
    pthread_mutex_lock(&cache->lock);
    if (!find(cache, job) && (v = calloc(1, sizeof *v)) != NULL) {
        v->dev = job->dev;
        v->ino = job->ino;
        v->size = job->size;
        v->mtime = job->mtime;
        v->coding = job->coding;
        v->state = BUILDING;
        v->refs = 2; /* the table's and the compressor's */
        v->kept = 1;
        size_t b = bucket_of(v->dev, v->ino, v->coding);
        v->next_in_bucket = cache->buckets[b];
        cache->buckets[b] = v;
        push_newest(cache, v);
        cache->kept_count++;
        trim(cache);
    }
    pthread_mutex_unlock(&cache->lock);
    return v;
}

static void *compressor_main(void *arg)
{
    struct compress_cache *cache = arg;
    struct job job;
    int fd;
    while (next_job(cache, &job, &fd)) {
        fork_gate_enter(); /* a job allocates: a fork waits for it (serve/fork_gate.h) */
        struct variant *v = claim(cache, &job);
        if (v) {
            struct timespec began;
            clock_gettime(CLOCK_REALTIME, &began);
            int changed = compress_one(v, fd) != 0;
            done(cache, v, changed, &began);
        }
        fork_gate_leave();
        close(fd);
    }
    return NULL;
}

/* ---- the API ----------------------------------------------------------------- */

/* Asks the compressor for a variant. Never waits: when the channel is
 * full, the request goes on with the identity body and a later one asks
 * again. */
static void send_job(struct compress_cache *cache, const struct stat *st, unsigned coding, int file_fd)
{
    struct job job = {st->st_dev, st->st_ino, (uint64_t)st->st_size, st->st_mtim, coding};
    char control[CMSG_SPACE(sizeof(int))];
    memset(control, 0, sizeof control);
    struct iovec iov = {&job, sizeof job};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &file_fd, sizeof file_fd);
    while (sendmsg(cache->jobs[1], &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno == EINTR)
        ;
}

/* A ready variant stands in for the file. */
static void hand_out(struct compress_cache *cache, struct variant *v, struct http_resource *res)
{
    v->refs++;
    unlink_recency(cache, v);
    push_newest(cache, v);
    res->data = v->body; /* res->fd stays the file's, for the file cache to check */
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
    struct job job = {st.st_dev, st.st_ino, (uint64_t)st.st_size, st.st_mtim, coding};
    pthread_mutex_lock(&cache->lock);
    struct variant *v = find(cache, &job);
    if (v && v->state == READY)
        hand_out(cache, v, res);
    pthread_mutex_unlock(&cache->lock);
    if (!v && cache->started)
        send_job(cache, &st, coding, res->fd);
}

void compress_put(struct compress_cache *cache, struct http_resource *res)
{
    struct variant *v = res->handle;
    if (res->fd >= 0)
        close(res->fd);
    res->fd = -1;
    res->data = NULL;
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

static void register_fork_handlers(void);

/* The fork model forks while the compressor may hold the lock: a child
 * would inherit it held, by a thread it does not have. */
static struct compress_cache *forking;

static void before_fork(void)
{
    if (!forking)
        return;
    pthread_mutex_lock(&forking->lock);
}

static void after_fork(void)
{
    if (!forking)
        return;
    pthread_mutex_unlock(&forking->lock);
}

struct compress_cache *compress_cache_new(const struct compress_settings *settings)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    struct compress_cache *cache = calloc(1, sizeof *cache);
    if (!cache)
        return NULL;
    cache->settings = *settings;
    cache->type_count = parse_types(settings->types, cache->types, COMPRESS_TYPES_MAX);
    cache->settings.types = NULL; /* parsed: the caller's string is not kept */
    if (cache->type_count < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, cache->jobs) != 0) {
        free(cache);
        return NULL;
    }
    if (pthread_mutex_init(&cache->lock, NULL) != 0) {
        close(cache->jobs[0]);
        close(cache->jobs[1]);
        free(cache);
        return NULL;
    }
    pthread_once(&once, register_fork_handlers);
    forking = cache;
    return cache;
}

int compress_cache_start(struct compress_cache *cache)
{
    int err = gate_thread_create(&cache->thread, compressor_main, cache);
    if (err != 0) {
        log_syscall("pthread_create", "compressor", err);
        return -1;
    }
    cache->started = 1;
    return 0;
}

void compress_cache_free(struct compress_cache *cache)
{
    if (!cache)
        return;
    shutdown(cache->jobs[1], SHUT_RDWR); /* the compressor's recvmsg returns 0 */
    if (cache->started)
        pthread_join(cache->thread, NULL);
    close(cache->jobs[0]);
    close(cache->jobs[1]);
    while (cache->newest)
        unkeep(cache, cache->newest);
    if (forking == cache)
        forking = NULL;
    pthread_mutex_destroy(&cache->lock);
    free(cache);
}

static void register_fork_handlers(void)
{
    pthread_atfork(before_fork, after_fork, after_fork);
}
