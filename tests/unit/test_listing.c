/* Unit tests for directory listings: the page (src/serve/listing.c: HTML
 * escaping, the order of entries, the --list-max cut and its note) and the
 * cache of built versions (src/serve/listing_cache.c: one page per version,
 * shared by reference; a new modification time makes a new page and drops
 * the old one; references counted down free it; the table is bounded; a
 * directory changed in the second of its build is not kept). The cache's
 * builder thread is real: a pending answer is waited for with poll, bounded. */
#include "serve/listing.h"
#include "serve/listing_cache.h"
#include "test.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const time_t OLD = 1600000000; /* Sun, 13 Sep 2020 12:26:40 GMT */

static void test_escape(void)
{
    char out[64];
    size_t n = listing_escape_html("<a&\"b>'.txt", 11, out);
    CHECK_EQ_MEM(out, n, "&lt;a&amp;&quot;b&gt;&#39;.txt", 30);
    n = listing_escape_html("plain name", 10, out);
    CHECK_EQ_MEM(out, n, "plain name", 10);
    n = listing_escape_html("", 0, out);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(listing_escape_html("\"\"\"\"", 4, out), 24); /* the worst case is 6 per byte */
}

static struct listing_entry entry(const char *name, int is_dir)
{
    return (struct listing_entry){name, strlen(name), 10, OLD, is_dir};
}

static void test_sort(void)
{
    struct listing_entry e[] = {entry("b", 0), entry("z", 1), entry("a", 0), entry("ab", 0), entry("B", 0),
                                entry("c", 1)};
    listing_sort(e, 6);
    const char *want[] = {"c", "z", "B", "a", "ab", "b"}; /* directories first, then bytes */
    for (int i = 0; i < 6; i++)
        CHECK_EQ_STR(e[i].name, want[i]);
}

static int contains(const char *page, size_t len, const char *needle)
{
    return memmem(page, len, needle, strlen(needle)) != NULL;
}

/* The whole content of fd from offset 0, NUL-terminated; NULL on failure. */
static char *read_all(int fd, size_t *len)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return NULL;
    char *text = malloc((size_t)st.st_size + 1);
    ssize_t n = text ? pread(fd, text, (size_t)st.st_size, 0) : -1;
    if (n != st.st_size) {
        free(text);
        return NULL;
    }
    text[n] = '\0';
    *len = (size_t)n;
    return text;
}

/* listing_render into a memfd, read back. */
static char *render(const char *path, const struct listing_entry *e, size_t n, size_t omitted, size_t *len)
{
    int fd = memfd_create("test-listing", MFD_CLOEXEC);
    if (fd < 0)
        return NULL;
    int64_t written = listing_render(fd, path, strlen(path), e, n, omitted);
    char *page = written >= 0 ? read_all(fd, len) : NULL;
    close(fd);
    CHECK(page && (int64_t)*len == written);
    return page;
}

static void test_render(void)
{
    struct listing_entry e[] = {entry("sub dir", 1), entry("<a&\"b>.txt", 0), entry("a b%#?.txt", 0)};
    e[2].size = LISTING_SIZE_UNKNOWN;
    size_t len = 0;
    char *page = render("/x&y/", e, 3, 0, &len);
    CHECK(page != NULL);
    if (!page)
        return;
    CHECK(contains(page, len, "<title>Index of /x&amp;y/</title>"));
    CHECK(contains(page, len, "<a href=\"../\">../</a>"));
    CHECK(contains(page, len, "<a href=\"sub%20dir/\">sub dir/</a>"));
    CHECK(contains(page, len, "<a href=\"%3Ca%26%22b%3E.txt\">&lt;a&amp;&quot;b&gt;.txt</a></td><td>10</td>"));
    CHECK(contains(page, len, "<a href=\"a%20b%25%23%3F.txt\">a b%#?.txt</a></td><td>-</td>"));
    CHECK(contains(page, len, "Sun, 13 Sep 2020 12:26:40 GMT"));
    CHECK(!contains(page, len, "<a&"));
    CHECK(!contains(page, len, "not listed")); /* nothing left out: no note */
    CHECK(memchr(page, '\0', len) == NULL);
    free(page);

    page = render("/", e, 0, 0, &len);
    CHECK(page != NULL && !contains(page, len, "../")); /* no parent above the root */
    free(page);

    /* The note of a page cut at --list-max, after the table. */
    page = render("/", e, 3, 7, &len);
    CHECK(page && contains(page, len, "</table>\n<p>7 more entries are not listed: this page shows the first 3 "
                                      "(--list-max).</p>\n</body>"));
    free(page);
    page = render("/", e, 1, 1, &len);
    CHECK(page && contains(page, len, "<p>1 more entry is not listed: this page shows the first 1 "));
    free(page);

    /* A page far bigger than the writer's buffer arrives whole. */
    enum { MANY = 5000 };
    struct listing_entry *many = calloc(MANY, sizeof *many);
    char (*names)[16] = calloc(MANY, 16);
    for (int i = 0; many && names && i < MANY; i++) {
        snprintf(names[i], 16, "f%05d", i);
        many[i] = entry(names[i], 0);
    }
    page = many && names ? render("/many/", many, MANY, 0, &len) : NULL;
    CHECK(page && contains(page, len, ">f00000</a>") && contains(page, len, ">f04999</a></td><td>10</td>") &&
          len > 5000 * 80 && contains(page, len, "</body></html>\n"));
    free(page);
    free(many);
    free(names);
}

