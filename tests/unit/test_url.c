/* URL parsing and reference resolution for duct get, with the examples of
 * RFC 3986 §5.4 as the reference. */
#include <string.h>

#include "get/url.h"
#include "test.h"

static void check_url(const char *text, const char *host, unsigned port, const char *target)
{
    struct get_url u;
    char err[160] = "";
    CHECK_EQ_INT(get_url_parse(text, &u, err, sizeof err), 0);
    CHECK_EQ_STR(err, "");
    CHECK_EQ_STR(u.host, host);
    CHECK_EQ_INT(u.port, port);
    CHECK_EQ_STR(u.target, target);
}

static void check_bad(const char *text, int code, const char *want)
{
    struct get_url u;
    char err[160] = "";
    CHECK_EQ_INT(get_url_parse(text, &u, err, sizeof err), code);
    CHECK(strstr(err, want) != NULL);
    if (!strstr(err, want))
        fprintf(stderr, "     input \"%s\": got \"%s\", want \"%s\"\n", text, err, want);
}

static void test_parse(void)
{
    check_url("http://example.com", "example.com", 80, "/");
    check_url("HTTP://Example.COM:8080/a/b?x=1&y=2#frag", "example.com", 8080, "/a/b?x=1&y=2");
    check_url("http://127.0.0.1:9/", "127.0.0.1", 9, "/");
    check_url("http://[::1]:8080/x", "::1", 8080, "/x");
    check_url("http://[::1]/", "::1", 80, "/");
    check_url("http://h:/p", "h", 80, "/p");
    check_url("http://h?q", "h", 80, "/?q");
    check_url("http://h/a/./b/../c/%41", "h", 80, "/a/c/%41");
    check_url("http://h/a b/\xc3\xa9\"<>", "h", 80, "/a%20b/%C3%A9%22%3C%3E");
    check_url("http://h/../../x", "h", 80, "/x");
    check_url("https://example.com", "example.com", 443, "/");
    check_url("HTTPS://h:8443/x", "h", 8443, "/x");
    check_bad("ftp://h/", GET_URL_UNSUPPORTED, "http and https only");
    check_bad("httpx://h/", GET_URL_UNSUPPORTED, "scheme \"httpx\"");
    check_bad("example.com/x", GET_URL_BAD, "not an absolute URL");
    check_bad("http:/x", GET_URL_BAD, "not an absolute URL");
    check_bad("http:///x", GET_URL_BAD, "no host");
    check_bad("http://h:99999/", GET_URL_BAD, "bad port");
    check_bad("http://h:0/", GET_URL_BAD, "bad port");
    check_bad("http://h:8a/", GET_URL_BAD, "bad port");
    check_bad("http://[::1/", GET_URL_BAD, "bad IPv6 literal");
    check_bad("http://[nope]:80/", GET_URL_BAD, "bad IPv6 literal");
    check_bad("http://u:p@h/", GET_URL_BAD, "not supported");
}

/* https: the default port is 443 and is left out of Host; a network-path
 * reference keeps the base's scheme; an absolute one may change it. */
static void test_https(void)
{
    struct get_url base, out;
    char err[160] = "", auth[300];
    CHECK_EQ_INT(get_url_parse("https://a:443/b", &base, err, sizeof err), 0);
    CHECK_EQ_INT(base.tls, 1);
    CHECK_EQ_STR(get_url_authority(&base, auth, sizeof auth), "a");
    CHECK_EQ_INT(get_url_resolve(&base, "//c/d", &out, err, sizeof err), 0);
    CHECK_EQ_INT(out.tls, 1);
    CHECK_EQ_INT(out.port, 443);
    CHECK_EQ_INT(get_url_resolve(&base, "http://c/d", &out, err, sizeof err), 0);
    CHECK_EQ_INT(out.tls, 0);
    CHECK_EQ_INT(out.port, 80);
    CHECK_EQ_INT(get_url_resolve(&base, "/e", &out, err, sizeof err), 0);
    CHECK_EQ_INT(out.tls, 1);
    CHECK_EQ_INT(get_url_parse("https://a:80/", &base, err, sizeof err), 0);
    CHECK_EQ_STR(get_url_authority(&base, auth, sizeof auth), "a:80");
}

