#include "net/proxy.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

static const uint8_t v2_signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/* Whether buf[0..len) could still begin with prefix[0..plen). */
static int could_be(const uint8_t *buf, size_t len, const void *prefix, size_t plen)
{
    return memcmp(buf, prefix, len < plen ? len : plen) == 0;
}

/* ---- version 1: "PROXY TCP4 1.2.3.4 5.6.7.8 1234 80\r\n" ---------------- */

/* The next space-separated word of line[*at..end): its bounds in *word. */
static int next_word(const char *line, size_t end, size_t *at, char *word, size_t cap)
{
    size_t start = *at, n = 0;
    while (*at < end && line[*at] != ' ')
        (*at)++;
    n = *at - start;
    if (n == 0 || n >= cap)
        return -1;
    memcpy(word, line + start, n);
    word[n] = '\0';
    if (*at < end)
        (*at)++; /* the single space */
    return 0;
}

/* A port: 1 to 5 digits, no leading zero (but "0"), at most 65535. */
static int parse_port(const char *w, uint16_t *out)
{
    size_t n = strlen(w);
    unsigned long v = 0;
    if (n == 0 || n > 5 || (w[0] == '0' && n > 1))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (w[i] < '0' || w[i] > '9')
            return -1;
        v = v * 10 + (unsigned long)(w[i] - '0');
    }
    if (v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

static int parse_v1_line(const char *line, size_t end, struct proxy_header *out)
{
    char proto[8], src[48], dst[48], sport[8], dport[8];
    size_t at = 6; /* after "PROXY " */
    if (next_word(line, end, &at, proto, sizeof proto) != 0)
        return -1;
    if (strcmp(proto, "UNKNOWN") == 0)
        return 0; /* the rest of the line may say anything: it is ignored */
    int family = strcmp(proto, "TCP4") == 0 ? AF_INET : strcmp(proto, "TCP6") == 0 ? AF_INET6 : 0;
    if (!family || next_word(line, end, &at, src, sizeof src) != 0 || next_word(line, end, &at, dst, sizeof dst) != 0 ||
        next_word(line, end, &at, sport, sizeof sport) != 0 || next_word(line, end, &at, dport, sizeof dport) != 0)
        return -1;
    if (at != end || line[end - 1] == ' ') /* nothing after the last port, and single spaces */
        return -1;
    if (inet_pton(family, src, out->src) != 1 || inet_pton(family, dst, out->dst) != 1 ||
        parse_port(sport, &out->src_port) != 0 || parse_port(dport, &out->dst_port) != 0)
        return -1;
    out->family = family;
    return 0;
}

static int parse_v1(const uint8_t *buf, size_t len, struct proxy_header *out)
{
    /* The CR's last place: its LF is then the 107th byte, the limit. */
    const size_t cr_limit = PROXY_V1_MAX - 1;
    const uint8_t *cr = memchr(buf, '\r', len < cr_limit ? len : cr_limit);
    size_t end = cr ? (size_t)(cr - buf) : (len < cr_limit ? len : cr_limit);
    if (memchr(buf, '\n', end) || memchr(buf, '\0', end))
        return PROXY_BAD;
    if (!cr)
        return len >= cr_limit ? PROXY_BAD : PROXY_INCOMPLETE; /* no room left for the CRLF */
    if (end + 1 >= len)
        return PROXY_INCOMPLETE;
    if (buf[end + 1] != '\n')
        return PROXY_BAD;
    return parse_v1_line((const char *)buf, end, out) == 0 ? (int)(end + 2) : PROXY_BAD;
}

/* ---- version 2: a signature, then binary fields ------------------------ */

static int parse_v2(const uint8_t *buf, size_t len, struct proxy_header *out)
{
    if (len < 16)
        return PROXY_INCOMPLETE;
    unsigned version = buf[12] >> 4, command = buf[12] & 15, family = buf[13] >> 4, transport = buf[13] & 15;
    size_t payload = (size_t)buf[14] << 8 | buf[15];
    if (version != 2 || command > 1 || family > 3 || transport > 2 || payload > PROXY_V2_PAYLOAD_MAX)
        return PROXY_BAD;
    if (len < 16 + payload)
        return PROXY_INCOMPLETE;
    const uint8_t *p = buf + 16;
    out->version = 2;
    if (command == 0) /* LOCAL: the balancer speaks for itself; addresses are ignored */
        return (int)(16 + payload);
    if (family == 1) {
        if (payload < 12)
            return PROXY_BAD;
        memcpy(out->src, p, 4);
        memcpy(out->dst, p + 4, 4);
        out->src_port = (uint16_t)(p[8] << 8 | p[9]);
        out->dst_port = (uint16_t)(p[10] << 8 | p[11]);
        out->family = AF_INET;
    } else if (family == 2) {
        if (payload < 36)
            return PROXY_BAD;
        memcpy(out->src, p, 16);
        memcpy(out->dst, p + 16, 16);
        out->src_port = (uint16_t)(p[32] << 8 | p[33]);
        out->dst_port = (uint16_t)(p[34] << 8 | p[35]);
        out->family = AF_INET6;
    } else if (family == 3 && payload < 216) {
        return PROXY_BAD;
    }
    return (int)(16 + payload); /* UNSPEC and UNIX: the connection's own addresses stand */
}

int proxy_parse(const void *data, size_t len, struct proxy_header *out)
{
    const uint8_t *buf = data;
    memset(out, 0, sizeof *out);
    if (len == 0)
        return PROXY_INCOMPLETE;
    if (could_be(buf, len, v2_signature, sizeof v2_signature))
        return len < sizeof v2_signature ? PROXY_INCOMPLETE : parse_v2(buf, len, out);
    if (!could_be(buf, len, "PROXY ", 6))
        return PROXY_BAD;
    if (len < 6)
        return PROXY_INCOMPLETE;
    out->version = 1;
    return parse_v1(buf, len, out);
}
