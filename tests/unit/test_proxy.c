/* The PROXY protocol parser (src/net/proxy.c): versions 1 and 2, every
 * prefix of a valid header is "incomplete" and never "bad", malformed
 * headers are refused, and every input is placed at the end of a readable
 * page followed by an unreadable one, so an over-read crashes. */
#include "net/proxy.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test.h"

#define AREA 4096

static char *area; /* AREA readable bytes, then a PROT_NONE page */

static void guard_init(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *map = mmap(NULL, AREA + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED || mprotect(map + AREA, page, PROT_NONE) != 0) {
        perror("guard page");
        exit(2);
    }
    area = map;
}

static int parse(const void *s, size_t n, struct proxy_header *h)
{
    if (n > AREA)
        abort();
    memcpy(area + AREA - n, s, n);
    return proxy_parse(area + AREA - n, n, h);
}

/* Every proper prefix is incomplete; the whole is `want` bytes long. */
static void check_prefixes(const void *s, size_t n, int want)
{
    struct proxy_header h;
    int all_incomplete = 1;
    for (size_t i = 0; i < (size_t)want && i < n; i++)
        all_incomplete &= parse(s, i, &h) == PROXY_INCOMPLETE;
    CHECK(all_incomplete);
    CHECK_EQ_INT(parse(s, n, &h), want);
}

static void test_v1_tcp4(void)
{
    static const char s[] = "PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\nGET / HTTP/1.1\r\n";
    struct proxy_header h;
    int len = (int)strlen("PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\n");
    check_prefixes(s, sizeof s - 1, len);
    CHECK_EQ_INT(parse(s, sizeof s - 1, &h), len);
    CHECK_EQ_INT(h.version, 1);
    CHECK_EQ_INT(h.family, AF_INET);
    CHECK_EQ_MEM(h.src, 4, "\xC0\x00\x02\x07", 4);
    CHECK_EQ_MEM(h.dst, 4, "\xC6\x33\x64\x01", 4);
    CHECK_EQ_INT(h.src_port, 56324);
    CHECK_EQ_INT(h.dst_port, 443);
}

static void test_v1_tcp6_and_unknown(void)
{
    static const char six[] = "PROXY TCP6 2001:db8::1 ::1 65535 0\r\n";
    static const char unknown[] = "PROXY UNKNOWN ffff:f...f:ffff 1.2.3.4 whatever\r\n";
    struct proxy_header h;
    CHECK_EQ_INT(parse(six, sizeof six - 1, &h), (int)sizeof six - 1);
    CHECK_EQ_INT(h.family, AF_INET6);
    CHECK_EQ_INT(h.src[0], 0x20);
    CHECK_EQ_INT(h.src[15], 1);
    CHECK_EQ_INT(h.src_port, 65535);
    CHECK_EQ_INT(parse(unknown, sizeof unknown - 1, &h), (int)sizeof unknown - 1);
    CHECK_EQ_INT(h.family, 0);
    CHECK_EQ_INT(parse("PROXY UNKNOWN\r\n", 15, &h), 15);
    CHECK_EQ_INT(h.family, 0);
}

static void test_v1_bad(void)
{
    static const char *const bad[] = {
        "GET / HTTP/1.1\r\n\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",        /* LF alone */
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",     /* a trailing space */
        "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",     /* two spaces */
        "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",        /* a port missing */
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",    /* a word too many */
        "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n",    /* not an address */
        "PROXY TCP4 ::1 ::1 1 2\r\n",              /* IPv6 under TCP4 */
        "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",      /* IPv4 under TCP6 */
        "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",  /* port too big */
        "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",     /* leading zero */
        "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
        "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
        "PROXY\r\n",
        "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
        "PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n",
    };
    struct proxy_header h;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = strlen(bad[i]);
        if (i == sizeof bad / sizeof bad[0] - 1)
            n = 34; /* the NUL is part of it */
        int r = parse(bad[i], n, &h);
        CHECK_EQ_INT(r, PROXY_BAD);
        if (r != PROXY_BAD)
            fprintf(stderr, "     input %zu: %s\n", i, bad[i]);
    }
    /* No CRLF within 107 bytes: bad, not incomplete for ever; bad as soon as
     * the CRLF could no longer fit. */
    char long_line[200];
    memset(long_line, 'x', sizeof long_line);
    memcpy(long_line, "PROXY UNKNOWN ", 14);
    CHECK_EQ_INT(parse(long_line, 105, &h), PROXY_INCOMPLETE);
    CHECK_EQ_INT(parse(long_line, 106, &h), PROXY_BAD);
    CHECK_EQ_INT(parse(long_line, 107, &h), PROXY_BAD);
    long_line[106] = '\r';
    CHECK_EQ_INT(parse(long_line, 107, &h), PROXY_BAD); /* a CR as the 107th byte leaves no room for LF */
    long_line[107] = '\n'; /* a CRLF ending at byte 108 (found by fuzz_proxy): one byte too long */
    CHECK_EQ_INT(parse(long_line, 108, &h), PROXY_BAD);
    CHECK_EQ_INT(parse(long_line, sizeof long_line, &h), PROXY_BAD);
    long_line[106] = 'x';
    long_line[107] = 'x';
    CHECK_EQ_INT(parse(long_line, sizeof long_line, &h), PROXY_BAD);
    /* 107 bytes with CRLF at the end: the longest valid line. */
    long_line[105] = '\r';
    long_line[106] = '\n';
    CHECK_EQ_INT(parse(long_line, 107, &h), 107);
}