static void check_resolve(const char *base_text, const char *ref, const char *want)
{
    struct get_url base, out;
    char err[160] = "", got[GET_URL_TARGET_MAX + 300], auth[300];
    CHECK_EQ_INT(get_url_parse(base_text, &base, err, sizeof err), 0);
    CHECK_EQ_INT(get_url_resolve(&base, ref, &out, err, sizeof err), 0);
    snprintf(got, sizeof got, "http://%s%s", get_url_authority(&out, auth, sizeof auth), out.target);
    CHECK_EQ_STR(got, want);
    if (strcmp(got, want) != 0)
        fprintf(stderr, "     reference \"%s\"\n", ref);
}

/* RFC 3986 §5.4.1 and §5.4.2, with the base http://a/b/c/d;p?q (fragments
 * are never sent, so they are gone from every result). */
static void test_resolve_rfc(void)
{
    static const char *const cases[][2] = {
        {"g", "http://a/b/c/g"},         {"./g", "http://a/b/c/g"},       {"g/", "http://a/b/c/g/"},
        {"/g", "http://a/g"},            {"//g", "http://g/"},            {"?y", "http://a/b/c/d;p?y"},
        {"g?y", "http://a/b/c/g?y"},     {"#s", "http://a/b/c/d;p?q"},    {"g#s", "http://a/b/c/g"},
        {"g?y#s", "http://a/b/c/g?y"},   {";x", "http://a/b/c/;x"},       {"g;x", "http://a/b/c/g;x"},
        {"", "http://a/b/c/d;p?q"},      {".", "http://a/b/c/"},          {"./", "http://a/b/c/"},
        {"..", "http://a/b/"},           {"../", "http://a/b/"},          {"../g", "http://a/b/g"},
        {"../..", "http://a/"},          {"../../", "http://a/"},         {"../../g", "http://a/g"},
        {"../../../g", "http://a/g"},    {"../../../../g", "http://a/g"}, {"/./g", "http://a/g"},
        {"/../g", "http://a/g"},         {"g.", "http://a/b/c/g."},       {".g", "http://a/b/c/.g"},
        {"g..", "http://a/b/c/g.."},     {"..g", "http://a/b/c/..g"},     {"./../g", "http://a/b/g"},
        {"./g/.", "http://a/b/c/g/"},    {"g/./h", "http://a/b/c/g/h"},   {"g/../h", "http://a/b/c/h"},
        {"g;x=1/./y", "http://a/b/c/g;x=1/y"}, {"g;x=1/../y", "http://a/b/c/y"},
        {"g?y/./x", "http://a/b/c/g?y/./x"},   {"g?y/../x", "http://a/b/c/g?y/../x"},
        {"http:g", ""}, /* strict parsers read it as absolute (§5.4.2): an http URL without a host, refused */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (strcmp(cases[i][0], "http:g") == 0) {
            struct get_url base, out;
            char err[160];
            get_url_parse("http://a/b/c/d;p?q", &base, err, sizeof err);
            CHECK_EQ_INT(get_url_resolve(&base, "http:g", &out, err, sizeof err), GET_URL_BAD);
            continue;
        }
        check_resolve("http://a/b/c/d;p?q", cases[i][0], cases[i][1]);
    }
}

static void test_resolve_redirects(void)
{
    check_resolve("http://127.0.0.1:8080/dir", "/dir/", "http://127.0.0.1:8080/dir/");
    check_resolve("http://127.0.0.1:8080/a/b", "c", "http://127.0.0.1:8080/a/c");
    check_resolve("http://127.0.0.1:8080/a/b", "http://[::1]:9/x", "http://[::1]:9/x");
    check_resolve("http://[::1]:8080/a/b", "../z?k=v", "http://[::1]:8080/z?k=v");
    check_resolve("http://h/", "//other:81/p", "http://other:81/p");
    check_resolve("http://h/", "/new place", "http://h/new%20place");
}

