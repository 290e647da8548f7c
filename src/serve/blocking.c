#include "serve/blocking.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/sock.h"
#include "serve/io.h"

int blocking_worker_init(struct blocking_worker *bw, struct server *srv)
{
    bw->srv = srv;
    bw->proto = srv->proto;
    bw->idle_timeout = srv->cfg->idle_timeout;
    bw->conn = malloc(srv->proto->conn_size);
    if (serve_ctx_init(&bw->ctx, srv) != 0)
        return -1;
    if (!bw->conn) {
        log_syscall("malloc", "connection", ENOMEM);
        return -1;
    }
    return 0;
}

void blocking_worker_destroy(struct blocking_worker *bw)
{
    serve_ctx_destroy(&bw->ctx);
    free(bw->conn);
    bw->conn = NULL;
}

int blocking_set_init(struct blocking_set *set, int cap)
{
    memset(set, 0, sizeof *set);
    set->fds = malloc((size_t)cap * sizeof *set->fds);
    set->cap = cap;
    if (!set->fds)
        return -1;
    return pthread_mutex_init(&set->lock, NULL) == 0 ? 0 : -1;
}

void blocking_set_destroy(struct blocking_set *set)
{
    pthread_mutex_destroy(&set->lock);
    free(set->fds);
}

static void set_add(struct blocking_set *set, int fd)
{
    pthread_mutex_lock(&set->lock);
    if (set->stopping)
        shutdown(fd, SHUT_RD);
    if (set->count < set->cap)
        set->fds[set->count++] = fd;
    pthread_mutex_unlock(&set->lock);
}

static void set_remove(struct blocking_set *set, int fd)
{
    pthread_mutex_lock(&set->lock);
    for (int i = 0; i < set->count; i++) {
        if (set->fds[i] == fd) {
            set->fds[i] = set->fds[--set->count];
            break;
        }
    }
    pthread_mutex_unlock(&set->lock);
}

void blocking_set_stop(struct blocking_set *set)
{
    pthread_mutex_lock(&set->lock);
    set->stopping = 1;
    for (int i = 0; i < set->count; i++)
        shutdown(set->fds[i], SHUT_RD);
    pthread_mutex_unlock(&set->lock);
}

/* Waits until fd is ready for `events` or `seconds` pass: 1 ready, 0 timed
 * out. The socket is non-blocking and every wait goes through here because
 * SO_SNDTIMEO does not bound sendfile, which would otherwise block for as
 * long as a client that stopped reading stays connected (slow read). */
static int wait_ready(int fd, short events, time_t seconds)
{
    struct pollfd p = {.fd = fd, .events = events};
    int ms = seconds <= 0 ? 0 : seconds > 86400 ? 86400000 : (int)seconds * 1000;
    for (;;) {
        int n = poll(&p, 1, ms);
        if (n >= 0)
            return n;
        if (errno != EINTR) {
            log_syscall("poll", "connection", errno);
            return 0;
        }
    }
}

/* How long the next read may wait: the idle timeout between requests, the
 * rest of the header timeout inside one (a slowloris gains nothing by
 * trickling bytes). */
static time_t read_wait(const struct blocking_worker *bw, const void *c, time_t head_started, time_t now)
{
    if (bw->proto->idle(c))
        return bw->idle_timeout;
    return head_started + bw->srv->cfg->header_timeout - now;
}

/* The textbook loop: read a request, write its response, repeat. Each wait
 * for the socket is bounded by the idle, header or send timeout; when one
 * passes the connection ends. */
static void serve_loop(struct blocking_worker *bw, int fd)
{
    const struct serve_config *cfg = bw->srv->cfg;
    const struct serve_proto *p = bw->proto;
    void *c = bw->conn;
    time_t head_started = serve_clock();
    for (;;) {
        time_t now = serve_clock();
        enum io_result r;
        int ready = 1;
        switch (p->want(c)) {
        case HTTP_WANT_READ:
            if (p->idle(c)) {
                head_started = now;
                if (bw->ctx.log.len)
                    access_log_flush(&bw->ctx.log); /* before waiting, so lines are not held */
            } else if (now - head_started >= cfg->header_timeout) {
                return;
            }
            r = io_recv(fd, p, c, now);
            if (r == IO_AGAIN)
                ready = wait_ready(fd, POLLIN, read_wait(bw, c, head_started, now));
            break;
        case HTTP_WANT_WRITE:
            r = io_send(fd, p, c, now);
            if (r == IO_AGAIN)
                ready = wait_ready(fd, POLLOUT, cfg->send_timeout);
            break;
        case HTTP_WANT_CLOSE:
        default:
            return;
        }
        if (r == IO_CLOSE || !ready)
            return;
    }
}

void blocking_serve(struct blocking_worker *bw, struct blocking_set *set, int fd,
                    const struct sockaddr_storage *peer, socklen_t peer_len)
{
    char host[48];
    if (net_set_nonblock(fd, 1) != 0)
        log_syscall("fcntl", "O_NONBLOCK", errno);
    net_set_nodelay(fd);
    net_addr_host((const struct sockaddr *)peer, peer_len, host, sizeof host);
    bw->proto->init(bw->conn, &bw->ctx, host);
    if (set)
        set_add(set, fd);
    serve_loop(bw, fd);
    if (set)
        set_remove(set, fd);
    bw->proto->release(bw->conn);
    close(fd);
    access_log_flush(&bw->ctx.log);
}

int blocking_wait_listener(struct server *srv, int stop_fd)
{
    struct pollfd fds[SERVE_MAX_LISTEN + 1];
    int n = srv->cfg->listen_count;
    for (int i = 0; i < n; i++)
        fds[i] = (struct pollfd){.fd = srv->listen_fd[0][i], .events = POLLIN};
    fds[n] = (struct pollfd){.fd = stop_fd, .events = POLLIN};
    for (;;) {
        if (poll(fds, (nfds_t)n + 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            log_syscall("poll", "listeners", errno);
            return -1;
        }
        if (fds[n].revents)
            return -1;
        for (int i = 0; i < n; i++)
            if (fds[i].revents)
                return fds[i].fd;
    }
}

int blocking_accept(struct server *srv, int listen_fd, struct sockaddr_storage *peer, socklen_t *peer_len)
{
    *peer_len = sizeof *peer;
    int fd = net_accept(listen_fd, 0, peer, peer_len);
    if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            /* Out of descriptors: rest instead of spinning on a ready listener. */
            log_syscall("accept4", "pausing 100 ms", errno);
            nanosleep(&(struct timespec){.tv_nsec = 100000000L}, NULL);
        } else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED && errno != EINVAL) {
            /* EINVAL: the listener was shut down by a graceful stop. */
            log_syscall("accept4", "listener", errno);
        }
        return -1;
    }
    if (atomic_fetch_add(&srv->live, 1) >= srv->cfg->max_conns) {
        atomic_fetch_sub(&srv->live, 1);
        blocking_refuse(srv, fd);
        return -1;
    }
    return fd;
}

void blocking_release_slot(struct server *srv)
{
    atomic_fetch_sub(&srv->live, 1);
}

void blocking_refuse(const struct server *srv, int fd)
{
    const char *busy = srv->proto->refusal;
    if (busy && send(fd, busy, strlen(busy), MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN)
        log_syscall("send", "503", errno);
    close(fd);
}
