#include "serve/uring.h"

#ifndef DUCT_HAVE_URING

#include <stdio.h>

/* The model stays in the table so that asking for it says why it cannot run,
 * rather than "unknown model". */
int uring_start(struct server *srv)
{
    (void)srv;
    fprintf(stderr, "duct serve: --model uring: this duct was built without liburing\n");
    return -1;
}

void uring_stop(struct server *srv)
{
    (void)srv;
}

#else

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/sock.h"
#include "serve/context.h"
#include "serve/io.h"
#include "serve/log.h"

/* Every live connection keeps one operation in flight, so completions can
 * outnumber submissions by far: the completion queue is sized for a burst of
 * thousands (the kernel keeps any overflow and hands it over later). */
#define SQ_ENTRIES 512
#define CQ_ENTRIES 8192
/* Completions handled per wake-up before the new submissions go out. */
#define CQES_PER_WAKE 256
/* Synchronous sendfile calls per completion: past it a connection goes to
 * the back of the queue (a POLLOUT poll) so that one fast client of a large
 * file cannot hold the worker. */
#define STEPS_PER_EVENT 32
/* After EMFILE/ENFILE the listeners rest this long instead of spinning. */
#define ACCEPT_PAUSE_MS 100

/* What a completion's user_data points at: the first member of a connection
 * or of a listener slot, or one of the worker's own tokens. user_data 0 is a
 * completion nobody waits for (a cancel's own). */
enum token_kind { TOKEN_CONN = 1, TOKEN_ACCEPT, TOKEN_WAKE, TOKEN_PAUSE };

struct token {
    enum token_kind kind;
};

enum op { OP_NONE, OP_RECV, OP_SEND, OP_POLL };

struct uconn {
    struct token tok; /* first: user_data of this connection's operations */
    int fd;
    enum op op;   /* the one operation in flight, if any */
    int closing;  /* ended early: freed when the operation in flight completes */
    int drained;  /* the protocol's drain was called */
    time_t since; /* start of the current wait (for the timeouts) */
    struct msghdr msg; /* the kernel may read these until the sendmsg completes */
    struct iovec iov[2];
    struct uconn *prev, *next; /* the worker's connections; next also links the free list */
    max_align_t conn[]; /* the protocol's connection object (proto->conn_size bytes) */
};

struct ulistener {
    struct token tok;
    int index;  /* address i: srv->listen_fd[worker][i] */
    int armed;  /* an accept is in flight */
    int paused; /* out of descriptors: waits for the pause timer */
    struct sockaddr_storage peer; /* written by the kernel when the accept completes */
    socklen_t peer_len;
};

struct worker {
    struct server *srv;
    const struct serve_proto *proto;
    int index;
    pthread_t thread;
    int ring_ready;
    int ring_disabled; /* made disabled, enabled by the worker thread */
    int ring_fd_registered;
    int enable_failed;
    sem_t *started; /* posted once the worker has enabled its ring, or failed to */
    int abandoned; /* the loop failed with operations in flight: leak, never free */
    struct io_uring ring;
    int wake_fd; /* eventfd: written once to ask for a graceful stop */
    struct token wake_tok, pause_tok;
    struct __kernel_timespec pause_ts;
    int pause_armed;
    int pending; /* listener, wake and pause operations in flight */
    struct ulistener listeners[SERVE_MAX_LISTEN];
    struct uconn *conns, *free_conns;
    int live; /* connections not yet freed, closing ones included */
    int draining;
    time_t drain_deadline;
    time_t last_sweep;
    struct serve_ctx ctx;
};

struct uring_state {
    int count;   /* workers initialised */
    int running; /* workers whose thread runs */
    struct worker *workers;
    sem_t started;
};

/* A free submission slot; a full queue is handed to the kernel first. NULL
 * only when the ring is broken, which the caller treats as a failed op. */
static struct io_uring_sqe *get_sqe(struct worker *w)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
    if (sqe)
        return sqe;
    int ret = io_uring_submit(&w->ring);
    if (ret < 0)
        log_syscall("io_uring_submit", "full submission queue", -ret);
    sqe = io_uring_get_sqe(&w->ring);
    if (!sqe)
        log_syscall("io_uring_get_sqe", NULL, EBUSY);
    return sqe;
}

static void cancel(struct worker *w, struct token *t)
{
    struct io_uring_sqe *sqe = get_sqe(w);
    if (!sqe)
        return;
    io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)t, 0);
    io_uring_sqe_set_data64(sqe, 0);
}