static const uint8_t SIG[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

static size_t v2(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const uint8_t *payload, size_t len)
{
    memcpy(out, SIG, 12);
    out[12] = ver_cmd;
    out[13] = fam;
    out[14] = (uint8_t)(len >> 8);
    out[15] = (uint8_t)len;
    if (len)
        memcpy(out + 16, payload, len);
    return 16 + len;
}

static void test_v2(void)
{
    static const uint8_t ipv4[12] = {192, 0, 2, 7, 127, 0, 0, 1, 0xDC, 0x04, 0x1F, 0x90};
    uint8_t ipv6[36 + 7] = {0};
    uint8_t buf[1024];
    struct proxy_header h;
    size_t n = v2(buf, 0x21, 0x11, ipv4, sizeof ipv4);
    memcpy(buf + n, "GET /", 5);
    check_prefixes(buf, n + 5, (int)n);
    CHECK_EQ_INT(parse(buf, n + 5, &h), 28);
    CHECK_EQ_INT(h.version, 2);
    CHECK_EQ_INT(h.family, AF_INET);
    CHECK_EQ_MEM(h.src, 4, "\xC0\x00\x02\x07", 4);
    CHECK_EQ_INT(h.src_port, 56324);
    CHECK_EQ_INT(h.dst_port, 8080);

    ipv6[0] = 0x20;
    ipv6[1] = 0x01;
    ipv6[15] = 9;
    ipv6[32] = 0x01;
    ipv6[33] = 0x02;
    n = v2(buf, 0x21, 0x21, ipv6, sizeof ipv6); /* with 7 bytes of TLV after the addresses */
    CHECK_EQ_INT(parse(buf, n, &h), 16 + 43);
    CHECK_EQ_INT(h.family, AF_INET6);
    CHECK_EQ_INT(h.src[15], 9);
    CHECK_EQ_INT(h.src_port, 0x0102);

    /* LOCAL (a health check): the connection's own addresses stand. */
    n = v2(buf, 0x20, 0x00, NULL, 0);
    CHECK_EQ_INT(parse(buf, n, &h), 16);
    CHECK_EQ_INT(h.family, 0);
    n = v2(buf, 0x20, 0x11, ipv4, sizeof ipv4);
    CHECK_EQ_INT(parse(buf, n, &h), 28);
    CHECK_EQ_INT(h.family, 0);
    /* UNSPEC under PROXY: accepted, addresses unknown. */
    n = v2(buf, 0x21, 0x00, NULL, 0);
    CHECK_EQ_INT(parse(buf, n, &h), 16);
    CHECK_EQ_INT(h.family, 0);
}

static void test_v2_bad(void)
{
    static const uint8_t ipv4[12] = {192, 0, 2, 7, 127, 0, 0, 1, 0, 1, 0, 2};
    static uint8_t big[PROXY_V2_PAYLOAD_MAX + 1];
    uint8_t buf[1024];
    struct proxy_header h;
    CHECK_EQ_INT(parse(buf, v2(buf, 0x11, 0x11, ipv4, 12), &h), PROXY_BAD); /* version 1 in a v2 header */
    CHECK_EQ_INT(parse(buf, v2(buf, 0x22, 0x11, ipv4, 12), &h), PROXY_BAD); /* command 2 */
    CHECK_EQ_INT(parse(buf, v2(buf, 0x21, 0x41, ipv4, 12), &h), PROXY_BAD); /* family 4 */
    CHECK_EQ_INT(parse(buf, v2(buf, 0x21, 0x13, ipv4, 12), &h), PROXY_BAD); /* transport 3 */
    CHECK_EQ_INT(parse(buf, v2(buf, 0x21, 0x11, ipv4, 11), &h), PROXY_BAD); /* IPv4 too short */
    CHECK_EQ_INT(parse(buf, v2(buf, 0x21, 0x21, ipv4, 12), &h), PROXY_BAD); /* IPv6 too short */
    CHECK_EQ_INT(parse(buf, v2(buf, 0x21, 0x31, ipv4, 12), &h), PROXY_BAD); /* UNIX too short */
    /* Over the size bound: refused from its 16 bytes, before the payload comes. */
    uint8_t *huge = malloc(16 + sizeof big);
    size_t n = v2(huge, 0x21, 0x11, big, sizeof big);
    CHECK_EQ_INT(parse(huge, 16, &h), PROXY_BAD);
    CHECK_EQ_INT(parse(huge, n, &h), PROXY_BAD);
    n = v2(huge, 0x21, 0x11, big, sizeof big - 1);
    CHECK_EQ_INT(parse(huge, n, &h), PROXY_MAX);
    free(huge);
    /* A signature that goes wrong at its last byte. */
    memcpy(buf, SIG, 12);
    buf[11] = 'x';
    CHECK_EQ_INT(parse(buf, 11, &h), PROXY_INCOMPLETE);
    CHECK_EQ_INT(parse(buf, 12, &h), PROXY_BAD);
    CHECK_EQ_INT(parse("", 0, &h), PROXY_INCOMPLETE);
    CHECK_EQ_INT(parse("\r\n\r\n\0\r\nQUIX", 12, &h), PROXY_BAD);
}

int main(void)
{
    guard_init();
    test_v1_tcp4();
    test_v1_tcp6_and_unknown();
    test_v1_bad();
    test_v2();
    test_v2_bad();
    return test_report();
}
