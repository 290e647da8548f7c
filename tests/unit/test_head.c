/* Unit tests for the response-head builder (src/http/head.c). Every buffer is
 * pre-filled with a sentinel so that a write past the reported length or past
 * the capacity shows up as a changed byte. */
#include "http/head.h"
#include "test.h"

#include <stdint.h>

#define SENTINEL '\xA5'

/* True when buf[from..to) still holds the sentinel everywhere. */
static int untouched(const char *buf, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        if (buf[i] != SENTINEL)
            return 0;
    }
    return 1;
}

static void test_exact_head(void)
{
    static const char want[] = "HTTP/1.1 200 OK\r\n"
                               "Server: duct\r\n"
                               "X-Part: abc\r\n"
                               "Content-Length: 12345\r\n"
                               "Y: z\r\n"
                               "\r\n";
    char buf[256];
    struct http_head h;

    memset(buf, SENTINEL, sizeof buf);
    http_head_start(&h, buf, sizeof buf, 200);
    http_head_field_str(&h, "Server", "duct");
    http_head_field(&h, "X-Part", "abcdef", 3); /* only value_len bytes of the value */
    http_head_field_u64(&h, "Content-Length", 12345);
    http_head_append(&h, "Y: z\r\n", 6);
    size_t n = http_head_finish(&h);

    CHECK_EQ_INT(n, sizeof want - 1);
    CHECK_EQ_INT(h.len, sizeof want - 1);
    CHECK_EQ_INT(h.overflow, 0);
    CHECK(h.buf == buf);
    CHECK_EQ_MEM(buf, h.len, want, sizeof want - 1);
    CHECK(untouched(buf, sizeof want - 1, sizeof buf));
}

static void test_status_lines(void)
{
    static const struct {
        int status;
        const char *line;
    } cases[] = {
        { 200, "HTTP/1.1 200 OK\r\n" },
        { 204, "HTTP/1.1 204 No Content\r\n" },
        { 301, "HTTP/1.1 301 Moved Permanently\r\n" },
        { 404, "HTTP/1.1 404 Not Found\r\n" },
        { 431, "HTTP/1.1 431 Request Header Fields Too Large\r\n" },
        { 505, "HTTP/1.1 505 HTTP Version Not Supported\r\n" },
        { 299, "HTTP/1.1 299 Unknown\r\n" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[128];
        struct http_head h;
        memset(buf, SENTINEL, sizeof buf);
        http_head_start(&h, buf, sizeof buf, cases[i].status);
        CHECK_EQ_MEM(buf, h.len, cases[i].line, strlen(cases[i].line));
        CHECK_EQ_INT(h.overflow, 0);
        size_t n = http_head_finish(&h);
        CHECK_EQ_INT(n, strlen(cases[i].line) + 2);
        CHECK_EQ_MEM(buf + n - 2, 2, "\r\n", 2);
    }
}

/* Builds the same small head into a buffer of capacity cap and returns what
 * http_head_finish said, checking that nothing was written past cap. */
static size_t build_small(size_t cap, struct http_head *h, char *buf, size_t bufsize)
{
    memset(buf, SENTINEL, bufsize);
    http_head_start(h, buf, cap, 404);
    http_head_field_str(h, "Content-Length", "0");
    size_t n = http_head_finish(h);
    CHECK(untouched(buf, cap, bufsize));
    return n;
}

static void test_overflow_boundary(void)
{
    static const char want[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    const size_t need = sizeof want - 1;
    char buf[128];
    struct http_head h;

    /* Exactly enough room: fits. */
    CHECK_EQ_INT(build_small(need, &h, buf, sizeof buf), need);
    CHECK_EQ_INT(h.overflow, 0);
    CHECK_EQ_MEM(buf, need, want, need);

    /* One byte short anywhere, or a tiny buffer: 0 and the overflow flag. */
    static const size_t short_caps[] = { 0, 1, 5, 10, 23, 24, 40, 43 };
    for (size_t i = 0; i < sizeof short_caps / sizeof short_caps[0]; i++) {
        CHECK_EQ_INT(build_small(short_caps[i], &h, buf, sizeof buf), 0);
        CHECK_EQ_INT(h.overflow, 1);
        CHECK(h.len <= short_caps[i]);
    }
    CHECK_EQ_INT(build_small(need - 1, &h, buf, sizeof buf), 0);
    CHECK_EQ_INT(h.overflow, 1);
}

/* Once something did not fit, a later piece that would fit must not be
 * appended: the head would be missing a field in the middle. */
static void test_overflow_sticks(void)
{
    char buf[64];
    char big[100];
    struct http_head h;

    memset(big, 'v', sizeof big);
    memset(buf, SENTINEL, sizeof buf);
    http_head_start(&h, buf, 40, 200); /* "HTTP/1.1 200 OK\r\n" is 17 bytes */
    CHECK_EQ_INT(h.len, 17);
    http_head_field(&h, "Big", big, sizeof big);
    CHECK_EQ_INT(h.overflow, 1);
    size_t len_after_big = h.len;
    http_head_field_str(&h, "A", "b");
    http_head_append(&h, "x", 1);
    CHECK_EQ_INT(h.len, len_after_big);
    CHECK_EQ_INT(http_head_finish(&h), 0);
    CHECK_EQ_INT(h.overflow, 1);
    CHECK(untouched(buf, 40, sizeof buf));
    /* Nothing of "A: b" may appear after the part that fit. */
    CHECK(memmem(buf, 40, "A: b", 4) == NULL);
}

static void test_u64_to_dec(void)
{
    static const struct {
        uint64_t value;
        const char *text;
    } cases[] = {
        { 0, "0" },
        { 1, "1" },
        { 9, "9" },
        { 10, "10" },
        { 12345, "12345" },
        { 4294967296ULL, "4294967296" },
        { 10000000000000000000ULL, "10000000000000000000" },
        { UINT64_MAX, "18446744073709551615" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[32];
        memset(out, SENTINEL, sizeof out);
        size_t n = http_u64_to_dec(cases[i].value, out);
        CHECK_EQ_INT(n, strlen(cases[i].text));
        CHECK_EQ_STR(out, cases[i].text); /* also checks the NUL after the digits */
        CHECK(untouched(out, n + 1, sizeof out));
    }
}

int main(void)
{
    test_exact_head();
    test_status_lines();
    test_overflow_boundary();
    test_overflow_sticks();
    test_u64_to_dec();
    return test_report();
}