/* ---- connections ---------------------------------------------------- */

static void free_conn(struct worker *w, struct uconn *c)
{
    w->proto->release(c->conn);
    if (close(c->fd) != 0 && errno != EINTR)
        log_syscall("close", "connection", errno);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->next = w->free_conns;
    w->free_conns = c;
    w->live--;
    atomic_fetch_sub(&w->srv->live, 1);
}

/* With nothing in flight the connection goes at once. Otherwise the kernel
 * may still write into its buffer: cancel the operation, and shut the socket
 * down in case it is already past cancelling; it is freed on the completion. */
static void close_conn(struct worker *w, struct uconn *c)
{
    if (c->op == OP_NONE) {
        free_conn(w, c);
        return;
    }
    if (c->closing)
        return;
    c->closing = 1;
    cancel(w, &c->tok);
    if (shutdown(c->fd, SHUT_RDWR) != 0 && errno != ENOTCONN)
        log_syscall("shutdown", "connection", errno);
}

static void arm(struct io_uring_sqe *sqe, struct uconn *c, enum op op)
{
    io_uring_sqe_set_data(sqe, &c->tok);
    c->op = op;
}

static void submit_recv(struct worker *w, struct uconn *c)
{
    size_t room;
    char *space = w->proto->read_space(c->conn, &room);
    struct io_uring_sqe *sqe = space ? get_sqe(w) : NULL;
    if (!sqe) {
        close_conn(w, c); /* no buffer (out of memory) or a broken ring */
        return;
    }
    io_uring_prep_recv(sqe, c->fd, space, room, 0);
    arm(sqe, c, OP_RECV);
}

/* The head, and a memory body with it in one sendmsg. A head followed by a
 * file is held back with MSG_MORE so that it leaves with the file's first
 * bytes in one segment. */
static void submit_send(struct worker *w, struct uconn *c)
{
    const struct http_output *o = w->proto->output(c->conn);
    struct io_uring_sqe *sqe = get_sqe(w);
    if (!sqe) {
        close_conn(w, c);
        return;
    }
    if (o->head_len > 0 && o->file_len > 0) {
        io_uring_prep_send(sqe, c->fd, o->head, o->head_len, MSG_NOSIGNAL | MSG_MORE);
    } else {
        c->iov[0] = (struct iovec){(void *)o->head, o->head_len};
        c->iov[1] = (struct iovec){(void *)o->data, o->data_len};
        c->msg = (struct msghdr){.msg_iov = c->iov, .msg_iovlen = 2};
        io_uring_prep_sendmsg(sqe, c->fd, &c->msg, MSG_NOSIGNAL);
    }
    arm(sqe, c, OP_SEND);
}

static void submit_poll(struct worker *w, struct uconn *c, unsigned mask)
{
    struct io_uring_sqe *sqe = get_sqe(w);
    if (!sqe) {
        close_conn(w, c);
        return;
    }
    io_uring_prep_poll_add(sqe, c->fd, mask);
    arm(sqe, c, OP_POLL);
}

static int file_only(const struct serve_proto *p, const void *conn)
{
    const struct http_output *o = p->output(conn);
    return o->head_len == 0 && o->data_len == 0 && o->file_len > 0;
}

/* Runs a connection with nothing in flight until it needs an operation,
 * then submits it. io_uring has no sendfile: a file body goes out by
 * sendfile(2) on the non-blocking socket, right here, and a full socket is
 * waited for with a POLLOUT poll. */
static void drive(struct worker *w, struct uconn *c, time_t now)
{
    const struct serve_proto *p = w->proto;
    if (w->draining && !c->drained) {
        c->drained = 1;
        p->drain(c->conn, now);
    }
    for (int step = 0;; step++) {
        enum http_want want = p->want(c->conn);
        if (want == HTTP_WANT_READ) {
            submit_recv(w, c);
            return;
        }
        if (want != HTTP_WANT_WRITE) {
            close_conn(w, c);
            return;
        }
        if (!file_only(p, c->conn)) {
            submit_send(w, c);
            return;
        }
        enum io_result r = step < STEPS_PER_EVENT ? io_send(c->fd, p, c->conn, now) : IO_AGAIN;
        if (r == IO_AGAIN) {
            submit_poll(w, c, POLLOUT);
            return;
        }
        if (r == IO_CLOSE) { /* an error, or a file that shrank (io_send aborted it) */
            close_conn(w, c);
            return;
        }
        c->since = now; /* the send timeout runs from the last progress */
    }
}

