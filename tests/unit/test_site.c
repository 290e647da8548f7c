/* Unit tests for the site options (src/http/site.c) and what the response
 * builder does with them (src/http/reply.c): checked header lines, CORS
 * fields and preflight, the Host of --vhosts, --fallback, --try-html and
 * --error-page, with a fake handler that records the paths it is asked. */
#include "http/site.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>

#include "http/conn.h"
#include "http/log.h"
#include "http/reply.h"
#include "http/request.h"

static const time_t NOW = 1700000000;
enum { PAGE_FD = 1001, APP_FD = 1002 };

static void test_headers(void)
{
    struct http_site s;
    char err[256];
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(http_site_add_header(&s, "X-Frame-Options:  DENY ", 0, err, sizeof err), 0);
    CHECK_EQ_MEM(s.file_fields, s.file_fields_len, "X-Frame-Options: DENY\r\n", 23);
    CHECK_EQ_INT(s.error_fields_len, 0);
    CHECK_EQ_INT(http_site_add_header(&s, "Strict-Transport-Security: max-age=63072000", 1, err, sizeof err), 0);
    CHECK_EQ_MEM(s.error_fields, s.error_fields_len, "Strict-Transport-Security: max-age=63072000\r\n", 45);
    CHECK_EQ_INT(http_site_add_header(&s, "X-Empty:", 0, err, sizeof err), 0);

    /* CR, LF, other controls, a bad token, no colon, a field duct writes. */
    size_t before = s.file_fields_len;
    CHECK_EQ_INT(http_site_add_header(&s, "X-A: a\r\nSet-Cookie: x", 0, err, sizeof err), -1);
    CHECK_EQ_INT(http_site_add_header(&s, "X-A: a\nb", 0, err, sizeof err), -1);
    CHECK_EQ_INT(http_site_add_header(&s, "X-A: a\x01", 0, err, sizeof err), -1);
    CHECK_EQ_INT(http_site_add_header(&s, "X A: b", 0, err, sizeof err), -1);
    CHECK_EQ_INT(http_site_add_header(&s, "X(A): b", 0, err, sizeof err), -1);
    CHECK_EQ_INT(http_site_add_header(&s, ": b", 0, err, sizeof err), -1);
    CHECK_EQ_INT(http_site_add_header(&s, "NoColon", 0, err, sizeof err), -1);
    CHECK_EQ_INT(http_site_add_header(&s, "content-length: 5", 0, err, sizeof err), -1);
    CHECK_EQ_INT(s.file_fields_len, before);

    /* Bounded: the head buffer must keep room for the rest of an answer. */
    char big[800];
    memset(big, 'v', sizeof big);
    memcpy(big, "X-Big: ", 7);
    big[sizeof big - 1] = '\0';
    CHECK_EQ_INT(http_site_add_header(&s, big, 0, err, sizeof err), -1);
    CHECK_EQ_INT(s.file_fields_len, before);
}

static void test_cors(void)
{
    struct http_site s;
    char err[256];
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(http_site_set_cors(&s, NULL, err, sizeof err), 0);
    CHECK_EQ_MEM(s.file_fields, s.file_fields_len, "Access-Control-Allow-Origin: *\r\n", 32);
    CHECK_EQ_MEM(s.error_fields, s.error_fields_len, "Access-Control-Allow-Origin: *\r\n", 32);
    CHECK_EQ_INT(s.cors_vary, 0);
    CHECK_EQ_INT(http_site_set_cors(&s, NULL, err, sizeof err), -1); /* once */

    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(http_site_set_cors(&s, "https://app.example:8443", err, sizeof err), 0);
    static const char want[] = "Access-Control-Allow-Origin: https://app.example:8443\r\nVary: Origin\r\n";
    CHECK_EQ_MEM(s.file_fields, s.file_fields_len, want, sizeof want - 1);
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(http_site_set_cors(&s, "https://a.example/path", err, sizeof err), -1);
    CHECK_EQ_INT(http_site_set_cors(&s, "a.example", err, sizeof err), -1);
    CHECK_EQ_INT(http_site_set_cors(&s, "http://a\r\nX: y", err, sizeof err), -1);
}

