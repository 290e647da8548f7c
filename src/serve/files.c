#include "serve/files.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "http/site.h"
#include "serve/demo.h"

/* openat2 with RESOLVE_BENEATH lets the kernel refuse any path, ".." or
 * symlink included, that would leave the root: the guarantee holds even if a
 * file below the root is swapped for a symlink between two requests.
 * O_NONBLOCK keeps a FIFO from blocking the worker at open. */
static int open_beneath(int dir_fd, const char *path)
{
    struct open_how how = {
        .flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    long fd;
    do
        fd = syscall(SYS_openat2, dir_fd, path, &how, sizeof how);
    while (fd < 0 && errno == EINTR);
    return (int)fd;
}

static int status_for_errno(int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
        return 404;
    case EACCES:
    case EPERM:
    case EXDEV: /* the path leads outside the root */
    case ELOOP:
        return 403;
    case EMFILE:
    case ENFILE:
    case ENOMEM:
        return 503;
    default:
        return 500;
    }
}

static void fill_from_stat(struct http_resource *res, int fd, const struct stat *st, const struct files *files,
                           const char *name, size_t name_len)
{
    res->status = 200;
    res->fd = fd;
    res->size = (uint64_t)st->st_size;
    res->mtime = st->st_mtime;
    res->etag_id = (uint64_t)st->st_ino;
    res->content_type = mime_type_for(files->mime, name, name_len);
}

/* The index names to try: --index, or index.html. */
static const char *const default_index[] = {"index.html"};

/* A directory URL ending in '/' is answered by the first of its index files
 * that exists (--index, in order); without one it is a listing with
 * --list-dirs, else 403 as nginx does. dir_st is the directory's fstat: its
 * identity and modification time name the version of the listing. Returns
 * the index name that answered, or NULL. */
static const char *resolve_index(struct files *files, int dir_fd, const struct stat *dir_st, const char *path,
                                 size_t path_len, struct http_resource *res)
{
    const char *const *names = files->index ? files->index : default_index;
    int count = files->index ? files->index_count : 1;
    struct stat st;
    int fd = -1;
    const char *name = NULL;
    for (int i = 0; i < count && fd < 0; i++) {
        name = names[i];
        fd = open_beneath(dir_fd, name);
        if (fd < 0 && errno != ENOENT)
            break;
    }
    if (fd < 0 && errno == ENOENT && files->listings) {
        listing_cache_get(files->listings, dir_fd, dir_st, path, path_len, res);
        return NULL;
    }
    close(dir_fd);
    if (fd < 0) {
        res->status = errno == ENOENT ? 403 : status_for_errno(errno);
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        res->status = 403;
        return NULL;
    }
    fill_from_stat(res, fd, &st, files, name, strlen(name));
    return name;
}

/* Precompressed siblings, one per coding the server knows. */
static const struct sibling {
    const char *suffix;
    unsigned coding;
} siblings[] = {
    {".zst", HTTP_ACCEPT_ZSTD},
    {".br", HTTP_ACCEPT_BR},
    {".gz", HTTP_ACCEPT_GZIP},
};

#define SIBLINGS (sizeof siblings / sizeof siblings[0])

