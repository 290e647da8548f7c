/* The targets `duct bench` accepts, as users write them:
 *   http://HOST[:PORT][/PATH]     (port 80 by default)
 *   https://HOST[:PORT][/PATH]    (port 443 by default; scheme BENCH_HTTP with tls set)
 *   tcp-echo://HOST:PORT  udp-echo://HOST:PORT
 * HOST is a name, an IPv4 address or a bracketed IPv6 address. Pure: no I/O. */
#ifndef DUCT_BENCH_URL_H
#define DUCT_BENCH_URL_H

#include <stddef.h>

#define BENCH_HOST_MAX 256
#define BENCH_PATH_MAX 2048

enum bench_scheme { BENCH_HTTP, BENCH_TCP_ECHO, BENCH_UDP_ECHO };

struct bench_url {
    enum bench_scheme scheme;
    int tls;                    /* https:// */
    char host[BENCH_HOST_MAX];  /* without brackets: "::1" */
    int port;
    int ipv6_literal;           /* host was written in brackets */
    char path[BENCH_PATH_MAX];  /* request-target: "/" when the URL had none */
    char authority[BENCH_HOST_MAX + 8]; /* the Host header: "host:port" as written, brackets kept */
    char addr[BENCH_HOST_MAX + 8];      /* for net_addr_parse: "host:port" or "[v6]:port" */
};

/* Parses text. Returns 0, or -1 with a one-line reason in err. */
int bench_url_parse(const char *text, struct bench_url *url, char *err, size_t errlen);

#endif