static void test_host(void)
{
    char out[HTTP_SITE_HOST_MAX];
#define HOST(in, want)                                                                                             \
    do {                                                                                                           \
        size_t n_ = http_site_host(in, strlen(in), out);                                                           \
        CHECK_EQ_MEM(out, n_, want, strlen(want));                                                                 \
    } while (0)
    HOST("Example.COM", "example.com");
    HOST("example.com:8080", "example.com");
    HOST("example.com.", "example.com");
    HOST("a_b-c.d", "a_b-c.d");
    HOST("[::1]:8080", "[::1]");
    HOST("[FE80::1]", "[fe80::1]");
    HOST("..", "");
    HOST(".", "");
    HOST("a..b", "");
    HOST("a..", "");
    HOST(".hidden", "");
    HOST("a/b", "");
    HOST("a..b", "");
    HOST("a..", "");
    HOST("", "");
    HOST(":80", "");
    HOST("example.com:80x", "");
    HOST("[::1]x", "");
    HOST("[::1/]", "");
    HOST("[1..2]", "");
    HOST("ex ample", "");
#undef HOST
}

static void test_small_readers(void)
{
    char out[64];
    static const char acrh[] = "X-Requested-With ,Content-Type";
    size_t n = http_site_request_headers(acrh, sizeof acrh - 1, out, sizeof out);
    CHECK_EQ_MEM(out, n, "x-requested-with, content-type", 30);
    CHECK_EQ_INT(http_site_request_headers("a b", 3, out, sizeof out), 0);
    CHECK_EQ_INT(http_site_request_headers("a\r\n", 3, out, sizeof out), 0);
    CHECK_EQ_INT(http_site_request_headers("", 0, out, sizeof out), 0);
    CHECK_EQ_INT(http_site_request_headers("aaaa,bbbb", 9, out, 5), 0); /* too long */

    CHECK_EQ_INT(http_site_looks_like_file("/app/main.js", 12), 1);
    CHECK_EQ_INT(http_site_looks_like_file("/v1.2/users", 11), 0);
    CHECK_EQ_INT(http_site_looks_like_file("/users/", 7), 0);

    struct http_site s;
    char err[256];
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(http_site_set_fallback(&s, "/app/../index.html", err, sizeof err), 0);
    CHECK_EQ_MEM(s.fallback, s.fallback_len, "/index.html", 11);
    CHECK_EQ_INT(http_site_set_fallback(&s, "index.html", err, sizeof err), -1);
    CHECK_EQ_INT(http_site_set_fallback(&s, "/../etc/passwd", err, sizeof err), -1);
    CHECK_EQ_INT(http_site_add_error_page(&s, "404=/errors/404.html", err, sizeof err), 0);
    CHECK_EQ_INT(http_site_add_error_page(&s, "404=/x.html", err, sizeof err), -1); /* twice */
    CHECK_EQ_INT(http_site_add_error_page(&s, "302=/x.html", err, sizeof err), -1);
    CHECK_EQ_INT(http_site_add_error_page(&s, "600=/x.html", err, sizeof err), -1);
    CHECK_EQ_INT(http_site_add_error_page(&s, "500", err, sizeof err), -1);
    CHECK_EQ_INT(http_site_add_error_page(&s, "500=x.html", err, sizeof err), -1);
    CHECK_EQ_INT(http_site_add_error_page(&s, "500=/dir/", err, sizeof err), -1);
    CHECK_EQ_INT(http_site_add_error_page(&s, "-404=/x", err, sizeof err), -1);
    CHECK_EQ_INT(http_site_page_for(&s, 404), 0);
    CHECK_EQ_INT(http_site_page_for(&s, 500), -1);
    CHECK_EQ_STR(s.pages[0].path, "/errors/404.html");
}

/* ---- the response builder with a site ---------------------------------- */

struct fake {
    char asked[8][300]; /* the paths resolve was given, in order */
    int count;
    int missing;        /* page_missing calls */
    int open;           /* resources handed out and not given back */
};

