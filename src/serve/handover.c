#include "serve/handover.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "net/sock.h"
#include "serve/fork_gate.h"
#include "serve/log.h"

#define HELLO "duct-handover 1\n"
#define GO "go\n"
#define REPLY_WAIT_MS 5000    /* for each message of a peer that is already there */
#define SUCCESSOR_WAIT_MS 60000 /* from the listeners sent to "go": the successor's start-up */

struct handover {
    struct net_addr path;
    int peer;                /* the predecessor, while taking over; -1 */
    int got[SERVE_MAX_LISTEN]; /* listeners received, -1 once claimed */
    int got_count;
    int listen_fd;           /* the control socket; -1 */
    int stop_fd;             /* eventfd: handover_end stops the thread */
    pthread_t thread;
    int running;
    pthread_t main;
    atomic_int given;
    atomic_int successor;
};

/* Waits for fd to be readable for at most ms, also watching stop_fd
 * (-1: none). 1 readable, 0 timed out or stopped. */
static int wait_readable(int fd, int stop_fd, int ms)
{
    struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = stop_fd, .events = POLLIN}};
    int n;
    while ((n = poll(p, stop_fd >= 0 ? 2 : 1, ms)) < 0 && errno == EINTR)
        ;
    return n > 0 && p[0].revents && !(stop_fd >= 0 && p[1].revents);
}

/* Reads one short message ("go\n") within ms. */
static int read_line(int fd, int stop_fd, int ms, char *buf, size_t len)
{
    if (!wait_readable(fd, stop_fd, ms))
        return -1;
    ssize_t n = recv(fd, buf, len - 1, MSG_DONTWAIT);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    return 0;
}

static int receive_listeners(struct handover *h)
{
    char data[16];
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * SERVE_MAX_LISTEN)];
    } control;
    struct iovec iov = {data, sizeof data - 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                         .msg_controllen = sizeof control.buf};
    if (!wait_readable(h->peer, -1, REPLY_WAIT_MS))
        return -1;
    ssize_t n = recvmsg(h->peer, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n <= 0)
        return -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count && h->got_count < SERVE_MAX_LISTEN; i++)
            memcpy(&h->got[h->got_count++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
    }
    return (msg.msg_flags & MSG_CTRUNC) ? -1 : 0;
}

int handover_begin(struct server *srv, const char *path)
{
    char err[256];
    struct handover *h = calloc(1, sizeof *h);
    void *shared = mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (!h || shared == MAP_FAILED) {
        free(h);
        log_syscall("mmap", "handover", ENOMEM);
        return -1;
    }
    srv->handover = h;
    srv->retiring = shared; /* shared with forked children, which answer too */
    h->peer = h->listen_fd = h->stop_fd = -1;
    char spec[sizeof((struct sockaddr_un *)0)->sun_path + 8];
    snprintf(spec, sizeof spec, "unix:%s", path);
    if (net_addr_parse(spec, &h->path, err, sizeof err) != 0) {
        log_error("bad --handover \"%s\": %s", path, err);
        return -1;
    }
    const char *failed = NULL;
    h->peer = net_connect(&h->path, 0, &failed);
    if (h->peer < 0) {
        if (errno == ENOENT || errno == ECONNREFUSED)
            return 0; /* no server runs there: a first start */
        log_syscall(failed ? failed : "connect", path, errno);
        return -1;
    }
    if (send(h->peer, HELLO, strlen(HELLO), MSG_NOSIGNAL) < 0 || receive_listeners(h) != 0) {
        log_error("--handover %s: the running server did not hand over its listeners", path);
        return -1;
    }
    return 0;
}

static int same_address(const struct net_addr *want, const struct net_addr *got)
{
    if (want->family != got->family)
        return 0;
    if (want->family == AF_UNIX)
        return want->len == got->len && memcmp(&want->sa, &got->sa, want->len) == 0;
    if (want->family == AF_INET) {
        const struct sockaddr_in *a = (const void *)&want->sa, *b = (const void *)&got->sa;
        return a->sin_addr.s_addr == b->sin_addr.s_addr && (a->sin_port == 0 || a->sin_port == b->sin_port);
    }
    const struct sockaddr_in6 *a = (const void *)&want->sa, *b = (const void *)&got->sa;
    return memcmp(&a->sin6_addr, &b->sin6_addr, sizeof a->sin6_addr) == 0 &&
           (a->sin6_port == 0 || a->sin6_port == b->sin6_port);
}

int handover_claim(struct handover *h, const struct net_addr *addr)
{
    for (int i = 0; h && i < h->got_count; i++) {
        struct net_addr bound = {.len = sizeof bound.sa};
        if (h->got[i] < 0 || getsockname(h->got[i], (struct sockaddr *)&bound.sa, &bound.len) != 0)
            continue;
        bound.family = bound.sa.ss_family;
        if (same_address(addr, &bound)) {
            int fd = h->got[i];
            h->got[i] = -1;
            return fd;
        }
    }
    return -1;
}

int handover_listen(struct server *srv)
{
    struct handover *h = srv->handover;
    const struct sockaddr_un *un = (const struct sockaddr_un *)&h->path.sa;
    const char *failed = NULL;
    for (int i = 0; i < h->got_count; i++)
        if (h->got[i] >= 0)
            close(h->got[i]); /* an address this server does not serve */
    /* The predecessor's socket file is in the way: its name is no longer
     * needed (this server holds the connection), the socket itself is. */
    if (h->peer >= 0 && un->sun_path[0] == '/')
        unlink(un->sun_path);
    mode_t old = umask(077);
    h->listen_fd = net_listen(&h->path, 4, NET_NONBLOCK, &failed);
    umask(old);
    if (h->listen_fd < 0) {
        log_syscall(failed ? failed : "listen", un->sun_path, errno);
        return -1;
    }
    return 0;
}

