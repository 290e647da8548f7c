#include "serve/reactor.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loop/loop.h"
#include "net/sock.h"
#include "serve/context.h"
#include "serve/io.h"
#include "serve/log.h"

/* Bounds that keep one busy client from starving the others on its worker:
 * connections accepted per wake-up, and state-machine steps per event. */
#define ACCEPT_BATCH 64
#define STEPS_PER_EVENT 32
#define EVENTS_PER_WAIT 512
/* After EMFILE/ENFILE the listeners rest this long instead of spinning. */
#define ACCEPT_PAUSE_MS 100

struct rconn {
    int fd;
    int mask;         /* interest currently registered with the loop */
    time_t since;     /* start of the current wait (for the timeouts) */
    struct rconn *next_free;
    max_align_t conn[]; /* the protocol's connection object (proto->conn_size bytes) */
};

struct worker {
    struct server *srv;
    const struct serve_proto *proto;
    int index;
    pthread_t thread;
    int wake_fd; /* eventfd: written once to ask for a graceful stop */
    const char *backend;
    struct loop *loop;
    struct rconn **by_fd;
    struct rconn *free_conns;
    int live;
    int draining;
    time_t drain_deadline;
    int listeners_paused;
    struct timespec resume_at;
    time_t last_sweep;
    int highest_fd; /* bounds the timeout sweep */
    int refused_fd_limit; /* connections refused because the backend could not watch them */
    struct serve_ctx ctx;
};

struct reactor {
    int count;
    struct worker *workers;
};

static void watch(struct worker *w, struct rconn *rc, int mask)
{
    if (rc->mask == mask)
        return;
    if (loop_watch(w->loop, rc->fd, mask) != 0)
        log_syscall("loop_watch", w->backend, errno);
    rc->mask = mask;
}

static void close_conn(struct worker *w, struct rconn *rc)
{
    if (rc->mask)
        loop_watch(w->loop, rc->fd, 0);
    w->proto->release(rc->conn);
    w->by_fd[rc->fd] = NULL;
    if (close(rc->fd) != 0 && errno != EINTR)
        log_syscall("close", "connection", errno);
    rc->next_free = w->free_conns;
    w->free_conns = rc;
    w->live--;
    atomic_fetch_sub(&w->srv->live, 1);
}

/* Sends what the connection has ready; the send timeout runs from the last progress. */
static enum io_result send_some(const struct serve_proto *p, struct rconn *rc, time_t now)
{
    enum io_result r = io_send(rc->fd, p, rc->conn, now);
    if (r == IO_PROGRESS)
        rc->since = now;
    return r;
}

static enum io_result recv_some(const struct serve_proto *p, struct rconn *rc, time_t now)
{
    if (p->idle(rc->conn))
        rc->since = now; /* a new request head starts: the header timeout runs from here */
    return io_recv(rc->fd, p, rc->conn, now);
}

/* Runs one connection as far as it goes without blocking, then registers the
 * interest its state needs. The step bound keeps a pipelining client from
 * holding the worker. */
static void drive(struct worker *w, struct rconn *rc, time_t now)
{
    const struct serve_proto *p = w->proto;
    for (int step = 0; step < STEPS_PER_EVENT; step++) {
        enum io_result r;
        switch (p->want(rc->conn)) {
        case HTTP_WANT_READ:
            r = recv_some(p, rc, now);
            if (r == IO_AGAIN || (r == IO_DRY && p->want(rc->conn) == HTTP_WANT_READ)) {
                watch(w, rc, LOOP_READ);
                return;
            }
            break;
        case HTTP_WANT_WRITE:
            r = send_some(p, rc, now);
            if (r == IO_AGAIN) {
                watch(w, rc, LOOP_WRITE);
                return;
            }
            /* A finished response with nothing buffered: the next request
             * has surely not arrived yet, so don't try a read that fails. */
            if (r == IO_PROGRESS && p->want(rc->conn) == HTTP_WANT_READ && p->idle(rc->conn)) {
                rc->since = now;
                watch(w, rc, LOOP_READ);
                return;
            }
            break;
        case HTTP_WANT_CLOSE:
        default:
            close_conn(w, rc);
            return;
        }
        if (r == IO_CLOSE) {
            close_conn(w, rc);
            return;
        }
    }
    watch(w, rc, p->want(rc->conn) == HTTP_WANT_WRITE ? LOOP_WRITE : LOOP_READ);
}

static struct rconn *new_conn(struct worker *w)
{
    struct rconn *rc = w->free_conns;
    if (rc) {
        w->free_conns = rc->next_free;
        return rc;
    }
    return malloc(sizeof *rc + w->proto->conn_size);
}