enum next_step { NEXT_DRIVE, NEXT_CLOSE, NEXT_POLL_IN, NEXT_POLL_OUT };

/* What an operation's failure means. A cancelled operation (the drain
 * cancels reads) only needs driving again; EAGAIN, which a socket
 * operation should never report, is waited out with a poll, never retried
 * at once. Resets and the like end the connection without a log line:
 * clients do that all the time. */
static enum next_step failed(int err, enum next_step on_again)
{
    if (err == ECANCELED || err == EINTR)
        return NEXT_DRIVE;
    if (err == EAGAIN)
        return on_again;
    return NEXT_CLOSE;
}

static enum next_step recv_done(const struct serve_proto *p, struct uconn *c, int res, time_t now)
{
    if (res < 0)
        return failed(-res, NEXT_POLL_IN);
    if (res > 0 && p->idle(c->conn))
        c->since = now; /* a new request head starts: the header timeout runs from here */
    p->received(c->conn, (size_t)res, now);
    return NEXT_DRIVE;
}

static enum next_step send_done(const struct serve_proto *p, struct uconn *c, int res, time_t now)
{
    if (res < 0)
        return failed(-res, NEXT_POLL_OUT);
    if (res == 0)
        return NEXT_CLOSE; /* nothing taken from a non-empty send: do not loop on it */
    c->since = now;
    p->sent(c->conn, (size_t)res, now);
    return NEXT_DRIVE;
}

static void conn_done(struct worker *w, struct uconn *c, int res, time_t now)
{
    enum op op = c->op;
    c->op = OP_NONE;
    if (c->closing) {
        free_conn(w, c);
        return;
    }
    enum next_step next = NEXT_DRIVE;
    if (op == OP_RECV)
        next = recv_done(w->proto, c, res, now);
    else if (op == OP_SEND)
        next = send_done(w->proto, c, res, now);
    else if (res < 0) /* a poll reports readiness, errors included, as a mask */
        next = failed(-res, NEXT_CLOSE);
    if (next == NEXT_DRIVE)
        drive(w, c, now);
    else if (next == NEXT_POLL_IN || next == NEXT_POLL_OUT)
        submit_poll(w, c, next == NEXT_POLL_IN ? POLLIN : POLLOUT);
    else
        close_conn(w, c);
}

static struct uconn *new_conn(struct worker *w)
{
    struct uconn *c = w->free_conns;
    if (c) {
        w->free_conns = c->next;
        return c;
    }
    c = malloc(sizeof *c + w->proto->conn_size);
    if (!c)
        log_syscall("malloc", "connection", ENOMEM);
    return c;
}

static void admit(struct worker *w, int fd, const struct ulistener *l, time_t now)
{
    char host[48];
    struct uconn *c = NULL;
    if (atomic_fetch_add(&w->srv->live, 1) >= w->srv->cfg->max_conns || !(c = new_conn(w))) {
        atomic_fetch_sub(&w->srv->live, 1);
        if (close(fd) != 0 && errno != EINTR)
            log_syscall("close", "refused connection", errno);
        return;
    }
    if (net_set_nodelay(fd) != 0)
        log_syscall("setsockopt", "TCP_NODELAY", errno);
    net_addr_host((const struct sockaddr *)&l->peer, l->peer_len, host, sizeof host);
    w->proto->init(c->conn, &w->ctx, host);
    c->tok.kind = TOKEN_CONN;
    c->fd = fd;
    c->op = OP_NONE;
    c->closing = c->drained = 0;
    c->since = now;
    c->prev = NULL;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->live++;
    drive(w, c, now);
}

/* ---- listeners ------------------------------------------------------ */

static void arm_pause_timer(struct worker *w)
{
    if (w->pause_armed)
        return;
    struct io_uring_sqe *sqe = get_sqe(w);
    if (!sqe)
        return;
    w->pause_ts = (struct __kernel_timespec){.tv_nsec = ACCEPT_PAUSE_MS * 1000000L};
    io_uring_prep_timeout(sqe, &w->pause_ts, 0, 0);
    io_uring_sqe_set_data(sqe, &w->pause_tok);
    w->pause_armed = 1;
    w->pending++;
}

