#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/un.h>

#include "net/addr.h"
#include "test.h"

static const struct sockaddr_in *as_in(const struct net_addr *a)
{
    return (const struct sockaddr_in *)&a->sa;
}

static const struct sockaddr_in6 *as_in6(const struct net_addr *a)
{
    return (const struct sockaddr_in6 *)&a->sa;
}

static const struct sockaddr_un *as_un(const struct net_addr *a)
{
    return (const struct sockaddr_un *)&a->sa;
}

/* Parses text, expects success, and checks that formatting gives want back. */
static void check_round_trip(const char *text, const char *want)
{
    struct net_addr a, b;
    char err[128] = "", out[NET_ADDR_TEXT_MAX];

    CHECK_EQ_INT(net_addr_parse(text, &a, err, sizeof err), 0);
    CHECK_EQ_STR(err, "");
    CHECK_EQ_STR(net_addr_format(&a, out, sizeof out), want);
    CHECK_EQ_INT(net_addr_parse(out, &b, err, sizeof err), 0);
    CHECK_EQ_INT(b.family, a.family);
    CHECK_EQ_INT(b.len, a.len);
    CHECK_EQ_MEM(&b.sa, b.len, &a.sa, a.len);
}

/* Expects text to be rejected with a reason containing want. */
static void check_error(const char *text, const char *want)
{
    struct net_addr a;
    char err[160] = "";
    int rc = net_addr_parse(text, &a, err, sizeof err);

    CHECK_EQ_INT(rc, -1);
    CHECK(strstr(err, want) != NULL);
    if (!strstr(err, want))
        fprintf(stderr, "     input \"%s\": got \"%s\", want \"%s\"\n", text, err, want);
    CHECK(strchr(err, '\n') == NULL);
}

static void test_ipv4(void)
{
    struct net_addr a;
    char err[128] = "";

    CHECK_EQ_INT(net_addr_parse("127.0.0.1:8080", &a, err, sizeof err), 0);
    CHECK_EQ_INT(a.family, AF_INET);
    CHECK_EQ_INT(a.sa.ss_family, AF_INET);
    CHECK_EQ_INT(a.len, sizeof(struct sockaddr_in));
    CHECK_EQ_INT(ntohs(as_in(&a)->sin_port), 8080);
    CHECK_EQ_INT(ntohl(as_in(&a)->sin_addr.s_addr), INADDR_LOOPBACK);
    check_round_trip("127.0.0.1:8080", "127.0.0.1:8080");
    check_round_trip("10.1.2.3:65535", "10.1.2.3:65535");
    check_round_trip("127.0.0.1:0", "127.0.0.1:0");
    check_round_trip("127.0.0.1:00080", "127.0.0.1:80");
}

static void test_any(void)
{
    struct net_addr a;
    char err[128] = "";

    CHECK_EQ_INT(net_addr_parse(":8080", &a, err, sizeof err), 0);
    CHECK_EQ_INT(a.family, AF_INET);
    CHECK_EQ_INT(as_in(&a)->sin_addr.s_addr, htonl(INADDR_ANY));
    CHECK_EQ_INT(ntohs(as_in(&a)->sin_port), 8080);
    check_round_trip(":8080", "0.0.0.0:8080");
    check_round_trip(":0", "0.0.0.0:0");
}

static void test_ipv6(void)
{
    struct net_addr a;
    char err[128] = "";

    CHECK_EQ_INT(net_addr_parse("[::1]:8080", &a, err, sizeof err), 0);
    CHECK_EQ_INT(a.family, AF_INET6);
    CHECK_EQ_INT(a.len, sizeof(struct sockaddr_in6));
    CHECK_EQ_INT(ntohs(as_in6(&a)->sin6_port), 8080);
    CHECK(memcmp(&as_in6(&a)->sin6_addr, &in6addr_loopback, sizeof in6addr_loopback) == 0);
    check_round_trip("[::1]:8080", "[::1]:8080");
    check_round_trip("[::]:443", "[::]:443");
    check_round_trip("[2001:db8:0:0::1]:1", "[2001:db8::1]:1");
    check_round_trip("[::ffff:127.0.0.1]:80", "[::ffff:127.0.0.1]:80");
}

