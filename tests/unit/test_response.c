/* Unit tests for the response-head parser and its framing rules
 * (http_parse_response in src/http/parse.c, src/http/response.c). */
#include "http/parse.h"
#include "http/response.h"
#include "test.h"

#define LIT(s) s, sizeof(s) - 1

enum { BIG = 65536 };

static int span_is(struct http_span span, const char *want)
{
    return span.len == strlen(want) && memcmp(span.ptr, want, span.len) == 0;
}

static void test_status_lines(void)
{
    struct http_response res;
    const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhello";

    CHECK_EQ_INT(http_parse_response(LIT(ok), BIG, &res), (int)sizeof ok - 1 - 5);
    CHECK_EQ_INT(res.status, 200);
    CHECK_EQ_INT(res.version_minor, 1);
    CHECK(span_is(res.reason, "OK"));
    CHECK_EQ_INT(res.header_count, 2);
    CHECK(http_find_response_header(&res, "server") != NULL);
    CHECK(http_find_response_header(&res, "date") == NULL);

    CHECK(http_parse_response(LIT("HTTP/1.0 404 Not Found\r\n\r\n"), BIG, &res) > 0);
    CHECK_EQ_INT(res.status, 404);
    CHECK_EQ_INT(res.version_minor, 0);
    CHECK(span_is(res.reason, "Not Found"));
    /* An empty reason, with or without its SP, is still a status line. */
    CHECK(http_parse_response(LIT("HTTP/1.1 204 \r\n\r\n"), BIG, &res) > 0);
    CHECK_EQ_INT(res.status, 204);
    CHECK(http_parse_response(LIT("HTTP/1.1 304\r\n\r\n"), BIG, &res) > 0);
    CHECK_EQ_INT(res.status, 304);
    CHECK_EQ_INT(res.reason.len, 0);

    /* Every proper prefix is incomplete. */
    for (size_t n = 0; n < sizeof ok - 1 - 5; n++)
        CHECK_EQ_INT(http_parse_response(ok, n, BIG, &res), HTTP_PARSE_INCOMPLETE);

    CHECK_EQ_INT(http_parse_response(LIT("HTTP/2.0 200 OK\r\n\r\n"), BIG, &res), HTTP_PARSE_ERROR);
    CHECK_EQ_INT(http_parse_response(LIT("HTTP/1.1 20 OK\r\n\r\n"), BIG, &res), HTTP_PARSE_ERROR);
    CHECK_EQ_INT(http_parse_response(LIT("HTTP/1.1 099 Low\r\n\r\n"), BIG, &res), HTTP_PARSE_ERROR);
    CHECK_EQ_INT(http_parse_response(LIT("http/1.1 200 OK\r\n\r\n"), BIG, &res), HTTP_PARSE_ERROR);
    CHECK_EQ_INT(http_parse_response(LIT("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n"), BIG, &res), HTTP_PARSE_ERROR);
    CHECK_EQ_INT(http_parse_response(LIT("HTTP/1.1 200 O\x01K\r\n\r\n"), BIG, &res), HTTP_PARSE_ERROR);
    /* A head that cannot fit in max_head is an error, not a wait. */
    CHECK_EQ_INT(http_parse_response(LIT("HTTP/1.1 200 OK\r\nA: b\r\n"), 20, &res), HTTP_PARSE_ERROR);
}

/* Parses `head` and interprets it; the framing, or -1 when refused. */
static int framing_of(const char *head, size_t n, int was_head, struct http_response_info *info)
{
    struct http_response res;

    if (http_parse_response(head, n, BIG, &res) <= 0)
        return -2;
    if (http_response_interpret(&res, was_head, info) != 0)
        return -1;
    return (int)info->framing;
}

static void test_framing(void)
{
    struct http_response_info info;

    CHECK_EQ_INT(framing_of(LIT("HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n"), 0, &info), HTTP_BODY_LENGTH);
    CHECK_EQ_INT(info.content_length, 42);
    CHECK(info.keep_alive);
    CHECK_EQ_INT(framing_of(LIT("HTTP/1.1 200 OK\r\nContent-Length: 42, 42\r\n\r\n"), 0, &info), HTTP_BODY_LENGTH);
    CHECK_EQ_INT(framing_of(LIT("HTTP/1.1 200 OK\r\nContent-Length: 42, 43\r\n\r\n"), 0, &info), -1);
    CHECK_EQ_INT(framing_of(LIT("HTTP/1.1 200 OK\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n"), 0, &info), -1);
    CHECK_EQ_INT(framing_of(LIT("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"), 0, &info), -1);
    CHECK_EQ_INT(framing_of(LIT("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n"), 0, &info), -1);

    CHECK_EQ_INT(framing_of(LIT("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), 0, &info), HTTP_BODY_CHUNKED);
    CHECK(info.keep_alive);
    CHECK_EQ_INT(framing_of(LIT("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n"), 0, &info),
                 HTTP_BODY_CHUNKED);
    /* Both framings: chunked wins, and the connection is not trusted after. */
    CHECK_EQ_INT(framing_of(LIT("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"), 0,
                            &info),
                 HTTP_BODY_CHUNKED);
    CHECK(!info.keep_alive);
    CHECK_EQ_INT(framing_of(LIT("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"), 0, &info),
                 HTTP_BODY_UNTIL_CLOSE);
    CHECK(!info.keep_alive);

    CHECK_EQ_INT(framing_of(LIT("HTTP/1.1 200 OK\r\n\r\n"), 0, &info), HTTP_BODY_UNTIL_CLOSE);
    CHECK(!info.keep_alive);
    /* No body whatever the fields say: HEAD, 1xx, 204, 304. */
    CHECK_EQ_INT(framing_of(LIT("HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n"), 1, &info), HTTP_BODY_NONE);
    CHECK(info.keep_alive);
    CHECK_EQ_INT(framing_of(LIT("HTTP/1.1 304 Not Modified\r\nContent-Length: 42\r\n\r\n"), 0, &info),
                 HTTP_BODY_NONE);
    CHECK_EQ_INT(framing_of(LIT("HTTP/1.1 204 No Content\r\n\r\n"), 0, &info), HTTP_BODY_NONE);
    CHECK_EQ_INT(framing_of(LIT("HTTP/1.1 100 Continue\r\n\r\n"), 0, &info), HTTP_BODY_NONE);

    /* Persistence: HTTP/1.1 unless close; HTTP/1.0 only when asked. */
    CHECK_EQ_INT(framing_of(LIT("HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n"), 0,
                            &info),
                 HTTP_BODY_LENGTH);
    CHECK(!info.keep_alive);
    CHECK_EQ_INT(framing_of(LIT("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"), 0, &info), HTTP_BODY_LENGTH);
    CHECK(!info.keep_alive);
    CHECK_EQ_INT(framing_of(LIT("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n"), 0, &info),
                 HTTP_BODY_LENGTH);
    CHECK(info.keep_alive);
}

static void test_list_next(void)
{
    const char text[] = " a , ,b\t,c d ,, ";
    struct http_span list = {text, sizeof text - 1};
    struct http_span item;

    CHECK(http_list_next(&list, &item) && span_is(item, "a"));
    CHECK(http_list_next(&list, &item) && span_is(item, "b"));
    CHECK(http_list_next(&list, &item) && span_is(item, "c d"));
    CHECK(!http_list_next(&list, &item));
    CHECK(!http_list_next(&list, &item));
}

int main(void)
{
    test_status_lines();
    test_framing();
    test_list_next();
    return test_report();
}
