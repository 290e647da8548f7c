/* http_path_normalize and http_path_encode: traversal attempts, normal paths,
 * buffer limits and encode/normalize round trips. */
#include "http/path.h"
#include "test.h"

#include <stdlib.h>

static long norm(const char *target, char *out, size_t outsize)
{
    return http_path_normalize(target, strlen(target), out, outsize);
}

/* Every one of these must be refused, whatever the buffer size. */
static void test_rejects(void)
{
    static const char *const bad[] = {
        "/../etc/passwd",
        "/..",
        "/../",
        "/%2e%2e/etc/passwd",
        "/%2E%2E/etc/passwd",
        "/.%2e/etc/passwd",
        "/%2e./etc/passwd",
        "/%2E%2E%2Fetc",
        "/a/%2f..",
        "/a/%2F",
        "/..%2f..%2fetc",
        "/%2f",
        "/a%00.html",
        "/%00",
        "/a\\..\\b",
        "/a\\b",
        "/\\",
        "/%5c..",
        "/%5C..",
        "/a/../../b",
        "/a/b/../../../c",
        "/./../x",
        "/a/./../..",
        "/a//../../b",
        "etc/passwd",
        "",
        "*",
        "http://x/",
        "./a",
        "../a",
        "%2fetc/passwd",
        "/%G1",
        "/%1G",
        "/%",
        "/a%",
        "/%4",
        "/a%4?x",
        "/%%41",
        "/% 41",
        "/%+1",
        "/a%0a",
        "/a%0D%0Aevil",
        "/a%1f",
        "/a%7F",
        "/a%7f",
        "/a\tb",
        "/a\x7f",
        "/a\x01",
    };
    char out[256];

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        long rc = norm(bad[i], out, sizeof out);
        if (rc != -400)
            fprintf(stderr, "     target \"%s\" gave %ld (%s)\n", bad[i], rc, rc > 0 ? out : "");
        CHECK_EQ_INT(rc, -400);
        CHECK_EQ_STR(out, "");
    }
}

/* A raw NUL inside the target (it is length-delimited) is no better than %00. */
static void test_raw_nul(void)
{
    char out[64];

    CHECK_EQ_INT(http_path_normalize("/a\0b", 4, out, sizeof out), -400);
    CHECK_EQ_INT(http_path_normalize("/\0", 2, out, sizeof out), -400);
    /* The length is honoured: the NUL past it is never read. */
    CHECK_EQ_INT(http_path_normalize("/ab\0", 3, out, sizeof out), 3);
    CHECK_EQ_STR(out, "/ab");
}

struct good_case {
    const char *target;
    const char *want;
};

static void test_accepts(void)
{
    static const struct good_case good[] = {
        { "/", "/" },
        { "/a", "/a" },
        { "/a/b", "/a/b" },
        { "/a/./b", "/a/b" },
        { "/./a", "/a" },
        { "/.", "/" },
        { "/./", "/" },
        { "/a//b", "/a/b" },
        { "//a", "/a" },
        { "///", "/" },
        { "/a///b//", "/a/b/" },
        { "/a/b/../c", "/a/c" },
        { "/a/b/..", "/a/" },
        { "/a/b/../", "/a/" },
        { "/a/.", "/a/" },
        { "/a/..", "/" },
        { "/a/b/c/../../d", "/a/d" },
        { "/a/%2e%2e/b", "/b" },
        { "/a/%2E/b", "/a/b" },
        { "/dir/", "/dir/" },
        { "/%7Euser", "/~user" },
        { "/%7euser", "/~user" },
        { "/a%20b", "/a b" },
        { "/%41%62%63", "/Abc" },
        { "/%252e%252e/", "/%2e%2e/" },
        { "/%25", "/%" },
        { "/a?x=../../", "/a" },
        { "/a#frag", "/a" },
        { "/a/?x", "/a/" },
        { "/?", "/" },
        { "/a/b?/../..", "/a/b" },
        { "/a%3Fb", "/a?b" },
        { "/a%23b", "/a#b" },
        { "/....//", "/..../" },
        { "/...", "/..." },
        { "/..a", "/..a" },
        { "/a..", "/a.." },
        { "/.a/b.", "/.a/b." },
        { "/.well-known/x", "/.well-known/x" },
        { "/%C3%A9t%C3%A9", "/\xC3\xA9t\xC3\xA9" },
        { "/\xC3\xA9", "/\xC3\xA9" },
        { "/a b", "/a b" },
    };
    char out[256];

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        long rc = norm(good[i].target, out, sizeof out);
        if (rc < 0)
            fprintf(stderr, "     target \"%s\" gave %ld\n", good[i].target, rc);
        CHECK_EQ_INT(rc, (long)strlen(good[i].want));
        CHECK_EQ_STR(out, good[i].want);
    }
}

static void test_too_long(void)
{
    char out[8];

    /* "/abcdef" plus NUL is exactly 8 bytes. */
    CHECK_EQ_INT(norm("/abcdef", out, sizeof out), 7);
    CHECK_EQ_STR(out, "/abcdef");
    CHECK_EQ_INT(norm("/abcdefg", out, sizeof out), -414);
    CHECK_EQ_STR(out, "");
    CHECK_EQ_INT(norm("/abc/def", out, sizeof out), -414);
    /* Only the decoded length counts: 3 escapes of 3 bytes fit as 3 bytes. */
    CHECK_EQ_INT(norm("/%41%42%43%44%45%46", out, sizeof out), 7);
    CHECK_EQ_STR(out, "/ABCDEF");
    /* Dropped segments take no room. */
    CHECK_EQ_INT(norm("/a/./././././b/c", out, sizeof out), 6);
    CHECK_EQ_STR(out, "/a/b/c");
    CHECK_EQ_INT(norm("/", out, 2), 1);
    CHECK_EQ_STR(out, "/");
    CHECK_EQ_INT(norm("/", out, 1), -414);
    CHECK_EQ_INT(norm("/", out, 0), -414);
}

