/* Unit tests for access-log lines (src/http/log.c): the Combined Log Format
 * shape, escaping of client-supplied fields, and cutting of long fields. */
#include "http/log.h"
#include "test.h"

#include <stdlib.h>

#define SENTINEL '\xA5'

static struct http_span span_of(const char *s)
{
    return (struct http_span){ s, s ? strlen(s) : 0 };
}

static struct http_log_entry entry_of(const char *line, int status, uint64_t body, const char *referer,
                                      const char *agent, time_t now)
{
    struct http_log_entry e = {
        .peer = "127.0.0.1",
        .request_line = span_of(line),
        .status = status,
        .body_bytes = body,
        .referer = span_of(referer),
        .user_agent = span_of(agent),
        .now = now,
    };
    return e;
}

/* Formats e into a buffer twice the guaranteed size, checking that nothing
 * is written past the returned length. The line is NUL-terminated for
 * CHECK_EQ_STR; out must have 2 * HTTP_LOG_LINE_MAX bytes. */
static size_t format_line(char *out, const struct http_log_entry *e)
{
    memset(out, SENTINEL, 2 * HTTP_LOG_LINE_MAX);
    size_t n = http_log_combined(out, e);
    CHECK(n > 0 && n <= HTTP_LOG_LINE_MAX);
    int clean = 1;
    for (size_t i = n; i < 2 * HTTP_LOG_LINE_MAX; i++)
        clean &= out[i] == SENTINEL;
    CHECK(clean);
    out[n] = '\0';
    return n;
}

/* Quotes that delimit fields: a '"' not made literal by a backslash. */
static int count_unescaped_quotes(const char *s, size_t n)
{
    int quotes = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\')
            i++; /* the escaped byte */
        else if (s[i] == '"')
            quotes++;
    }
    return quotes;
}

static int count_byte(const char *s, size_t n, char b)
{
    int count = 0;
    for (size_t i = 0; i < n; i++)
        count += s[i] == b;
    return count;
}

