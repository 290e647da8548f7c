#include "net/sock.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int sock_fail(int fd, const char *what, const char **failed)
{
    int saved = errno;

    if (fd >= 0)
        close(fd);
    if (failed)
        *failed = what;
    errno = saved;
    return -1;
}

static int sock_setopt(int fd, int level, int name, int value)
{
    return setsockopt(fd, level, name, &value, sizeof value);
}

static int sock_open(int family, int socktype, int flags)
{
    int type = socktype | SOCK_CLOEXEC;

    if (flags & NET_NONBLOCK)
        type |= SOCK_NONBLOCK;
    return socket(family, type, 0);
}

static int sock_is_unix_path(const struct net_addr *addr)
{
    const struct sockaddr_un *sun = (const struct sockaddr_un *)&addr->sa;

    return addr->family == AF_UNIX && addr->len > offsetof(struct sockaddr_un, sun_path) &&
           sun->sun_path[0] != '\0';
}

/* After bind gave EADDRINUSE on a unix path: returns 1 when the file was a
 * socket nobody listens on and is now gone, 0 when it must stay, -1 with errno
 * when removing it failed. The probe does not block: a live server
 * with a full backlog answers EAGAIN, which counts as alive. */
static int sock_remove_stale(const struct net_addr *addr, int socktype)
{
    const char *path = ((const struct sockaddr_un *)&addr->sa)->sun_path;
    struct stat st;
    int probe, rc, err;

    /* connect() to a regular file is refused too: never unlink what is not a socket. */
    if (lstat(path, &st) != 0 || !S_ISSOCK(st.st_mode))
        return 0;
    probe = socket(AF_UNIX, socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (probe < 0)
        return 0;
    rc = connect(probe, (const struct sockaddr *)&addr->sa, addr->len);
    err = errno;
    close(probe);
    if (rc == 0 || err != ECONNREFUSED)
        return 0;
    if (unlink(path) != 0 && errno != ENOENT)
        return -1;
    return 1;
}

static int sock_bind(int fd, const struct net_addr *addr, int socktype, const char **what)
{
    int stale;

    *what = "bind";
    if (bind(fd, (const struct sockaddr *)&addr->sa, addr->len) == 0)
        return 0;
    if (errno != EADDRINUSE || !sock_is_unix_path(addr))
        return -1;
    stale = sock_remove_stale(addr, socktype);
    if (stale == 0)
        errno = EADDRINUSE;
    if (stale < 0)
        *what = "unlink";
    if (stale <= 0)
        return -1;
    return bind(fd, (const struct sockaddr *)&addr->sa, addr->len);
}

static int sock_listen_options(int fd, int family, int flags, const char **what)
{
    if (family != AF_UNIX && sock_setopt(fd, SOL_SOCKET, SO_REUSEADDR, 1) != 0) {
        *what = "setsockopt(SO_REUSEADDR)";
        return -1;
    }
    if ((flags & NET_REUSEPORT) && sock_setopt(fd, SOL_SOCKET, SO_REUSEPORT, 1) != 0) {
        *what = "setsockopt(SO_REUSEPORT)";
        return -1;
    }
    /* A dual-stack socket would also take the IPv4 port and clash with an explicit IPv4 listener. */
    if (family == AF_INET6 && sock_setopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1) != 0) {
        *what = "setsockopt(IPV6_V6ONLY)";
        return -1;
    }
    return 0;
}

int net_listen(const struct net_addr *addr, int backlog, int flags, const char **failed)
{
    const char *what = "socket";
    int fd = sock_open(addr->family, SOCK_STREAM, flags);

    if (fd < 0)
        return sock_fail(fd, what, failed);
    if (sock_listen_options(fd, addr->family, flags, &what) != 0 || sock_bind(fd, addr, SOCK_STREAM, &what) != 0)
        return sock_fail(fd, what, failed);
    if (listen(fd, backlog) != 0)
        return sock_fail(fd, "listen", failed);
    return fd;
}