/* The listener rests until the pause timer fires instead of failing the
 * same accept again at once (OpenBSD httpd's back-off). */
static void pause_listener(struct worker *w, struct ulistener *l)
{
    l->paused = 1;
    arm_pause_timer(w);
}

static void arm_accept(struct worker *w, struct ulistener *l)
{
    int fd = w->srv->listen_fd[w->index][l->index];
    if (fd < 0 || l->armed || l->paused || w->draining)
        return;
    struct io_uring_sqe *sqe = get_sqe(w);
    if (!sqe) {
        pause_listener(w, l);
        return;
    }
    l->peer_len = sizeof l->peer;
    io_uring_prep_accept(sqe, fd, (struct sockaddr *)&l->peer, &l->peer_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data(sqe, &l->tok);
    l->armed = 1;
    w->pending++;
}

static void accept_done(struct worker *w, struct ulistener *l, int res, time_t now)
{
    l->armed = 0;
    w->pending--;
    if (res >= 0) {
        admit(w, res, l, now);
    } else if (res == -ECANCELED) {
        return; /* the drain stopped this listener */
    } else if (res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM) {
        log_syscall("IORING_OP_ACCEPT", "listener paused for 100 ms", -res);
        pause_listener(w, l);
    } else if (res != -EINTR && res != -ECONNABORTED && res != -EPROTO) {
        /* Unexpected, and perhaps lasting: rest too rather than spin on it. */
        log_syscall("IORING_OP_ACCEPT", "listener paused for 100 ms", -res);
        pause_listener(w, l);
    }
    arm_accept(w, l);
}

static void pause_done(struct worker *w)
{
    w->pause_armed = 0;
    w->pending--;
    for (int i = 0; i < w->srv->cfg->listen_count; i++) {
        w->listeners[i].paused = 0;
        arm_accept(w, &w->listeners[i]);
    }
}

static void arm_wake(struct worker *w)
{
    struct io_uring_sqe *sqe = get_sqe(w);
    if (!sqe)
        return;
    io_uring_prep_poll_add(sqe, w->wake_fd, POLLIN);
    io_uring_sqe_set_data(sqe, &w->wake_tok);
    w->pending++;
}

/* ---- graceful stop and timeouts ------------------------------------- */

/* Stop accepting, and let every connection finish what it has received. A
 * closed listener makes new clients fail fast instead of waiting in a
 * backlog nobody accepts from; its accept holds the socket open until it is
 * cancelled. The shared Unix listener is closed by the server once every
 * worker has stopped. Reads are cancelled, since the kernel may write into
 * a buffer that the protocol's drain could give back; each connection is drained
 * when its operation completes (see drive). */
static void begin_drain(struct worker *w, time_t now)
{
    if (w->draining)
        return;
    w->draining = 1;
    w->drain_deadline = now + w->srv->cfg->drain_timeout;
    for (int i = 0; i < w->srv->cfg->listen_count; i++) {
        struct ulistener *l = &w->listeners[i];
        int *fd = &w->srv->listen_fd[w->index][i];
        if (l->armed)
            cancel(w, &l->tok);
        if (*fd >= 0 && !w->srv->listen_shared[i]) {
            if (close(*fd) != 0 && errno != EINTR)
                log_syscall("close", "listener", errno);
            *fd = -1;
        }
    }
    for (struct uconn *c = w->conns; c; c = c->next)
        if (!c->closing && c->op != OP_NONE && w->proto->want(c->conn) == HTTP_WANT_READ)
            cancel(w, &c->tok);
}

static void wake_done(struct worker *w, int res, time_t now)
{
    w->pending--;
    if (res < 0)
        log_syscall("IORING_OP_POLL_ADD", "eventfd", -res);
    begin_drain(w, now); /* only uring_stop writes the eventfd */
}

/* Timeouts, checked once a second: a slow head (slowloris), an idle
 * keep-alive connection, a client that stopped reading. */
static void sweep(struct worker *w, time_t now)
{
    const struct serve_config *cfg = w->srv->cfg;
    struct uconn *next;
    for (struct uconn *c = w->conns; c; c = next) {
        next = c->next;
        if (c->closing)
            continue;
        int limit;
        if (w->proto->want(c->conn) == HTTP_WANT_WRITE)
            limit = cfg->send_timeout;
        else
            limit = w->proto->idle(c->conn) ? cfg->idle_timeout : cfg->header_timeout;
        if (now - c->since >= limit || (w->draining && now >= w->drain_deadline))
            close_conn(w, c);
    }
}

/* ---- the loop ------------------------------------------------------- */

static void complete(struct worker *w, struct token *t, int res, time_t now)
{
    switch (t->kind) {
    case TOKEN_CONN:
        conn_done(w, (struct uconn *)t, res, now);
        break;
    case TOKEN_ACCEPT:
        accept_done(w, (struct ulistener *)t, res, now);
        break;
    case TOKEN_WAKE:
        wake_done(w, res, now);
        break;
    case TOKEN_PAUSE:
        pause_done(w);
        break;
    }
}

/* Submits what the last round queued, waits up to a second for one
 * completion, and handles up to CQES_PER_WAKE of them. */
static int wait_and_reap(struct worker *w)
{
    struct io_uring_cqe *cqe;
    struct __kernel_timespec ts = {.tv_sec = 1};
    int ret = io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL);
    if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
        log_syscall("io_uring_submit_and_wait_timeout", NULL, -ret);
        return -1;
    }
    time_t now = serve_clock();
    for (int n = 0; n < CQES_PER_WAKE && io_uring_peek_cqe(&w->ring, &cqe) == 0; n++) {
        uint64_t data = io_uring_cqe_get_data64(cqe);
        int res = cqe->res;
        io_uring_cqe_seen(&w->ring, cqe);
        if (data)
            complete(w, (struct token *)(uintptr_t)data, res, now);
    }
    if (now != w->last_sweep) {
        w->last_sweep = now;
        sweep(w, now);
    }
    return 0;
}