static int ends_with(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

/* path + suffix when it is a readable regular file below root, else -1. */
static int open_sibling(int root, const char *path, size_t path_len, const char *suffix, struct stat *st)
{
    char name[4096];
    size_t n = strlen(suffix);
    if (path_len + n > sizeof name)
        return -1;
    memcpy(name, path + 1, path_len - 1);
    memcpy(name + path_len - 1, suffix, n + 1);
    int fd = open_beneath(root, name);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* "file.zst", "file.br" or "file.gz" next to a file stands in for it when
 * the client takes that coding (the one it prefers among those present);
 * it keeps the file's Content-Type. Any sibling makes every answer about the
 * file vary by Accept-Encoding. A request for "file.gz" itself gets that
 * file as it is. */
static void choose_sibling(int root, const char *path, size_t path_len, unsigned accept, struct http_resource *res)
{
    int fds[SIBLINGS];
    struct stat sts[SIBLINGS];
    unsigned present = 0;
    for (size_t k = 0; k < SIBLINGS; k++)
        if (ends_with(path, path_len, siblings[k].suffix))
            return;
    for (size_t k = 0; k < SIBLINGS; k++) {
        fds[k] = open_sibling(root, path, path_len, siblings[k].suffix, &sts[k]);
        if (fds[k] >= 0)
            present |= siblings[k].coding;
    }
    if (present)
        res->flags |= HTTP_RES_VARY;
    unsigned chosen = http_accept_pick(accept, present);
    for (size_t k = 0; k < SIBLINGS; k++) {
        if (fds[k] < 0)
            continue;
        if (siblings[k].coding != chosen) {
            close(fds[k]);
            continue;
        }
        close(res->fd);
        res->fd = fds[k];
        res->size = (uint64_t)sts[k].st_size;
        res->mtime = sts[k].st_mtime;
        res->etag_id = (uint64_t)sts[k].st_ino;
        res->encoding = http_accept_name(chosen);
    }
}

/* With no sibling, a compressible file may be sent compressed on the fly. */
static void offer_compression(const struct files *files, unsigned accept, struct http_resource *res)
{
    if (files->compress && res->status == 200 && !(res->flags & HTTP_RES_VARY))
        compress_offer(files->compress, res, accept);
}

/* A directory's index may have siblings too ("index.html.gz"). */
static void choose_index_sibling(int root, const char *path, size_t path_len, const char *index, unsigned accept,
                                 struct http_resource *res)
{
    char name[4096];
    if (!index || res->status != 200 || res->fd < 0)
        return;
    size_t n = strlen(index);
    if (path_len + n + 1 > sizeof name)
        return;
    memcpy(name, path, path_len);
    memcpy(name + path_len, index, n + 1);
    choose_sibling(root, name, path_len + n, accept, res);
}

/* path (normalised, from '/') below the directory root. */
static void resolve_in(struct files *files, int root, const char *path, size_t path_len, unsigned accept,
                       struct http_resource *res)
{
    struct stat st;
    int fd = open_beneath(root, path_len > 1 ? path + 1 : ".");
    if (fd < 0) {
        res->status = status_for_errno(errno);
        return;
    }
    if (fstat(fd, &st) != 0) {
        close(fd);
        res->status = 500;
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        if (path[path_len - 1] == '/') {
            const char *index = resolve_index(files, fd, &st, path, path_len, res);
            choose_index_sibling(root, path, path_len, index, accept, res);
            offer_compression(files, accept, res);
            return;
        }
        close(fd);
        res->status = 301;
        return;
    }
    if (!S_ISREG(st.st_mode)) {
        /* FIFOs, devices and sockets: reading them could block or have effects. */
        close(fd);
        res->status = 403;
        return;
    }
    fill_from_stat(res, fd, &st, files, path, path_len);
    choose_sibling(root, path, path_len, accept, res);
    offer_compression(files, accept, res);
}

/* The folder of a host below the --vhosts root, or of "_default"; -1 when
 * neither is a directory. */
static int open_host(const struct files *files, const char *host)
{
    struct stat st;
    int fd = open_beneath(files->root_fd, host);
    if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode))) {
        close(fd);
        fd = -1;
    }
    if (fd < 0 && strcmp(host, "_default") != 0)
        return open_host(files, "_default");
    return fd;
}

/* Under --vhosts the request path is "/host/rest" (reply.c puts the checked
 * Host first), so the file cache keeps one entry per host and path. */
static void resolve_vhost(struct files *files, const char *path, size_t path_len, unsigned accept,
                          struct http_resource *res)
{
    char host[HTTP_SITE_HOST_MAX + 1];
    const char *slash = memchr(path + 1, '/', path_len - 1);
    size_t n = slash ? (size_t)(slash - path - 1) : 0;
    if (n == 0 || n > HTTP_SITE_HOST_MAX) {
        res->status = 404;
        return;
    }
    memcpy(host, path + 1, n);
    host[n] = '\0';
    int root = open_host(files, host);
    if (root < 0) {
        res->status = 404;
        return;
    }
    resolve_in(files, root, slash, path_len - n - 1, accept, res);
    close(root);
}

static void resolve_file(void *ctx, const char *path, size_t path_len, unsigned accept, struct http_resource *res)
{
    struct files *files = ctx;
    memset(res, 0, sizeof *res);
    res->fd = -1;
    if (files->vhosts)
        resolve_vhost(files, path, path_len, accept, res);
    else
        resolve_in(files, files->root_fd, path, path_len, accept, res);
}