static void test_resolve(void)
{
    struct net_addr a;
    char err[128] = "";
    static const unsigned char v4_loopback[4] = {127, 0, 0, 1};

    CHECK_EQ_INT(net_addr_parse("localhost:8080", &a, err, sizeof err), 0);
    CHECK(a.family == AF_INET || a.family == AF_INET6);
    if (a.family == AF_INET) {
        CHECK_EQ_INT(a.len, sizeof(struct sockaddr_in));
        CHECK_EQ_INT(ntohs(as_in(&a)->sin_port), 8080);
        CHECK_EQ_MEM(&as_in(&a)->sin_addr, 4, v4_loopback, 4);
    } else {
        CHECK_EQ_INT(a.len, sizeof(struct sockaddr_in6));
        CHECK_EQ_INT(ntohs(as_in6(&a)->sin6_port), 8080);
        CHECK(memcmp(&as_in6(&a)->sin6_addr, &in6addr_loopback, sizeof in6addr_loopback) == 0);
    }
}

static void test_unix(void)
{
    struct net_addr a;
    char err[128] = "";
    size_t off = offsetof(struct sockaddr_un, sun_path);

    CHECK_EQ_INT(net_addr_parse("unix:/tmp/duct.sock", &a, err, sizeof err), 0);
    CHECK_EQ_INT(a.family, AF_UNIX);
    CHECK_EQ_INT(as_un(&a)->sun_family, AF_UNIX);
    CHECK_EQ_STR(as_un(&a)->sun_path, "/tmp/duct.sock");
    CHECK_EQ_INT(a.len, off + strlen("/tmp/duct.sock") + 1);
    check_round_trip("unix:/tmp/duct.sock", "unix:/tmp/duct.sock");
    check_round_trip("unix:relative/path", "unix:relative/path");

    CHECK_EQ_INT(net_addr_parse("unix:@duct-test", &a, err, sizeof err), 0);
    CHECK_EQ_INT(a.family, AF_UNIX);
    CHECK_EQ_INT(as_un(&a)->sun_path[0], 0);
    CHECK_EQ_MEM(as_un(&a)->sun_path + 1, strlen("duct-test"), "duct-test", strlen("duct-test"));
    CHECK_EQ_INT(a.len, off + 1 + strlen("duct-test"));
    check_round_trip("unix:@duct-test", "unix:@duct-test");
}

static void test_unix_lengths(void)
{
    char text[256], err[128] = "";
    size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
    struct net_addr a;

    /* The longest path leaves room for its NUL. */
    memcpy(text, "unix:/", 6);
    memset(text + 6, 'p', max - 1);
    text[5 + max] = '\0';
    CHECK_EQ_INT(net_addr_parse(text, &a, err, sizeof err), 0);
    CHECK_EQ_INT(strlen(as_un(&a)->sun_path), max);
    text[5 + max] = 'p';
    text[6 + max] = '\0';
    check_error(text, "too long");

    /* The longest abstract name fills sun_path after the leading NUL. */
    memcpy(text, "unix:@", 6);
    memset(text + 6, 'n', max);
    text[6 + max] = '\0';
    CHECK_EQ_INT(net_addr_parse(text, &a, err, sizeof err), 0);
    CHECK_EQ_INT(a.len, sizeof(struct sockaddr_un));
    check_round_trip(text, text);
    text[6 + max] = 'n';
    text[7 + max] = '\0';
    check_error(text, "too long");
}