/* In the worker's own thread: the ring's single issuer. Registering the
 * ring's descriptor spares io_uring_enter a descriptor lookup per call; a
 * kernel without it (before 5.18) just goes without. */
static int enable_ring(struct worker *w)
{
    if (w->ring_disabled) {
        /* liburing 2.3 declares io_uring_enable_rings but does not export it. */
        int ret = io_uring_register(w->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
        if (ret < 0) {
            log_syscall("io_uring_register", "IORING_REGISTER_ENABLE_RINGS", -ret);
            return -1;
        }
        w->ring_disabled = 0;
    }
    w->ring_fd_registered = io_uring_register_ring_fd(&w->ring) == 1;
    return 0;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    w->enable_failed = enable_ring(w) != 0;
    if (sem_post(w->started) != 0)
        log_syscall("sem_post", "worker started", errno);
    if (w->enable_failed)
        return NULL;
    for (int i = 0; i < w->srv->cfg->listen_count; i++)
        arm_accept(w, &w->listeners[i]);
    arm_wake(w);
    while (!w->draining || w->live > 0 || w->pending > 0) {
        if (w->ctx.log.len)
            access_log_flush(&w->ctx.log);
        if (wait_and_reap(w) != 0) {
            w->abandoned = w->live > 0 || w->pending > 0;
            break;
        }
    }
    access_log_flush(&w->ctx.log);
    /* A registered ring descriptor belongs to this thread: give it back here. */
    int ret = w->ring_fd_registered ? io_uring_unregister_ring_fd(&w->ring) : 0;
    if (ret < 0)
        log_syscall("io_uring_unregister_ring_fd", NULL, -ret);
    return NULL;
}

/* ---- start and stop ------------------------------------------------- */

static void destroy_worker(struct worker *w)
{
    if (w->ring_ready)
        io_uring_queue_exit(&w->ring);
    /* Operations the broken loop left in flight may still write into the
     * connections' buffers: leak them rather than free them (the process is
     * exiting). */
    if (!w->abandoned) {
        while (w->conns)
            free_conn(w, w->conns);
        while (w->free_conns) {
            struct uconn *c = w->free_conns;
            w->free_conns = c->next;
            free(c);
        }
        serve_ctx_destroy(&w->ctx);
    }
    if (w->wake_fd >= 0 && close(w->wake_fd) != 0)
        log_syscall("close", "eventfd", errno);
}

/* The ring is made here, so that a refusal fails the start, but used only by
 * its worker: created disabled, it is enabled by that thread, which lets the
 * kernel run completions only when the worker asks for them (DEFER_TASKRUN)
 * instead of interrupting it. Kernels before 6.1 refuse those flags with
 * EINVAL, and get a plain ring. */
static int init_ring(struct worker *w)
{
    struct io_uring_params p = {
        .flags = IORING_SETUP_CQSIZE | IORING_SETUP_R_DISABLED | IORING_SETUP_SINGLE_ISSUER |
                 IORING_SETUP_DEFER_TASKRUN,
        .cq_entries = CQ_ENTRIES,
    };
    int ret = io_uring_queue_init_params(SQ_ENTRIES, &w->ring, &p);
    if (ret == -EINVAL) {
        p = (struct io_uring_params){.flags = IORING_SETUP_CQSIZE, .cq_entries = CQ_ENTRIES};
        ret = io_uring_queue_init_params(SQ_ENTRIES, &w->ring, &p);
    }
    if (ret < 0) {
        fprintf(stderr, "duct serve: --model uring: io_uring_queue_init_params: %s (the kernel refuses io_uring; "
                        "--model epoll does without it)\n", strerror(-ret));
        return -1;
    }
    w->ring_ready = 1;
    w->ring_disabled = (p.flags & IORING_SETUP_R_DISABLED) != 0;
    return 0;
}

static int init_worker(struct worker *w, struct server *srv, int index)
{
    memset(w, 0, sizeof *w);
    w->srv = srv;
    w->proto = srv->proto;
    w->index = index;
    w->wake_tok.kind = TOKEN_WAKE;
    w->pause_tok.kind = TOKEN_PAUSE;
    for (int i = 0; i < SERVE_MAX_LISTEN; i++)
        w->listeners[i] = (struct ulistener){.tok.kind = TOKEN_ACCEPT, .index = i};
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->wake_fd < 0) {
        log_syscall("eventfd", NULL, errno);
        return -1;
    }
    if (init_ring(w) != 0)
        return -1;
    return serve_ctx_init(&w->ctx, srv);
}