static void resolve_demo(void *ctx, const char *path, size_t path_len, unsigned accept, struct http_resource *res)
{
    struct files *files = ctx;
    (void)accept;
    char name[256];
    memset(res, 0, sizeof *res);
    res->fd = -1;
    res->status = 404;
    if (path_len + sizeof "index.html" > sizeof name)
        return;
    memcpy(name, path, path_len + 1);
    if (name[path_len - 1] == '/')
        memcpy(name + path_len, "index.html", sizeof "index.html");
    for (const struct demo_asset *a = demo_assets; a->path; a++) {
        if (strcmp(a->path, name) == 0) {
            res->status = 200;
            res->data = a->data;
            res->size = a->len;
            res->mtime = files->started;
            res->etag_id = (uint64_t)(a - demo_assets);
            res->content_type = mime_type_for(files->mime, name, strlen(name));
            return;
        }
    }
}

static void release(void *ctx, struct http_resource *res)
{
    struct files *files = ctx;
    if (res->flags & HTTP_RES_SHARED) {
        compress_put(files->compress, res);
        return;
    }
    if (res->flags & (HTTP_RES_GENERATED | HTTP_RES_PENDING)) {
        listing_cache_put(files->listings, res);
        return;
    }
    if (res->fd >= 0)
        close(res->fd);
    res->fd = -1;
    res->data = NULL;
}

/* Only a listing is ever left pending. */
static void resume(void *ctx, struct http_resource *res)
{
    struct files *files = ctx;
    listing_cache_finish(files->listings, res);
}

struct http_handler files_handler(struct files *files)
{
    struct http_handler h = {
        .resolve = files->root_fd >= 0 ? resolve_file : resolve_demo,
        .release = release,
        .resume = resume,
        .ctx = files,
    };
    return h;
}

/* Reads a whole small file; NULL when it cannot be read. */
static char *read_small_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    size_t cap = 65536, n = 0;
    char *text = malloc(cap);
    while (text) {
        n += fread(text + n, 1, cap - n, f);
        if (n < cap || cap >= (1u << 22))
            break;
        char *bigger = realloc(text, cap * 2);
        if (!bigger) {
            free(text);
            text = NULL;
            break;
        }
        text = bigger;
        cap *= 2;
    }
    fclose(f);
    *len = n;
    return text;
}

static int build_mime_table(struct files *files, char *err, size_t errlen)
{
    size_t len = 0;
    files->mime = mime_table_new();
    if (!files->mime) {
        snprintf(err, errlen, "out of memory building the MIME table");
        return -1;
    }
    char *text = read_small_file("/etc/mime.types", &len);
    if (text) {
        long added = mime_table_load(files->mime, text, len);
        free(text);
        if (added < 0) {
            snprintf(err, errlen, "out of memory loading /etc/mime.types");
            return -1;
        }
    }
    return 0;
}

int files_open(struct files *files, const char *dir, char *err, size_t errlen)
{
    files->root_fd = -1;
    files->started = time(NULL);
    files->listings = NULL;
    files->compress = NULL;
    if (build_mime_table(files, err, errlen) != 0)
        return -1;
    if (!dir)
        return 0;
    files->root_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (files->root_fd < 0) {
        snprintf(err, errlen, "cannot open document root %s: %s", dir, strerror(errno));
        goto fail;
    }
    int probe = open_beneath(files->root_fd, ".");
    if (probe < 0) {
        snprintf(err, errlen, "cannot read document root %s: %s%s", dir, strerror(errno),
                 errno == ENOSYS ? " (openat2 needs Linux 5.6 or later)" : "");
        goto fail;
    }
    close(probe);
    return 0;
fail:
    files_close(files);
    return -1;
}

void files_close(struct files *files)
{
    if (files->root_fd >= 0)
        close(files->root_fd);
    files->root_fd = -1;
    mime_table_free(files->mime);
    files->mime = NULL;
    listing_cache_free(files->listings);
    files->listings = NULL;
    compress_cache_free(files->compress);
    files->compress = NULL;
}

int files_list_dirs(struct files *files, size_t list_max)
{
    files->listings = listing_cache_new(list_max);
    return files->listings ? 0 : -1;
}

int files_compress(struct files *files, const struct compress_settings *settings)
{
    files->compress = compress_cache_new(settings);
    return files->compress ? 0 : -1;
}

int files_start(struct files *files)
{
    return files->compress ? compress_cache_start(files->compress) : 0;
}