static void fake_resolve(void *ctx, const char *path, size_t path_len, unsigned accept, struct http_resource *res)
{
    (void)accept;
    struct fake *f = ctx;
    if (f->count < 8)
        snprintf(f->asked[f->count++], sizeof f->asked[0], "%.*s", (int)path_len, path);
    memset(res, 0, sizeof *res);
    res->fd = -1;
    res->status = 404;
    res->mtime = 1600000000;
    res->content_type = "text/html";
    /* Files: /index.html, /about.html, /404.html; under the host "h.example" too. */
    const char *p = strncmp(path, "/h.example/", 11) == 0 ? path + 10 : path;
    if (strcmp(p, "/index.html") == 0 || strcmp(p, "/about.html") == 0 || strcmp(p, "/404.html") == 0) {
        res->status = 200;
        res->fd = strcmp(p, "/404.html") == 0 ? PAGE_FD : APP_FD;
        res->size = strcmp(p, "/404.html") == 0 ? 9 : 50;
        f->open++;
    }
}

static void fake_release(void *ctx, struct http_resource *res)
{
    struct fake *f = ctx;
    if (res->fd >= 0)
        f->open--;
}

static void fake_missing(void *ctx, int index)
{
    (void)index;
    ((struct fake *)ctx)->missing++;
}

struct env {
    struct fake fake;
    struct http_site site;
    struct http_reply_ctx rc;
    struct http_reply r;
    struct http_request req;
    struct http_request_info info;
};

static struct env *env_new(void)
{
    struct env *env = calloc(1, sizeof *env);
    struct http_handler handler = {.resolve = fake_resolve, .release = fake_release, .ctx = &env->fake};
    http_reply_ctx_init(&env->rc, handler);
    http_reply_init(&env->r);
    env->r.keep_alive = 1;
    env->rc.site = &env->site;
    env->site.page_missing = fake_missing;
    env->site.page_ctx = &env->fake;
    return env;
}

static void answer(struct env *env, const char *head)
{
    int status = 0;
    env->fake.count = 0;
    http_reply_release(&env->r, &env->rc);
    int n = http_parse_request(head, strlen(head), 8192, &env->req, &status);
    CHECK_EQ_INT(n, (int)strlen(head));
    CHECK_EQ_INT(http_request_interpret(&env->req, &env->info), 0);
    env->r.head_only = env->info.method == HTTP_METHOD_HEAD;
    env->r.host = env->info.host;
    if (env->info.method == HTTP_METHOD_OPTIONS && !http_reply_preflight(&env->r, &env->rc, &env->req, NOW))
        http_reply_options(&env->r, &env->rc, NOW);
    else if (env->info.method == HTTP_METHOD_OPTIONS)
        ;
    else
        http_reply_resource(&env->r, &env->rc, &env->req, env->info.path, NOW);
}

static int has(const struct http_reply *r, const char *text)
{
    return memmem(r->out.head, r->out.head_len, text, strlen(text)) != NULL;
}

