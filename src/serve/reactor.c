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
#include "loop/timer.h"
#include "net/sock.h"
#include "serve/engine.h"
#include "serve/io.h"
#include "serve/log.h"
#include "serve/slab.h"

/* Bounds that keep one busy client from starving the others on its worker:
 * connections accepted per wake-up, and state-machine steps per event. */
#define ACCEPT_BATCH 64
#define STEPS_PER_EVENT 32
#define EVENTS_PER_WAIT 512
/* Waiting responses resumed per wake-up: when a listing is built, all that
 * waited for it become ready at once, and each first send fills a socket
 * buffer (megabytes on loopback). The rest stay readable for the next
 * wake-up, after the other connections' events. */
#define RESUMES_PER_WAKE 8
/* Connections are carved from slabs of this many (serve/slab.h). */
#define SLAB_CONNS 256

/* engine_conn.flags: the connection's response waits for work done
 * elsewhere, and its loop watches the protocol's wait descriptor, which
 * by_fd maps to the connection too, instead of its socket. */
#define CONN_WAITING 1

struct worker {
    struct engine_worker ew;
    int index;
    pthread_t thread;
    int wake_fd; /* eventfd: written once to ask for a graceful stop */
    const char *backend;
    struct loop *loop;
    struct engine_conn **by_fd;
    struct slab_set conns;       /* the engine_conn records */
    int resumes_left;            /* of RESUMES_PER_WAKE in this wake-up */
    int live;
    int highest_fd;              /* bounds the one scan a graceful stop makes */
    int fd_limit;                /* descriptors from here on cannot be watched (select: FD_SETSIZE) */
    int listeners_paused;
    struct timer pause_timer;    /* resumes paused listeners */
    struct timer drain_timer;    /* cuts what a graceful stop has left */
    struct timer_wheel timers;
    /* Hand-off mode (the pool model): readable connections go to threads,
     * which give them back through `back`, under back_lock, and back_fd. */
    void (*hand_off)(void *model, struct engine_conn *ec);
    void *model;
    int back_fd;
    pthread_mutex_t back_lock;
    struct engine_conn **back;   /* given back, not yet taken: filled by threads */
    struct engine_conn **taking; /* swapped with back to be taken without the lock */
    int back_count;
};

struct reactor {
    int count;
    struct worker *workers;
};

/* Gives the slot of a connection the engine has closed back to the slab. */
static void forget_conn(struct worker *w, struct engine_conn *ec, int fd)
{
    w->by_fd[fd] = NULL;
    slab_give(&w->conns, ec);
    w->live--;
}

/* Stops watching the wait descriptor, which the protocol object is about to
 * close (on resuming, or released). */
static void end_wait(struct worker *w, struct engine_conn *ec)
{
    int wait_fd = engine_proto(&w->ew, ec)->wait_fd(ec->proto);
    if (wait_fd >= 0) {
        loop_watch(w->loop, wait_fd, 0);
        w->by_fd[wait_fd] = NULL;
    }
    ec->flags &= (uint8_t)~CONN_WAITING;
}

/* A connection's own entry in by_fd, not its wait descriptor's. */
static struct engine_conn *conn_at(const struct worker *w, int fd)
{
    struct engine_conn *ec = w->by_fd[fd];
    return ec && ec->fd == fd ? ec : NULL;
}

static void close_conn(struct worker *w, struct engine_conn *ec, enum engine_close why)
{
    int fd = ec->fd;
    if (ec->flags & CONN_WAITING)
        end_wait(w, ec);
    /* Out of the loop first: select fails on a closed descriptor. */
    loop_watch(w->loop, fd, 0);
    engine_conn_close(&w->ew, ec, why);
    if (w->hand_off)
        engine_trim(&w->ew); /* its object came from a pool thread: do not hoard it */
    forget_conn(w, ec, fd);
}

