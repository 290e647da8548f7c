/* Listening and connecting sockets. Functions return a descriptor or 0, and -1
 * with errno set; the syscall that failed is named in *failed when it is given. */
#ifndef DUCT_NET_SOCK_H
#define DUCT_NET_SOCK_H

#include "net/addr.h"

enum {
    NET_REUSEPORT = 1 << 0, /* SO_REUSEPORT: one listener per worker on the same port */
    NET_NONBLOCK = 1 << 1,  /* O_NONBLOCK on the returned descriptor */
};

/* socket + SO_REUSEADDR (+ SO_REUSEPORT) + bind + listen, close-on-exec. For
 * AF_UNIX a stale socket file left by a dead server is replaced, but a live
 * one (connect succeeds) gives EADDRINUSE, and that server sees one connection
 * closed without data; a file that is not a socket is never removed. IPv6
 * listeners are IPv6-only. */
int net_listen(const struct net_addr *addr, int backlog, int flags, const char **failed);

/* socket + connect (blocking unless NET_NONBLOCK, in which case EINPROGRESS is
 * success and the caller waits for writability). */
int net_connect(const struct net_addr *addr, int flags, const char **failed);

/* socket(SOCK_DGRAM) + bind, close-on-exec; a stale unix datagram socket
 * file is replaced as net_listen does for stream sockets. */
int net_bind_dgram(const struct net_addr *addr, int flags, const char **failed);

/* socket(SOCK_DGRAM) + connect, close-on-exec. An AF_UNIX socket is first
 * bound to an autobound abstract name: without an address of its own, the
 * peer could not send it a reply. */
int net_connect_dgram(const struct net_addr *addr, int flags, const char **failed);

/* accept4 with SOCK_CLOEXEC, and SOCK_NONBLOCK when nonblock is set. */
int net_accept(int listen_fd, int nonblock, struct sockaddr_storage *peer, socklen_t *peer_len);

int net_set_nonblock(int fd, int on);

/* TCP_NODELAY on TCP sockets; a no-op returning 0 on Unix sockets. */
int net_set_nodelay(int fd);

/* TCP_DEFER_ACCEPT on a TCP listener: a connection is handed to accept only
 * once its first bytes have arrived, or after about `seconds` (the kernel
 * counts SYN-ACK retransmissions, so the wait is rounded up to one) when
 * the client stays silent. A no-op returning 0 on Unix sockets. */
int net_set_defer_accept(int fd, int seconds);

/* TCP_NOTSENT_LOWAT: a send queues at most about `bytes` not yet sent, and
 * the socket turns writable once fewer remain. Set on a listener, accepted
 * sockets inherit it. A no-op returning 0 on Unix sockets. */
int net_set_notsent_lowat(int fd, int bytes);

#endif