static void test_fallback_and_try_html(void)
{
    struct env *env = env_new();
    char err[256];
    CHECK_EQ_INT(http_site_set_fallback(&env->site, "/index.html", err, sizeof err), 0);
    env->site.try_html = 1;

    answer(env, "GET /app/users/42 HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK_EQ_INT(env->r.status, 200);
    CHECK_EQ_INT(env->r.out.file_fd, APP_FD);
    CHECK(has(&env->r, "\r\nETag: "));
    CHECK_EQ_INT(env->fake.count, 3);
    CHECK_EQ_STR(env->fake.asked[1], "/app/users/42.html");
    CHECK_EQ_STR(env->fake.asked[2], "/index.html");

    /* A path that looks like a file is not a route: a plain 404. */
    answer(env, "GET /app/main.js HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK_EQ_INT(env->r.status, 404);

    answer(env, "GET /about HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK_EQ_INT(env->r.status, 200);
    CHECK_EQ_STR(env->fake.asked[1], "/about.html");

    answer(env, "GET /about.html?lang=en HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK_EQ_INT(env->r.status, 301);
    CHECK(has(&env->r, "\r\nLocation: /about?lang=en\r\n"));
    answer(env, "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(has(&env->r, "\r\nLocation: /\r\n"));
    http_reply_release(&env->r, &env->rc);
    CHECK_EQ_INT(env->fake.open, 0);
    free(env);
}

static void test_error_page(void)
{
    struct env *env = env_new();
    char err[256];
    CHECK_EQ_INT(http_site_add_error_page(&env->site, "404=/404.html", err, sizeof err), 0);
    CHECK_EQ_INT(http_site_add_error_page(&env->site, "403=/gone.html", err, sizeof err), 0);
    CHECK_EQ_INT(http_site_add_header(&env->site, "X-Always: 1", 1, err, sizeof err), 0);

    answer(env, "GET /nope HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\n\r\n");
    CHECK_EQ_INT(env->r.status, 404);
    CHECK_EQ_INT(env->r.out.file_fd, PAGE_FD);
    CHECK(env->r.out.file_offset == 0 && env->r.out.file_len == 9);
    CHECK(has(&env->r, "\r\nContent-Type: text/html\r\nContent-Length: 9\r\nX-Always: 1\r\n"));
    CHECK(!has(&env->r, "ETag") && !has(&env->r, "Last-Modified") && !has(&env->r, "Content-Range"));

    answer(env, "HEAD /nope HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK_EQ_INT(env->r.status, 404);
    CHECK(has(&env->r, "Content-Length: 9\r\n"));
    CHECK_EQ_INT(env->r.out.file_len, 0);
    CHECK_EQ_INT(env->fake.open, 0);

    /* A page that is not there: the built-in one, and the note. */
    http_reply_release(&env->r, &env->rc);
    env->r.head_only = 0;
    http_reply_error(&env->r, &env->rc, 403, NOW);
    CHECK_EQ_INT(env->r.status, 403);
    CHECK(has(&env->r, "<h1>403 Forbidden</h1>"));
    CHECK_EQ_INT(env->fake.missing, 1);
    http_reply_release(&env->r, &env->rc);
    CHECK_EQ_INT(env->fake.open, 0);
    free(env);
}

static void test_vhost_paths(void)
{
    struct env *env = env_new();
    env->site.vhosts = 1;
    answer(env, "GET /about.html HTTP/1.1\r\nHost: H.Example:8080\r\n\r\n");
    CHECK_EQ_STR(env->fake.asked[0], "/h.example/about.html");
    CHECK_EQ_INT(env->r.status, 200);
    answer(env, "GET / HTTP/1.1\r\nHost: ..\r\n\r\n");
    CHECK_EQ_STR(env->fake.asked[0], "/_default/");
    answer(env, "GET / HTTP/1.0\r\n\r\n");
    CHECK_EQ_STR(env->fake.asked[0], "/_default/");
    answer(env, "GET http://H.example/about.html HTTP/1.1\r\nHost: other\r\n\r\n");
    CHECK_EQ_STR(env->fake.asked[0], "/h.example/about.html");

    /* An error page comes from the host's folder, for a 404 as for a 405. */
    char err[256];
    CHECK_EQ_INT(http_site_add_error_page(&env->site, "404=/404.html", err, sizeof err), 0);
    CHECK_EQ_INT(http_site_add_error_page(&env->site, "405=/404.html", err, sizeof err), 0);
    answer(env, "GET /nope HTTP/1.1\r\nHost: h.example\r\n\r\n");
    CHECK_EQ_STR(env->fake.asked[1], "/h.example/404.html");
    CHECK_EQ_INT(env->r.out.file_fd, PAGE_FD);
    env->fake.count = 0;
    http_reply_release(&env->r, &env->rc);
    http_reply_error(&env->r, &env->rc, 405, NOW);
    CHECK_EQ_STR(env->fake.asked[0], "/h.example/404.html");
    CHECK_EQ_INT(env->r.status, 405);
    CHECK(has(&env->r, "\r\nAllow: GET, HEAD, OPTIONS\r\n"));
    env->fake.count = 0;
    http_reply_release(&env->r, &env->rc);
    env->r.host = (struct http_span){NULL, 0};
    http_reply_error(&env->r, &env->rc, 405, NOW);
    CHECK_EQ_STR(env->fake.asked[0], "/_default/404.html");
    http_reply_release(&env->r, &env->rc);
    free(env);
}

static void test_cors_answers(void)
{
    struct env *env = env_new();
    char err[256];
    CHECK_EQ_INT(http_site_set_cors(&env->site, "http://app.test", err, sizeof err), 0);
    answer(env, "OPTIONS /data.json HTTP/1.1\r\nHost: x\r\nOrigin: http://app.test\r\n"
                "Access-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: x-token\r\n\r\n");
    CHECK_EQ_INT(env->r.status, 204);
    CHECK(has(&env->r, "\r\nAccess-Control-Allow-Methods: GET, HEAD\r\n"));
    CHECK(has(&env->r, "\r\nAccess-Control-Allow-Headers: x-token\r\n"));
    CHECK(has(&env->r, "\r\nAccess-Control-Max-Age: "));
    CHECK(has(&env->r, "\r\nAccess-Control-Allow-Origin: http://app.test\r\nVary: Origin\r\n"));

    /* A plain OPTIONS keeps its answer. */
    answer(env, "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK_EQ_INT(env->r.status, 204);
    CHECK(!has(&env->r, "Access-Control"));

    answer(env, "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(has(&env->r, "\r\nAccess-Control-Allow-Origin: http://app.test\r\n"));
    answer(env, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(has(&env->r, "\r\nAccess-Control-Allow-Origin: http://app.test\r\n"));
    http_reply_release(&env->r, &env->rc);
    free(env);
}

/* The largest head: all the header room used, and a redirect with the
 * longest Location, or a multipart part, still fit (reply.c asserts it). */
static void test_biggest_heads(void)
{
    struct env *env = env_new();
    char err[256], line[HTTP_SITE_FIELDS_MAX];
    for (int i = 0; i < 6; i++) {
        snprintf(line, sizeof line, "X-Pad-%d: %0110d", i, 0);
        CHECK_EQ_INT(http_site_add_header(&env->site, line, 1, err, sizeof err), 0);
    }
    CHECK(env->site.file_fields_len > 700);
    env->site.try_html = 1;
    CHECK_EQ_INT(http_site_set_fallback(&env->site, "/index.html", err, sizeof err), 0);
    static char head[1200];
    char name[600];
    memset(name, 'a', 490);
    name[490] = '\0';
    snprintf(head, sizeof head, "GET /%s.html?%s HTTP/1.1\r\nHost: x\r\n\r\n", "about", name);
    answer(env, head);
    CHECK_EQ_INT(env->r.status, 301);
    answer(env, "GET /app HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1,3-4,6-7\r\n\r\n");
    CHECK_EQ_INT(env->r.status, 206);
    answer(env, "OPTIONS / HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK_EQ_INT(env->r.status, 204);
    http_reply_release(&env->r, &env->rc);
    free(env);
}

/* --vhosts log lines: Apache's vhost_combined, which GoAccess reads as VCOMBINED. */
static void test_vhost_log(void)
{
    static char line[HTTP_LOG_LINE_MAX];
    struct http_log_entry e = {.peer = "127.0.0.1", .status = 200, .now = NOW};
    e.request_line = (struct http_span){"GET / HTTP/1.1", 14};
    e.host = (struct http_span){"WWW.Example.com:8080", 20};
    size_t n = http_log_vhost_combined(line, &e);
    static const char want[] = "www.example.com:8080 127.0.0.1 - - [14/Nov/2023:22:13:20 +0000] \"GET / HTTP/1.1\" "
                               "200 0 \"-\" \"-\"\n";
    CHECK_EQ_MEM(line, n, want, sizeof want - 1);
    e.host = (struct http_span){"evil\" \"x", 8};
    n = http_log_vhost_combined(line, &e);
    CHECK(n > 4 && memcmp(line, "-:- 127.0.0.1 ", 14) == 0);
    e.host = (struct http_span){"[::1]:99", 8};
    n = http_log_vhost_combined(line, &e);
    CHECK(memcmp(line, "[::1]:99 127.0.0.1 ", 19) == 0);
    static const char long_host[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test:1";
    e.host = (struct http_span){long_host, sizeof long_host - 1};
    n = http_log_vhost_combined(line, &e);
    CHECK(memcmp(line + HTTP_LOG_VHOST_MAX, ":1 127.0.0.1 ", 13) == 0);
    e.host = (struct http_span){NULL, 0};
    n = http_log_vhost_combined(line, &e);
    CHECK(memcmp(line, "-:- 127.0.0.1 ", 14) == 0);
}

int main(void)
{
    test_vhost_log();
    test_headers();
    test_cors();
    test_host();
    test_small_readers();
    test_fallback_and_try_html();
    test_error_page();
    test_vhost_paths();
    test_cors_answers();
    test_biggest_heads();
    return test_report();
}