/* The protocol said close: perhaps linger first, reading what the peer still sends. */
static void end_conn(struct worker *w, struct engine_conn *ec, enum engine_close why, int64_t now_ms)
{
    if (engine_conn_linger(&w->ew, ec, why, now_ms))
        loop_watch(w->loop, ec->fd, LOOP_READ);
    else
        close_conn(w, ec, why);
}

/* Registers the interest the connection's state needs and lets the engine
 * follow its phase (and give an idle protocol object back). */
static void settle(struct worker *w, struct engine_conn *ec, int64_t now_ms, int progressed)
{
    int mask = ec->proto && engine_proto(&w->ew, ec)->want(ec->proto) == SERVE_WANT_WRITE ? LOOP_WRITE : LOOP_READ;
    engine_conn_settle(&w->ew, ec, now_ms, progressed);
    if (loop_watch(w->loop, ec->fd, mask) != 0)
        log_syscall("loop_watch", w->backend, errno);
}

/* The response waits for work done elsewhere (a listing being built). The
 * socket is not watched meanwhile, so that a pipelining client cannot wake
 * the loop again and again; the wait descriptor is, mapped to the
 * connection. */
static void begin_wait(struct worker *w, struct engine_conn *ec, int64_t now_ms, int progressed)
{
    int wait_fd = engine_proto(&w->ew, ec)->wait_fd(ec->proto);
    engine_conn_settle(&w->ew, ec, now_ms, progressed);
    if (wait_fd < 0 || loop_watch(w->loop, wait_fd, LOOP_READ) != 0) {
        log_syscall("loop_watch", "wait descriptor", wait_fd < 0 ? EBADF : errno);
        close_conn(w, ec, ENGINE_CLOSE_IO_ERROR);
        return;
    }
    if (loop_watch(w->loop, ec->fd, 0) != 0)
        log_syscall("loop_watch", w->backend, errno);
    w->by_fd[wait_fd] = ec;
    ec->flags |= CONN_WAITING;
}

/* Runs one connection as far as it goes without blocking. The step bound
 * keeps a pipelining client from holding the worker. */
static void drive(struct worker *w, struct engine_conn *ec, time_t now, int64_t now_ms)
{
    const struct serve_proto *p = engine_proto(&w->ew, ec);
    int progressed = 0;
    if (ec->phase == ENGINE_PHASE_LINGER) {
        if (!engine_conn_lingered(&w->ew, ec))
            close_conn(w, ec, ENGINE_CLOSE_DONE);
        return;
    }
    void *c = engine_conn_proto(&w->ew, ec, now);
    if (!c) {
        close_conn(w, ec, ENGINE_CLOSE_NO_MEMORY);
        return;
    }
    for (int step = 0; step < STEPS_PER_EVENT; step++) {
        enum io_result r;
        switch (p->want(c)) {
        case SERVE_WANT_READ:
            r = io_recv(ec->fd, p, c, now);
            if (r == IO_AGAIN || (r == IO_DRY && p->want(c) == SERVE_WANT_READ)) {
                settle(w, ec, now_ms, progressed || r == IO_DRY);
                return;
            }
            break;
        case SERVE_WANT_WRITE:
            r = io_send(ec->fd, p, c, now);
            if (r == IO_AGAIN || (r == IO_DRY && p->want(c) == SERVE_WANT_WRITE)) {
                settle(w, ec, now_ms, progressed || r == IO_DRY);
                return;
            }
            /* A finished response with nothing buffered: the next request
             * has surely not arrived yet, so don't try a read that fails. */
            if (r == IO_PROGRESS && p->want(c) == SERVE_WANT_READ && p->idle(c)) {
                settle(w, ec, now_ms, 1);
                return;
            }
            break;
        case SERVE_WANT_WAIT:
            begin_wait(w, ec, now_ms, progressed);
            return;
        case SERVE_WANT_CLOSE:
        default:
            end_conn(w, ec, engine_end_reason(&w->ew, c), now_ms);
            return;
        }
        if (r == IO_CLOSE) {
            close_conn(w, ec, engine_errno_reason(errno));
            return;
        }
        progressed = 1;
    }
    settle(w, ec, now_ms, progressed);
}

