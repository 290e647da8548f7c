/* Unit tests for the per-worker file cache (src/serve/filecache.c) in front
 * of the real static-file handler on a temporary directory, with the clock
 * injected: what a second shares, and that a deleted or replaced file's
 * descriptor is let go (file_cache_tick, a 404, the last release). */
#include "serve/filecache.h"
#include "serve/files.h"
#include "test.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static time_t fake_now;
static char dir[] = "/tmp/duct-filecache-XXXXXX";

static time_t fake_clock(void)
{
    return fake_now;
}

static void path_of(const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static void put(const char *name, const char *text)
{
    char path[PATH_MAX];
    path_of(name, path, sizeof path);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void drop_file(const char *name)
{
    char path[PATH_MAX];
    path_of(name, path, sizeof path);
    CHECK_EQ_INT(unlink(path), 0);
}

/* Replaces `name` by a new file, as an editor or a deploy does. */
static void replace(const char *name, const char *text)
{
    char from[PATH_MAX], to[PATH_MAX];
    put("new.tmp", text);
    path_of("new.tmp", from, sizeof from);
    path_of(name, to, sizeof to);
    CHECK_EQ_INT(rename(from, to), 0);
}

/* Descriptors of this process that point at a deleted file, as /proc shows them. */
static int deleted_fds(void)
{
    int count = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    if (!d)
        return -1;
    while ((de = readdir(d))) {
        char link[300], target[PATH_MAX];
        snprintf(link, sizeof link, "/proc/self/fd/%s", de->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        count += strstr(target, " (deleted)") != NULL;
    }
    closedir(d);
    return count;
}

static int is_open(int fd)
{
    return fd >= 0 && fcntl(fd, F_GETFD) != -1;
}

/* The body resolve gave, read from its descriptor. */
static void check_body(const struct http_resource *res, const char *want)
{
    char got[64] = "";
    ssize_t n = res->fd >= 0 ? pread(res->fd, got, sizeof got - 1, 0) : -1;
    CHECK_EQ_INT(res->status, 200);
    CHECK_EQ_INT(n, (ssize_t)strlen(want));
    CHECK_EQ_INT(res->size, strlen(want));
    if (n >= 0) {
        got[n] = '\0';
        CHECK_EQ_STR(got, want);
    }
}

static struct files files;
static struct file_cache *cache;
static struct http_handler handler;

static void get(const char *path, struct http_resource *res)
{
    memset(res, 0, sizeof *res);
    handler.resolve(handler.ctx, path, strlen(path), 0, res);
}

static void put_back(struct http_resource *res)
{
    handler.release(handler.ctx, res);
}

/* Within one second every request for a file shares one descriptor. */
static void test_second_shares_descriptor(void)
{
    struct http_resource a, b;
    fake_now = 100;
    put("shared.txt", "shared");
    get("/shared.txt", &a);
    check_body(&a, "shared");
    get("/shared.txt", &b);
    CHECK_EQ_INT(b.fd, a.fd);
    int fd = a.fd;
    put_back(&a);
    put_back(&b);
    CHECK(is_open(fd)); /* still cached */
    file_cache_tick(cache, 101);
    CHECK(!is_open(fd)); /* a past second's file is let go */
    drop_file("shared.txt");
}

/* A deleted file is closed by the next second's tick, with no request for it. */
static void test_tick_closes_deleted_file(void)
{
    struct http_resource res;
    fake_now = 200;
    put("gone.txt", "soon gone");
    get("/gone.txt", &res);
    check_body(&res, "soon gone");
    put_back(&res);
    drop_file("gone.txt");
    CHECK_EQ_INT(deleted_fds(), 1);
    file_cache_tick(cache, 200); /* the entry's own second: it may still be handed out */
    CHECK_EQ_INT(deleted_fds(), 1);
    file_cache_tick(cache, 201);
    CHECK_EQ_INT(deleted_fds(), 0);
}

/* A tick does its work once per second: a second call in the same second
 * walks nothing, so an entry made meanwhile waits for the next second. */
static void test_tick_once_a_second(void)
{
    struct http_resource res;
    file_cache_tick(cache, 301);
    fake_now = 300; /* the cache's clock lags the tick's: an entry of an earlier second */
    put("late.txt", "late");
    get("/late.txt", &res);
    put_back(&res);
    drop_file("late.txt");
    file_cache_tick(cache, 301);
    CHECK_EQ_INT(deleted_fds(), 1);
    file_cache_tick(cache, 302);
    CHECK_EQ_INT(deleted_fds(), 0);
}

/* A response still sending from a deleted file keeps it until it is released. */
static void test_entry_in_use_closes_on_release(void)
{
    struct http_resource res;
    fake_now = 400;
    put("busy.txt", "in flight");
    get("/busy.txt", &res);
    drop_file("busy.txt");
    file_cache_tick(cache, 401);
    CHECK(is_open(res.fd));
    check_body(&res, "in flight"); /* the response goes on reading it */
    CHECK_EQ_INT(deleted_fds(), 1);
    put_back(&res);
    CHECK_EQ_INT(deleted_fds(), 0);
}

/* A request for a file deleted within the same second is a 404, and the
 * stale entry is dropped at once. */
static void test_deleted_file_is_404_at_once(void)
{
    struct http_resource res;
    fake_now = 500;
    put("del.txt", "deleted soon");
    get("/del.txt", &res);
    put_back(&res);
    drop_file("del.txt");
    get("/del.txt", &res);
    CHECK_EQ_INT(res.status, 404);
    CHECK_EQ_INT(res.fd, -1);
    put_back(&res);
    CHECK_EQ_INT(deleted_fds(), 0);
}

/* The same in a later second, before any tick. */
static void test_404_later_drops_entry(void)
{
    struct http_resource res;
    fake_now = 600;
    put("old.txt", "old");
    get("/old.txt", &res);
    put_back(&res);
    drop_file("old.txt");
    fake_now = 601;
    get("/old.txt", &res);
    CHECK_EQ_INT(res.status, 404);
    put_back(&res);
    CHECK_EQ_INT(deleted_fds(), 0);
}

/* A file replaced by rename is served with its new content at once, and the
 * old one is let go. */
static void test_replaced_file_served_new(void)
{
    struct http_resource res;
    fake_now = 700;
    put("page.html", "version one");
    get("/page.html", &res);
    check_body(&res, "version one");
    put_back(&res);
    replace("page.html", "version two, longer");
    get("/page.html", &res);
    check_body(&res, "version two, longer");
    put_back(&res);
    CHECK_EQ_INT(deleted_fds(), 0);
    drop_file("page.html");
    file_cache_tick(cache, 701);
    CHECK_EQ_INT(deleted_fds(), 0);
}

/* A replaced file that keeps another name (a hard link) is still linked, so
 * the cache cannot tell: it serves the old version for the rest of the
 * second, then the new one, and the tick lets the old descriptor go. */
static void test_replaced_linked_file_within_a_second(void)
{
    struct http_resource res;
    char path[PATH_MAX], other[PATH_MAX];
    fake_now = 800;
    put("linked.txt", "first");
    path_of("linked.txt", path, sizeof path);
    path_of("linked-too.txt", other, sizeof other);
    CHECK_EQ_INT(link(path, other), 0);
    get("/linked.txt", &res);
    int old_fd = res.fd;
    put_back(&res);
    replace("linked.txt", "second");
    get("/linked.txt", &res);
    check_body(&res, "first");
    put_back(&res);
    file_cache_tick(cache, 801);
    CHECK(!is_open(old_fd));
    fake_now = 801;
    get("/linked.txt", &res);
    check_body(&res, "second");
    put_back(&res);
    drop_file("linked-too.txt");
    drop_file("linked.txt");
    file_cache_tick(cache, 802);
    CHECK_EQ_INT(deleted_fds(), 0);
}

/* ---- small files from memory ------------------------------------------ */

static struct file_cache *mem;
static struct http_handler mem_handler;

static void mem_get(const char *path, struct http_resource *res)
{
    memset(res, 0, sizeof *res);
    mem_handler.resolve(mem_handler.ctx, path, strlen(path), 0, res);
}

static void mem_put_back(struct http_resource *res)
{
    mem_handler.release(mem_handler.ctx, res);
}

/* The body resolve gave from memory: no descriptor, the bytes as they were. */
static void check_memory(const struct http_resource *res, const char *want)
{
    CHECK_EQ_INT(res->status, 200);
    CHECK_EQ_INT(res->fd, -1);
    CHECK(res->data != NULL);
    CHECK_EQ_INT(res->size, strlen(want));
    if (res->data && res->size == strlen(want))
        CHECK(memcmp(res->data, want, res->size) == 0);
}

/* Descriptors of this process that point at `name` in the test directory. */
static int fds_on(const char *name)
{
    char want[PATH_MAX];
    int count = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    path_of(name, want, sizeof want);
    while (d && (de = readdir(d))) {
        char link[300], target[PATH_MAX];
        snprintf(link, sizeof link, "/proc/self/fd/%s", de->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        count += strncmp(target, want, strlen(want)) == 0;
    }
    if (d)
        closedir(d);
    return count;
}

/* A deleted file's kept bytes go at the next second's request for it (a 404). */
static void forget(const char *path)
{
    struct http_resource res;
    drop_file(path + 1);
    fake_now++;
    mem_get(path, &res);
    CHECK_EQ_INT(res.status, 404);
    mem_put_back(&res);
}

/* A small file is read once and served from memory, holding no descriptor. */
static void test_small_file_from_memory(void)
{
    struct http_resource a, b;
    fake_now = 1000;
    put("small.txt", "tiny");
    mem_get("/small.txt", &a);
    check_memory(&a, "tiny");
    CHECK_EQ_INT(fds_on("small.txt"), 0);
    mem_get("/small.txt", &b);
    CHECK(b.data == a.data); /* the same bytes, not read again */
    mem_put_back(&a);
    mem_put_back(&b);
    CHECK_EQ_INT(file_cache_bytes(mem), 4);
    file_cache_tick(mem, 1001); /* bytes hold no file: they stay */
    fake_now = 1001;
    mem_get("/small.txt", &a);
    check_memory(&a, "tiny");
    mem_put_back(&a);
    forget("/small.txt");
    CHECK_EQ_INT(file_cache_bytes(mem), 0);
}

/* Within a second the kept bytes are served without a look at the disk; the
 * next second's first request sees the change: rewritten, shrunk, replaced
 * by rename, deleted. */
static void test_memory_checked_once_a_second(void)
{
    struct http_resource res;
    fake_now = 1100;
    put("page.txt", "first version");
    mem_get("/page.txt", &res);
    check_memory(&res, "first version");
    mem_put_back(&res);
    put("page.txt", "second, longer"); /* rewritten in place */
    mem_get("/page.txt", &res);
    check_memory(&res, "first version"); /* the same second: not looked at */
    mem_put_back(&res);
    fake_now = 1101;
    mem_get("/page.txt", &res);
    check_memory(&res, "second, longer");
    mem_put_back(&res);
    put("page.txt", "short"); /* shrunk */
    fake_now = 1102;
    mem_get("/page.txt", &res);
    check_memory(&res, "short");
    mem_put_back(&res);
    replace("page.txt", "renamed in");
    fake_now = 1103;
    mem_get("/page.txt", &res);
    check_memory(&res, "renamed in");
    mem_put_back(&res);
    drop_file("page.txt");
    fake_now = 1104;
    mem_get("/page.txt", &res);
    CHECK_EQ_INT(res.status, 404);
    mem_put_back(&res);
    CHECK_EQ_INT(file_cache_bytes(mem), 0);
}

/* A file over max_file is sent from its descriptor, as before. */
static void test_large_file_from_descriptor(void)
{
    struct http_resource res;
    fake_now = 1200;
    put("large.txt", "more than sixteen bytes");
    mem_get("/large.txt", &res);
    CHECK(res.fd >= 0);
    CHECK(res.data == NULL);
    mem_put_back(&res);
    CHECK_EQ_INT(file_cache_bytes(mem), 0);
    file_cache_tick(mem, 1201);
    drop_file("large.txt");
}

/* max_bytes bounds the bytes held, in use or not: beyond it the clock sweep
 * evicts what was not used since it last passed, and a file that cannot fit
 * (the others are in use) is sent from its descriptor. */
static void test_memory_bound_and_eviction(void)
{
    struct http_resource a, b, c;
    const char *sixteen = "0123456789abcdef";
    fake_now = 1300;
    put("a.txt", sixteen);
    put("b.txt", sixteen);
    put("c.txt", sixteen);
    mem_get("/a.txt", &a);
    mem_get("/b.txt", &b);
    CHECK_EQ_INT(file_cache_bytes(mem), 32);
    mem_get("/c.txt", &c); /* 48 > 40, and a and b are in use */
    CHECK(c.fd >= 0);
    CHECK(file_cache_bytes(mem) <= 40);
    mem_put_back(&c);
    mem_put_back(&a);
    mem_put_back(&b);
    file_cache_tick(mem, 1301);
    fake_now = 1301;
    for (int round = 0; round < 3; round++) {
        mem_get("/c.txt", &c); /* evicts a or b */
        check_memory(&c, sixteen);
        CHECK(file_cache_bytes(mem) <= 40);
        mem_put_back(&c);
        mem_get("/a.txt", &a);
        check_memory(&a, sixteen);
        CHECK(file_cache_bytes(mem) <= 40);
        mem_put_back(&a);
    }
    CHECK_EQ_INT(fds_on("a.txt") + fds_on("b.txt") + fds_on("c.txt"), 0);
    forget("/a.txt");
    forget("/b.txt");
    forget("/c.txt");
    CHECK_EQ_INT(file_cache_bytes(mem), 0);
}

/* An entry evicted while a response sends from it keeps its bytes (and
 * counts them) until that response is released. */
static void test_evicted_bytes_live_until_release(void)
{
    struct http_resource a, b;
    fake_now = 1400;
    put("x.txt", "kept bytes");
    mem_get("/x.txt", &a);
    check_memory(&a, "kept bytes");
    put("x.txt", "new bytes");
    fake_now = 1401;
    mem_get("/x.txt", &b); /* the old entry is replaced while a sends from it */
    check_memory(&b, "new bytes");
    check_memory(&a, "kept bytes");
    CHECK_EQ_INT(file_cache_bytes(mem), 19);
    mem_put_back(&a);
    CHECK_EQ_INT(file_cache_bytes(mem), 9);
    mem_put_back(&b);
    drop_file("x.txt");
}

int main(void)
{
    char err[256];
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    CHECK_EQ_INT(files_open(&files, dir, err, sizeof err), 0);
    struct file_cache_limits fd_only = {0, 0, 512};
    cache = file_cache_new(files_handler(&files), fake_clock, &fd_only);
    CHECK(cache != NULL);
    handler = file_cache_handler(cache);
    test_second_shares_descriptor();
    test_tick_closes_deleted_file();
    test_tick_once_a_second();
    test_entry_in_use_closes_on_release();
    test_deleted_file_is_404_at_once();
    test_404_later_drops_entry();
    test_replaced_file_served_new();
    test_replaced_linked_file_within_a_second();
    file_cache_free(cache);
    struct file_cache_limits small = {16, 40, 64};
    mem = file_cache_new(files_handler(&files), fake_clock, &small);
    CHECK(mem != NULL);
    mem_handler = file_cache_handler(mem);
    test_small_file_from_memory();
    test_memory_checked_once_a_second();
    test_large_file_from_descriptor();
    test_memory_bound_and_eviction();
    test_evicted_bytes_live_until_release();
    file_cache_free(mem);
    files_close(&files);
    if (rmdir(dir) != 0)
        perror("rmdir");
    return test_report();
}