/* ---- a scratch directory ---- */

static char scratch[64];

static void make_file(const char *dir, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    CHECK(fd >= 0);
    if (fd >= 0)
        close(fd);
}

/* Sets a directory's modification time: an old one keeps the cache from
 * taking it for a directory that is still changing. */
static void set_mtime(const char *dir, time_t t, long nsec)
{
    struct timespec times[2] = {{t, nsec}, {t, nsec}};
    CHECK_EQ_INT(utimensat(AT_FDCWD, dir, times, 0), 0);
}

/* "scratch/name" with files a..e, a directory "sub", a dot file and a
 * FIFO (never listed), dated long ago. */
static void make_dir(const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", scratch, name);
    CHECK_EQ_INT(mkdir(out, 0755), 0);
    const char *files[] = {"c", "a", "e", "b", "d", ".hidden"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        make_file(out, files[i]);
    char sub[256], fifo[256];
    snprintf(sub, sizeof sub, "%s/sub", out);
    snprintf(fifo, sizeof fifo, "%s/pipe", out);
    CHECK_EQ_INT(mkdir(sub, 0755), 0);
    CHECK_EQ_INT(mkfifo(fifo, 0644), 0);
    set_mtime(out, OLD, 0);
}

static char *build(const char *dir, size_t list_max, size_t *len, int *status)
{
    int out = memfd_create("test-build", MFD_CLOEXEC);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    uint64_t n = 0;
    *status = fd >= 0 && out >= 0 ? listing_build(fd, "/d/", 3, list_max, out, &n) : -1;
    char *page = *status == 200 ? read_all(out, len) : NULL;
    CHECK(!page || *len == n);
    if (out >= 0)
        close(out);
    return page;
}

/* All names are read and sorted before the cut: the page is the first N
 * entries in order (directories first), the same every time. */
static void test_build_list_max(void)
{
    char dir[128];
    size_t len = 0, len2 = 0;
    int status = 0;
    make_dir("cut", dir, sizeof dir);
    char *page = build(dir, 3, &len, &status);
    CHECK_EQ_INT(status, 200);
    CHECK(page && contains(page, len, ">sub/</a>") && contains(page, len, ">a</a>") && contains(page, len, ">b</a>"));
    CHECK(page && !contains(page, len, ">c</a>") && !contains(page, len, ">e</a>"));
    CHECK(page && contains(page, len, "<p>3 more entries are not listed: this page shows the first 3 "));
    CHECK(page && !contains(page, len, "hidden") && !contains(page, len, "pipe"));
    char *again = build(dir, 3, &len2, &status);
    CHECK(page && again && len == len2 && memcmp(page, again, len) == 0);
    free(page);
    free(again);

    page = build(dir, 6, &len, &status); /* exactly everything: no note */
    CHECK(page && contains(page, len, ">e</a>") && !contains(page, len, "not listed"));
    free(page);

    char file[256];
    snprintf(file, sizeof file, "%s/a", dir);
    int out = memfd_create("test-build", MFD_CLOEXEC);
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    uint64_t n = 0;
    CHECK(fd >= 0 && out >= 0);
    CHECK_EQ_INT(listing_build(fd, "/d/", 3, 10, out, &n), 500); /* not a directory */
    close(out);
}

/* ---- the cache ---- */

static int wait_readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 20000) == 1;
}