/* ---- accepting ----------------------------------------------------------- */

/* A crowd beyond select's reach is refused one by one: one line a second. */
static struct log_limit beyond_backend = LOG_LIMIT_INIT("connection refused: descriptor beyond the backend");

/* A new connection is read at once, before the loop watches it: a client
 * usually sends its request right after connecting, so the first recv mostly
 * finds it, and a connection answered and closed at once (Connection: close)
 * never costs an epoll_ctl. Only one that has sent nothing yet is watched.
 * In hand-off mode a thread does the reading, so the loop watches first. */
static void admit(struct worker *w, int fd, int listener, const struct sockaddr_storage *peer,
                  socklen_t peer_len, time_t now,
                  int64_t now_ms)
{
    struct server *srv = w->ew.srv;
    struct engine_conn *ec;
    if (!engine_admit(srv)) {
        engine_refuse(srv, fd, (unsigned)listener);
        return;
    }
    /* select cannot watch a descriptor >= FD_SETSIZE (loop_watch would refuse
     * it with ERANGE): the client is refused before it is read, rather than
     * served once and then left unwatched. */
    if (fd >= w->fd_limit) {
        log_limited(&beyond_backend, "connection refused: descriptor %d is beyond what %s can watch", fd,
                    w->backend);
        goto refuse;
    }
    if (!(ec = slab_take(&w->conns)))
        goto refuse;
    engine_conn_start(&w->ew, ec, fd, (unsigned)listener, (const struct sockaddr *)peer, peer_len, now_ms);
    w->by_fd[fd] = ec;
    if (fd > w->highest_fd)
        w->highest_fd = fd;
    w->live++;
    if (!w->hand_off)
        drive(w, ec, now, now_ms);
    else if (loop_watch(w->loop, fd, LOOP_READ) != 0)
        close_conn(w, ec, ENGINE_CLOSE_IO_ERROR);
    return;
refuse:
    engine_leave(srv);
    engine_refuse(srv, fd, (unsigned)listener);
}

/* The listener index of fd, or -1 when fd is not a listener. */
static int listener_of(const struct worker *w, int fd)
{
    for (int i = 0; i < w->ew.srv->cfg->listen_count; i++)
        if (w->ew.srv->listen_fd[w->index][i] == fd)
            return i;
    return -1;
}

static void watch_listeners(struct worker *w, int mask)
{
    for (int i = 0; i < w->ew.srv->cfg->listen_count; i++) {
        int fd = w->ew.srv->listen_fd[w->index][i];
        if (fd >= 0 && loop_watch(w->loop, fd, mask) != 0)
            log_syscall("loop_watch", "listener", errno);
    }
}

static void pause_listeners(struct worker *w, int64_t now_ms)
{
    watch_listeners(w, 0);
    w->listeners_paused = 1;
    timer_set(&w->timers, &w->pause_timer, now_ms + ENGINE_ACCEPT_PAUSE_MS);
}

/* Accepts up to `limit` pending connections. */
static void accept_ready(struct worker *w, int listener, int limit, time_t now, int64_t now_ms)
{
    int listen_fd = w->ew.srv->listen_fd[w->index][listener];
    for (int i = 0; i < limit; i++) {
        struct sockaddr_storage peer;
        socklen_t peer_len = sizeof peer;
        int fd = net_accept(listen_fd, 1, &peer, &peer_len);
        if (fd >= 0) {
            admit(w, fd, listener, &peer, peer_len, now, now_ms);
            continue;
        }
        switch (engine_accept_failed(errno)) {
        case ENGINE_ACCEPT_RETRY:
            continue;
        case ENGINE_ACCEPT_PAUSE:
            pause_listeners(w, now_ms);
            return;
        case ENGINE_ACCEPT_EMPTY:
            return;
        }
    }
}

/* ---- a graceful stop ----------------------------------------------------- */

