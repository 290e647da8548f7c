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

/* A thread waiting for a slow client looks at a graceful stop this often. */
#define STOP_CHECK_MS 1000

int blocking_worker_init(struct blocking_worker *bw, struct server *srv, struct blocking_set *set)
{
    bw->set = set;
    bw->stop_flag = NULL;
    return engine_worker_init(&bw->ew, srv);
}

void blocking_worker_destroy(struct blocking_worker *bw)
{
    engine_worker_destroy(&bw->ew);
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
    set->stop_ms = timer_clock_ms(); /* published by the atomic store below */
    set->stopping = 1;
    for (int i = 0; i < set->count; i++)
        shutdown(set->fds[i], SHUT_RD);
    pthread_mutex_unlock(&set->lock);
}

/* A stop asked for, by the model (set) or by a signal (a forked child). */
static int stop_asked(const struct blocking_worker *bw)
{
    if (bw->set && atomic_load(&bw->set->stopping))
        return 1;
    return bw->stop_flag && *bw->stop_flag;
}

/* Waits until fd is ready for `events` or until_ms passes: 1 ready, 0 timed
 * out. Waits are cut into slices so that a stop is seen while a client
 * stalls (the shutdown that wakes a reader does not wake a writer), and so
 * that the worker's housekeeping runs while a client idles. */
static int wait_ready(struct blocking_worker *bw, int fd, short events, int64_t until_ms)
{
    struct pollfd p = {.fd = fd, .events = events};
    for (;;) {
        engine_tick(&bw->ew, serve_clock());
        int64_t now_ms = timer_clock_ms();
        if (stop_asked(bw) && !bw->ew.draining)
            return 1; /* let the loop see the stop */
        if (now_ms >= until_ms)
            return 0;
        int64_t ms = until_ms - now_ms;
        int n = poll(&p, 1, ms > STOP_CHECK_MS ? STOP_CHECK_MS : (int)ms);
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR) {
            log_syscall("poll", "connection", errno);
            return 0;
        }
    }
}

/* The stop is seen: the protocol finishes what it has and the deadline for
 * all of it is set. */
static void notice_stop(struct blocking_worker *bw, void *c, time_t now, int64_t now_ms)
{
    /* A thread waiting on a slow client sees the stop up to a slice late:
     * its deadline still runs from the stop itself. */
    engine_begin_drain(&bw->ew, bw->set && bw->set->stopping ? bw->set->stop_ms : now_ms);
    engine_proto_of(c)->drain(c, now);
}

/* The response waits for work done elsewhere (a listing being built by
 * another thread): this thread waits for it like for its socket. */
static enum io_result wait_for_work(struct blocking_worker *bw, void *c, time_t now, int64_t until_ms)
{
    const struct serve_proto *p = engine_proto_of(c);
    if (!wait_ready(bw, p->wait_fd(c), POLLIN, until_ms))
        return IO_AGAIN;
    p->resume(c, now); /* stays waiting when the wake-up was a stop asked for instead */
    return p->want(c) == SERVE_WANT_WAIT ? IO_AGAIN : IO_PROGRESS;
}

/* The textbook loop: read a request, write its response, repeat. Each wait
 * is bounded by the deadline of the connection's phase, and by the stop's.
 * With `park`, the loop never waits to read: it returns ENGINE_CLOSE_COUNT
 * as soon as nothing is there to read, for another thread to wait. */
static enum engine_close serve_loop(struct blocking_worker *bw, int fd, void *c, uint8_t *phase, int64_t *since_ms,
                                    int park)
{
    const struct serve_proto *p = engine_proto_of(c);
    int progressed = 0;
    for (;;) {
        time_t now = serve_clock();
        int64_t now_ms = timer_clock_ms();
        engine_tick(&bw->ew, now);
        if (!bw->ew.draining && stop_asked(bw))
            notice_stop(bw, c, now, now_ms);
        int64_t until = engine_track(&bw->ew, phase, since_ms, c, now_ms, progressed);
        if (bw->ew.draining && bw->ew.drain_end < until)
            until = bw->ew.drain_end;
        if (now_ms >= until)
            return bw->ew.draining && now_ms >= bw->ew.drain_end ? ENGINE_CLOSE_DRAIN_CUT
                                                                 : engine_timeout_reason((enum engine_phase)*phase);
        enum io_result r;
        switch (p->want(c)) {
        case SERVE_WANT_READ:
            if (p->idle(c) && bw->ew.ctx.log.len)
                access_log_flush(&bw->ew.ctx.log); /* before waiting, so lines are not held */
            r = io_recv(fd, p, c, now);
            if (r == IO_AGAIN && park)
                return ENGINE_CLOSE_COUNT;
            if (r == IO_AGAIN)
                wait_ready(bw, fd, POLLIN, until);
            break;
        case SERVE_WANT_WRITE:
            r = io_send(fd, p, c, now);
            if (r == IO_DRY && p->want(c) == SERVE_WANT_WRITE) {
                /* The buffer is full: the bytes moved restart the send
                 * timeout now, and only room made within it goes on. */
                until = engine_track(&bw->ew, phase, since_ms, c, now_ms, 1);
                if (bw->ew.draining && bw->ew.drain_end < until)
                    until = bw->ew.drain_end;
                r = IO_AGAIN;
            }
            if (r == IO_AGAIN)
                wait_ready(bw, fd, POLLOUT, until);
            break;
        case SERVE_WANT_WAIT:
            r = wait_for_work(bw, c, now, until);
            break;
        case SERVE_WANT_CLOSE:
        default:
            return engine_end_reason(&bw->ew, c);
        }
        if (r == IO_CLOSE)
            return engine_errno_reason(errno);
        progressed = r != IO_AGAIN;
    }
}