/* A listing through the cache, waited for when it is being built: returns
 * whether it had to wait (so was built for this call), -1 on failure. */
static int get(struct listing_cache *cache, const char *dir, const char *url, struct http_resource *res)
{
    struct stat st;
    memset(res, 0, sizeof *res);
    res->fd = -1;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0)
        return -1;
    listing_cache_get(cache, fd, &st, url, strlen(url), res);
    if (!(res->flags & HTTP_RES_PENDING))
        return 0;
    CHECK_EQ_INT(res->status, 0);
    CHECK(res->fd >= 0 && res->handle != NULL);
    if (!wait_readable(res->fd))
        return -1;
    listing_cache_finish(cache, res);
    CHECK(!(res->flags & HTTP_RES_PENDING));
    return 1;
}

static struct listing_cache_stats stats(struct listing_cache *cache)
{
    struct listing_cache_stats s;
    listing_cache_stats(cache, &s);
    return s;
}

static void test_cache_shares_versions(void)
{
    char dir[128];
    struct http_resource a, b, c, d;
    size_t len = 0;
    make_dir("shared", dir, sizeof dir);
    struct listing_cache *cache = listing_cache_new(10000);
    CHECK(cache != NULL);
    if (!cache)
        return;
    CHECK_EQ_INT(get(cache, dir, "/shared/", &a), 1); /* built for this one */
    CHECK_EQ_INT(a.status, 200);
    CHECK(a.flags & HTTP_RES_GENERATED);
    CHECK(a.fd >= 0 && a.handle != NULL && a.data == NULL);
    char *page = read_all(a.fd, &len);
    CHECK(page && (uint64_t)len == a.size && contains(page, len, "Index of /shared/") &&
          contains(page, len, ">sub/</a>") && contains(page, len, ">e</a>"));
    free(page);

    /* The same version: the same page, at once, not built again. */
    CHECK_EQ_INT(get(cache, dir, "/shared/", &b), 0);
    CHECK_EQ_INT(b.status, 200);
    CHECK(b.handle == a.handle && b.fd == a.fd && b.size == a.size);
    CHECK_EQ_INT(stats(cache).builds, 1);
    CHECK_EQ_INT(stats(cache).pages, 1);

    /* The same directory under another URL is another page (it names its path). */
    CHECK_EQ_INT(get(cache, dir, "/other/", &c), 1);
    CHECK(c.handle != a.handle);
    listing_cache_put(cache, &c);
    CHECK(c.handle == NULL && c.fd == -1);

    /* A new modification time: a new page; the old version leaves the table
     * but lives while responses hold it. */
    make_file(dir, "f");
    set_mtime(dir, OLD + 100, 5);
    CHECK_EQ_INT(get(cache, dir, "/shared/", &d), 1);
    CHECK(d.handle != a.handle && d.fd != a.fd);
    page = read_all(d.fd, &len);
    CHECK(page && contains(page, len, ">f</a>"));
    free(page);
    CHECK_EQ_INT(stats(cache).builds, 3);
    CHECK_EQ_INT(stats(cache).kept, 2); /* /other/ and the new /shared/ */
    CHECK_EQ_INT(stats(cache).pages, 3);
    page = read_all(a.fd, &len); /* still readable: a reference keeps it */
    CHECK(page && !contains(page, len, ">f</a>"));
    free(page);

    /* References counted down free it. */
    listing_cache_put(cache, &a);
    CHECK_EQ_INT(stats(cache).pages, 3);
    listing_cache_put(cache, &b);
    CHECK_EQ_INT(stats(cache).pages, 2);
    listing_cache_put(cache, &d);
    CHECK_EQ_INT(stats(cache).pages, 2); /* kept, with nobody sending it */
    CHECK_EQ_INT(stats(cache).kept_bytes, (size_t)d.size + (size_t)c.size);
    listing_cache_free(cache);
}