/* A blocking connect interrupted by a signal goes on in the background; wait
 * for its outcome instead of reporting EINTR for a connection that may succeed. */
static int sock_connect_finish(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    int err = 0;
    socklen_t len = sizeof err;
    int rc;

    do {
        rc = poll(&pfd, 1, -1);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0)
        return -1;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        return -1;
    if (err != 0) {
        errno = err;
        return -1;
    }
    return 0;
}

int net_connect(const struct net_addr *addr, int flags, const char **failed)
{
    int fd = sock_open(addr->family, SOCK_STREAM, flags);
    int rc;

    if (fd < 0)
        return sock_fail(fd, "socket", failed);
    rc = connect(fd, (const struct sockaddr *)&addr->sa, addr->len);
    if (rc != 0 && errno == EINPROGRESS && (flags & NET_NONBLOCK))
        return fd;
    if (rc != 0 && errno == EINTR && !(flags & NET_NONBLOCK))
        rc = sock_connect_finish(fd);
    if (rc != 0)
        return sock_fail(fd, "connect", failed);
    return fd;
}

int net_bind_dgram(const struct net_addr *addr, int flags, const char **failed)
{
    const char *what = "socket";
    int fd = sock_open(addr->family, SOCK_DGRAM, flags);

    if (fd < 0)
        return sock_fail(fd, what, failed);
    if (sock_listen_options(fd, addr->family, flags, &what) != 0 || sock_bind(fd, addr, SOCK_DGRAM, &what) != 0)
        return sock_fail(fd, what, failed);
    return fd;
}

int net_connect_dgram(const struct net_addr *addr, int flags, const char **failed)
{
    int fd = sock_open(addr->family, SOCK_DGRAM, flags);
    /* A bind given only the family asks Linux for an autobound abstract name. */
    struct sockaddr_un self = {.sun_family = AF_UNIX};

    if (fd < 0)
        return sock_fail(fd, "socket", failed);
    if (addr->family == AF_UNIX && bind(fd, (const struct sockaddr *)&self, sizeof self.sun_family) != 0)
        return sock_fail(fd, "bind", failed);
    if (connect(fd, (const struct sockaddr *)&addr->sa, addr->len) != 0)
        return sock_fail(fd, "connect", failed);
    return fd;
}

int net_accept(int listen_fd, int nonblock, struct sockaddr_storage *peer, socklen_t *peer_len)
{
    struct sockaddr_storage ignored;
    socklen_t len = sizeof ignored;
    int flags = SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0);
    int fd = accept4(listen_fd, (struct sockaddr *)(peer ? peer : &ignored), &len, flags);

    if (fd >= 0 && peer_len)
        *peer_len = len;
    return fd;
}

int net_set_nonblock(int fd, int on)
{
    int fl = fcntl(fd, F_GETFL);
    int want;

    if (fl < 0)
        return -1;
    want = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
    if (want != fl && fcntl(fd, F_SETFL, want) != 0)
        return -1;
    return 0;
}

/* A TCP-level option on a TCP socket; 0 without a call on any other kind
 * (a Unix socket has no TCP level), -1 with errno. */
static int tcp_setopt(int fd, int option, int value)
{
    int domain = 0;
    socklen_t len = sizeof domain;

    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0)
        return -1;
    if (domain != AF_INET && domain != AF_INET6)
        return 0;
    return sock_setopt(fd, IPPROTO_TCP, option, value);
}

int net_set_nodelay(int fd)
{
    return tcp_setopt(fd, TCP_NODELAY, 1);
}

int net_set_defer_accept(int fd, int seconds)
{
    return tcp_setopt(fd, TCP_DEFER_ACCEPT, seconds);
}

int net_set_notsent_lowat(int fd, int bytes)
{
    return tcp_setopt(fd, TCP_NOTSENT_LOWAT, bytes);
}