static void test_errors(void)
{
    struct net_addr a;
    char err[128] = "";

    check_error("", "empty address");
    CHECK_EQ_INT(net_addr_parse(NULL, &a, err, sizeof err), -1);
    CHECK_EQ_STR(err, "empty address");
    check_error("127.0.0.1", "missing port");
    check_error("127.0.0.1:", "missing port");
    check_error("localhost", "missing port");
    check_error("127.0.0.1:-1", "bad port \"-1\"");
    check_error("127.0.0.1:http", "bad port \"http\"");
    check_error("127.0.0.1:65536", "bad port \"65536\"");
    check_error("127.0.0.1:99999999999999999999", "bad port");
    check_error("127.0.0.1:80x", "bad port \"80x\"");
    check_error("127.0.0.1:+80", "bad port");
    check_error("127.0.0.1: 80", "bad port");
    check_error("[::1:80", "unterminated '['");
    check_error("[::1]", "missing port");
    check_error("[::1]:", "missing port");
    check_error("[::1]80", "expected ':' after ']'");
    check_error("[::1]:99999", "bad port");
    check_error("[127.0.0.1]:80", "bad IPv6 address");
    check_error("[]:80", "bad IPv6 address");
    check_error("::1:80", "brackets");
    check_error("fe80::1:8080", "brackets");
    check_error("unix:", "empty unix socket path");
    check_error("unix:@", "empty unix socket name");
    /* Not a valid host name, so the resolver refuses it without asking a DNS server: the test stays offline. */
    check_error("no..such..host:80", "cannot resolve host \"no..such..host\"");
}

static void test_error_buffer(void)
{
    struct net_addr a;
    char small[8];

    memset(small, 'x', sizeof small);
    CHECK_EQ_INT(net_addr_parse("127.0.0.1:http", &a, small, 6), -1);
    CHECK_EQ_STR(small, "bad p");
    CHECK_EQ_INT(small[6], 'x');
    CHECK_EQ_INT(net_addr_parse("127.0.0.1:http", &a, NULL, 0), -1);
}

static void test_format_edges(void)
{
    struct net_addr a;
    char err[64], out[8];

    CHECK_EQ_INT(net_addr_parse("[::1]:8080", &a, err, sizeof err), 0);
    memset(out, 'x', sizeof out);
    CHECK(net_addr_format(&a, out, 5) == out);
    CHECK_EQ_STR(out, "[::1");
    CHECK_EQ_INT(out[5], 'x');
    memset(&a, 0, sizeof a);
    CHECK_EQ_STR(net_addr_format(&a, out, sizeof out), "-");
}

static void test_host(void)
{
    struct net_addr a;
    char err[64], out[64];

    CHECK_EQ_INT(net_addr_parse("192.168.7.9:80", &a, err, sizeof err), 0);
    CHECK_EQ_STR(net_addr_host((struct sockaddr *)&a.sa, a.len, out, sizeof out), "192.168.7.9");
    CHECK_EQ_INT(net_addr_parse("[::1]:80", &a, err, sizeof err), 0);
    CHECK_EQ_STR(net_addr_host((struct sockaddr *)&a.sa, a.len, out, sizeof out), "::1");
    CHECK_EQ_INT(net_addr_parse("unix:/x", &a, err, sizeof err), 0);
    CHECK_EQ_STR(net_addr_host((struct sockaddr *)&a.sa, a.len, out, sizeof out), "unix");
    /* accept() on a unix listener gives an unnamed peer: just the family. */
    CHECK_EQ_STR(net_addr_host((struct sockaddr *)&a.sa, sizeof(sa_family_t), out, sizeof out), "unix");
    CHECK_EQ_INT(net_addr_parse("[::1]:80", &a, err, sizeof err), 0);
    CHECK_EQ_STR(net_addr_host((struct sockaddr *)&a.sa, sizeof(struct sockaddr_in), out, sizeof out), "-");
    memset(&a, 0, sizeof a);
    CHECK_EQ_STR(net_addr_host((struct sockaddr *)&a.sa, sizeof a.sa, out, sizeof out), "-");
    CHECK_EQ_STR(net_addr_host(NULL, 0, out, sizeof out), "-");
}