static void test_known_lines(void)
{
    static const struct {
        const char *request_line;
        int status;
        uint64_t body;
        const char *referer;
        const char *agent;
        time_t now;
        const char *want;
    } cases[] = {
        { "GET / HTTP/1.1", 200, 1234, "http://ref.example/", "curl/8.0", 0,
          "127.0.0.1 - - [01/Jan/1970:00:00:00 +0000] \"GET / HTTP/1.1\" 200 1234 "
          "\"http://ref.example/\" \"curl/8.0\"\n" },
        { "GET /a.txt HTTP/1.0", 404, 0, "", "", 1700000000,
          "127.0.0.1 - - [14/Nov/2023:22:13:20 +0000] \"GET /a.txt HTTP/1.0\" 404 0 \"-\" \"-\"\n" },
        { "HEAD / HTTP/1.1", 304, 18446744073709551615ULL, NULL, "ua", 1000000000,
          "127.0.0.1 - - [09/Sep/2001:01:46:40 +0000] \"HEAD / HTTP/1.1\" 304 18446744073709551615 "
          "\"-\" \"ua\"\n" },
        /* A request line that could not be parsed is logged as "-". */
        { "", 400, 157, NULL, NULL, 86399,
          "127.0.0.1 - - [01/Jan/1970:23:59:59 +0000] \"-\" 400 157 \"-\" \"-\"\n" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        static char out[2 * HTTP_LOG_LINE_MAX];
        struct http_log_entry e = entry_of(cases[i].request_line, cases[i].status, cases[i].body,
                                           cases[i].referer, cases[i].agent, cases[i].now);
        size_t n = format_line(out, &e);
        CHECK_EQ_INT(n, strlen(cases[i].want));
        CHECK_EQ_STR(out, cases[i].want);
    }
}

static void test_escape_table(void)
{
    static const struct {
        const char *in;
        size_t len;
        const char *want;
    } cases[] = {
        { "plain text ~!", 13, "plain text ~!" },
        { "a\"b", 3, "a\\\"b" },
        { "a\\b", 3, "a\\\\b" },
        { "\\\"", 2, "\\\\\\\"" },
        { "\n", 1, "\\x0A" },
        { "\r\n", 2, "\\x0D\\x0A" },
        { "\t", 1, "\\x09" },
        { "\x01\x1f", 2, "\\x01\\x1F" },
        { "a\0b", 3, "a\\x00b" },
        { "\x7f", 1, "\\x7F" },
        { "\x80\xab\xff", 3, "\\x80\\xAB\\xFF" },
        { "caf\xc3\xa9", 5, "caf\\xC3\\xA9" },
        { " ", 1, " " },
        { "", 0, "" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[64];
        memset(out, SENTINEL, sizeof out);
        size_t n = http_log_escape(cases[i].in, cases[i].len, out, sizeof out);
        CHECK_EQ_MEM(out, n, cases[i].want, strlen(cases[i].want));
        CHECK(out[n] == SENTINEL);
    }
}

/* With little room the output is a prefix made of whole escapes, and nothing
 * is written at or past cap. */
static void test_escape_tight_cap(void)
{
    static const struct {
        const char *in;
        size_t len;
        size_t cap;
        const char *want;
    } cases[] = {
        { "abc", 3, 0, "" },
        { "abc", 3, 2, "ab" },
        { "ab\"", 3, 3, "ab" },
        { "ab\"", 3, 4, "ab\\\"" },
        { "\\", 1, 1, "" },
        { "\x01", 1, 1, "" },
        { "\x01", 1, 2, "" },
        { "\x01", 1, 3, "" },
        { "\x01", 1, 4, "\\x01" },
        { "\x01z", 2, 3, "" },         /* stops at the escape, does not skip it */
        { "\"z", 2, 1, "" },
        { "a\xff" "b", 3, 4, "a" },
        { "a\xff" "b", 3, 5, "a\\xFF" },
        { "a\xff" "b", 3, 6, "a\\xFFb" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[32];
        memset(out, SENTINEL, sizeof out);
        size_t n = http_log_escape(cases[i].in, cases[i].len, out, cases[i].cap);
        CHECK_EQ_MEM(out, n, cases[i].want, strlen(cases[i].want));
        int clean = 1;
        for (size_t j = cases[i].cap; j < sizeof out; j++)
            clean &= out[j] == SENTINEL;
        CHECK(clean);
    }
}

/* Quotes, backslashes and line breaks in any client-supplied field must not
 * create fields or lines: a parser splitting on unescaped quotes still sees
 * exactly three quoted fields. */
static void test_no_forged_fields(void)
{
    static const struct {
        const char *line;
        const char *referer;
        const char *agent;
        const char *want_agent_field;
    } cases[] = {
        { "GET / HTTP/1.1", "", "x\" 200 1 \"x", "\"x\\\" 200 1 \\\"x\"" },
        { "GET / HTTP/1.1", "", "ua\\", "\"ua\\\\\"" },
        { "GET / HTTP/1.1", "", "ua\\\"", "\"ua\\\\\\\"\"" },
        { "GET /\" 200 0 \"-\" \"x HTTP/1.1", "r\"", "a\nb", "\"a\\x0Ab\"" },
        { "GET / HTTP/1.1", "\\\" \"", "\r\n127.0.0.1 - - [x] \"GET", "\"\\x0D\\x0A127.0.0.1 - - [x] \\\"GET\"" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        static char out[2 * HTTP_LOG_LINE_MAX];
        struct http_log_entry e = entry_of(cases[i].line, 200, 1, cases[i].referer, cases[i].agent, 0);
        size_t n = format_line(out, &e);
        CHECK_EQ_INT(count_unescaped_quotes(out, n), 6);
        CHECK_EQ_INT(count_byte(out, n, '\n'), 1);
        CHECK_EQ_INT(count_byte(out, n, '\r'), 0);
        size_t want_len = strlen(cases[i].want_agent_field);
        CHECK(n > want_len);
        CHECK_EQ_MEM(out + n - 1 - want_len, want_len, cases[i].want_agent_field, want_len);
    }
}

/* Checks that out[0..n) is one complete line whose last quoted field is cut,
 * starting at `field` and made only of whole copies of `unit`. */
static void check_cut_field(const char *out, size_t n, const char *field, const char *unit)
{
    size_t unit_len = strlen(unit);
    CHECK(n >= 2 && out[n - 2] == '"' && out[n - 1] == '\n');
    CHECK(field[0] == '"');
    size_t body = (size_t)(out + n - 2 - (field + 1));
    CHECK(body > 0);
    CHECK_EQ_INT(body % unit_len, 0);
    int whole = 1;
    for (size_t i = 0; i + unit_len <= body; i += unit_len)
        whole &= memcmp(field + 1 + i, unit, unit_len) == 0;
    CHECK(whole);
}

static void test_long_user_agent(void)
{
    static char out[2 * HTTP_LOG_LINE_MAX];
    static char agent[10 * 1024 + 1];
    memset(agent, 'A', sizeof agent - 1);
    struct http_log_entry e = entry_of("GET / HTTP/1.1", 200, 5, "http://r/", agent, 0);
    size_t n = format_line(out, &e);
    static const char prefix[] =
        "127.0.0.1 - - [01/Jan/1970:00:00:00 +0000] \"GET / HTTP/1.1\" 200 5 \"http://r/\" \"";
    CHECK(n < HTTP_LOG_LINE_MAX);
    CHECK(n < sizeof prefix - 1 + 10 * 1024); /* it was cut */
    CHECK_EQ_MEM(out, sizeof prefix - 1, prefix, sizeof prefix - 1);
    CHECK_EQ_INT(count_unescaped_quotes(out, n), 6);
    CHECK_EQ_INT(count_byte(out, n, '\n'), 1);
    check_cut_field(out, n, out + sizeof prefix - 2, "A");
}

/* The worst case: every field as long as possible and every byte escaped
 * four-fold. The line still fits and keeps its shape; cut fields end on a
 * whole escape. */
static void test_worst_case_line(void)
{
    static char out[2 * HTTP_LOG_LINE_MAX];
    static char line[10 * 1024], referer[10 * 1024], agent[10 * 1024];
    memset(line, '\xff', sizeof line);
    memset(referer, '"', sizeof referer);
    memset(agent, '\x01', sizeof agent);
    struct http_log_entry e = {
        .peer = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255",
        .request_line = { line, sizeof line },
        .status = 999,
        .body_bytes = UINT64_MAX,
        .referer = { referer, sizeof referer },
        .user_agent = { agent, sizeof agent },
        .now = 253402300799LL, /* 31/Dec/9999:23:59:59 */
    };
    size_t n = format_line(out, &e);
    CHECK(n <= HTTP_LOG_LINE_MAX);
    CHECK_EQ_INT(count_unescaped_quotes(out, n), 6);
    CHECK_EQ_INT(count_byte(out, n, '\n'), 1);
    CHECK(memmem(out, n, "[31/Dec/9999:23:59:59 +0000] \"\\xFF", 34) != NULL);
    CHECK(memmem(out, n, "\" 999 18446744073709551615 \"\\\"", 30) != NULL);
    const char *agent_field = out + n - 2;
    while (agent_field > out && !(agent_field[0] == '"' && agent_field[-1] == ' '))
        agent_field--;
    check_cut_field(out, n, agent_field, "\\x01");
}

int main(void)
{
    test_known_lines();
    test_escape_table();
    test_escape_tight_cap();
    test_no_forged_fields();
    test_long_user_agent();
    test_worst_case_line();
    return test_report();
}
