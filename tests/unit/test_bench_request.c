#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench/request.h"
#include "test.h"

static struct bench_config cfg;

static void setup(const char *url)
{
    char err[128];

    memset(&cfg, 0, sizeof cfg);
    cfg.method = "GET";
    cfg.pipeline = 1;
    cfg.size = 64;
    CHECK_EQ_INT(bench_url_parse(url, &cfg.url, err, sizeof err), 0);
}

static void check_request(const char *want, int copies)
{
    char *out = NULL, err[128] = "";
    size_t one = 0;

    cfg.pipeline = copies;
    CHECK_EQ_INT(bench_request_build(&cfg, &out, &one, err, sizeof err), 0);
    CHECK_EQ_MEM(out, one, want, strlen(want));
    for (int i = 1; out && i < copies; i++)
        CHECK_EQ_MEM(out + (size_t)i * one, one, want, strlen(want));
    free(out);
}

static void test_plain_get(void)
{
    setup("http://127.0.0.1:8080/1k.bin");
    check_request("GET /1k.bin HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n", 1);
    check_request("GET /1k.bin HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n", 3);
}

static void test_headers_close_and_host(void)
{
    setup("http://[::1]:9/");
    cfg.headers[0] = "X-A: 1";
    cfg.headers[1] = "host: other";
    cfg.header_count = 2;
    cfg.close = 1;
    cfg.method = "HEAD";
    check_request("HEAD / HTTP/1.1\r\nX-A: 1\r\nhost: other\r\nConnection: close\r\n\r\n", 1);
    cfg.headers[1] = "Connection: keep-alive";
    check_request("HEAD / HTTP/1.1\r\nHost: [::1]:9\r\nX-A: 1\r\nConnection: keep-alive\r\n\r\n", 1);
}

static void test_body(void)
{
    char path[] = "/tmp/duct-bench-body-XXXXXX";
    int fd = mkstemp(path);

    CHECK(fd >= 0);
    CHECK_EQ_INT(write(fd, "a=1&b=2", 7), 7);
    close(fd);
    setup("http://h/post");
    cfg.method = "POST";
    cfg.body_file = path;
    check_request("POST /post HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\n\r\na=1&b=2", 2);
    unlink(path);
    {
        char *out = NULL, err[128] = "";
        size_t one;
        CHECK_EQ_INT(bench_request_build(&cfg, &out, &one, err, sizeof err), -1);
        CHECK(strstr(err, path) != NULL);
    }
}

static void test_echo_payload(void)
{
    char *out = NULL, err[128] = "";
    size_t one = 0;

    setup("tcp-echo://127.0.0.1:7");
    cfg.size = 30;
    cfg.pipeline = 2;
    CHECK_EQ_INT(bench_request_build(&cfg, &out, &one, err, sizeof err), 0);
    CHECK_EQ_INT(one, 30);
    CHECK_EQ_MEM(out, 30, "abcdefghijklmnopqrstuvwxyzabcd", 30);
    CHECK_EQ_MEM(out + 30, 30, "abcdefghijklmnopqrstuvwxyzabcd", 30);
    free(out);
}

static void test_header_valid(void)
{
    CHECK(bench_header_valid("X-Test: 1"));
    CHECK(bench_header_valid("X:"));
    CHECK(!bench_header_valid("no colon"));
    CHECK(!bench_header_valid(": empty name"));
    CHECK(!bench_header_valid("Bad Name: x"));
    CHECK(!bench_header_valid("X: a\r\nInjected: 1"));
}

int main(void)
{
    test_plain_get();
    test_headers_close_and_host();
    test_body();
    test_echo_payload();
    test_header_valid();
    return test_report();
}
