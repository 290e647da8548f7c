#include "bench/url.h"

#include <stdio.h>
#include <string.h>

static int url_fail(char *err, size_t errlen, const char *why)
{
    snprintf(err, errlen, "%s", why);
    return -1;
}

static const struct {
    const char *prefix;
    enum bench_scheme scheme;
    int default_port; /* 0: the port is required */
} url_schemes[] = {
    {"http://", BENCH_HTTP, 80},
    {"https://", BENCH_HTTP, 443},
    {"tcp-echo://", BENCH_TCP_ECHO, 0},
    {"udp-echo://", BENCH_UDP_ECHO, 0},
};

/* Splits "host[:port]" or "[v6][:port]" (the authority, len bytes) into url. */
static int url_authority(const char *a, size_t len, int default_port, struct bench_url *url, char *err,
                         size_t errlen)
{
    const char *host = a, *port = NULL, *end = a + len;
    size_t host_len;

    if (len == 0)
        return url_fail(err, errlen, "missing host");
    if (*a == '[') {
        const char *close = memchr(a, ']', len);
        if (!close)
            return url_fail(err, errlen, "missing ']' after an IPv6 address");
        host = a + 1;
        host_len = (size_t)(close - host);
        if (close + 1 < end && close[1] != ':')
            return url_fail(err, errlen, "junk after ']'");
        port = close + 1 < end ? close + 2 : NULL;
        url->ipv6_literal = 1;
    } else {
        const char *colon = memchr(a, ':', len);
        host_len = colon ? (size_t)(colon - a) : len;
        port = colon ? colon + 1 : NULL;
    }
    if (host_len == 0 || host_len >= BENCH_HOST_MAX)
        return url_fail(err, errlen, host_len ? "host name too long" : "missing host");
    memcpy(url->host, host, host_len);
    url->host[host_len] = '\0';
    if (!port && !default_port)
        return url_fail(err, errlen, "missing port");
    url->port = default_port;
    if (port) {
        int v = 0;
        if (port == end)
            return url_fail(err, errlen, "empty port");
        if (end - port > 5) /* leading zeros would make the Host header longer than its buffer */
            return url_fail(err, errlen, "bad port");
        for (const char *p = port; p < end; p++) {
            if (*p < '0' || *p > '9' || (v = v * 10 + (*p - '0')) > 65535)
                return url_fail(err, errlen, "bad port");
        }
        if (v == 0)
            return url_fail(err, errlen, "bad port");
        url->port = v;
    }
    snprintf(url->authority, sizeof url->authority, "%.*s", (int)len, a);
    snprintf(url->addr, sizeof url->addr, url->ipv6_literal ? "[%s]:%d" : "%s:%d", url->host, url->port);
    return 0;
}

/* Only visible ASCII can go into a request line and a Host header as it is. */
static int all_visible(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return 0;
    }
    return 1;
}

int bench_url_parse(const char *text, struct bench_url *url, char *err, size_t errlen)
{
    const char *rest = NULL;
    int default_port = 0;

    memset(url, 0, sizeof *url);
    for (size_t i = 0; i < sizeof url_schemes / sizeof url_schemes[0]; i++) {
        size_t n = strlen(url_schemes[i].prefix);
        if (strncmp(text, url_schemes[i].prefix, n) == 0) {
            rest = text + n;
            url->scheme = url_schemes[i].scheme;
            default_port = url_schemes[i].default_port;
            url->tls = default_port == 443;
        }
    }
    if (!rest)
        return url_fail(err, errlen, "want http[s]://HOST[:PORT]/PATH, tcp-echo://HOST:PORT or udp-echo://HOST:PORT");
    if (!all_visible(rest))
        return url_fail(err, errlen, "spaces, control characters or non-ASCII bytes in the URL (percent-encode them)");
    /* RFC 3986 §3.2: the authority ends at the first '/', '?' or '#'. */
    size_t auth_len = strcspn(rest, "/?#");
    const char *tail = rest + auth_len;
    if (url->scheme != BENCH_HTTP && *tail)
        return url_fail(err, errlen, "an echo target has no path");
    if (memchr(rest, '@', auth_len))
        return url_fail(err, errlen, "user info in the URL");
    if (url_authority(rest, auth_len, default_port, url, err, errlen) != 0)
        return -1;
    /* RFC 9112 §3.2.1: an empty path is sent as "/" ("http://h?q" asks for
     * "/?q"); a fragment is never sent. */
    size_t lead = *tail != '/', path_len = strcspn(tail, "#");
    if (lead + path_len >= BENCH_PATH_MAX)
        return url_fail(err, errlen, "path too long");
    url->path[0] = '/';
    memcpy(url->path + lead, tail, path_len);
    url->path[lead + path_len] = '\0';
    return 0;
}
