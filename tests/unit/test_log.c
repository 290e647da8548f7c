/* Unit tests for access-log lines (src/http/log.c): the Combined Log Format
 * shape, escaping of client-supplied fields, and cutting of long fields. And
 * the limiter of repeated errors (src/serve/log.c), with an injected clock:
 * one line a second, the count of what was held back, shared by threads. */
#include "http/log.h"
#include "serve/log.h"
#include "test.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

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
    CHECK(n < HTTP_LOG_READER_MAX);
    CHECK_EQ_INT(count_unescaped_quotes(out, n), 6);
    CHECK_EQ_INT(count_byte(out, n, '\n'), 1);
    CHECK(memmem(out, n, "[31/Dec/9999:23:59:59 +0000] \"\\xFF", 34) != NULL);
    CHECK(memmem(out, n, "\" 999 18446744073709551615 \"\\\"", 30) != NULL);
    const char *agent_field = out + n - 2;
    while (agent_field > out && !(agent_field[0] == '"' && agent_field[-1] == ' '))
        agent_field--;
    check_cut_field(out, n, agent_field, "\\x01");
}

/* ---- the limiter of repeated errors (src/serve/log.c) ---------------------- */

static FILE *capture_file;
static int saved_stderr = -1;

/* What goes to stderr from here to captured() is kept instead. */
static void capture(void)
{
    fflush(stderr);
    capture_file = tmpfile();
    saved_stderr = dup(STDERR_FILENO);
    if (capture_file && saved_stderr >= 0)
        dup2(fileno(capture_file), STDERR_FILENO);
}

/* The messages written since capture(), without their timestamps, one per
 * line in out; returns the number of lines. */
static int captured(char *out, size_t cap)
{
    char line[1024];
    int lines = 0;
    size_t n = 0;
    fflush(stderr);
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    out[0] = '\0';
    if (!capture_file)
        return -1;
    rewind(capture_file);
    while (fgets(line, sizeof line, capture_file)) {
        const char *message = strstr(line, " duct: ");
        message = message ? message + 7 : line;
        n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s", message);
        lines++;
    }
    fclose(capture_file);
    capture_file = NULL;
    return lines;
}

/* Limiters are static: once they have held a line back they stay on the list
 * that log_limits_flush walks. */
static struct log_limit boom = LOG_LIMIT_INIT("boom");
static struct log_limit other = LOG_LIMIT_INIT("other");
static struct log_limit crowd = LOG_LIMIT_INIT("crowd");
static struct log_limit real = LOG_LIMIT_INIT("real");

static void test_limit_once_a_second(void)
{
    char out[4096];
    capture();
    CHECK_EQ_INT(log_limited_at(&boom, 10000, "boom %d", 1), 1);
    for (int i = 2; i <= 10; i++)
        CHECK_EQ_INT(log_limited_at(&boom, 10000 + 100 * (i - 1), "boom %d", i), 0); /* up to 10 900 ms */
    CHECK_EQ_INT(log_limited_at(&boom, 10999, "boom %d", 11), 0);
    CHECK_EQ_INT(log_limited_at(&boom, 11000, "boom %d", 12), 1);
    CHECK_EQ_INT(log_limited_at(&other, 11000, "other %d", 1), 1); /* a limiter per kind */
    CHECK_EQ_INT(log_limited_at(&boom, 11500, "boom %d", 13), 0);
    CHECK_EQ_INT(log_limited_at(&boom, 13250, "boom %d", 14), 1);
    CHECK_EQ_INT(captured(out, sizeof out), 4);
    CHECK_EQ_STR(out, "boom 1\n"
                      "boom 12 (repeated 10 times in the last 1.0 s)\n"
                      "other 1\n"
                      "boom 14 (repeated 1 time in the last 2.2 s)\n");
}

/* When the error has stopped for a second, the tick's flush reports what is
 * held; a forced flush (a process ending) does not wait. */
static void test_limit_flush(void)
{
    char out[4096];
    capture();
    CHECK_EQ_INT(log_limited_at(&boom, 20000, "boom"), 1);
    CHECK_EQ_INT(log_limited_at(&boom, 20100, "boom"), 0);
    CHECK_EQ_INT(log_limited_at(&boom, 20200, "boom"), 0);
    log_limits_flush(20999, 0); /* the second is not over: nothing */
    log_limits_flush(21000, 0); /* the error came 800 ms ago, it may go on: nothing */
    log_limits_flush(21200, 0);
    log_limits_flush(21300, 0); /* nothing held: nothing */
    CHECK_EQ_INT(log_limited_at(&boom, 21500, "boom"), 0); /* the summary took this second */
    CHECK_EQ_INT(log_limited_at(&other, 22600, "other"), 1);
    CHECK_EQ_INT(log_limited_at(&other, 22700, "other"), 0);
    log_limits_flush(22800, 1);
    log_limits_flush(22900, 1); /* all counted out already */
    CHECK_EQ_INT(captured(out, sizeof out), 5);
    CHECK_EQ_STR(out, "boom\n"
                      "boom: repeated 2 times in the last 1.2 s\n"
                      "other\n"
                      "other: repeated 1 time in the last 0.2 s\n"
                      "boom: repeated 1 time in the last 1.6 s\n");
}

#define CROWD_THREADS 8
#define CROWD_CALLS 5000

static void *crowd_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < CROWD_CALLS; i++)
        log_limited_at(&crowd, 30000 + i / 10, "crowd");
    return NULL;
}

/* Threads hitting one limiter at once: one line goes out, and every call
 * held back is counted, none lost and none twice. */
static void test_limit_threads(void)
{
    char out[4096];
    pthread_t threads[CROWD_THREADS];
    capture();
    for (int i = 0; i < CROWD_THREADS; i++)
        CHECK_EQ_INT(pthread_create(&threads[i], NULL, crowd_thread, NULL), 0);
    for (int i = 0; i < CROWD_THREADS; i++)
        pthread_join(threads[i], NULL);
    log_limited_at(&crowd, 31000, "crowd again");
    CHECK_EQ_INT(captured(out, sizeof out), 2);
    char want[128];
    snprintf(want, sizeof want, "crowd\ncrowd again (repeated %d times in the last 1.0 s)\n",
             CROWD_THREADS * CROWD_CALLS - 1);
    CHECK_EQ_STR(out, want);
}

/* A forked child does not report what its parent held back. */
static void test_limit_forked(void)
{
    char out[4096];
    capture();
    CHECK_EQ_INT(log_limited_at(&boom, 40000, "boom"), 1);
    CHECK_EQ_INT(log_limited_at(&boom, 40100, "boom"), 0);
    log_limits_forked();
    log_limits_flush(40200, 1);
    CHECK_EQ_INT(captured(out, sizeof out), 1);
    CHECK_EQ_STR(out, "boom\n");
}

/* log_limited reads the monotonic clock itself; log_syscall_limited names
 * the syscall as log_syscall does. */
static void test_limit_real_clock(void)
{
    char out[4096];
    capture();
    log_syscall_limited(&real, "write", "access log", ENOSPC);
    for (int i = 0; i < 100; i++)
        log_syscall_limited(&real, "write", "access log", ENOSPC);
    CHECK_EQ_INT(captured(out, sizeof out), 1);
    CHECK_EQ_STR(out, "write(access log): No space left on device\n");
}

int main(void)
{
    test_known_lines();
    test_escape_table();
    test_escape_tight_cap();
    test_no_forged_fields();
    test_long_user_agent();
    test_worst_case_line();
    test_limit_once_a_second();
    test_limit_flush();
    test_limit_threads();
    test_limit_forked();
    test_limit_real_clock();
    return test_report();
}