/* Waits until every worker has enabled its ring: only then has the start
 * succeeded. */
static int await_workers(struct uring_state *u)
{
    int any_failed = 0;
    for (int i = 0; i < u->running; i++) {
        while (sem_wait(&u->started) != 0)
            if (errno != EINTR) {
                log_syscall("sem_wait", "worker started", errno);
                return -1;
            }
    }
    for (int i = 0; i < u->running; i++)
        any_failed |= u->workers[i].enable_failed;
    return any_failed ? -1 : 0;
}

/* Every ring is set up before any thread starts, so that a kernel refusing
 * io_uring fails the start with one line and nothing to undo but memory. */
int uring_start(struct server *srv)
{
    struct uring_state *u = calloc(1, sizeof *u);
    if (!u || !(u->workers = calloc((size_t)srv->cfg->workers, sizeof *u->workers))) {
        log_syscall("calloc", "uring workers", ENOMEM);
        free(u);
        return -1;
    }
    if (sem_init(&u->started, 0, 0) != 0) {
        log_syscall("sem_init", "uring workers", errno);
        free(u->workers);
        free(u);
        return -1;
    }
    srv->model_state = u;
    for (int i = 0; i < srv->cfg->workers; i++) {
        u->count++;
        if (init_worker(&u->workers[i], srv, i) != 0)
            return -1;
        u->workers[i].started = &u->started;
    }
    for (int i = 0; i < u->count; i++) {
        int err = pthread_create(&u->workers[i].thread, NULL, worker_main, &u->workers[i]);
        if (err != 0) {
            log_syscall("pthread_create", "worker", err);
            return -1;
        }
        u->running++;
    }
    return await_workers(u);
}

void uring_stop(struct server *srv)
{
    struct uring_state *u = srv->model_state;
    if (!u)
        return;
    uint64_t one = 1;
    for (int i = 0; i < u->running; i++)
        if (write(u->workers[i].wake_fd, &one, sizeof one) != sizeof one)
            log_syscall("write", "eventfd", errno);
    for (int i = 0; i < u->running; i++) {
        int err = pthread_join(u->workers[i].thread, NULL);
        if (err != 0)
            log_syscall("pthread_join", "worker", err);
    }
    int abandoned = 0;
    for (int i = 0; i < u->count; i++) {
        destroy_worker(&u->workers[i]);
        abandoned |= u->workers[i].abandoned;
    }
    if (!abandoned) /* the kernel may still write into an abandoned worker's listener slots */
        free(u->workers);
    if (sem_destroy(&u->started) != 0)
        log_syscall("sem_destroy", "uring workers", errno);
    free(u);
    srv->model_state = NULL;
}

#endif
