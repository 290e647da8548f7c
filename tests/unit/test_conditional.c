/* Unit tests for conditional requests (src/http/conditional.c): entity-tag
 * lists, the precondition order of RFC 9110 §13.2.2, and If-Range. Requests
 * are parsed from hand-written heads. */
#include "http/conditional.h"
#include "test.h"

#include <stdio.h>

#define ETAG "\"5f5e1000-3039\""
#define MTIME_DATE "Sun, 13 Sep 2020 12:26:40 GMT" /* 1600000000 */
#define BEFORE_DATE "Sun, 13 Sep 2020 12:26:39 GMT"
#define AFTER_DATE "Sun, 13 Sep 2020 12:26:41 GMT"

static const struct http_validators V = {ETAG, sizeof ETAG - 1, 1600000000};

static char head[4096];
static struct http_request req;

/* Parses "GET / HTTP/1.1", Host, then the given field lines. */
static const struct http_request *request(const char *fields)
{
    int status = 0;
    int n = snprintf(head, sizeof head, "GET / HTTP/1.1\r\nHost: x\r\n%s\r\n", fields);
    int r = http_parse_request(head, (size_t)n, sizeof head, &req, &status);
    CHECK_EQ_INT(r, n);
    return &req;
}

static int list_match(const char *list, int strong)
{
    struct http_span s = {list, strlen(list)};
    return http_etag_list_match(s, ETAG, sizeof ETAG - 1, strong);
}

static void test_etag_lists(void)
{
    CHECK_EQ_INT(list_match(ETAG, 1), 1);
    CHECK_EQ_INT(list_match(ETAG, 0), 1);
    CHECK_EQ_INT(list_match("W/" ETAG, 0), 1); /* weak comparison disregards W/ */
    CHECK_EQ_INT(list_match("W/" ETAG, 1), 0); /* strong comparison: a weak tag never matches */
    CHECK_EQ_INT(list_match("*", 1), 1);
    CHECK_EQ_INT(list_match("\"a\", " ETAG, 1), 1);
    CHECK_EQ_INT(list_match("\"a\",\"b\"", 0), 0);
    CHECK_EQ_INT(list_match(" , \"a\" ,," ETAG " ,", 0), 1); /* empty elements are allowed */
    CHECK_EQ_INT(list_match("\"5F5E1000-3039\"", 0), 0);     /* case matters */
    CHECK_EQ_INT(list_match("5f5e1000-3039", 0), -1);        /* unquoted */
    CHECK_EQ_INT(list_match("\"a", 0), -1);
    CHECK_EQ_INT(list_match("\"a\" \"b\"", 0), -1);
    CHECK_EQ_INT(list_match("w/" ETAG, 0), -1); /* W is case-sensitive */
    CHECK_EQ_INT(list_match("", 0), -1);
    CHECK_EQ_INT(list_match(",", 0), -1);
    CHECK_EQ_INT(list_match("*, " ETAG, 0), -1);
}

static int eval(const char *fields)
{
    return http_conditional_eval(request(fields), 1, &V);
}

static void test_if_match(void)
{
    CHECK_EQ_INT(eval(""), 0);
    CHECK_EQ_INT(eval("If-Match: " ETAG "\r\n"), 0);
    CHECK_EQ_INT(eval("If-Match: *\r\n"), 0);
    CHECK_EQ_INT(eval("If-Match: \"other\"\r\n"), 412);
    CHECK_EQ_INT(eval("If-Match: W/" ETAG "\r\n"), 412);
    CHECK_EQ_INT(eval("If-Match: \"other\"\r\nIf-Match: " ETAG "\r\n"), 0); /* one list over two lines */
    CHECK_EQ_INT(eval("If-Match: garbage\r\n"), 0);                        /* malformed: ignored */
}

static void test_if_unmodified_since(void)
{
    CHECK_EQ_INT(eval("If-Unmodified-Since: " MTIME_DATE "\r\n"), 0);
    CHECK_EQ_INT(eval("If-Unmodified-Since: " AFTER_DATE "\r\n"), 0);
    CHECK_EQ_INT(eval("If-Unmodified-Since: " BEFORE_DATE "\r\n"), 412);
    CHECK_EQ_INT(eval("If-Unmodified-Since: yesterday\r\n"), 0); /* invalid date: ignored */
    CHECK_EQ_INT(eval("If-Unmodified-Since: " BEFORE_DATE "\r\nIf-Unmodified-Since: " BEFORE_DATE "\r\n"), 0);
    /* Ignored when If-Match is present (§13.1.4), even if If-Match passes. */
    CHECK_EQ_INT(eval("If-Match: " ETAG "\r\nIf-Unmodified-Since: " BEFORE_DATE "\r\n"), 0);
    CHECK_EQ_INT(eval("If-Unmodified-Since: Sunday, 13-Sep-20 12:26:39 GMT\r\n"), 412); /* RFC 850 form */
}