void handover_complete(struct server *srv)
{
    struct handover *h = srv->handover;
    char reply[16];
    struct ucred cred = {0};
    socklen_t len = sizeof cred;
    if (!h || h->peer < 0)
        return;
    getsockopt(h->peer, SOL_SOCKET, SO_PEERCRED, &cred, &len);
    if (send(h->peer, GO, strlen(GO), MSG_NOSIGNAL) < 0 || read_line(h->peer, -1, REPLY_WAIT_MS, reply, sizeof reply) != 0 ||
        strcmp(reply, "ok\n") != 0)
        log_error("--handover: the previous server (pid %d) did not confirm that it stopped accepting", (int)cred.pid);
    else if (!srv->cfg->quiet)
        fprintf(stderr, "%s: took over the listeners of pid %d, which now finishes its connections\n",
                srv->cfg->command ? srv->cfg->command : "duct serve", (int)cred.pid);
    close(h->peer);
    h->peer = -1;
}

/* Root, or the user this server runs as: nobody else may take its sockets. */
static int trusted(int fd, pid_t *pid)
{
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
        return 0;
    *pid = cred.pid;
    return cred.uid == 0 || cred.uid == geteuid();
}

static int send_listeners(struct server *srv, int fd)
{
    int fds[SERVE_MAX_LISTEN], n = 0;
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof fds)];
    } control;
    for (int i = 0; i < srv->cfg->listen_count; i++) {
        if (srv->listen_fd[0][i] < 0)
            continue;
        /* From now on another process holds it: a stop must not shut it down. */
        srv->listen_kept[i] = 1;
        fds[n++] = srv->listen_fd[0][i];
    }
    char count[16];
    int len = snprintf(count, sizeof count, "%d\n", n);
    struct iovec iov = {count, (size_t)len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    memset(&control, 0, sizeof control);
    if (n > 0) {
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)n);
    }
    return sendmsg(fd, &msg, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

/* One successor: hello, the listeners, then "go" once it serves. Returns 1
 * when it took over. */
static int serve_successor(struct server *srv, int fd)
{
    struct handover *h = srv->handover;
    char line[32];
    pid_t pid = 0;
    if (!trusted(fd, &pid)) {
        log_error("--handover: refused a connection from pid %d, neither root nor this server's user", (int)pid);
        return 0;
    }
    if (read_line(fd, h->stop_fd, REPLY_WAIT_MS, line, sizeof line) != 0 || strcmp(line, HELLO) != 0 ||
        send_listeners(srv, fd) != 0)
        return 0;
    if (read_line(fd, h->stop_fd, SUCCESSOR_WAIT_MS, line, sizeof line) != 0 || strcmp(line, GO) != 0) {
        log_error("--handover: pid %d took the listeners but did not start; serving on", (int)pid);
        return 0;
    }
    atomic_store(&srv->accept_off, 1);
    *srv->retiring = 1;
    atomic_store(&h->successor, (int)pid);
    atomic_store(&h->given, 1);
    if (send(fd, "ok\n", 3, MSG_NOSIGNAL) < 0)
        log_syscall("send", "handover", errno);
    pthread_kill(h->main, SIGUSR2);
    return 1;
}

static void *control_loop(void *arg)
{
    struct server *srv = arg;
    struct handover *h = srv->handover;
    while (wait_readable(h->listen_fd, h->stop_fd, -1)) {
        int fd = net_accept(h->listen_fd, 0, NULL, NULL);
        if (fd < 0)
            continue;
        fork_gate_enter();
        int done = serve_successor(srv, fd);
        fork_gate_leave();
        close(fd);
        if (done)
            break;
    }
    return NULL;
}

int handover_serve(struct server *srv, pthread_t main)
{
    struct handover *h = srv->handover;
    if (!h)
        return 0;
    h->main = main;
    h->stop_fd = eventfd(0, EFD_CLOEXEC);
    if (h->stop_fd < 0) {
        log_syscall("eventfd", "handover", errno);
        return -1;
    }
    int err = gate_thread_create(&h->thread, control_loop, srv);
    if (err != 0) {
        log_syscall("pthread_create", "handover", err);
        return -1;
    }
    h->running = 1;
    return 0;
}

int handover_given(const struct server *srv)
{
    return srv->handover && atomic_load(&srv->handover->given);
}

int handover_successor(const struct server *srv)
{
    return srv->handover ? atomic_load(&srv->handover->successor) : 0;
}

void handover_end(struct server *srv)
{
    struct handover *h = srv->handover;
    uint64_t one = 1;
    if (!h)
        return;
    if (h->running) {
        if (write(h->stop_fd, &one, sizeof one) != sizeof one)
            log_syscall("write", "handover eventfd", errno);
        pthread_join(h->thread, NULL);
    }
    for (int i = 0; i < h->got_count; i++)
        if (h->got[i] >= 0)
            close(h->got[i]);
    if (h->peer >= 0)
        close(h->peer);
    if (h->listen_fd >= 0)
        close(h->listen_fd);
    if (h->stop_fd >= 0)
        close(h->stop_fd);
    munmap((void *)srv->retiring, sizeof(int));
    srv->retiring = NULL;
    free(h);
    srv->handover = NULL;
}
