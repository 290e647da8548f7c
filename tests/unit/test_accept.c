/* Unit tests for Accept-Encoding negotiation (src/http/accept.c). */
#include "http/accept.h"
#include "test.h"

#include <stdio.h>
#include <string.h>

static unsigned accept_of(const char *fields)
{
    static char head[2048];
    struct http_request req;
    int status = 0;
    int n = snprintf(head, sizeof head, "GET / HTTP/1.1\r\nHost: x\r\n%s\r\n", fields);
    CHECK_EQ_INT(http_parse_request(head, (size_t)n, sizeof head, &req, &status), n);
    return http_accept_encoding(&req);
}

/* The accepted codings in the order the server would pick them. */
static const char *order_of(const char *fields)
{
    static char out[32];
    unsigned accept = accept_of(fields), avail = HTTP_ACCEPT_CODINGS, seen = 0;
    out[0] = '\0';
    for (unsigned c; (c = http_accept_pick(accept, avail)) != 0; avail &= ~c) {
        if (out[0])
            strcat(out, ",");
        strcat(out, http_accept_name(c));
        seen |= c;
    }
    CHECK_EQ_INT(accept & HTTP_ACCEPT_CODINGS, seen); /* the bits and the order agree */
    return out;
}

int main(void)
{
    CHECK_EQ_STR(order_of(""), "");
    CHECK_EQ_STR(order_of("Accept-Encoding: gzip\r\n"), "gzip");
    CHECK_EQ_STR(order_of("Accept-Encoding: br\r\n"), "br");
    CHECK_EQ_STR(order_of("Accept-Encoding: zstd\r\n"), "zstd");
    CHECK_EQ_STR(order_of("Accept-Encoding: gzip, deflate, br\r\n"), "br,gzip");
    CHECK_EQ_STR(order_of("Accept-Encoding: gzip, deflate, br, zstd\r\n"), "zstd,br,gzip"); /* Chrome's */
    CHECK_EQ_STR(order_of("Accept-Encoding: BR, GZip, ZSTD\r\n"), "zstd,br,gzip");
    CHECK_EQ_STR(order_of("Accept-Encoding: x-gzip\r\n"), "gzip");
    CHECK_EQ_STR(order_of("Accept-Encoding: *\r\n"), "zstd,br,gzip");
    CHECK_EQ_STR(order_of("Accept-Encoding: *, br;q=0\r\n"), "zstd,gzip");
    CHECK_EQ_STR(order_of("Accept-Encoding: gzip;q=0, *\r\n"), "zstd,br");
    CHECK_EQ_STR(order_of("Accept-Encoding: *;q=0\r\n"), "");
    /* gzip refused is preferred to nothing (found by fuzz_accept). */
    CHECK_EQ_STR(order_of("Accept-Encoding: gzip;q=0\r\n"), "");
    CHECK_EQ_STR(order_of("Accept-Encoding: gzip;q=0, br;q=0\r\n"), "");
    CHECK_EQ_STR(order_of("Accept-Encoding: br;q=0.000, gzip;q=0.001\r\n"), "gzip");
    CHECK_EQ_STR(order_of("Accept-Encoding: br;q=0.5, gzip;q=1\r\n"), "gzip,br");
    CHECK_EQ_STR(order_of("Accept-Encoding: br;q=1.0, gzip;q=1\r\n"), "br,gzip"); /* a tie: br */
    CHECK_EQ_STR(order_of("Accept-Encoding: zstd;q=0.1, br;q=0.2, gzip;q=0.3\r\n"), "gzip,br,zstd");
    CHECK_EQ_STR(order_of("Accept-Encoding: br ; q=0.9 , gzip ;Q=0.8\r\n"), "br,gzip");
    CHECK_EQ_STR(order_of("Accept-Encoding: br;level=5;q=0\r\n"), "");
    CHECK_EQ_STR(order_of("Accept-Encoding: identity\r\n"), "");
    /* A coding ranked below identity is not taken; a tie with it is. */
    CHECK_EQ_STR(order_of("Accept-Encoding: gzip;q=0.5, br, identity;q=0.8\r\n"), "br");
    CHECK_EQ_STR(order_of("Accept-Encoding: gzip, identity\r\n"), "gzip");
    CHECK_EQ_STR(order_of("Accept-Encoding: gzip;q=0.5, *;q=0.8\r\n"), "zstd,br");
    CHECK_EQ_STR(order_of("Accept-Encoding: gzip, identity;q=0\r\n"), "gzip");
    CHECK_EQ_STR(order_of("Accept-Encoding: br\r\nAccept-Encoding: gzip\r\n"), "br,gzip"); /* lines combine */
    /* Malformed elements are skipped, the others still count. */
    CHECK_EQ_STR(order_of("Accept-Encoding: br;q=2, gzip\r\n"), "gzip");
    CHECK_EQ_STR(order_of("Accept-Encoding: br;q=0.5x, gzip\r\n"), "gzip");
    CHECK_EQ_STR(order_of("Accept-Encoding: br;q=1.001\r\n"), "");
    CHECK_EQ_STR(order_of("Accept-Encoding: br;q=, gzip;q=.5\r\n"), "");
    CHECK_EQ_STR(order_of("Accept-Encoding: br gzip\r\n"), "");
    CHECK_EQ_STR(order_of("Accept-Encoding: ,,br,,\r\n"), "br");
    /* pick: the first accepted coding the server has. */
    unsigned a = accept_of("Accept-Encoding: gzip;q=0.9, br;q=0.5\r\n");
    CHECK_EQ_INT(http_accept_pick(a, HTTP_ACCEPT_BR | HTTP_ACCEPT_GZIP), HTTP_ACCEPT_GZIP);
    CHECK_EQ_INT(http_accept_pick(a, HTTP_ACCEPT_BR), HTTP_ACCEPT_BR);
    CHECK_EQ_INT(http_accept_pick(a, HTTP_ACCEPT_ZSTD), 0);
    CHECK_EQ_INT(http_accept_pick(a, 0), 0);
    CHECK(http_accept_name(0) == NULL);
    return test_report();
}