static void test_if_none_match(void)
{
    CHECK_EQ_INT(eval("If-None-Match: " ETAG "\r\n"), 304);
    CHECK_EQ_INT(eval("If-None-Match: W/" ETAG "\r\n"), 304); /* weak comparison */
    CHECK_EQ_INT(eval("If-None-Match: *\r\n"), 304);
    CHECK_EQ_INT(eval("If-None-Match: \"a\", \"b\"\r\n"), 0);
    CHECK_EQ_INT(eval("If-None-Match: \"a\", W/" ETAG "\r\n"), 304);
    CHECK_EQ_INT(http_conditional_eval(request("If-None-Match: " ETAG "\r\n"), 0, &V), 412); /* not GET/HEAD */
}

static void test_if_modified_since(void)
{
    CHECK_EQ_INT(eval("If-Modified-Since: " MTIME_DATE "\r\n"), 304);
    CHECK_EQ_INT(eval("If-Modified-Since: " AFTER_DATE "\r\n"), 304);
    CHECK_EQ_INT(eval("If-Modified-Since: " BEFORE_DATE "\r\n"), 0);
    CHECK_EQ_INT(eval("If-Modified-Since: not a date\r\n"), 0);
    CHECK_EQ_INT(eval("If-Modified-Since: " MTIME_DATE "; length=12\r\n"), 0);
    CHECK_EQ_INT(http_conditional_eval(request("If-Modified-Since: " MTIME_DATE "\r\n"), 0, &V), 0);
    /* Ignored when If-None-Match is present (§13.1.3), matching or not. */
    CHECK_EQ_INT(eval("If-None-Match: \"a\"\r\nIf-Modified-Since: " AFTER_DATE "\r\n"), 0);
}

/* §13.2.2: the first failing step decides. */
static void test_order(void)
{
    CHECK_EQ_INT(eval("If-Match: \"other\"\r\nIf-None-Match: " ETAG "\r\n"), 412);
    CHECK_EQ_INT(eval("If-Unmodified-Since: " BEFORE_DATE "\r\nIf-None-Match: " ETAG "\r\n"), 412);
    CHECK_EQ_INT(eval("If-Unmodified-Since: " BEFORE_DATE "\r\nIf-Modified-Since: " AFTER_DATE "\r\n"), 412);
    CHECK_EQ_INT(eval("If-Match: " ETAG "\r\nIf-None-Match: " ETAG "\r\n"), 304);
    CHECK_EQ_INT(eval("If-Match: " ETAG "\r\nIf-Modified-Since: " MTIME_DATE "\r\n"), 304);
    CHECK_EQ_INT(eval("If-None-Match: " ETAG "\r\nIf-Modified-Since: " BEFORE_DATE "\r\n"), 304);
}

static int if_range(const char *fields)
{
    return http_if_range_holds(request(fields), &V);
}

static void test_if_range(void)
{
    CHECK_EQ_INT(if_range(""), 1);
    CHECK_EQ_INT(if_range("If-Range: " ETAG "\r\n"), 1);
    CHECK_EQ_INT(if_range("If-Range: \"other\"\r\n"), 0);
    CHECK_EQ_INT(if_range("If-Range: W/" ETAG "\r\n"), 0); /* weak tags never match */
    CHECK_EQ_INT(if_range("If-Range: " MTIME_DATE "\r\n"), 1);
    CHECK_EQ_INT(if_range("If-Range: " AFTER_DATE "\r\n"), 0); /* an exact match only */
    CHECK_EQ_INT(if_range("If-Range: " BEFORE_DATE "\r\n"), 0);
    CHECK_EQ_INT(if_range("If-Range: Wed, 32 Sep 2020 12:26:40 GMT\r\n"), 0);
    CHECK_EQ_INT(if_range("If-Range: " ETAG ", " ETAG "\r\n"), 0);
    CHECK_EQ_INT(if_range("If-Range: " ETAG "\r\nIf-Range: " ETAG "\r\n"), 0);
    CHECK_EQ_INT(if_range("If-Range: *\r\n"), 0);
}

int main(void)
{
    test_etag_lists();
    test_if_match();
    test_if_unmodified_since();
    test_if_none_match();
    test_if_modified_since();
    test_order();
    test_if_range();
    return test_report();
}
