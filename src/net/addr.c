#include "net/addr.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#define UNIX_PREFIX "unix:"

__attribute__((format(printf, 3, 4))) static int addr_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Digits only: strtol would also take "+80", " 80" and "0x50". */
static int addr_parse_port(const char *text, unsigned *port)
{
    unsigned value = 0;
    const char *p;

    if (*text == '\0')
        return -1;
    for (p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        value = value * 10 + (unsigned)(*p - '0');
        if (value > 65535)
            return -1;
    }
    *port = value;
    return 0;
}

static void addr_set_in(struct net_addr *addr, const struct in_addr *ip, unsigned port)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)&addr->sa;

    memset(addr, 0, sizeof *addr);
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    sin->sin_addr = *ip;
    addr->len = sizeof *sin;
    addr->family = AF_INET;
}

static void addr_set_in6(struct net_addr *addr, const struct in6_addr *ip, unsigned port)
{
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&addr->sa;

    memset(addr, 0, sizeof *addr);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)port);
    sin6->sin6_addr = *ip;
    addr->len = sizeof *sin6;
    addr->family = AF_INET6;
}

static int addr_parse_unix(const char *path, struct net_addr *addr, char *err, size_t errlen)
{
    struct sockaddr_un *sun = (struct sockaddr_un *)&addr->sa;
    int abstract = path[0] == '@';
    const char *name = abstract ? path + 1 : path;
    size_t n = strlen(name);
    /* A path needs room for its NUL; an abstract name needs room for the leading NUL. */
    size_t max = sizeof sun->sun_path - 1;

    if (n == 0)
        return addr_fail(err, errlen, "empty unix socket %s in \"%s%s\"", abstract ? "name" : "path",
                         UNIX_PREFIX, path);
    if (n > max)
        return addr_fail(err, errlen, "unix socket %s too long (%zu bytes, at most %zu)",
                         abstract ? "name" : "path", n, max);
    memset(addr, 0, sizeof *addr);
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path + abstract, name, n);
    /* The abstract name is exactly its bytes: a trailing NUL would become part of it. */
    addr->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
    addr->family = AF_UNIX;
    return 0;
}

static int addr_parse_bracketed(const char *text, struct net_addr *addr, char *err, size_t errlen)
{
    const char *close = strchr(text, ']');
    char host[INET6_ADDRSTRLEN + 1];
    struct in6_addr ip;
    size_t n;
    unsigned port;

    if (!close)
        return addr_fail(err, errlen, "unterminated '[' in \"%s\"", text);
    n = (size_t)(close - text - 1);
    if (n >= sizeof host)
        return addr_fail(err, errlen, "bad IPv6 address in \"%s\"", text);
    memcpy(host, text + 1, n);
    host[n] = '\0';
    if (inet_pton(AF_INET6, host, &ip) != 1)
        return addr_fail(err, errlen, "bad IPv6 address \"%s\"", host);
    if (close[1] == '\0' || (close[1] == ':' && close[2] == '\0'))
        return addr_fail(err, errlen, "missing port in \"%s\"", text);
    if (close[1] != ':')
        return addr_fail(err, errlen, "expected ':' after ']' in \"%s\"", text);
    if (addr_parse_port(close + 2, &port) != 0)
        return addr_fail(err, errlen, "bad port \"%s\"", close + 2);
    addr_set_in6(addr, &ip, port);
    return 0;
}

/* Without AI_ADDRCONFIG: it hides loopback addresses on a machine with no
 * other interface up, so "localhost" would fail offline. */
static int addr_resolve(const char *host, unsigned port, struct net_addr *addr, char *err, size_t errlen)
{
    struct addrinfo hints, *res;
    int rc;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0)
        return addr_fail(err, errlen, "cannot resolve host \"%s\": %s", host, gai_strerror(rc));
    if (res->ai_family == AF_INET)
        addr_set_in(addr, &((const struct sockaddr_in *)res->ai_addr)->sin_addr, port);
    else if (res->ai_family == AF_INET6)
        addr_set_in6(addr, &((const struct sockaddr_in6 *)res->ai_addr)->sin6_addr, port);
    else
        rc = -1;
    freeaddrinfo(res);
    if (rc != 0)
        return addr_fail(err, errlen, "host \"%s\" has no IP address", host);
    return 0;
}

static int addr_parse_host_port(const char *text, struct net_addr *addr, char *err, size_t errlen)
{
    const char *colon = strrchr(text, ':');
    char host[NI_MAXHOST];
    size_t n;
    unsigned port;
    struct in_addr ip;

    if (!colon || colon[1] == '\0')
        return addr_fail(err, errlen, "missing port in \"%s\"", text);
    n = (size_t)(colon - text);
    if (memchr(text, ':', n))
        return addr_fail(err, errlen, "IPv6 address needs brackets (\"[::1]:8080\"): \"%s\"", text);
    if (addr_parse_port(colon + 1, &port) != 0)
        return addr_fail(err, errlen, "bad port \"%s\"", colon + 1);
    if (n >= sizeof host)
        return addr_fail(err, errlen, "host name too long in \"%s\"", text);
    memcpy(host, text, n);
    host[n] = '\0';
    if (n == 0) {
        ip.s_addr = htonl(INADDR_ANY);
        addr_set_in(addr, &ip, port);
        return 0;
    }
    if (inet_pton(AF_INET, host, &ip) == 1) {
        addr_set_in(addr, &ip, port);
        return 0;
    }
    return addr_resolve(host, port, addr, err, errlen);
}