/* The endpoint kinds of `duct cat`: the kind sets the socket type, the rest
 * reads as net_addr_parse does, and formatting gives the same text back. */
static void check_endpoint(const char *text, int family, int socktype)
{
    struct net_addr a;
    char err[160] = "", out[NET_ADDR_TEXT_MAX + 16];
    int type = -1;

    CHECK_EQ_INT(net_endpoint_parse(text, &a, &type, err, sizeof err), 0);
    CHECK_EQ_STR(err, "");
    CHECK_EQ_INT(a.family, family);
    CHECK_EQ_INT(type, socktype);
    CHECK_EQ_STR(net_endpoint_format(&a, type, out, sizeof out), text);
}

static void check_endpoint_error(const char *text, const char *want)
{
    struct net_addr a;
    char err[160] = "";
    int type = -1;

    CHECK_EQ_INT(net_endpoint_parse(text, &a, &type, err, sizeof err), -1);
    CHECK(strstr(err, want) != NULL);
    if (!strstr(err, want))
        fprintf(stderr, "     input \"%s\": got \"%s\", want \"%s\"\n", text, err, want);
}

static void test_endpoints(void)
{
    check_endpoint("tcp://127.0.0.1:7", AF_INET, SOCK_STREAM);
    check_endpoint("udp://127.0.0.1:5353", AF_INET, SOCK_DGRAM);
    check_endpoint("tcp://[::1]:80", AF_INET6, SOCK_STREAM);
    check_endpoint("udp://[::1]:9", AF_INET6, SOCK_DGRAM);
    check_endpoint("unix:/tmp/s", AF_UNIX, SOCK_STREAM);
    check_endpoint("unixgram:/tmp/g", AF_UNIX, SOCK_DGRAM);
    check_endpoint("unix:@abstract", AF_UNIX, SOCK_STREAM);
    check_endpoint("unixgram:@abs", AF_UNIX, SOCK_DGRAM);
    check_endpoint_error("127.0.0.1:7", "none of tcp://");
    check_endpoint_error("http://127.0.0.1:7", "none of");
    check_endpoint_error("tcp://", "missing HOST:PORT");
    check_endpoint_error("udp://unix:/x", "missing HOST:PORT");
    check_endpoint_error("tcp://127.0.0.1", "missing port");
    check_endpoint_error("udp://[::1]:99999", "bad port");
    check_endpoint_error("unixgram:", "empty unix socket path");
    check_endpoint_error("unix:@", "empty unix socket name");
}

static void test_resolve_all(void)
{
    struct net_addr out[8];
    char err[160] = "";
    int n = net_resolve("127.0.0.1", 8080, out, 8, err, sizeof err);

    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(out[0].family, AF_INET);
    CHECK_EQ_INT(ntohs(as_in(&out[0])->sin_port), 8080);
    n = net_resolve("::1", 443, out, 8, err, sizeof err);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(out[0].family, AF_INET6);
    CHECK_EQ_INT(ntohs(as_in6(&out[0])->sin6_port), 443);
    n = net_resolve("localhost", 1, out, 8, err, sizeof err);
    CHECK(n >= 1);
    for (int i = 0; i < n; i++)
        CHECK(out[i].family == AF_INET || out[i].family == AF_INET6);
    CHECK_EQ_INT(net_resolve("localhost", 1, out, 1, err, sizeof err), 1);
    CHECK_EQ_INT(net_resolve("no-such-host.invalid", 80, out, 8, err, sizeof err), -1);
    CHECK(strstr(err, "cannot resolve host \"no-such-host.invalid\"") != NULL);
}

int main(void)
{
    test_ipv4();
    test_any();
    test_ipv6();
    test_resolve();
    test_unix();
    test_unix_lengths();
    test_errors();
    test_error_buffer();
    test_format_edges();
    test_host();
    test_endpoints();
    test_resolve_all();
    return test_report();
}
