/* Unit tests for Accept-Encoding negotiation (src/http/accept.c). */
#include "http/accept.h"
#include "test.h"

#include <stdio.h>

static unsigned accept_of(const char *fields)
{
    static char head[2048];
    struct http_request req;
    int status = 0;
    int n = snprintf(head, sizeof head, "GET / HTTP/1.1\r\nHost: x\r\n%s\r\n", fields);
    CHECK_EQ_INT(http_parse_request(head, (size_t)n, sizeof head, &req, &status), n);
    return http_accept_encoding(&req);
}

enum { BR = HTTP_ACCEPT_BR, GZ = HTTP_ACCEPT_GZIP, PREFER_GZ = HTTP_ACCEPT_PREFER_GZIP };

int main(void)
{
    CHECK_EQ_INT(accept_of(""), 0);
    CHECK_EQ_INT(accept_of("Accept-Encoding: gzip\r\n"), GZ | PREFER_GZ);
    CHECK_EQ_INT(accept_of("Accept-Encoding: br\r\n"), BR);
    CHECK_EQ_INT(accept_of("Accept-Encoding: gzip, deflate, br\r\n"), BR | GZ);
    CHECK_EQ_INT(accept_of("Accept-Encoding: BR, GZip\r\n"), BR | GZ);
    CHECK_EQ_INT(accept_of("Accept-Encoding: x-gzip\r\n"), GZ | PREFER_GZ);
    CHECK_EQ_INT(accept_of("Accept-Encoding: *\r\n"), BR | GZ);
    CHECK_EQ_INT(accept_of("Accept-Encoding: *, br;q=0\r\n"), GZ | PREFER_GZ);
    CHECK_EQ_INT(accept_of("Accept-Encoding: gzip;q=0, *\r\n"), BR);
    CHECK_EQ_INT(accept_of("Accept-Encoding: *;q=0\r\n"), 0);
    /* gzip refused is preferred to nothing (found by fuzz_accept). */
    CHECK_EQ_INT(accept_of("Accept-Encoding: gzip;q=0\r\n"), 0);
    CHECK_EQ_INT(accept_of("Accept-Encoding: gzip;q=0, br;q=0\r\n"), 0);
    CHECK_EQ_INT(accept_of("Accept-Encoding: br;q=0.000, gzip;q=0.001\r\n"), GZ | PREFER_GZ);
    CHECK_EQ_INT(accept_of("Accept-Encoding: br;q=0.5, gzip;q=1\r\n"), BR | GZ | PREFER_GZ);
    CHECK_EQ_INT(accept_of("Accept-Encoding: br;q=1.0, gzip;q=1\r\n"), BR | GZ); /* a tie: br */
    CHECK_EQ_INT(accept_of("Accept-Encoding: br ; q=0.9 , gzip ;Q=0.8\r\n"), BR | GZ);
    CHECK_EQ_INT(accept_of("Accept-Encoding: br;level=5;q=0\r\n"), 0);
    CHECK_EQ_INT(accept_of("Accept-Encoding: identity\r\n"), 0);
    CHECK_EQ_INT(accept_of("Accept-Encoding: br\r\nAccept-Encoding: gzip\r\n"), BR | GZ); /* lines combine */
    /* Malformed elements are skipped, the others still count. */
    CHECK_EQ_INT(accept_of("Accept-Encoding: br;q=2, gzip\r\n"), GZ | PREFER_GZ);
    CHECK_EQ_INT(accept_of("Accept-Encoding: br;q=0.5x, gzip\r\n"), GZ | PREFER_GZ);
    CHECK_EQ_INT(accept_of("Accept-Encoding: br;q=1.001\r\n"), 0);
    CHECK_EQ_INT(accept_of("Accept-Encoding: br;q=, gzip;q=.5\r\n"), 0);
    CHECK_EQ_INT(accept_of("Accept-Encoding: br gzip\r\n"), 0);
    CHECK_EQ_INT(accept_of("Accept-Encoding: ,,br,,\r\n"), BR);
    return test_report();
}