/* A long path near a typical PATH_MAX buffer. */
static void test_long_path(void)
{
    char target[5000];
    char out[4096];
    size_t n = 0;

    while (n + 2 < 4095) {
        target[n++] = '/';
        target[n++] = 'x';
    }
    CHECK_EQ_INT(http_path_normalize(target, n, out, sizeof out), (long)n);
    CHECK_EQ_MEM(out, n, target, n);
    target[n++] = '/';
    target[n++] = 'y';
    CHECK_EQ_INT(http_path_normalize(target, n, out, sizeof out), -414);
}

static void test_encode(void)
{
    char out[64];

    CHECK_EQ_INT(http_path_encode("/a/b", 4, out, sizeof out), 4);
    CHECK_EQ_STR(out, "/a/b");
    CHECK_EQ_INT(http_path_encode("/a b", 4, out, sizeof out), 6);
    CHECK_EQ_STR(out, "/a%20b");
    CHECK_EQ_INT(http_path_encode("/AZaz09-._~", 11, out, sizeof out), 11);
    CHECK_EQ_STR(out, "/AZaz09-._~");
    CHECK_EQ_INT(http_path_encode("/%?#\"<>", 7, out, sizeof out), 19);
    CHECK_EQ_STR(out, "/%25%3F%23%22%3C%3E");
    CHECK_EQ_INT(http_path_encode("/\xC3\xA9\xFF", 4, out, sizeof out), 10);
    CHECK_EQ_STR(out, "/%C3%A9%FF");
    CHECK_EQ_INT(http_path_encode("a\0b", 3, out, sizeof out), 5);
    CHECK_EQ_STR(out, "a%00b");
    CHECK_EQ_INT(http_path_encode("", 0, out, sizeof out), 0);
    CHECK_EQ_STR(out, "");
    /* "/a%20" plus NUL needs 6 bytes. */
    CHECK_EQ_INT(http_path_encode("/a ", 3, out, 6), 5);
    CHECK_EQ_INT(http_path_encode("/a ", 3, out, 5), -1);
    CHECK_EQ_STR(out, "");
    CHECK_EQ_INT(http_path_encode("/ab", 3, out, 3), -1);
    CHECK_EQ_STR(out, "");
    CHECK_EQ_INT(http_path_encode("", 0, out, 0), -1);
}

/* Every normalised path, encoded, normalises back to itself. Names are built
 * from a small alphabet holding every character class that matters. */
static void test_round_trip(void)
{
    static const char alphabet[] = "ab.%/?# ~\xE9+&;:=";
    char name[16];
    char enc[64];
    char back[64];
    unsigned seed = 12345;
    int mismatches = 0;

    for (int iter = 0; iter < 20000; iter++) {
        size_t n = 1;
        name[0] = '/';
        size_t want = 1 + (size_t)(iter % 12);
        while (n < want) {
            seed = seed * 1103515245u + 12345u;
            name[n++] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
        }
        char normal[32];
        long ln = http_path_normalize(name, n, normal, sizeof normal);
        if (ln < 0)
            continue;
        long le = http_path_encode(normal, (size_t)ln, enc, sizeof enc);
        long lb = le < 0 ? -1 : http_path_normalize(enc, (size_t)le, back, sizeof back);
        if (lb != ln || memcmp(back, normal, (size_t)ln) != 0)
            mismatches++;
    }
    CHECK_EQ_INT(mismatches, 0);

    static const char tricky[] = "/a b/%2e%2e/x?y#z/\xC3\xA9";
    CHECK_EQ_INT(http_path_encode(tricky, sizeof tricky - 1, enc, sizeof enc), 34);
    CHECK_EQ_STR(enc, "/a%20b/%252e%252e/x%3Fy%23z/%C3%A9");
    CHECK_EQ_INT(http_path_normalize(enc, strlen(enc), back, sizeof back), (long)sizeof tricky - 1);
    CHECK_EQ_STR(back, tricky);
}

/* A redirect's query: what RFC 3986 allows in a query stays, '%' of the
 * client's escapes stays, every other byte is escaped. */
static void test_query_encode(void)
{
    char out[64];
    CHECK_EQ_INT(http_query_encode("?a=1&b=%20c/d?e:f@g!$'()*+,;", 28, out, sizeof out), 28);
    CHECK_EQ_STR(out, "?a=1&b=%20c/d?e:f@g!$'()*+,;");
    CHECK_EQ_INT(http_query_encode("?\"<>\\^`{|}", 10, out, sizeof out), 28);
    CHECK_EQ_STR(out, "?%22%3C%3E%5C%5E%60%7B%7C%7D");
    CHECK_EQ_INT(http_query_encode("?\r\n\x01\x7f\xff #", 8, out, sizeof out), 22);
    CHECK_EQ_STR(out, "?%0D%0A%01%7F%FF%20%23");
    CHECK_EQ_INT(http_query_encode("", 0, out, sizeof out), 0);
    CHECK_EQ_STR(out, "");
    CHECK_EQ_INT(http_query_encode("?\"", 2, out, 4), -1); /* "?%22" needs 5 bytes with the NUL */
    CHECK_EQ_STR(out, "");
    CHECK_EQ_INT(http_query_encode("?\"", 2, out, 5), 4);
}

int main(void)
{
    test_rejects();
    test_raw_nul();
    test_accepts();
    test_too_long();
    test_long_path();
    test_encode();
    test_query_encode();
    test_round_trip();
    return test_report();
}