/* A lingering close: our FIN is sent, and what the client still sends is
 * read and dropped until it closes too, for ENGINE_LINGER_MS at most. */
static void linger(struct blocking_worker *bw, int fd)
{
    uint32_t dropped = 0;
    int64_t until = timer_clock_ms() + bw->ew.timeouts.ms[ENGINE_PHASE_LINGER];
    engine_linger_begin(fd);
    while (engine_linger_read(fd, &dropped) && wait_ready(bw, fd, POLLIN, until))
        ;
}

void blocking_serve(struct blocking_worker *bw, int fd, int listener, const struct sockaddr_storage *peer,
                    socklen_t peer_len)
{
    struct engine_peer from;
    engine_peer_set(&from, (const struct sockaddr *)peer, peer_len);
    bw->ew.stats.accepted++;
    void *c = engine_attach(&bw->ew, (unsigned)listener, &from, serve_clock());
    enum engine_close why = ENGINE_CLOSE_NO_MEMORY;
    if (c) {
        uint8_t phase = ENGINE_PHASE_HEAD;
        int64_t since_ms = timer_clock_ms();
        if (bw->set)
            set_add(bw->set, fd);
        why = serve_loop(bw, fd, c, &phase, &since_ms, 0);
        if (engine_should_linger(&bw->ew, c, why))
            linger(bw, fd);
        if (bw->set)
            set_remove(bw->set, fd);
        engine_detach(&bw->ew, c);
    }
    engine_close_fd(&bw->ew, fd, why);
    engine_leave(bw->ew.srv);
    access_log_flush(&bw->ew.ctx.log);
}

int blocking_turn(struct blocking_worker *bw, struct engine_conn *ec)
{
    const struct serve_proto *p = engine_proto(&bw->ew, ec);
    int64_t now_ms = timer_clock_ms();
    void *c = ec->proto;
    enum engine_close why = ENGINE_CLOSE_NO_MEMORY;
    if (c)
        p->rebind(c, &bw->ew.ctx);
    /* A head's clock ran while the connection waited for a thread. */
    if (ec->phase == ENGINE_PHASE_HEAD &&
        now_ms >= engine_deadline(&bw->ew.timeouts, ENGINE_PHASE_HEAD, ec->since_ms)) {
        why = ENGINE_CLOSE_HEADER_TIMEOUT;
        goto close;
    }
    if (!c && !(c = ec->proto = engine_attach(&bw->ew, ec->listener, &ec->peer, serve_clock())))
        goto close;
    why = serve_loop(bw, ec->fd, c, &ec->phase, &ec->since_ms, 1);
    if (bw->ew.ctx.log.len)
        access_log_flush(&bw->ew.ctx.log);
    if (why == ENGINE_CLOSE_COUNT) {
        if (serve_proto_releasable(p, c)) {
            engine_detach(&bw->ew, c);
            ec->proto = NULL;
        }
        return 1;
    }
    if (engine_conn_linger(&bw->ew, ec, why, timer_clock_ms()))
        return 1;
close:
    engine_conn_close(&bw->ew, ec, why);
    ec->fd = -1;
    return 0;
}

int blocking_wait_listener(struct server *srv, int stop_fd, int timeout_ms)
{
    struct pollfd fds[SERVE_MAX_LISTEN + 1];
    int n = srv->cfg->listen_count;
    for (int i = 0; i < n; i++)
        fds[i] = (struct pollfd){.fd = srv->listen_fd[0][i], .events = POLLIN};
    fds[n] = (struct pollfd){.fd = stop_fd, .events = POLLIN};
    for (;;) {
        int ready = poll(fds, (nfds_t)n + 1, timeout_ms);
        if (ready == 0)
            return -2;
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            log_syscall("poll", "listeners", errno);
            return -1;
        }
        if (fds[n].revents)
            return -1;
        for (int i = 0; i < n; i++)
            if (fds[i].revents)
                return i;
    }
}

int blocking_accept(struct server *srv, int listener, int stop_fd, struct sockaddr_storage *peer,
                    socklen_t *peer_len)
{
    *peer_len = sizeof *peer;
    /* Non-blocking from accept4 on (every wait is a bounded poll), and
     * TCP_NODELAY inherited from the listener: no syscall per connection. */
    int fd = net_accept(srv->listen_fd[0][listener], 1, peer, peer_len);
    if (fd < 0) {
        if (engine_accept_failed(errno) == ENGINE_ACCEPT_PAUSE) {
            struct pollfd stop = {.fd = stop_fd, .events = POLLIN};
            poll(&stop, 1, ENGINE_ACCEPT_PAUSE_MS);
        }
        return -1;
    }
    if (!engine_admit(srv)) {
        engine_refuse(srv, fd, (unsigned)listener);
        return -1;
    }
    return fd;
}

void blocking_refuse(struct server *srv, int fd, int listener)
{
    engine_leave(srv);
    engine_refuse(srv, fd, (unsigned)listener);
}
