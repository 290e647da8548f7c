#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "net/sock.h"
#include "test.h"

static struct net_addr parse(const char *text)
{
    struct net_addr a;
    char err[128] = "";

    memset(&a, 0, sizeof a);
    CHECK_EQ_INT(net_addr_parse(text, &a, err, sizeof err), 0);
    if (err[0])
        fprintf(stderr, "     parse \"%s\": %s\n", text, err);
    return a;
}

/* The address a listener got, e.g. the port chosen for ":0". */
static struct net_addr bound(int fd)
{
    struct net_addr a;

    memset(&a, 0, sizeof a);
    a.len = sizeof a.sa;
    CHECK_EQ_INT(getsockname(fd, (struct sockaddr *)&a.sa, &a.len), 0);
    a.family = a.sa.ss_family;
    return a;
}

static int port_of(const struct net_addr *a)
{
    if (a->family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&a->sa)->sin_port);
    if (a->family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&a->sa)->sin6_port);
    return -1;
}

static int int_opt(int fd, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof v;

    CHECK_EQ_INT(getsockopt(fd, level, name, &v, &len), 0);
    return v;
}

static int wait_readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};

    return poll(&p, 1, 5000);
}

/* A broken exchange fails its checks instead of blocking the test run. */
static void no_hang(int fd)
{
    struct timeval tv = {.tv_sec = 5};

    CHECK_EQ_INT(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
}

/* Connects to the listener, accepts, and moves a few bytes each way. */
static void check_exchange(int lfd, const char *peer_host)
{
    struct net_addr to = bound(lfd);
    struct sockaddr_storage peer;
    socklen_t peer_len = 0;
    const char *failed = NULL;
    char buf[16], host[64];
    int c = net_connect(&to, 0, &failed);
    int s = c >= 0 ? net_accept(lfd, 0, &peer, &peer_len) : -1;

    CHECK(c >= 0);
    CHECK(s >= 0);
    CHECK(failed == NULL);
    if (c < 0 || s < 0)
        goto out;
    no_hang(c);
    no_hang(s);
    CHECK(peer_len > 0);
    CHECK_EQ_STR(net_addr_host((struct sockaddr *)&peer, peer_len, host, sizeof host), peer_host);
    CHECK_EQ_INT(send(c, "ping", 4, MSG_NOSIGNAL), 4);
    CHECK_EQ_INT(recv(s, buf, sizeof buf, 0), 4);
    CHECK_EQ_MEM(buf, 4, "ping", 4);
    CHECK_EQ_INT(send(s, "pong!", 5, MSG_NOSIGNAL), 5);
    CHECK_EQ_INT(recv(c, buf, sizeof buf, 0), 5);
    CHECK_EQ_MEM(buf, 5, "pong!", 5);
    CHECK_EQ_INT(fcntl(s, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    CHECK_EQ_INT(fcntl(c, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    CHECK_EQ_INT(net_set_nodelay(c), 0);
    CHECK_EQ_INT(net_set_nodelay(s), 0);
    if (peer_host[0] != 'u') {
        CHECK_EQ_INT(int_opt(c, IPPROTO_TCP, TCP_NODELAY), 1);
        CHECK_EQ_INT(int_opt(s, IPPROTO_TCP, TCP_NODELAY), 1);
    }
out:
    if (c >= 0)
        close(c);
    if (s >= 0)
        close(s);
}

static void test_tcp4(void)
{
    struct net_addr a = parse("127.0.0.1:0");
    const char *failed = NULL;
    int fd = net_listen(&a, 16, 0, &failed);
    struct net_addr b;

    CHECK(fd >= 0);
    CHECK(failed == NULL);
    if (fd < 0)
        return;
    b = bound(fd);
    CHECK_EQ_INT(b.family, AF_INET);
    CHECK(port_of(&b) > 0);
    CHECK_EQ_INT(int_opt(fd, SOL_SOCKET, SO_REUSEADDR), 1);
    CHECK_EQ_INT(int_opt(fd, SOL_SOCKET, SO_ACCEPTCONN), 1);
    CHECK_EQ_INT(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    CHECK_EQ_INT(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    check_exchange(fd, "127.0.0.1");
    close(fd);
}

static void test_tcp6(void)
{
    struct net_addr a = parse("[::1]:0");
    const char *failed = NULL;
    int fd = net_listen(&a, 16, 0, &failed);
    struct net_addr b;

    if (fd < 0 && (errno == EADDRNOTAVAIL || errno == EAFNOSUPPORT)) {
        printf("note: skipping IPv6 tests, ::1 unavailable (%s: %s)\n", failed, strerror(errno));
        return;
    }
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    b = bound(fd);
    CHECK_EQ_INT(b.family, AF_INET6);
    CHECK(port_of(&b) > 0);
    CHECK_EQ_INT(int_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY), 1);
    check_exchange(fd, "::1");
    close(fd);

    /* Binding a v4-mapped address shows IPV6_V6ONLY was set before bind (after
     * bind, getsockopt reports 1 for ::1 anyway). */
    a = parse("[::ffff:127.0.0.1]:0");
    errno = 0;
    failed = NULL;
    fd = net_listen(&a, 16, 0, &failed);
    CHECK_EQ_INT(fd, -1);
    CHECK_EQ_STR(failed, "bind");
    if (fd >= 0)
        close(fd);
}

static void test_nonblock(void)
{
    struct net_addr a = parse("127.0.0.1:0");
    struct net_addr to;
    int fd = net_listen(&a, 16, NET_NONBLOCK, NULL);
    int c, s;

    CHECK(fd >= 0);
    if (fd < 0)
        return;
    CHECK_EQ_INT(fcntl(fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    errno = 0;
    CHECK_EQ_INT(net_accept(fd, 1, NULL, NULL), -1);
    CHECK(errno == EAGAIN || errno == EWOULDBLOCK);
    to = bound(fd);
    c = net_connect(&to, NET_NONBLOCK, NULL);
    CHECK(c >= 0);
    CHECK_EQ_INT(fcntl(c, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    CHECK_EQ_INT(wait_readable(fd), 1);
    s = net_accept(fd, 1, NULL, NULL);
    CHECK(s >= 0);
    CHECK_EQ_INT(fcntl(s, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    CHECK_EQ_INT(net_set_nonblock(s, 0), 0);
    CHECK_EQ_INT(fcntl(s, F_GETFL) & O_NONBLOCK, 0);
    CHECK_EQ_INT(net_set_nonblock(s, 1), 0);
    CHECK_EQ_INT(fcntl(s, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    CHECK_EQ_INT(net_set_nonblock(-1, 1), -1);
    if (c >= 0)
        close(c);
    if (s >= 0)
        close(s);
    close(fd);
}

static void test_reuseport(void)
{
    struct net_addr a = parse("127.0.0.1:0");
    const char *failed = NULL;
    int one = net_listen(&a, 16, NET_REUSEPORT, &failed);
    int two = -1, three = -1;
    struct net_addr same;

    CHECK(one >= 0);
    if (one < 0)
        return;
    CHECK_EQ_INT(int_opt(one, SOL_SOCKET, SO_REUSEPORT), 1);
    same = bound(one);
    two = net_listen(&same, 16, NET_REUSEPORT, &failed);
    CHECK(two >= 0);
    if (two >= 0) {
        struct net_addr b = bound(two);
        CHECK_EQ_INT(port_of(&b), port_of(&same));
    }
    errno = 0;
    failed = NULL;
    three = net_listen(&same, 16, 0, &failed);
    CHECK_EQ_INT(three, -1);
    CHECK_EQ_INT(errno, EADDRINUSE);
    CHECK_EQ_STR(failed, "bind");
    if (three >= 0)
        close(three);
    if (two >= 0)
        close(two);
    close(one);
}

static void test_refused(void)
{
    struct net_addr a = parse("127.0.0.1:0");
    int fd = net_listen(&a, 1, 0, NULL);
    struct net_addr gone;
    const char *failed = NULL;

    CHECK(fd >= 0);
    if (fd < 0)
        return;
    gone = bound(fd);
    close(fd);
    errno = 0;
    CHECK_EQ_INT(net_connect(&gone, 0, &failed), -1);
    CHECK_EQ_INT(errno, ECONNREFUSED);
    CHECK_EQ_STR(failed, "connect");
}

/* A socket file whose server died: bound, then closed without unlink. */
static void make_stale(const struct net_addr *a)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    CHECK(fd >= 0);
    CHECK_EQ_INT(bind(fd, (const struct sockaddr *)&a->sa, a->len), 0);
    CHECK_EQ_INT(listen(fd, 1), 0);
    close(fd);
}

/* The liveness probe was a real connection: the live server accepts it and reads EOF. */
static void check_probe_left(int lfd)
{
    char c;
    int s = wait_readable(lfd) == 1 ? net_accept(lfd, 1, NULL, NULL) : -1;

    CHECK(s >= 0);
    if (s < 0)
        return;
    no_hang(s);
    CHECK_EQ_INT(net_set_nonblock(s, 0), 0);
    CHECK_EQ_INT(recv(s, &c, 1, 0), 0);
    close(s);
}

static void test_unix_path(const char *dir)
{
    char text[256];
    struct net_addr a;
    struct stat st;
    const char *failed = NULL;
    int fd, live;

    snprintf(text, sizeof text, "unix:%s/duct.sock", dir);
    a = parse(text);
    fd = net_listen(&a, 16, 0, &failed);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    CHECK_EQ_INT(stat(text + 5, &st), 0);
    CHECK(S_ISSOCK(st.st_mode));
    check_exchange(fd, "unix");

    errno = 0;
    failed = NULL;
    live = net_listen(&a, 16, 0, &failed);
    CHECK_EQ_INT(live, -1);
    CHECK_EQ_INT(errno, EADDRINUSE);
    CHECK_EQ_STR(failed, "bind");
    check_probe_left(fd);
    check_exchange(fd, "unix");
    close(fd);
    if (live >= 0)
        close(live);
    CHECK_EQ_INT(unlink(text + 5), 0);

    make_stale(&a);
    CHECK_EQ_INT(stat(text + 5, &st), 0);
    fd = net_listen(&a, 16, 0, &failed);
    CHECK(fd >= 0);
    if (fd >= 0) {
        check_exchange(fd, "unix");
        close(fd);
    }
    CHECK_EQ_INT(unlink(text + 5), 0);
}

/* connect() to a regular file is refused like a stale socket; it must not be deleted. */
static void test_unix_not_socket(const char *dir)
{
    char text[256];
    struct net_addr a;
    const char *failed = NULL;
    int fd, file;

    snprintf(text, sizeof text, "unix:%s/plain-file", dir);
    a = parse(text);
    file = open(text + 5, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    CHECK(file >= 0);
    if (file >= 0)
        close(file);
    errno = 0;
    fd = net_listen(&a, 16, 0, &failed);
    CHECK_EQ_INT(fd, -1);
    CHECK_EQ_INT(errno, EADDRINUSE);
    CHECK_EQ_STR(failed, "bind");
    CHECK_EQ_INT(access(text + 5, F_OK), 0);
    if (fd >= 0)
        close(fd);
    CHECK_EQ_INT(unlink(text + 5), 0);
}

static void test_unix_abstract(void)
{
    char text[64];
    struct net_addr a, b;
    const char *failed = NULL;
    int fd, again;

    snprintf(text, sizeof text, "unix:@duct-test-%ld", (long)getpid());
    a = parse(text);
    fd = net_listen(&a, 16, 0, &failed);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    b = bound(fd);
    CHECK_EQ_INT(b.len, a.len);
    CHECK_EQ_MEM(&b.sa, b.len, &a.sa, a.len);
    check_exchange(fd, "unix");
    errno = 0;
    again = net_listen(&a, 16, 0, &failed);
    CHECK_EQ_INT(again, -1);
    CHECK_EQ_INT(errno, EADDRINUSE);
    CHECK_EQ_STR(failed, "bind");
    if (again >= 0)
        close(again);
    close(fd);
}

static void test_nodelay_socketpair(void)
{
    int sv[2];

    CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    CHECK_EQ_INT(net_set_nodelay(sv[0]), 0);
    CHECK_EQ_INT(net_set_nodelay(-1), -1);
    close(sv[0]);
    close(sv[1]);
}

/* A TCP option setter does nothing, successfully, on a Unix socket, and
 * fails on a descriptor that is not open. */
static void check_tcp_only(int (*set)(int fd, int value), int value)
{
    int sv[2];

    CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    CHECK_EQ_INT(set(sv[0], value), 0);
    CHECK_EQ_INT(set(-1, value), -1);
    close(sv[0]);
    close(sv[1]);
}

/* With TCP_DEFER_ACCEPT, a connected client that has sent nothing is not
 * yet accept's; its first byte hands it over. */
static void test_defer_accept(void)
{
    struct net_addr a = parse("127.0.0.1:0");
    int fd = net_listen(&a, 16, NET_NONBLOCK, NULL);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    struct net_addr to;
    int c, s;

    CHECK(fd >= 0);
    if (fd < 0)
        return;
    CHECK_EQ_INT(net_set_defer_accept(fd, 1), 0);
    CHECK(int_opt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT) >= 1);
    to = bound(fd);
    c = net_connect(&to, 0, NULL);
    CHECK(c >= 0);
    /* Well within the kernel's first SYN-ACK retransmission, a second away. */
    CHECK_EQ_INT(poll(&p, 1, 200), 0);
    errno = 0;
    CHECK_EQ_INT(net_accept(fd, 1, NULL, NULL), -1);
    CHECK(errno == EAGAIN || errno == EWOULDBLOCK);
    CHECK_EQ_INT(send(c, "G", 1, MSG_NOSIGNAL), 1);
    CHECK_EQ_INT(wait_readable(fd), 1);
    s = net_accept(fd, 1, NULL, NULL);
    CHECK(s >= 0);
    if (s >= 0)
        close(s);
    if (c >= 0)
        close(c);
    close(fd);
    check_tcp_only(net_set_defer_accept, 1);
}

/* TCP_NOTSENT_LOWAT set on a listener is the accepted socket's too. */
static void test_notsent_lowat(void)
{
    struct net_addr a = parse("127.0.0.1:0");
    int fd = net_listen(&a, 16, 0, NULL);
    struct net_addr to;
    int c, s;

    CHECK(fd >= 0);
    if (fd < 0)
        return;
    CHECK_EQ_INT(net_set_notsent_lowat(fd, 131072), 0);
    to = bound(fd);
    c = net_connect(&to, 0, NULL);
    s = c >= 0 ? net_accept(fd, 0, NULL, NULL) : -1;
    CHECK(s >= 0);
    if (s >= 0) {
        CHECK_EQ_INT(int_opt(s, IPPROTO_TCP, TCP_NOTSENT_LOWAT), 131072);
        close(s);
    }
    if (c >= 0)
        close(c);
    close(fd);
    check_tcp_only(net_set_notsent_lowat, 131072);
}

/* A datagram goes from a connected socket to a bound one, and the reply goes
 * back to the address recvfrom reported: for unix sockets too, thanks to the
 * autobind in net_connect_dgram. */
static void check_dgram(const char *text)
{
    struct net_addr a = parse(text), to;
    struct sockaddr_storage from;
    socklen_t from_len = sizeof from;
    const char *failed = NULL;
    char buf[16];
    int s = net_bind_dgram(&a, 0, &failed), c;

    CHECK(s >= 0);
    if (s < 0)
        return;
    CHECK_EQ_INT(int_opt(s, SOL_SOCKET, SO_TYPE), SOCK_DGRAM);
    CHECK_EQ_INT(fcntl(s, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    to = bound(s);
    c = net_connect_dgram(&to, 0, &failed);
    CHECK(c >= 0);
    if (c >= 0) {
        no_hang(s);
        no_hang(c);
        CHECK_EQ_INT(send(c, "one", 3, 0), 3);
        CHECK_EQ_INT(recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &from_len), 3);
        CHECK_EQ_MEM(buf, 3, "one", 3);
        CHECK(from_len > sizeof(sa_family_t));
        CHECK_EQ_INT(sendto(s, "two!", 4, 0, (struct sockaddr *)&from, from_len), 4);
        CHECK_EQ_INT(recv(c, buf, sizeof buf, 0), 4);
        CHECK_EQ_MEM(buf, 4, "two!", 4);
        close(c);
    }
    close(s);
}

static void test_dgram(const char *dir)
{
    char text[256];
    struct net_addr a;
    const char *failed = NULL;
    int fd;

    check_dgram("127.0.0.1:0");
    snprintf(text, sizeof text, "unix:@duct-dgram-%ld", (long)getpid());
    check_dgram(text);
    snprintf(text, sizeof text, "unix:%s/dgram.sock", dir);
    check_dgram(text);
    /* The socket file stays behind, stale: a new bind replaces it. */
    check_dgram(text);
    CHECK_EQ_INT(unlink(text + 5), 0);

    a = parse("127.0.0.1:0");
    fd = net_bind_dgram(&a, 0, NULL);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    a = bound(fd);
    close(fd);
    fd = net_connect_dgram(&a, 0, &failed);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    /* Nobody listens: the ICMP port unreachable comes back as ECONNREFUSED. */
    no_hang(fd);
    CHECK_EQ_INT(send(fd, "x", 1, 0), 1);
    errno = 0;
    CHECK_EQ_INT(recv(fd, text, sizeof text, 0), -1);
    CHECK_EQ_INT(errno, ECONNREFUSED);
    close(fd);
}

int main(void)
{
    char dir[] = "/tmp/duct-sock-XXXXXX";

    test_tcp4();
    test_tcp6();
    test_nonblock();
    test_reuseport();
    test_refused();
    test_unix_abstract();
    test_nodelay_socketpair();
    test_defer_accept();
    test_notsent_lowat();
    CHECK(mkdtemp(dir) != NULL);
    test_unix_path(dir);
    test_unix_not_socket(dir);
    test_dgram(dir);
    CHECK_EQ_INT(rmdir(dir), 0);
    return test_report();
}