/* Take what is already queued on the listeners, stop listening, close what
 * is idle and let every other connection finish what it has received, until
 * --drain-timeout. */
static void begin_drain(struct worker *w, time_t now, int64_t now_ms)
{
    struct server *srv = w->ew.srv;
    uint64_t ignored;
    if (read(w->wake_fd, &ignored, sizeof ignored) < 0 && errno != EAGAIN)
        log_syscall("read", "eventfd", errno);
    if (w->ew.draining)
        return;
    engine_begin_drain(&w->ew, now_ms);
    timer_set(&w->timers, &w->drain_timer, w->ew.drain_end);
    for (int i = 0; i < srv->cfg->listen_count; i++) {
        int fd = srv->listen_fd[w->index][i];
        if (fd < 0)
            continue;
        /* What waits in a queue that a successor shares is the successor's. */
        if (!atomic_load(&srv->accept_off))
            accept_ready(w, i, 1 << 20, now, now_ms);
        loop_watch(w->loop, fd, 0);
        /* A closed listener makes new clients fail fast instead of waiting
         * in a backlog nobody will accept from. The shared Unix listener is
         * closed by the server once every worker has stopped. */
        if (!srv->listen_shared[i]) {
            close(fd);
            srv->listen_fd[w->index][i] = -1;
        }
    }
    for (int fd = 0; fd <= w->highest_fd; fd++) {
        struct engine_conn *ec = conn_at(w, fd);
        if (!ec || ec->phase == ENGINE_PHASE_LINGER)
            continue;
        if (ec->proto && w->hand_off)
            engine_proto(&w->ew, ec)->rebind(ec->proto, &w->ew.ctx); /* a head a thread began: closed like an idle one */
        if (!ec->proto || w->hand_off) {
            close_conn(w, ec, ENGINE_CLOSE_STOP);
            continue;
        }
        engine_proto(&w->ew, ec)->drain(ec->proto, now);
        drive(w, ec, now, now_ms);
    }
}

static void cut_drain(struct worker *w)
{
    int cut = 0;
    for (int fd = 0; fd <= w->highest_fd; fd++) {
        if (conn_at(w, fd)) {
            close_conn(w, w->by_fd[fd], ENGINE_CLOSE_DRAIN_CUT);
            cut++;
        }
    }
    log_error("worker %d: --drain-timeout passed, %d connection%s cut", w->index, cut, cut == 1 ? "" : "s");
}

/* ---- the loop ------------------------------------------------------------ */

static void expire_timers(struct worker *w, int64_t now_ms)
{
    struct timer *t;
    while ((t = timer_expired(&w->timers, now_ms))) {
        if (t == &w->pause_timer) {
            w->listeners_paused = 0;
            if (!w->ew.draining && !atomic_load(&w->ew.srv->accept_off))
                watch_listeners(w, LOOP_READ);
        } else if (t == &w->drain_timer) {
            cut_drain(w);
        } else {
            struct engine_conn *ec = (struct engine_conn *)((char *)t - offsetof(struct engine_conn, timer));
            enum engine_close why = engine_conn_expired(&w->ew, ec, now_ms);
            if (why != ENGINE_CLOSE_COUNT)
                close_conn(w, ec, why);
        }
    }
}

/* ---- hand-off mode -------------------------------------------------------- */

/* A readable connection leaves the loop for a thread; its timer stops, as
 * the thread applies the deadline itself. */
static void lend(struct worker *w, struct engine_conn *ec)
{
    loop_watch(w->loop, ec->fd, 0);
    w->by_fd[ec->fd] = NULL;
    timer_cancel(&w->timers, &ec->timer);
    w->hand_off(w->model, ec);
}

/* A connection a thread closed, or one that waits again (a stop closes it,
 * with the protocol object moved back to this thread first). */