static void admit(struct worker *w, int fd, const struct sockaddr_storage *peer, socklen_t peer_len, time_t now)
{
    char host[48];
    struct rconn *rc = NULL;
    if (atomic_fetch_add(&w->srv->live, 1) >= w->srv->cfg->max_conns)
        goto refuse;
    rc = new_conn(w);
    if (!rc)
        goto refuse;
    /* select cannot watch a descriptor >= FD_SETSIZE: loop_watch refuses it
     * with ERANGE, and the connection is closed rather than corrupt memory. */
    if (fd >= w->srv->max_fds || loop_watch(w->loop, fd, LOOP_READ) != 0) {
        w->refused_fd_limit++;
        log_error("connection refused: descriptor %d is beyond what %s can watch (%d refused so far)", fd,
                  w->backend, w->refused_fd_limit);
        rc->next_free = w->free_conns;
        w->free_conns = rc;
        goto refuse;
    }
    net_set_nodelay(fd);
    net_addr_host((const struct sockaddr *)peer, peer_len, host, sizeof host);
    w->proto->init(rc->conn, &w->ctx, host);
    rc->fd = fd;
    rc->mask = LOOP_READ;
    rc->since = now;
    w->by_fd[fd] = rc;
    if (fd > w->highest_fd)
        w->highest_fd = fd;
    w->live++;
    return;
refuse:
    atomic_fetch_sub(&w->srv->live, 1);
    close(fd);
}

static int listener_index(const struct worker *w, int fd)
{
    for (int i = 0; i < w->srv->cfg->listen_count; i++)
        if (w->srv->listen_fd[w->index][i] == fd)
            return i;
    return -1;
}

static void watch_listeners(struct worker *w, int mask)
{
    for (int i = 0; i < w->srv->cfg->listen_count; i++) {
        int fd = w->srv->listen_fd[w->index][i];
        if (fd >= 0 && loop_watch(w->loop, fd, mask) != 0)
            log_syscall("loop_watch", "listener", errno);
    }
}

/* Out of descriptors: rest the listeners briefly instead of spinning on a
 * listener that stays readable (OpenBSD httpd's back-off). */
static void pause_listeners(struct worker *w, int err)
{
    log_syscall("accept4", "listener paused for 100 ms", err);
    watch_listeners(w, 0);
    w->listeners_paused = 1;
    clock_gettime(CLOCK_MONOTONIC, &w->resume_at);
    w->resume_at.tv_nsec += ACCEPT_PAUSE_MS * 1000000L;
    if (w->resume_at.tv_nsec >= 1000000000L) {
        w->resume_at.tv_sec++;
        w->resume_at.tv_nsec -= 1000000000L;
    }
}

static void maybe_resume_listeners(struct worker *w)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    if (!w->listeners_paused || w->draining || t.tv_sec < w->resume_at.tv_sec ||
        (t.tv_sec == w->resume_at.tv_sec && t.tv_nsec < w->resume_at.tv_nsec))
        return;
    w->listeners_paused = 0;
    watch_listeners(w, LOOP_READ);
}

