/* The MIME table: built-ins, extension rules, mime.types loading. */
#include "http/mime.h"
#include "test.h"

#include <stdlib.h>

#define OCTET "application/octet-stream"

static const char *type_of(const struct mime_table *t, const char *path)
{
    return mime_type_for(t, path, strlen(path));
}

static void test_builtins(const struct mime_table *t)
{
    static const char *const cases[][2] = {
        { "/index.html", "text/html; charset=utf-8" },
        { "/index.htm", "text/html; charset=utf-8" },
        { "/s.css", "text/css; charset=utf-8" },
        { "/app.js", "text/javascript; charset=utf-8" },
        { "/mod.mjs", "text/javascript; charset=utf-8" },
        { "/d.json", "application/json; charset=utf-8" },
        { "/r.txt", "text/plain; charset=utf-8" },
        { "/f.xml", "application/xml; charset=utf-8" },
        { "/i.svg", "image/svg+xml; charset=utf-8" },
        { "/README.md", "text/markdown; charset=utf-8" },
        { "/t.csv", "text/csv; charset=utf-8" },
        { "/app.js.map", "application/json; charset=utf-8" },
        { "/p.png", "image/png" },
        { "/p.jpg", "image/jpeg" },
        { "/p.jpeg", "image/jpeg" },
        { "/p.gif", "image/gif" },
        { "/p.webp", "image/webp" },
        { "/p.avif", "image/avif" },
        { "/favicon.ico", "image/x-icon" },
        { "/p.bmp", "image/bmp" },
        { "/f.woff", "font/woff" },
        { "/f.woff2", "font/woff2" },
        { "/f.ttf", "font/ttf" },
        { "/f.otf", "font/otf" },
        { "/d.pdf", "application/pdf" },
        { "/a.zip", "application/zip" },
        { "/a.gz", "application/gzip" },
        { "/a.br", "application/x-brotli" },
        { "/a.tar", "application/x-tar" },
        { "/m.wasm", "application/wasm" },
        { "/v.mp4", "video/mp4" },
        { "/v.webm", "video/webm" },
        { "/s.mp3", "audio/mpeg" },
        { "/s.ogg", "audio/ogg" },
        { "/s.wav", "audio/wav" },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_EQ_STR(type_of(t, cases[i][0]), cases[i][1]);
}

static void test_extension_rules(const struct mime_table *t)
{
    CHECK_EQ_STR(type_of(t, "/a/b.HTML"), "text/html; charset=utf-8");
    CHECK_EQ_STR(type_of(t, "/a/b.Html"), "text/html; charset=utf-8");
    CHECK_EQ_STR(type_of(t, "/P.PNG"), "image/png");
    CHECK_EQ_STR(type_of(t, "/a.tar.gz"), "application/gzip");
    CHECK_EQ_STR(type_of(t, "/x.html.tar"), "application/x-tar");
    CHECK_EQ_STR(type_of(t, "/a.b/c"), OCTET);
    CHECK_EQ_STR(type_of(t, "/a.html/"), OCTET);
    CHECK_EQ_STR(type_of(t, "/.bashrc"), OCTET);
    CHECK_EQ_STR(type_of(t, "/.html"), OCTET);
    CHECK_EQ_STR(type_of(t, "/..html"), OCTET);
    CHECK_EQ_STR(type_of(t, "/.a.css"), "text/css; charset=utf-8");
    CHECK_EQ_STR(type_of(t, "/dir/Makefile"), OCTET);
    CHECK_EQ_STR(type_of(t, "/file."), OCTET);
    CHECK_EQ_STR(type_of(t, "/file.unknownext"), OCTET);
    CHECK_EQ_STR(type_of(t, "/file.htmlx"), OCTET);
    CHECK_EQ_STR(type_of(t, "/file.htm"), "text/html; charset=utf-8");
    CHECK_EQ_STR(type_of(t, "/file.h"), OCTET);
    CHECK_EQ_STR(type_of(t, "/"), OCTET);
    CHECK_EQ_STR(type_of(t, ""), OCTET);
    CHECK_EQ_STR(type_of(t, "index.html"), "text/html; charset=utf-8");
    /* The length is honoured: "/a.cssx" cut to "/a.css". */
    CHECK_EQ_STR(mime_type_for(t, "/a.cssx", 6), "text/css; charset=utf-8");
    CHECK_EQ_STR(mime_type_for(NULL, "/a.css", 6), OCTET);
}

static const char sample[] =
    "# a sample mime.types\n"
    "\n"
    "   \t  \n"
    "application/x-duct-test\tducttest dt2   DT3\n"
    "text/plain   html txt newtxt # built-ins win; comment ends the line\n"
    "image/x-sample sam\r\n"
    "#application/x-commented cmt\n"
    "application/x-commented2 # cm2\n"
    "bogus-no-slash bns\n"
    "/noleft nl\n"
    "noright/ nr\n"
    "bad\x01type/x ctl\n"
    "application/x-dotted a.b good1\n"
    "application/x-first dup\n"
    "application/x-second dup\n"
    "application/x-last last"; /* no final newline */

static void test_load_sample(void)
{
    struct mime_table *t = mime_table_new();

    CHECK(t != NULL);
    if (t == NULL)
        return;
    /* ducttest dt2 dt3 newtxt sam good1 dup last */
    CHECK_EQ_INT(mime_table_load(t, sample, sizeof sample - 1), 8);
    CHECK_EQ_STR(type_of(t, "/x.ducttest"), "application/x-duct-test");
    CHECK_EQ_STR(type_of(t, "/x.DT2"), "application/x-duct-test");
    CHECK_EQ_STR(type_of(t, "/x.dt3"), "application/x-duct-test");
    CHECK_EQ_STR(type_of(t, "/x.newtxt"), "text/plain");
    CHECK_EQ_STR(type_of(t, "/x.html"), "text/html; charset=utf-8");
    CHECK_EQ_STR(type_of(t, "/x.txt"), "text/plain; charset=utf-8");
    CHECK_EQ_STR(type_of(t, "/x.sam"), "image/x-sample");
    CHECK_EQ_STR(type_of(t, "/x.cmt"), OCTET);
    CHECK_EQ_STR(type_of(t, "/x.cm2"), OCTET);
    CHECK_EQ_STR(type_of(t, "/x.bns"), OCTET);
    CHECK_EQ_STR(type_of(t, "/x.nl"), OCTET);
    CHECK_EQ_STR(type_of(t, "/x.nr"), OCTET);
    CHECK_EQ_STR(type_of(t, "/x.ctl"), OCTET);
    CHECK_EQ_STR(type_of(t, "/x.good1"), "application/x-dotted");
    CHECK_EQ_STR(type_of(t, "/x.dup"), "application/x-first");
    CHECK_EQ_STR(type_of(t, "/x.last"), "application/x-last");
    /* Loading again adds nothing new. */
    CHECK_EQ_INT(mime_table_load(t, sample, sizeof sample - 1), 0);
    CHECK_EQ_INT(mime_table_load(t, "", 0), 0);
    mime_table_free(t);
}

/* Enough extensions to force several rehashes; every one stays findable. */
static void test_many(void)
{
    struct mime_table *t = mime_table_new();
    char text[64];
    char path[32];
    int wrong = 0;

    CHECK(t != NULL);
    if (t == NULL)
        return;
    for (int i = 0; i < 3000; i++) {
        int n = snprintf(text, sizeof text, "application/x-n%d e%d E%dx\n", i, i, i);
        if (mime_table_load(t, text, (size_t)n) != 2)
            wrong++;
    }
    CHECK_EQ_INT(wrong, 0);
    for (int i = 0; i < 3000; i++) {
        char want[32];
        snprintf(want, sizeof want, "application/x-n%d", i);
        snprintf(path, sizeof path, "/f.E%d", i);
        if (strcmp(type_of(t, path), want) != 0)
            wrong++;
        snprintf(path, sizeof path, "/f.e%dX", i);
        if (strcmp(type_of(t, path), want) != 0)
            wrong++;
    }
    CHECK_EQ_INT(wrong, 0);
    CHECK_EQ_STR(type_of(t, "/f.e3000"), OCTET);
    CHECK_EQ_STR(type_of(t, "/f.css"), "text/css; charset=utf-8");
    mime_table_free(t);
}

static void test_system_file(void)
{
    FILE *f = fopen("/etc/mime.types", "rb");

    if (f == NULL) {
        printf("SKIP /etc/mime.types not present\n");
        return;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf != NULL && (n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            char *bigger = realloc(buf, cap * 2);
            if (bigger == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    CHECK(buf != NULL);
    struct mime_table *t = mime_table_new();
    CHECK(t != NULL);
    if (buf != NULL && t != NULL) {
        CHECK(mime_table_load(t, buf, len) > 100);
        /* Debian's file has both; neither is built in. */
        CHECK_EQ_STR(type_of(t, "/a.7z"), "application/x-7z-compressed");
        CHECK_EQ_STR(type_of(t, "/a.deb"), "application/vnd.debian.binary-package");
        CHECK_EQ_STR(type_of(t, "/a.html"), "text/html; charset=utf-8");
        CHECK_EQ_STR(type_of(t, "/a.CSS"), "text/css; charset=utf-8");
    }
    mime_table_free(t);
    free(buf);
}

int main(void)
{
    struct mime_table *t = mime_table_new();

    CHECK(t != NULL);
    if (t == NULL)
        return test_report();
    test_builtins(t);
    test_extension_rules(t);
    mime_table_free(t);
    mime_table_free(NULL);
    test_load_sample();
    test_many();
    test_system_file();
    return test_report();
}