static void welcome_back(struct worker *w, struct engine_conn *ec)
{
    if (ec->fd < 0) {
        slab_give(&w->conns, ec);
        w->live--;
        return;
    }
    w->by_fd[ec->fd] = ec;
    if (w->ew.draining) {
        if (ec->phase != ENGINE_PHASE_LINGER && ec->proto)
            engine_proto(&w->ew, ec)->rebind(ec->proto, &w->ew.ctx);
        close_conn(w, ec, ENGINE_CLOSE_STOP);
        return;
    }
    if (loop_watch(w->loop, ec->fd, LOOP_READ) != 0)
        log_syscall("loop_watch", w->backend, errno);
    timer_set(&w->timers, &ec->timer,
              engine_deadline(&w->ew.timeouts, (enum engine_phase)ec->phase, ec->since_ms));
}

static void take_back(struct worker *w)
{
    uint64_t ignored;
    if (read(w->back_fd, &ignored, sizeof ignored) < 0 && errno != EAGAIN)
        log_syscall("read", "eventfd", errno);
    pthread_mutex_lock(&w->back_lock);
    struct engine_conn **given = w->back;
    int n = w->back_count;
    w->back = w->taking;
    w->taking = given;
    w->back_count = 0;
    pthread_mutex_unlock(&w->back_lock);
    for (int i = 0; i < n; i++)
        welcome_back(w, given[i]);
}

void reactor_give_back(struct reactor *r, struct engine_conn *ec)
{
    struct worker *w = &r->workers[0];
    uint64_t one = 1;
    pthread_mutex_lock(&w->back_lock);
    w->back[w->back_count++] = ec;
    pthread_mutex_unlock(&w->back_lock);
    if (write(w->back_fd, &one, sizeof one) != sizeof one)
        log_syscall("write", "eventfd", errno);
}

static void dispatch(struct worker *w, const struct loop_event *ev, time_t now, int64_t now_ms)
{
    if (ev->fd == w->wake_fd) {
        begin_drain(w, now, now_ms);
        return;
    }
    int listener = listener_of(w, ev->fd);
    if (listener >= 0) {
        if (atomic_load(&w->ew.srv->accept_off)) {
            /* The successor accepts from the shared queue (serve/handover.h). */
            watch_listeners(w, 0);
            w->listeners_paused = 1;
        } else if (!w->ew.draining && !w->listeners_paused) {
            accept_ready(w, listener, ACCEPT_BATCH, now, now_ms);
        }
        return;
    }
    if (w->hand_off && ev->fd == w->back_fd) {
        take_back(w);
        return;
    }
    struct engine_conn *ec = w->by_fd[ev->fd];
    if (!ec)
        return;
    if (ec->fd != ev->fd) {
        /* The wait descriptor: what the response waited for is done. */
        if (w->resumes_left == 0)
            return;
        w->resumes_left--;
        end_wait(w, ec);
        engine_proto(&w->ew, ec)->resume(ec->proto, now);
    }
    if (w->hand_off && ec->phase != ENGINE_PHASE_LINGER)
        lend(w, ec);
    else
        drive(w, ec, now, now_ms);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct loop_event events[EVENTS_PER_WAIT];
    watch_listeners(w, LOOP_READ);
    if (loop_watch(w->loop, w->wake_fd, LOOP_READ) != 0)
        log_syscall("loop_watch", "eventfd", errno);
    while (!w->ew.draining || w->live > 0) {
        if (w->ew.ctx.log.len)
            access_log_flush(&w->ew.ctx.log);
        int wait_ms = timer_wait_ms(&w->timers, timer_clock_ms(), 1000);
        int n = loop_wait(w->loop, events, EVENTS_PER_WAIT, wait_ms);
        if (n < 0) {
            log_syscall("loop_wait", w->backend, errno);
            break;
        }
        time_t now = serve_clock();
        int64_t now_ms = timer_clock_ms();
        w->resumes_left = RESUMES_PER_WAKE;
        for (int i = 0; i < n; i++)
            dispatch(w, &events[i], now, now_ms);
        expire_timers(w, now_ms);
        engine_tick(&w->ew, now); /* the wait above lasts a second at most */
    }
    access_log_flush(&w->ew.ctx.log);
    return NULL;
}