/* Accepts up to `limit` pending connections. */
static void accept_ready(struct worker *w, int listen_fd, int limit, time_t now)
{
    for (int i = 0; i < limit; i++) {
        struct sockaddr_storage peer;
        socklen_t peer_len = sizeof peer;
        int fd = net_accept(listen_fd, 1, &peer, &peer_len);
        if (fd >= 0) {
            admit(w, fd, &peer, peer_len, now);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
            continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
            pause_listeners(w, errno);
        else if (errno != EAGAIN)
            log_syscall("accept4", "listener", errno);
        return;
    }
}

/* Timeouts, checked once a second: a slow head (slowloris), an idle
 * keep-alive connection, a client that stopped reading. */
static void sweep(struct worker *w, time_t now)
{
    const struct serve_config *cfg = w->srv->cfg;
    for (int fd = 0; fd < w->srv->max_fds && fd <= w->highest_fd; fd++) {
        struct rconn *rc = w->by_fd[fd];
        if (!rc)
            continue;
        int limit;
        if (w->proto->want(rc->conn) == HTTP_WANT_WRITE)
            limit = cfg->send_timeout;
        else
            limit = w->proto->idle(rc->conn) ? cfg->idle_timeout : cfg->header_timeout;
        if (now - rc->since >= limit || (w->draining && now >= w->drain_deadline))
            close_conn(w, rc);
    }
}

/* Graceful stop: take what is already queued on the listeners, stop
 * listening, and let every connection finish what it has received. */
static void begin_drain(struct worker *w, time_t now)
{
    uint64_t ignored;
    if (read(w->wake_fd, &ignored, sizeof ignored) < 0 && errno != EAGAIN)
        log_syscall("read", "eventfd", errno);
    if (w->draining)
        return;
    w->draining = 1;
    w->drain_deadline = now + w->srv->cfg->drain_timeout;
    for (int i = 0; i < w->srv->cfg->listen_count; i++) {
        int fd = w->srv->listen_fd[w->index][i];
        if (fd < 0)
            continue;
        accept_ready(w, fd, 1 << 20, now);
        loop_watch(w->loop, fd, 0);
        /* A closed listener makes new clients fail fast instead of waiting
         * in a backlog nobody will accept from. The shared Unix listener is
         * closed by the server once every worker has stopped. */
        if (!w->srv->listen_shared[i]) {
            close(fd);
            w->srv->listen_fd[w->index][i] = -1;
        }
    }
    for (int fd = 0; fd <= w->highest_fd; fd++) {
        struct rconn *rc = w->by_fd[fd];
        if (!rc)
            continue;
        w->proto->drain(rc->conn, now);
        if (w->proto->want(rc->conn) == HTTP_WANT_CLOSE)
            close_conn(w, rc);
        else if (w->proto->want(rc->conn) == HTTP_WANT_WRITE)
            drive(w, rc, now);
    }
}

static void dispatch(struct worker *w, const struct loop_event *ev, time_t now)
{
    if (ev->fd == w->wake_fd) {
        begin_drain(w, now);
        return;
    }
    if (listener_index(w, ev->fd) >= 0) {
        if (!w->draining && !w->listeners_paused)
            accept_ready(w, ev->fd, ACCEPT_BATCH, now);
        return;
    }
    struct rconn *rc = w->by_fd[ev->fd];
    if (rc)
        drive(w, rc, now);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct loop_event events[EVENTS_PER_WAIT];
    watch_listeners(w, LOOP_READ);
    if (loop_watch(w->loop, w->wake_fd, LOOP_READ) != 0)
        log_syscall("loop_watch", "eventfd", errno);
    while (!w->draining || w->live > 0) {
        if (w->ctx.log.len)
            access_log_flush(&w->ctx.log);
        int n = loop_wait(w->loop, events, EVENTS_PER_WAIT, w->listeners_paused ? ACCEPT_PAUSE_MS : 1000);
        if (n < 0) {
            log_syscall("loop_wait", w->backend, errno);
            break;
        }
        time_t now = serve_clock();
        for (int i = 0; i < n; i++)
            dispatch(w, &events[i], now);
        maybe_resume_listeners(w);
        if (now != w->last_sweep) {
            w->last_sweep = now;
            sweep(w, now);
        }
    }
    access_log_flush(&w->ctx.log);
    return NULL;
}

static void destroy_worker(struct worker *w)
{
    for (int fd = 0; fd <= w->highest_fd; fd++)
        if (w->by_fd && w->by_fd[fd])
            close_conn(w, w->by_fd[fd]);
    while (w->free_conns) {
        struct rconn *rc = w->free_conns;
        w->free_conns = rc->next_free;
        free(rc);
    }
    serve_ctx_destroy(&w->ctx);
    free(w->by_fd);
    if (w->loop)
        loop_destroy(w->loop);
    if (w->wake_fd >= 0)
        close(w->wake_fd);
}

static int init_worker(struct worker *w, struct server *srv, int index, const char *backend)
{
    memset(w, 0, sizeof *w);
    w->srv = srv;
    w->proto = srv->proto;
    w->index = index;
    w->backend = backend;
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->wake_fd < 0) {
        log_syscall("eventfd", NULL, errno);
        return -1;
    }
    w->loop = loop_create(backend, srv->max_fds);
    if (!w->loop) {
        log_syscall("loop_create", backend, errno);
        return -1;
    }
    w->by_fd = calloc((size_t)srv->max_fds, sizeof *w->by_fd);
    if (!w->by_fd) {
        log_syscall("calloc", "connection table", ENOMEM);
        return -1;
    }
    return serve_ctx_init(&w->ctx, srv);
}

int reactor_start(struct server *srv, const char *backend)
{
    struct reactor *r = calloc(1, sizeof *r);
    if (!r)
        return -1;
    r->workers = calloc((size_t)srv->cfg->workers, sizeof *r->workers);
    srv->model_state = r;
    if (!r->workers)
        return -1;
    for (int i = 0; i < srv->cfg->workers; i++) {
        struct worker *w = &r->workers[i];
        if (init_worker(w, srv, i, backend) != 0) {
            destroy_worker(w);
            return -1;
        }
        int err = pthread_create(&w->thread, NULL, worker_main, w);
        if (err != 0) {
            log_syscall("pthread_create", "worker", err);
            destroy_worker(w);
            return -1;
        }
        r->count++;
    }
    return 0;
}

void reactor_stop(struct server *srv)
{
    struct reactor *r = srv->model_state;
    if (!r)
        return;
    uint64_t one = 1;
    for (int i = 0; i < r->count; i++)
        if (write(r->workers[i].wake_fd, &one, sizeof one) != sizeof one)
            log_syscall("write", "eventfd", errno);
    for (int i = 0; i < r->count; i++)
        pthread_join(r->workers[i].thread, NULL);
    for (int i = 0; i < r->count; i++)
        destroy_worker(&r->workers[i]);
    free(r->workers);
    free(r);
    srv->model_state = NULL;
}
