/* Socket addresses as users write them: "127.0.0.1:8080", "[::1]:8080",
 * ":8080" (all IPv4 interfaces), "localhost:8080" (resolved) and "unix:/path". */
#ifndef DUCT_NET_ADDR_H
#define DUCT_NET_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

#define NET_ADDR_TEXT_MAX 128

struct net_addr {
    struct sockaddr_storage sa; /* sockaddr_in, sockaddr_in6 or sockaddr_un */
    socklen_t len;
    int family; /* AF_INET, AF_INET6 or AF_UNIX */
};

/* Parses text into addr. Returns 0, or -1 with a one-line reason in err
 * ("bad port \"99999\"", "missing port", ...). A host name is resolved with
 * getaddrinfo (first result); numeric forms never touch the resolver. A unix
 * path must fit in sun_path. "unix:@name" is the Linux abstract namespace. */
int net_addr_parse(const char *text, struct net_addr *addr, char *err, size_t errlen);

/* Parses the endpoints `duct cat` names: "tcp://HOST:PORT", "udp://HOST:PORT"
 * (HOST as net_addr_parse takes it, "[::1]" included), "unix:/path" (a
 * stream socket) and "unixgram:/path" (a datagram socket); "@name" in place
 * of a path is the abstract namespace. Sets *socktype to SOCK_STREAM or
 * SOCK_DGRAM. Returns 0, or -1 with a one-line reason in err. */
int net_endpoint_parse(const char *text, struct net_addr *addr, int *socktype, char *err, size_t errlen);

/* Formats an endpoint the way net_endpoint_parse reads it. Returns out. */
char *net_endpoint_format(const struct net_addr *addr, int socktype, char *out, size_t outlen);

/* Resolves host (a name, or an IPv4 or IPv6 literal without brackets) with
 * getaddrinfo into at most max stream addresses on port, in the resolver's
 * order, so that a caller can try each. Returns how many (> 0), or -1 with a
 * one-line reason in err. */
int net_resolve(const char *host, unsigned port, struct net_addr *out, int max, char *err, size_t errlen);

/* Formats addr the way net_addr_parse reads it ("[::1]:8080", "unix:/p").
 * Returns out. */
char *net_addr_format(const struct net_addr *addr, char *out, size_t outlen);

/* The IP of a peer for logs ("127.0.0.1", "::1"; "unix" for AF_UNIX, "-" otherwise). */
char *net_addr_host(const struct sockaddr *sa, socklen_t len, char *out, size_t outlen);

#endif