int net_addr_parse(const char *text, struct net_addr *addr, char *err, size_t errlen)
{
    if (!text || *text == '\0')
        return addr_fail(err, errlen, "empty address");
    if (strncmp(text, UNIX_PREFIX, strlen(UNIX_PREFIX)) == 0)
        return addr_parse_unix(text + strlen(UNIX_PREFIX), addr, err, errlen);
    if (text[0] == '[')
        return addr_parse_bracketed(text, addr, err, errlen);
    return addr_parse_host_port(text, addr, err, errlen);
}

int net_endpoint_parse(const char *text, struct net_addr *addr, int *socktype, char *err, size_t errlen)
{
    static const struct {
        const char *prefix;
        int socktype;
        int unix_only;
    } kinds[] = {{"tcp://", SOCK_STREAM, 0}, {"udp://", SOCK_DGRAM, 0}, {"unix:", SOCK_STREAM, 1},
                 {"unixgram:", SOCK_DGRAM, 1}};

    for (size_t i = 0; text && i < sizeof kinds / sizeof kinds[0]; i++) {
        size_t n = strlen(kinds[i].prefix);
        if (strncmp(text, kinds[i].prefix, n) != 0)
            continue;
        *socktype = kinds[i].socktype;
        if (kinds[i].unix_only)
            return addr_parse_unix(text + n, addr, err, errlen);
        if (strncmp(text + n, UNIX_PREFIX, strlen(UNIX_PREFIX)) == 0 || text[n] == '\0')
            return addr_fail(err, errlen, "missing HOST:PORT in \"%s\"", text);
        return net_addr_parse(text + n, addr, err, errlen);
    }
    return addr_fail(err, errlen, "\"%s\" is none of tcp://HOST:PORT, udp://HOST:PORT, unix:PATH, unixgram:PATH",
                     text ? text : "");
}

char *net_endpoint_format(const struct net_addr *addr, int socktype, char *out, size_t outlen)
{
    char text[NET_ADDR_TEXT_MAX];

    net_addr_format(addr, text, sizeof text);
    if (addr->family == AF_UNIX)
        snprintf(out, outlen, "%s%s", socktype == SOCK_DGRAM ? "unixgram:" : "",
                 socktype == SOCK_DGRAM ? text + strlen(UNIX_PREFIX) : text);
    else
        snprintf(out, outlen, "%s%s", socktype == SOCK_DGRAM ? "udp://" : "tcp://", text);
    return out;
}

int net_resolve(const char *host, unsigned port, struct net_addr *out, int max, char *err, size_t errlen)
{
    struct addrinfo hints, *res, *ai;
    int rc, count = 0;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0)
        return addr_fail(err, errlen, "cannot resolve host \"%s\": %s", host, gai_strerror(rc));
    for (ai = res; ai && count < max; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET)
            addr_set_in(&out[count++], &((const struct sockaddr_in *)ai->ai_addr)->sin_addr, port);
        else if (ai->ai_family == AF_INET6)
            addr_set_in6(&out[count++], &((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, port);
    }
    freeaddrinfo(res);
    if (count == 0)
        return addr_fail(err, errlen, "host \"%s\" has no IP address", host);
    return count;
}

static char *addr_format_unix(const struct sockaddr_un *sun, socklen_t len, char *out, size_t outlen)
{
    size_t off = offsetof(struct sockaddr_un, sun_path);
    size_t n = len > off ? (size_t)len - off : 0;

    if (n > sizeof sun->sun_path)
        n = sizeof sun->sun_path;
    if (n > 0 && sun->sun_path[0] == '\0')
        snprintf(out, outlen, "%s@%.*s", UNIX_PREFIX, (int)(n - 1), sun->sun_path + 1);
    else
        snprintf(out, outlen, "%s%.*s", UNIX_PREFIX, (int)n, sun->sun_path);
    return out;
}

char *net_addr_format(const struct net_addr *addr, char *out, size_t outlen)
{
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&addr->sa;
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&addr->sa;
    char ip[INET6_ADDRSTRLEN];

    if (outlen == 0)
        return out;
    if (addr->sa.ss_family == AF_UNIX)
        return addr_format_unix((const struct sockaddr_un *)&addr->sa, addr->len, out, outlen);
    if (addr->sa.ss_family == AF_INET && inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof ip))
        snprintf(out, outlen, "%s:%u", ip, (unsigned)ntohs(sin->sin_port));
    else if (addr->sa.ss_family == AF_INET6 && inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof ip))
        snprintf(out, outlen, "[%s]:%u", ip, (unsigned)ntohs(sin6->sin6_port));
    else
        snprintf(out, outlen, "-");
    return out;
}

char *net_addr_host(const struct sockaddr *sa, socklen_t len, char *out, size_t outlen)
{
    const char *text = "-";
    char ip[INET6_ADDRSTRLEN];

    if (outlen == 0)
        return out;
    if (sa && len >= sizeof(struct sockaddr_in) && sa->sa_family == AF_INET) {
        if (inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof ip))
            text = ip;
    } else if (sa && len >= sizeof(struct sockaddr_in6) && sa->sa_family == AF_INET6) {
        if (inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof ip))
            text = ip;
    } else if (sa && len >= sizeof(sa_family_t) && sa->sa_family == AF_UNIX) {
        text = "unix";
    }
    snprintf(out, outlen, "%s", text);
    return out;
}