/* ---- start and stop ------------------------------------------------------ */

static void destroy_worker(struct worker *w)
{
    for (int fd = 0; w->by_fd && fd <= w->highest_fd; fd++)
        if (conn_at(w, fd))
            close_conn(w, w->by_fd[fd], ENGINE_CLOSE_STOP);
    slab_destroy(&w->conns);
    engine_worker_destroy(&w->ew);
    free(w->by_fd);
    free(w->back);
    free(w->taking);
    if (w->loop)
        loop_destroy(w->loop);
    if (w->wake_fd >= 0)
        close(w->wake_fd);
    if (w->back_fd >= 0) {
        close(w->back_fd);
        pthread_mutex_destroy(&w->back_lock);
    }
}

/* The hand-off mode's return path: an eventfd the loop watches, and room
 * for every connection at once (each is given back once per turn). */
static int init_hand_off(struct worker *w, struct server *srv)
{
    size_t cap = (size_t)srv->cfg->max_conns;
    w->back = calloc(cap, sizeof *w->back);
    w->taking = calloc(cap, sizeof *w->taking);
    if (!w->back || !w->taking) {
        log_syscall("calloc", "hand-off queue", ENOMEM);
        return -1;
    }
    w->back_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->back_fd < 0) {
        log_syscall("eventfd", "hand-off", errno);
        return -1;
    }
    pthread_mutex_init(&w->back_lock, NULL);
    if (loop_watch(w->loop, w->back_fd, LOOP_READ) != 0) {
        log_syscall("loop_watch", "hand-off eventfd", errno);
        return -1;
    }
    return 0;
}

static int init_worker(struct worker *w, struct server *srv, int index, const char *backend)
{
    w->index = index;
    w->backend = backend;
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    timer_wheel_init(&w->timers, timer_clock_ms());
    timer_init(&w->pause_timer);
    timer_init(&w->drain_timer);
    slab_init(&w->conns, sizeof(struct engine_conn), SLAB_CONNS);
    if (engine_worker_init(&w->ew, srv) != 0)
        return -1;
    w->ew.timers = &w->timers;
    if (w->wake_fd < 0) {
        log_syscall("eventfd", NULL, errno);
        return -1;
    }
    int backend_limit = loop_backend_fd_limit(backend);
    w->fd_limit = backend_limit > 0 && backend_limit < srv->max_fds ? backend_limit : srv->max_fds;
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
    return w->hand_off ? init_hand_off(w, srv) : 0;
}

struct reactor *reactor_create(struct server *srv, const char *backend, int workers,
                               void (*lender)(void *model, struct engine_conn *ec), void *model)
{
    struct reactor *r = calloc(1, sizeof *r);
    if (!r || !(r->workers = calloc((size_t)workers, sizeof *r->workers))) {
        log_syscall("calloc", "workers", ENOMEM);
        free(r);
        return NULL;
    }
    for (int i = 0; i < workers; i++) {
        struct worker *w = &r->workers[i];
        w->back_fd = -1;
        w->hand_off = lender;
        w->model = model;
        int err = init_worker(w, srv, i, backend) != 0 ? -1 : pthread_create(&w->thread, NULL, worker_main, w);
        if (err != 0) {
            if (err > 0)
                log_syscall("pthread_create", "worker", err);
            destroy_worker(w);
            reactor_destroy(r);
            return NULL;
        }
        r->count++;
    }
    return r;
}

void reactor_destroy(struct reactor *r)
{
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
}

int reactor_start(struct server *srv, const char *backend)
{
    srv->model_state = reactor_create(srv, backend, srv->cfg->workers, NULL, NULL);
    return srv->model_state ? 0 : -1;
}

void reactor_stop(struct server *srv)
{
    reactor_destroy(srv->model_state);
    srv->model_state = NULL;
}
