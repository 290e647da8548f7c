/* Unit tests for compression on the fly (src/serve/compress.c, codec.c) on a
 * temporary directory: which files qualify (type, size, range), that a
 * variant is made by the compressor and not by the asking thread, that it
 * decodes to the file, and that a changed file is not answered with the old
 * variant. */
#include "http/accept.h"
#include "serve/codec.h"
#include "serve/compress.h"
#include "test.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

static char dir[] = "/tmp/duct-compress-XXXXXX";
static char text[20000];

static long put_mtime = 1000000000;

static void put(const char *name, const char *data, size_t len)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fwrite(data, 1, len, f);
    fclose(f);
    struct timespec past[2] = {{put_mtime, 0}, {put_mtime, 0}};
    utimensat(AT_FDCWD, path, past, 0); /* far from "racily clean" */
}

/* A 200 resource for the file, as the handler would give it. */
static void resource(const char *name, const char *type, struct http_resource *res)
{
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    memset(res, 0, sizeof *res);
    res->fd = open(path, O_RDONLY | O_CLOEXEC);
    CHECK(res->fd >= 0 && fstat(res->fd, &st) == 0);
    res->status = 200;
    res->size = (uint64_t)st.st_size;
    res->mtime = st.st_mtime;
    res->content_type = type;
}

static void release(struct compress_cache *cache, struct http_resource *res)
{
    if (res->flags & HTTP_RES_SHARED)
        compress_put(cache, res);
    else if (res->fd >= 0)
        close(res->fd);
}

/* Offers until the variant comes (2 s); returns whether it did. */
static int variant(struct compress_cache *cache, const char *name, unsigned accept, struct http_resource *res)
{
    for (int i = 0; i < 200; i++) {
        resource(name, "text/javascript; charset=utf-8", res);
        compress_offer(cache, res, accept);
        if (res->flags & HTTP_RES_SHARED)
            return 1;
        release(cache, res);
        usleep(10000);
    }
    return 0;
}

static unsigned accept_zstd(void)
{
    return HTTP_ACCEPT_ZSTD | (1u << 4); /* the packed order http_accept_encoding gives for "zstd" */
}

static void test_types(void)
{
    char err[256];
    CHECK_EQ_INT(compress_types_check("text/*,application/json", err, sizeof err), 0);
    CHECK_EQ_INT(compress_types_check(COMPRESS_DEFAULT_TYPES, err, sizeof err), 0);
    CHECK_EQ_INT(compress_types_check("text", err, sizeof err), -1);
    CHECK_EQ_INT(compress_types_check("text/*,", err, sizeof err), -1);
    CHECK_EQ_INT(compress_types_check("*/json", err, sizeof err), -1);
    CHECK_EQ_INT(compress_types_check("text/ html", err, sizeof err), -1);
    CHECK_EQ_INT(compress_types_check("a/b/c", err, sizeof err), -1);
    CHECK(strstr(err, "a/b/c") != NULL);
}

static void test_qualifies(struct compress_cache *cache)
{
    struct http_resource res;
    resource("app.js", "text/javascript; charset=utf-8", &res);
    compress_offer(cache, &res, 0);
    CHECK(res.flags & HTTP_RES_VARY); /* varies even when the client takes no coding */
    CHECK(!(res.flags & HTTP_RES_SHARED));
    release(cache, &res);
    resource("app.js", "image/png", &res);
    compress_offer(cache, &res, accept_zstd());
    CHECK_EQ_INT(res.flags, 0);
    release(cache, &res);
    resource("tiny.txt", "text/plain", &res);
    compress_offer(cache, &res, accept_zstd());
    CHECK_EQ_INT(res.flags, 0);
    release(cache, &res);
    resource("app.js", "TEXT/JavaScript", &res); /* media types are case-insensitive */
    compress_offer(cache, &res, accept_zstd() | HTTP_ACCEPT_RANGE);
    CHECK_EQ_INT(res.flags, HTTP_RES_VARY); /* a range: identity, and no job */
    release(cache, &res);
    struct compress_stats st;
    compress_stats(cache, &st);
    CHECK_EQ_INT(st.compressed, 0);
}

static void test_variant(struct compress_cache *cache)
{
    struct http_resource res;
    CHECK(variant(cache, "app.js", accept_zstd(), &res));
    CHECK_EQ_STR(res.encoding, "zstd");
    CHECK(res.size < sizeof text / 4);
    static char back[sizeof text];
    size_t n = ZSTD_decompress(back, sizeof back, res.data, res.size);
    CHECK(n == sizeof text && memcmp(back, text, n) == 0);
    release(cache, &res);
    struct compress_stats st;
    compress_stats(cache, &st);
    CHECK_EQ_INT(st.compressed, 1);
    CHECK_EQ_INT(st.kept_bytes, res.size);

    /* A new version of the file: the old variant is not handed out for it. */
    text[0] = '#';
    put_mtime += 10;
    put("app.js", text, sizeof text);
    resource("app.js", "text/javascript", &res);
    compress_offer(cache, &res, accept_zstd());
    CHECK(!(res.flags & HTTP_RES_SHARED));
    release(cache, &res);
    CHECK(variant(cache, "app.js", accept_zstd(), &res));
    n = ZSTD_decompress(back, sizeof back, res.data, res.size);
    CHECK(n == sizeof text && memcmp(back, text, n) == 0);
    release(cache, &res);
}

static void test_codecs(void)
{
    for (unsigned c = HTTP_ACCEPT_ZSTD; c <= HTTP_ACCEPT_GZIP; c <<= 1) {
        void *out = NULL;
        size_t len = 0;
        CHECK_EQ_INT(codec_compress(c, text, sizeof text, &out, &len), 0);
        CHECK(len > 0 && len < sizeof text / 4);
        free(out);
    }
}

int main(void)
{
    CHECK(mkdtemp(dir) != NULL);
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = "function f() { return 42; }\n"[i % 28];
    put("app.js", text, sizeof text);
    put("tiny.txt", "hi\n", 3);
    test_types();
    test_codecs();
    struct compress_settings s = {"text/*,application/json", 256, 1 << 20, 1 << 20};
    struct compress_cache *cache = compress_cache_new(&s);
    CHECK(cache != NULL);
    test_qualifies(cache);
    CHECK_EQ_INT(compress_cache_start(cache), 0);
    test_variant(cache);
    compress_cache_free(cache);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_EQ_INT(system(cmd), 0);
    return test_report();
}