static void test_authority_and_name(void)
{
    struct get_url u;
    char err[160], out[300];
    get_url_parse("http://[::1]:8080/a/file%20name.txt?x=1", &u, err, sizeof err);
    CHECK_EQ_STR(get_url_authority(&u, out, sizeof out), "[::1]:8080");
    CHECK_EQ_STR(get_url_file_name(&u, out, sizeof out), "file name.txt");
    get_url_parse("http://h:80/dir/", &u, err, sizeof err);
    CHECK_EQ_STR(get_url_authority(&u, out, sizeof out), "h");
    CHECK(get_url_file_name(&u, out, sizeof out) == NULL);
    get_url_parse("http://h/a%2Fb", &u, err, sizeof err);
    CHECK(get_url_file_name(&u, out, sizeof out) == NULL);
    get_url_parse("http://h/a%00b", &u, err, sizeof err);
    CHECK(get_url_file_name(&u, out, sizeof out) == NULL);
    get_url_parse("http://h/%2e%2E", &u, err, sizeof err);
    CHECK(get_url_file_name(&u, out, sizeof out) == NULL);
    get_url_parse("http://h/x%4", &u, err, sizeof err);
    CHECK_EQ_STR(get_url_file_name(&u, out, sizeof out), "x%4");
}

/* Targets at the size limit: accepted whole or refused, never cut. */
static void test_limits(void)
{
    static char text[GET_URL_TARGET_MAX + 64];
    struct get_url u;
    char err[160];
    for (size_t len = GET_URL_TARGET_MAX - 3; len <= GET_URL_TARGET_MAX + 1; len++) {
        int n = snprintf(text, sizeof text, "http://h/");
        memset(text + n, 'a', len - 1);
        text[n + len - 1] = '\0';
        int rc = get_url_parse(text, &u, err, sizeof err);
        CHECK(rc == 0 ? strlen(u.target) == len : rc == GET_URL_BAD);
        CHECK_EQ_INT(rc, len < GET_URL_TARGET_MAX ? 0 : GET_URL_BAD);
        memset(text + n, ' ', len - 1);
        CHECK_EQ_INT(get_url_parse(text, &u, err, sizeof err), GET_URL_BAD);
    }
}

/* A network-path reference ("//host/p", RFC 3986 §5.2.2) means what
 * "http:" + reference means, however long: never a cut copy of it (found by
 * fuzz_url: a Location over 8 KiB was resolved to a truncated URL). */
static void test_resolve_long_network_path(void)
{
    static char ref[GET_URL_TARGET_MAX * 2], text[GET_URL_TARGET_MAX * 2 + 8];
    struct get_url base, out, direct;
    char err[160];
    CHECK_EQ_INT(get_url_parse("http://h/", &base, err, sizeof err), 0);

    int n = snprintf(ref, sizeof ref, "//g/");
    memset(ref + n, 'a', GET_URL_TARGET_MAX + 100);
    ref[n + GET_URL_TARGET_MAX + 100] = '\0';
    CHECK_EQ_INT(get_url_resolve(&base, ref, &out, err, sizeof err), GET_URL_BAD);

    n = snprintf(ref, sizeof ref, "//g:");
    memset(ref + n, '0', GET_URL_TARGET_MAX + 100);
    snprintf(ref + n + GET_URL_TARGET_MAX + 100, 16, "81/x");
    snprintf(text, sizeof text, "http:%s", ref);
    CHECK_EQ_INT(get_url_parse(text, &direct, err, sizeof err), 0);
    CHECK_EQ_INT(get_url_resolve(&base, ref, &out, err, sizeof err), 0);
    CHECK_EQ_STR(out.host, "g");
    CHECK_EQ_INT(out.port, 81);
    CHECK_EQ_STR(out.target, "/x");
}

int main(void)
{
    test_limits();
    test_resolve_long_network_path();
    test_parse();
    test_https();
    test_resolve_rfc();
    test_resolve_redirects();
    test_authority_and_name();
    return test_report();
}
