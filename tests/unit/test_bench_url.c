#include "bench/units.h"
#include "bench/url.h"
#include "test.h"

static struct bench_url u;
static char err[128];

static void test_http(void)
{
    CHECK_EQ_INT(bench_url_parse("http://127.0.0.1:8080/1k.bin", &u, err, sizeof err), 0);
    CHECK_EQ_INT(u.scheme, BENCH_HTTP);
    CHECK_EQ_STR(u.host, "127.0.0.1");
    CHECK_EQ_INT(u.port, 8080);
    CHECK_EQ_STR(u.path, "/1k.bin");
    CHECK_EQ_STR(u.authority, "127.0.0.1:8080");
    CHECK_EQ_STR(u.addr, "127.0.0.1:8080");

    CHECK_EQ_INT(bench_url_parse("http://example.org", &u, err, sizeof err), 0);
    CHECK_EQ_INT(u.port, 80);
    CHECK_EQ_STR(u.path, "/");
    CHECK_EQ_STR(u.authority, "example.org");
    CHECK_EQ_STR(u.addr, "example.org:80");

    CHECK_EQ_INT(bench_url_parse("http://[::1]:9000/a?b=c#frag", &u, err, sizeof err), 0);
    CHECK_EQ_STR(u.host, "::1");
    CHECK_EQ_INT(u.ipv6_literal, 1);
    CHECK_EQ_STR(u.path, "/a?b=c");
    CHECK_EQ_STR(u.authority, "[::1]:9000");
    CHECK_EQ_STR(u.addr, "[::1]:9000");

    CHECK_EQ_INT(bench_url_parse("http://[::1]/", &u, err, sizeof err), 0);
    CHECK_EQ_STR(u.addr, "[::1]:80");
    CHECK_EQ_INT(u.tls, 0);

    CHECK_EQ_INT(bench_url_parse("https://localhost/x", &u, err, sizeof err), 0);
    CHECK_EQ_INT(u.scheme, BENCH_HTTP);
    CHECK_EQ_INT(u.tls, 1);
    CHECK_EQ_INT(u.port, 443);
    CHECK_EQ_STR(u.host, "localhost");
    CHECK_EQ_STR(u.addr, "localhost:443");
    CHECK_EQ_STR(u.path, "/x");
}

static void test_echo(void)
{
    CHECK_EQ_INT(bench_url_parse("tcp-echo://127.0.0.1:7", &u, err, sizeof err), 0);
    CHECK_EQ_INT(u.scheme, BENCH_TCP_ECHO);
    CHECK_EQ_INT(u.port, 7);
    CHECK_EQ_INT(bench_url_parse("udp-echo://[::1]:7", &u, err, sizeof err), 0);
    CHECK_EQ_INT(u.scheme, BENCH_UDP_ECHO);
    CHECK_EQ_INT(bench_url_parse("udp-echo://127.0.0.1", &u, err, sizeof err), -1);
    CHECK_EQ_STR(err, "missing port");
    CHECK_EQ_INT(bench_url_parse("tcp-echo://127.0.0.1:7/x", &u, err, sizeof err), -1);
}

static void test_bad(void)
{
    static const char *const bad[] = {
        "127.0.0.1:8080", "https:/x/", "ftp://x/", "http://", "http:///x", "http://h:/", "http://h:0/",
        "http://h:65536/", "http://h:8x/", "http://[::1/", "http://[::1]x/", "http://a b/", "http://u@h/",
        "http://[]:80/",
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        CHECK_EQ_INT(bench_url_parse(bad[i], &u, err, sizeof err), -1);
        CHECK(err[0] != '\0');
    }
    CHECK_EQ_INT(bench_url_parse("http://h:65535/@x", &u, err, sizeof err), 0);
}

/* Found by fuzz_url: what a URL holds must go into the request line and the
 * Host header whole. Bytes that cannot appear there are refused, the
 * authority ends where RFC 3986 §3.2 ends it, and a port with leading zeros
 * cannot outgrow the Host header's buffer. */
static void test_fuzz_findings(void)
{
    static const char *const bad[] = {
        "http://127.0.0.\xae:8080/", "http://h/\x01", "http://h/\x7f", "http://h/caf\xc3\xa9",
        "http://h:00000000000000000000000000000000080/", "http://h:000080/", "tcp-echo://h:7?x", "http://u@h?x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        CHECK_EQ_INT(bench_url_parse(bad[i], &u, err, sizeof err), -1);
        CHECK(err[0] != '\0');
    }
    CHECK_EQ_INT(bench_url_parse("http://h:00080/x", &u, err, sizeof err), 0);
    CHECK_EQ_INT(u.port, 80);
    CHECK_EQ_STR(u.authority, "h:00080");
    CHECK_EQ_INT(bench_url_parse("http://h?q=1", &u, err, sizeof err), 0);
    CHECK_EQ_STR(u.host, "h");
    CHECK_EQ_STR(u.authority, "h");
    CHECK_EQ_STR(u.path, "/?q=1");
    CHECK_EQ_INT(bench_url_parse("http://h:81#top", &u, err, sizeof err), 0);
    CHECK_EQ_STR(u.authority, "h:81");
    CHECK_EQ_INT(u.port, 81);
    CHECK_EQ_STR(u.path, "/");
    CHECK_EQ_INT(bench_url_parse("tcp-echo://h:7#x", &u, err, sizeof err), -1);
}

static void test_units(void)
{
    double s;
    uint64_t n;
    char buf[32];

    CHECK(units_parse_duration("10", &s) == 0 && s == 10);
    CHECK(units_parse_duration("250ms", &s) == 0 && s == 0.25);
    CHECK(units_parse_duration("1.5m", &s) == 0 && s == 90);
    CHECK(units_parse_duration("2h", &s) == 0 && s == 7200);
    CHECK(units_parse_duration("0", &s) == 0 && s == 0);
    CHECK(units_parse_duration("500us", &s) == 0 && s > 0.000499 && s < 0.000501);
    CHECK_EQ_INT(units_parse_duration("-1", &s), -1);
    CHECK_EQ_INT(units_parse_duration("1x", &s), -1);
    CHECK_EQ_INT(units_parse_duration("", &s), -1);
    CHECK_EQ_INT(units_parse_duration("nan", &s), -1);
    CHECK_EQ_INT(units_parse_duration("1e300", &s), -1);
    CHECK(units_parse_count("10k", 1, 1000000, &n) == 0 && n == 10000);
    CHECK(units_parse_count("2Ki", 1, 1000000, &n) == 0 && n == 2048);
    CHECK_EQ_INT(units_parse_count("0", 1, 10, &n), -1);
    CHECK_EQ_INT(units_parse_count("11", 1, 10, &n), -1);
    CHECK_EQ_INT(units_parse_count("-1", 0, 10, &n), -1);
    CHECK_EQ_INT(units_parse_count("99999999999999999999999", 0, 10, &n), -1);
    CHECK_EQ_INT(units_parse_count("20000000000G", 0, UINT64_MAX, &n), -1);
    CHECK_EQ_STR(units_format_us(812, buf, sizeof buf), "812 us");
    CHECK_EQ_STR(units_format_us(12450, buf, sizeof buf), "12.45 ms");
    CHECK_EQ_STR(units_format_us(1200000, buf, sizeof buf), "1.20 s");
    CHECK_EQ_STR(units_format_bytes(999, buf, sizeof buf), "999 B");
    CHECK_EQ_STR(units_format_bytes(1234567, buf, sizeof buf), "1.23 MB");
}

int main(void)
{
    test_http();
    test_echo();
    test_bad();
    test_fuzz_findings();
    test_units();
    return test_report();
}