/* A directory whose modification time is this second (or the last) may still
 * change without it moving: its page is handed out but not kept. A time in
 * the future (here, so that a slow machine cannot make the test pass the
 * second by) is not trusted either. */
static void test_cache_racy_directory(void)
{
    char dir[128];
    struct http_resource a, b;
    make_dir("racy", dir, sizeof dir);
    set_mtime(dir, time(NULL) + 60, 0);
    struct listing_cache *cache = listing_cache_new(10000);
    CHECK_EQ_INT(get(cache, dir, "/racy/", &a), 1);
    CHECK_EQ_INT(a.status, 200);
    CHECK_EQ_INT(get(cache, dir, "/racy/", &b), 1); /* built again */
    CHECK(b.handle != a.handle);
    CHECK_EQ_INT(stats(cache).kept, 0);
    listing_cache_put(cache, &a);
    listing_cache_put(cache, &b);
    CHECK_EQ_INT(stats(cache).pages, 0);
    listing_cache_free(cache);
}

/* The table keeps LISTING_CACHE_PAGES versions; list_max reaches the pages;
 * a failed build is answered with its status and not kept; a response that
 * leaves while waiting gives its reference back. */
static void test_cache_bounds_and_failures(void)
{
    char dir[128];
    struct http_resource res;
    size_t len = 0;
    struct listing_cache *cache = listing_cache_new(2);
    for (int i = 0; i < LISTING_CACHE_PAGES + 4; i++) {
        char name[32], url[40];
        snprintf(name, sizeof name, "many%02d", i);
        snprintf(url, sizeof url, "/%s/", name);
        make_dir(name, dir, sizeof dir);
        CHECK_EQ_INT(get(cache, dir, url, &res), 1);
        if (i == 0) {
            char *page = read_all(res.fd, &len);
            CHECK(page && contains(page, len, "<p>4 more entries are not listed: this page shows the first 2 "));
            free(page);
        }
        listing_cache_put(cache, &res);
    }
    CHECK_EQ_INT(stats(cache).kept, LISTING_CACHE_PAGES);
    CHECK_EQ_INT(stats(cache).pages, LISTING_CACHE_PAGES);

    /* A build that fails (here: not a directory). */
    char file[256];
    struct stat st;
    snprintf(file, sizeof file, "%s/a", dir);
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0 && fstat(fd, &st) == 0);
    memset(&res, 0, sizeof res);
    listing_cache_get(cache, fd, &st, "/f/", 3, &res);
    CHECK(res.flags & HTTP_RES_PENDING);
    CHECK(wait_readable(res.fd));
    listing_cache_finish(cache, &res);
    CHECK_EQ_INT(res.status, 500);
    CHECK(res.handle == NULL && res.fd == -1);
    /* Its arrival pushed the oldest version out; it was not kept itself. */
    CHECK_EQ_INT(stats(cache).kept, LISTING_CACHE_PAGES - 1);
    CHECK_EQ_INT(stats(cache).pages, LISTING_CACHE_PAGES - 1);

    /* Gone while waiting. */
    make_dir("left", dir, sizeof dir);
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(fd >= 0 && fstat(fd, &st) == 0);
    memset(&res, 0, sizeof res);
    listing_cache_get(cache, fd, &st, "/left/", 6, &res);
    listing_cache_put(cache, &res);
    listing_cache_free(cache); /* LeakSanitizer (make SAN=1) sees that all is freed */
}

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char child[512];
        snprintf(child, sizeof child, "%s/%s", path, de->d_name);
        if (de->d_type == DT_DIR)
            remove_tree(child);
        else
            unlink(child);
    }
    if (d)
        closedir(d);
    rmdir(path);
}

int main(void)
{
    test_escape();
    test_sort();
    test_render();
    snprintf(scratch, sizeof scratch, "/tmp/duct-test-listing-XXXXXX");
    if (!mkdtemp(scratch)) {
        CHECK(!"mkdtemp");
        return test_report();
    }
    test_build_list_max();
    test_cache_shares_versions();
    test_cache_racy_directory();
    test_cache_bounds_and_failures();
    remove_tree(scratch);
    return test_report();
}
