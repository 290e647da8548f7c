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

#include "loop/timer.h"
#include "net/sock.h"
#include "serve/engine.h"
#include "serve/io.h"
#include "serve/log.h"
#include "serve/slab.h"

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
/* Connections are carved from slabs of this many (no allocator header each). */
#define SLAB_CONNS 128

/* What a completion's user_data points at: the first member of a connection
 * or of a listener slot, or one of the worker's own tokens. user_data 0 is a
 * completion nobody waits for (a cancel's own). */
enum token_kind { TOKEN_CONN = 1, TOKEN_READER, TOKEN_ACCEPT, TOKEN_WAKE };

struct token {
    uint8_t kind;
};

enum op { OP_NONE, OP_RECV, OP_SEND, OP_POLL, OP_WAIT };

/* A connection reads with a recv that takes a buffer from the worker's
 * provided-buffer ring only when bytes arrive, so an idle connection pins no
 * memory: its reader. Until its first answer the reader is a one-shot recv,
 * so that a connection answered and closed has nothing left to cancel; once
 * it has gone idle (a keep-alive client) it is a multishot recv, kept armed
 * across its requests, so that a request costs no submission to read. The
 * bytes are copied into the protocol object when it wants to read; bytes
 * that come while it writes (a pipelining client) wait in their buffers,
 * the connection's stash, and the recv is cancelled until the stash has
 * been taken, so one client holds few buffers. The
 * ring is small (256 KiB a worker, every buffer touched in turn): when a
 * burst finds it empty, the connection reads the plain way (a recv into the
 * object, or a poll while it is idle) until its next idle spell. */
#define IDLE_BUFS 128
#define IDLE_BUF_SIZE 2048
#define IDLE_BUF_GROUP 0
#define NO_BUF 0xffff

/* An idle connection holds no protocol object and no buffer of its own. */
struct uconn {
    struct token tok;  /* first: user_data of this connection's operations */
    uint8_t op;        /* the one operation in flight besides the reader, if any */
    uint8_t closing;   /* ended early: closed when nothing is in flight any more */
    uint8_t why;       /* enum engine_close, while closing */
    uint8_t drained;   /* the protocol object has seen the stop */
    struct token reader_tok; /* user_data of the reader */
    uint8_t reading;   /* the reader is armed */
    uint8_t kept;      /* it has gone idle once: a keep-alive client, read with a multishot recv */
    uint8_t starved;   /* the ring ran dry: read the plain way until idle */
    uint8_t eof;       /* the peer's end of input, behind the stash */
    uint16_t stash_head, stash_tail; /* buffers read ahead of the protocol, oldest first (NO_BUF: none) */
    uint16_t stash_taken;            /* bytes of the oldest already handed over */
    struct engine_conn ec;
    struct msghdr msg; /* the kernel may read these until the sendmsg completes */
    struct iovec iov[2];
    struct uconn *prev, *next; /* the worker's connections */
};

/* A listener keeps one multishot accept armed, which completes once per
 * connection and stays armed while its completions say IORING_CQE_F_MORE:
 * a burst of connections is taken in one wait instead of one a loop round.
 * It gives the kernel no address buffer: every completion would share it,
 * and the kernel may overwrite it before the last one is read. The peer is
 * asked for (getpeername) only where something reads it (wants_peer). */
struct ulistener {
    struct token tok;
    int index;      /* address i: srv->listen_fd[worker][i] */
    int armed;      /* an accept is in flight */
    int paused;     /* out of descriptors: waits for the pause timer */
    int single;     /* the kernel refused multishot accept (before 5.19): one accept at a time */
    int wants_peer; /* an access log or a protocol layer reads the peer's address */
};

struct worker {
    struct engine_worker ew;
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
    struct token wake_tok;
    int pending; /* listener and wake operations in flight */
    struct ulistener listeners[SERVE_MAX_LISTEN];
    struct uconn *conns;    /* the live ones, for a graceful stop */
    struct slab_set records;
    int live; /* connections not yet freed, closing ones included */
    struct timer pause_timer; /* resumes paused listeners */
    struct timer drain_timer; /* cuts what a graceful stop has left */
    struct timer_wheel timers;
    struct io_uring_buf_ring *idle_ring; /* NULL: the kernel has none; connections read the plain way */
    char *idle_bufs;                     /* IDLE_BUFS x IDLE_BUF_SIZE, lent to the kernel */
    int no_multishot;                    /* the kernel refused a multishot recv (before 6.0) */
    uint16_t stash_next[IDLE_BUFS];      /* a stashed buffer's successor in its connection's stash */
    uint16_t stash_len[IDLE_BUFS];       /* the bytes a stashed buffer holds */
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

/* The close goes through the ring with the next submission, which the loop
 * makes anyway: a connection answered and closed costs no close(2) of its
 * own. Nothing of this connection is in flight any more, and the descriptor
 * number cannot be reused before the close has run. */
static void drop_stash(struct worker *w, struct uconn *c);

static void free_conn(struct worker *w, struct uconn *c, enum engine_close why)
{
    struct io_uring_sqe *sqe = get_sqe(w);
    drop_stash(w, c);
    engine_conn_forget(&w->ew, &c->ec, why);
    if (sqe) {
        io_uring_prep_close(sqe, c->ec.fd);
        io_uring_sqe_set_data64(sqe, 0);
    } else if (close(c->ec.fd) != 0 && errno != EINTR) {
        log_syscall("close", "connection", errno);
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    slab_give(&w->records, c);
    w->live--;
}

/* With nothing in flight the connection goes at once. Otherwise the kernel
 * may still write into its buffer: cancel what is in flight, and shut the
 * socket down in case it is already past cancelling; it is closed on the
 * last completion. */
static void close_conn(struct worker *w, struct uconn *c, enum engine_close why)
{
    if (c->op == OP_NONE && !c->reading) {
        free_conn(w, c, why);
        return;
    }
    if (c->closing)
        return;
    c->closing = 1;
    c->why = (uint8_t)why;
    if (c->op != OP_NONE)
        cancel(w, &c->tok);
    if (c->reading)
        cancel(w, &c->reader_tok);
    if (shutdown(c->ec.fd, SHUT_RDWR) != 0 && errno != ENOTCONN)
        log_syscall("shutdown", "connection", errno);
}

static void arm(struct io_uring_sqe *sqe, struct uconn *c, enum op op)
{
    io_uring_sqe_set_data(sqe, &c->tok);
    c->op = (uint8_t)op;
}

static void submit_recv(struct worker *w, struct uconn *c)
{
    size_t room;
    char *space = engine_proto(&w->ew, &c->ec)->read_space(c->ec.proto, &room);
    struct io_uring_sqe *sqe = space ? get_sqe(w) : NULL;
    if (!sqe) {
        close_conn(w, c, space ? ENGINE_CLOSE_IO_ERROR : ENGINE_CLOSE_NO_MEMORY);
        return;
    }
    io_uring_prep_recv(sqe, c->ec.fd, space, room, 0);
    arm(sqe, c, OP_RECV);
}

/* The head, and a memory body with it in one sendmsg. A head followed by a
 * file is held back with MSG_MORE so that it leaves with the file's first
 * bytes in one segment. */
static void submit_send(struct worker *w, struct uconn *c, const struct serve_output *o)
{
    struct io_uring_sqe *sqe = get_sqe(w);
    if (!sqe) {
        close_conn(w, c, ENGINE_CLOSE_IO_ERROR);
        return;
    }
    if (o->head_len > 0 && o->file_len > 0) {
        io_uring_prep_send(sqe, c->ec.fd, o->head, o->head_len, MSG_NOSIGNAL | MSG_MORE);
    } else {
        c->iov[0] = (struct iovec){(void *)o->head, o->head_len};
        c->iov[1] = (struct iovec){(void *)o->data, o->data_len};
        c->msg = (struct msghdr){.msg_iov = c->iov, .msg_iovlen = 2};
        io_uring_prep_sendmsg(sqe, c->ec.fd, &c->msg, MSG_NOSIGNAL);
    }
    arm(sqe, c, OP_SEND);
}

static void submit_poll(struct worker *w, struct uconn *c, unsigned mask)
{
    struct io_uring_sqe *sqe = get_sqe(w);
    if (!sqe) {
        close_conn(w, c, ENGINE_CLOSE_IO_ERROR);
        return;
    }
    io_uring_prep_poll_add(sqe, c->ec.fd, mask);
    arm(sqe, c, OP_POLL);
}

/* The response waits for work done elsewhere (a listing being built): a
 * POLLIN poll on the protocol's wait descriptor, which the protocol closes
 * only after the poll has completed (on resuming, or when released). */
static void submit_wait(struct worker *w, struct uconn *c)
{
    struct io_uring_sqe *sqe = get_sqe(w);
    int fd = engine_proto(&w->ew, &c->ec)->wait_fd(c->ec.proto);
    if (!sqe || fd < 0) {
        close_conn(w, c, ENGINE_CLOSE_IO_ERROR);
        return;
    }
    io_uring_prep_poll_add(sqe, fd, POLLIN);
    arm(sqe, c, OP_WAIT);
}

/* A provided buffer goes back to the ring. */
static void recycle_buf(struct worker *w, uint16_t bid)
{
    io_uring_buf_ring_add(w->idle_ring, w->idle_bufs + (size_t)bid * IDLE_BUF_SIZE, IDLE_BUF_SIZE, bid,
                          io_uring_buf_ring_mask(IDLE_BUFS), 0);
    io_uring_buf_ring_advance(w->idle_ring, 1);
}

static void recycle(struct worker *w, unsigned cqe_flags)
{
    if (cqe_flags & IORING_CQE_F_BUFFER)
        recycle_buf(w, (uint16_t)(cqe_flags >> IORING_CQE_BUFFER_SHIFT));
}

static void drop_stash(struct worker *w, struct uconn *c)
{
    while (c->stash_head != NO_BUF) {
        uint16_t bid = c->stash_head;
        c->stash_head = w->stash_next[bid];
        recycle_buf(w, bid);
    }
    c->stash_tail = NO_BUF;
    c->stash_taken = 0;
}

static void stash(struct worker *w, struct uconn *c, uint16_t bid, uint16_t len)
{
    w->stash_len[bid] = len;
    w->stash_next[bid] = NO_BUF;
    if (c->stash_tail == NO_BUF)
        c->stash_head = bid;
    else
        w->stash_next[c->stash_tail] = bid;
    c->stash_tail = bid;
}

/* Hands the protocol, which wants to read, what the stash holds first: as
 * much of the oldest buffer as it has room for, or the end of input once
 * the buffers are gone. -1: the protocol has no memory to read into. */
static int take_stash(struct worker *w, struct uconn *c, const struct serve_proto *p, void *conn, time_t now)
{
    if (c->stash_head == NO_BUF) {
        c->eof = 0;
        p->received(conn, 0, now);
        return 0;
    }
    size_t room = 0;
    char *space = p->read_space(conn, &room);
    if (!space || room == 0)
        return -1;
    uint16_t bid = c->stash_head;
    size_t n = (size_t)w->stash_len[bid] - c->stash_taken;
    if (n > room)
        n = room;
    memcpy(space, w->idle_bufs + (size_t)bid * IDLE_BUF_SIZE + c->stash_taken, n);
    c->stash_taken = (uint16_t)(c->stash_taken + n);
    if (c->stash_taken == w->stash_len[bid]) {
        c->stash_head = w->stash_next[bid];
        if (c->stash_head == NO_BUF)
            c->stash_tail = NO_BUF;
        c->stash_taken = 0;
        recycle_buf(w, bid);
    }
    p->received(conn, n, now);
    return 0;
}

/* Arms the connection's reader unless it is armed. 0: it cannot be (no
 * provided-buffer ring, a dry ring lately): the connection reads the plain
 * way. */
static int arm_reader(struct worker *w, struct uconn *c)
{
    if (c->reading)
        return 1;
    if (!w->idle_ring || c->starved)
        return 0;
    struct io_uring_sqe *sqe = get_sqe(w);
    if (!sqe)
        return 0;
    if (c->kept && !w->no_multishot)
        io_uring_prep_recv_multishot(sqe, c->ec.fd, NULL, 0, 0);
    else
        io_uring_prep_recv(sqe, c->ec.fd, NULL, IDLE_BUF_SIZE, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = IDLE_BUF_GROUP;
    io_uring_sqe_set_data(sqe, &c->reader_tok);
    c->reading = 1;
    return 1;
}

/* An idle connection waits for its next bytes: with its reader, or with a
 * POLLIN poll where it has none. */
static void submit_idle_wait(struct worker *w, struct uconn *c)
{
    if (!arm_reader(w, c))
        submit_poll(w, c, POLLIN);
}

/* The protocol said close: linger (a POLLIN poll until the peer has sent
 * all) or close now. */
static void end_conn(struct worker *w, struct uconn *c, enum engine_close why, int64_t now_ms)
{
    if (engine_conn_linger(&w->ew, &c->ec, why, now_ms)) {
        /* The linger reads the socket itself, and throws input away. */
        if (c->reading)
            cancel(w, &c->reader_tok);
        drop_stash(w, c);
        c->eof = 0;
        submit_poll(w, c, POLLIN);
    } else
        close_conn(w, c, why);
}

/* Runs a connection with nothing in flight but its reader until it needs
 * an operation, then submits it; a read is the reader's, once armed.
 * io_uring has no sendfile: a file body goes out by sendfile(2) on the
 * non-blocking socket, right here, and a full socket is waited for with a
 * POLLOUT poll. An idle connection gives its protocol
 * object back and waits (submit_idle_wait). */
static void drive(struct worker *w, struct uconn *c, time_t now, int64_t now_ms, int progressed)
{
    const struct serve_proto *p = engine_proto(&w->ew, &c->ec);
    void *conn = c->ec.proto;
    if (w->ew.draining && conn && !c->drained) {
        c->drained = 1;
        p->drain(conn, now);
    }
    for (int step = 0;; step++) {
        enum serve_want want = p->want(conn);
        if (want == SERVE_WANT_CLOSE) {
            end_conn(w, c, engine_end_reason(&w->ew, conn), now_ms);
            return;
        }
        if (want == SERVE_WANT_READ && (c->stash_head != NO_BUF || c->eof)) {
            if (take_stash(w, c, p, conn, now) != 0) {
                close_conn(w, c, ENGINE_CLOSE_NO_MEMORY);
                return;
            }
            progressed = 1;
            continue;
        }
        engine_conn_settle(&w->ew, &c->ec, now_ms, progressed);
        if (!c->ec.proto) {
            c->kept = 1;
            submit_idle_wait(w, c);
            return;
        }
        if (want == SERVE_WANT_READ) {
            if (!arm_reader(w, c))
                submit_recv(w, c);
            return;
        }
        if (want == SERVE_WANT_WAIT) {
            submit_wait(w, c);
            return;
        }
        struct serve_output o;
        p->output(conn, &o);
        if (o.head_len > 0 || o.data_len > 0) {
            submit_send(w, c, &o);
            return;
        }
        enum io_result r = step < STEPS_PER_EVENT ? io_send(c->ec.fd, p, conn, now) : IO_AGAIN;
        if (r == IO_AGAIN || (r == IO_DRY && p->want(conn) == SERVE_WANT_WRITE)) {
            if (r == IO_DRY)
                engine_conn_settle(&w->ew, &c->ec, now_ms, 1);
            submit_poll(w, c, POLLOUT);
            return;
        }
        if (r == IO_CLOSE) { /* an error, or a file that shrank (io_send aborted it) */
            close_conn(w, c, engine_errno_reason(errno));
            return;
        }
        progressed = 1;
    }
}

/* A POLLIN on an idle connection: a protocol object, and the bytes read at
 * once (the poll says they are there). */
static void readable(struct worker *w, struct uconn *c, time_t now, int64_t now_ms)
{
    if (c->ec.phase == ENGINE_PHASE_LINGER) {
        if (engine_conn_lingered(&w->ew, &c->ec))
            submit_poll(w, c, POLLIN);
        else
            close_conn(w, c, ENGINE_CLOSE_DONE);
        return;
    }
    void *conn = engine_conn_proto(&w->ew, &c->ec, now);
    if (!conn) {
        close_conn(w, c, ENGINE_CLOSE_NO_MEMORY);
        return;
    }
    c->drained = (uint8_t)w->ew.draining; /* engine_attach drained it */
    c->starved = 0; /* read the plain way this once: the next idle spell tries the ring again */
    const struct serve_proto *p = engine_proto(&w->ew, &c->ec);
    if (p->want(conn) == SERVE_WANT_READ) {
        enum io_result r = io_recv(c->ec.fd, p, conn, now);
        if (r == IO_CLOSE) {
            close_conn(w, c, engine_errno_reason(errno));
            return;
        }
        drive(w, c, now, now_ms, r != IO_AGAIN);
        return;
    }
    drive(w, c, now, now_ms, 0);
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

/* The reader ended (cancelled, or the ring was dry) with nothing else in
 * flight: the connection goes on the way it is, and reads the plain way if
 * it must. */
static void reader_ended(struct worker *w, struct uconn *c, time_t now, int64_t now_ms)
{
    if (c->ec.proto)
        drive(w, c, now, now_ms, 0);
    else
        submit_idle_wait(w, c);
}

/* A completion of the reader: bytes in a provided buffer, or its end (a
 * one-shot recv ends with every completion). The bytes join the stash, and
 * go to the protocol at once when it waits for them (drive takes the
 * stash); while it writes, they wait, and the reader is cancelled so that
 * one client cannot take many buffers. */
static void reader_done(struct worker *w, struct uconn *c, int res, unsigned flags, time_t now, int64_t now_ms)
{
    if (!(flags & IORING_CQE_F_MORE))
        c->reading = 0;
    if (c->closing || c->ec.phase == ENGINE_PHASE_LINGER) {
        recycle(w, flags);
        if (c->closing && !c->reading && c->op == OP_NONE)
            free_conn(w, c, (enum engine_close)c->why);
        return;
    }
    if (res <= 0)
        recycle(w, flags); /* a kernel may lend a buffer to a recv that found nothing */
    int refused = res == -EINVAL && c->kept && !w->no_multishot; /* a kernel before 6.0 */
    if (refused || res == -ENOBUFS || res == -ECANCELED || res == -EINTR) {
        if (refused)
            w->no_multishot = 1; /* one-shot recvs from now on */
        else if (res == -ENOBUFS)
            c->starved = 1;
        if (c->op == OP_NONE && !c->reading)
            reader_ended(w, c, now, now_ms);
        return;
    }
    if (res < 0 || (res == 0 && !c->ec.proto && c->stash_head == NO_BUF)) {
        close_conn(w, c, res == 0 ? ENGINE_CLOSE_PEER_CLOSED : engine_errno_reason(-res));
        return;
    }
    if (res == 0)
        c->eof = 1;
    else
        stash(w, c, (uint16_t)(flags >> IORING_CQE_BUFFER_SHIFT), (uint16_t)res);
    if (c->op != OP_NONE) {
        if (c->reading)
            cancel(w, &c->reader_tok);
        return;
    }
    if (!c->ec.proto) {
        if (!engine_conn_proto(&w->ew, &c->ec, now)) {
            close_conn(w, c, ENGINE_CLOSE_NO_MEMORY);
            return;
        }
        c->drained = (uint8_t)w->ew.draining; /* engine_attach drained it */
    }
    drive(w, c, now, now_ms, 0);
}

static void conn_done(struct worker *w, struct uconn *c, int res, time_t now, int64_t now_ms)
{
    enum op op = (enum op)c->op;
    c->op = OP_NONE;
    if (c->closing) {
        if (!c->reading)
            free_conn(w, c, (enum engine_close)c->why);
        return;
    }
    /* An idle or lingering connection holds no protocol object: its poll
     * (or a poll that failed) leads to readable(). */
    int holds_object = c->ec.phase != ENGINE_PHASE_LINGER && c->ec.proto;
    const struct serve_proto *p = engine_proto(&w->ew, &c->ec);
    enum next_step next = NEXT_DRIVE;
    int progressed = 0;
    if (res < 0) {
        next = failed(-res, op == OP_SEND ? NEXT_POLL_OUT : op == OP_WAIT ? NEXT_DRIVE : NEXT_POLL_IN);
    } else if (op == OP_WAIT) {
        p->resume(c->ec.proto, now);
    } else if (op == OP_RECV) {
        p->received(c->ec.proto, (size_t)res, now);
        progressed = res > 0;
    } else if (op == OP_SEND) {
        if (res == 0)
            next = NEXT_CLOSE; /* nothing taken from a non-empty send: do not loop on it */
        else
            p->sent(c->ec.proto, (size_t)res, now);
        progressed = 1;
    }
    if (next == NEXT_DRIVE && holds_object)
        drive(w, c, now, now_ms, progressed);
    else if (next == NEXT_DRIVE)
        readable(w, c, now, now_ms);
    else if (next == NEXT_POLL_IN || next == NEXT_POLL_OUT)
        submit_poll(w, c, next == NEXT_POLL_IN ? POLLIN : POLLOUT);
    else
        close_conn(w, c, res < 0 ? engine_errno_reason(-res) : ENGINE_CLOSE_IO_ERROR);
}

static void admit(struct worker *w, int fd, const struct ulistener *l, int64_t now_ms)
{
    struct server *srv = w->ew.srv;
    struct uconn *c = NULL;
    struct sockaddr_storage peer;
    socklen_t peer_len = 0;
    if (!engine_admit(srv)) {
        engine_refuse(srv, fd, (unsigned)l->index);
        return;
    }
    if (!(c = slab_take(&w->records))) {
        engine_leave(srv);
        engine_refuse(srv, fd, (unsigned)l->index);
        return;
    }
    c->tok.kind = TOKEN_CONN;
    c->reader_tok.kind = TOKEN_READER;
    c->op = OP_NONE;
    c->closing = c->drained = 0;
    c->reading = c->kept = c->starved = c->eof = 0;
    c->stash_head = c->stash_tail = NO_BUF;
    c->stash_taken = 0;
    if (l->wants_peer) {
        peer_len = sizeof peer;
        if (getpeername(fd, (struct sockaddr *)&peer, &peer_len) != 0)
            peer_len = 0; /* already reset: the log says "-" */
    }
    engine_conn_start(&w->ew, &c->ec, fd, (unsigned)l->index, (const struct sockaddr *)&peer, peer_len, now_ms);
    c->prev = NULL;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->live++;
    submit_idle_wait(w, c);
}

/* ---- listeners ------------------------------------------------------ */

static void arm_accept(struct worker *w, struct ulistener *l)
{
    int fd = w->ew.srv->listen_fd[w->index][l->index];
    if (fd < 0 || l->armed || l->paused || w->ew.draining || atomic_load(&w->ew.srv->accept_off))
        return;
    struct io_uring_sqe *sqe = get_sqe(w);
    if (!sqe) {
        l->paused = 1;
        timer_set(&w->timers, &w->pause_timer, timer_clock_ms() + ENGINE_ACCEPT_PAUSE_MS);
        return;
    }
    if (l->single)
        io_uring_prep_accept(sqe, fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    else
        io_uring_prep_multishot_accept(sqe, fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data(sqe, &l->tok);
    l->armed = 1;
    w->pending++;
}

/* A failure ends a multishot accept (no IORING_CQE_F_MORE), so the rules
 * for a failed accept stay those of a single one: pause, or accept again. */
static void accept_done(struct worker *w, struct ulistener *l, int res, unsigned flags, int64_t now_ms)
{
    if (!(flags & IORING_CQE_F_MORE)) {
        l->armed = 0;
        w->pending--;
    } else if (atomic_load(&w->ew.srv->accept_off)) {
        /* The successor accepts from the shared queue (serve/handover.h);
         * this connection came before it took over and is served. */
        cancel(w, &l->tok);
    }
    if (res >= 0) {
        admit(w, res, l, now_ms);
    } else if (res == -ECANCELED) {
        return; /* the drain stopped this listener */
    } else if (res == -EINVAL && !l->single) {
        l->single = 1;
    } else if (engine_accept_failed(-res) == ENGINE_ACCEPT_PAUSE) {
        /* The listener rests until the pause timer fires instead of failing
         * the same accept again at once. */
        l->paused = 1;
        timer_set(&w->timers, &w->pause_timer, now_ms + ENGINE_ACCEPT_PAUSE_MS);
    }
    arm_accept(w, l);
}

static void resume_listeners(struct worker *w)
{
    for (int i = 0; i < w->ew.srv->cfg->listen_count; i++) {
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

/* ---- graceful stop ---------------------------------------------------- */

/* Stop accepting, close what is idle, and let every other connection finish
 * what it has received, until --drain-timeout. A closed listener makes new
 * clients fail fast instead of waiting in a backlog nobody accepts from;
 * its accept holds the socket open until it is cancelled. The shared Unix
 * listener is closed by the server once every worker has stopped. Reads are
 * cancelled, since the kernel may write into a buffer that the protocol's
 * drain could give back; each connection is drained when its operation
 * completes (see drive). */
static void begin_drain(struct worker *w, int64_t now_ms)
{
    if (w->ew.draining)
        return;
    engine_begin_drain(&w->ew, now_ms);
    timer_set(&w->timers, &w->drain_timer, w->ew.drain_end);
    for (int i = 0; i < w->ew.srv->cfg->listen_count; i++) {
        struct ulistener *l = &w->listeners[i];
        int *fd = &w->ew.srv->listen_fd[w->index][i];
        if (l->armed)
            cancel(w, &l->tok);
        if (*fd >= 0 && !w->ew.srv->listen_shared[i]) {
            if (close(*fd) != 0 && errno != EINTR)
                log_syscall("close", "listener", errno);
            *fd = -1;
        }
    }
    struct uconn *next;
    for (struct uconn *c = w->conns; c; c = next) {
        next = c->next;
        if (c->closing || c->ec.phase == ENGINE_PHASE_LINGER)
            continue;
        if (!c->ec.proto)
            close_conn(w, c, ENGINE_CLOSE_STOP);
        else if (c->op == OP_RECV)
            cancel(w, &c->tok);
        else if (c->op == OP_NONE && c->reading)
            cancel(w, &c->reader_tok); /* its end drives the connection, which drains it */
    }
}

static void cut_drain(struct worker *w)
{
    int cut = 0;
    struct uconn *next;
    for (struct uconn *c = w->conns; c; c = next) {
        next = c->next;
        if (!c->closing) {
            close_conn(w, c, ENGINE_CLOSE_DRAIN_CUT);
            cut++;
        }
    }
    log_error("worker %d: --drain-timeout passed, %d connection%s cut", w->index, cut, cut == 1 ? "" : "s");
}

static void wake_done(struct worker *w, int res, int64_t now_ms)
{
    w->pending--;
    if (res < 0)
        log_syscall("IORING_OP_POLL_ADD", "eventfd", -res);
    begin_drain(w, now_ms); /* only uring_stop writes the eventfd */
}

static void expire_timers(struct worker *w, int64_t now_ms)
{
    struct timer *t;
    while ((t = timer_expired(&w->timers, now_ms))) {
        if (t == &w->pause_timer) {
            resume_listeners(w);
        } else if (t == &w->drain_timer) {
            cut_drain(w);
        } else {
            struct engine_conn *ec = (struct engine_conn *)((char *)t - offsetof(struct engine_conn, timer));
            struct uconn *c = (struct uconn *)((char *)ec - offsetof(struct uconn, ec));
            enum engine_close why = c->closing ? ENGINE_CLOSE_COUNT : engine_conn_expired(&w->ew, ec, now_ms);
            if (why != ENGINE_CLOSE_COUNT)
                close_conn(w, c, why);
        }
    }
}

/* ---- the loop ------------------------------------------------------- */

static void complete(struct worker *w, struct token *t, int res, unsigned flags, time_t now, int64_t now_ms)
{
    switch (t->kind) {
    case TOKEN_CONN:
        conn_done(w, (struct uconn *)t, res, now, now_ms);
        break;
    case TOKEN_READER:
        reader_done(w, (struct uconn *)(void *)((char *)t - offsetof(struct uconn, reader_tok)), res, flags, now,
                    now_ms);
        break;
    case TOKEN_ACCEPT:
        accept_done(w, (struct ulistener *)t, res, flags, now_ms);
        break;
    case TOKEN_WAKE:
        wake_done(w, res, now_ms);
        break;
    }
}

/* Submits what the last round queued, waits for one completion or the
 * earliest timer, handles up to CQES_PER_WAKE completions, then the timers. */
static int wait_and_reap(struct worker *w)
{
    struct io_uring_cqe *cqe;
    int wait_ms = timer_wait_ms(&w->timers, timer_clock_ms(), 1000);
    struct __kernel_timespec ts = {.tv_sec = wait_ms / 1000, .tv_nsec = (wait_ms % 1000) * 1000000L};
    int ret = io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL);
    if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
        log_syscall("io_uring_submit_and_wait_timeout", NULL, -ret);
        return -1;
    }
    time_t now = serve_clock();
    int64_t now_ms = timer_clock_ms();
    for (int n = 0; n < CQES_PER_WAKE && io_uring_peek_cqe(&w->ring, &cqe) == 0; n++) {
        uint64_t data = io_uring_cqe_get_data64(cqe);
        int res = cqe->res;
        unsigned flags = cqe->flags;
        io_uring_cqe_seen(&w->ring, cqe);
        if (data)
            complete(w, (struct token *)(uintptr_t)data, res, flags, now, now_ms);
    }
    expire_timers(w, now_ms);
    engine_tick(&w->ew, now); /* the wait above lasts a second at most */
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

/* In the worker's thread (a single-issuer ring takes registrations from its
 * issuer only). A kernel without provided-buffer rings (before 5.19) leaves
 * idle connections on POLLIN polls. */
static void setup_idle_ring(struct worker *w)
{
    void *ring_mem = NULL;
    size_t ring_bytes = IDLE_BUFS * sizeof(struct io_uring_buf);
    if (posix_memalign(&ring_mem, 4096, ring_bytes) != 0)
        return;
    w->idle_bufs = malloc((size_t)IDLE_BUFS * IDLE_BUF_SIZE);
    if (!w->idle_bufs) {
        free(ring_mem);
        return;
    }
    memset(ring_mem, 0, ring_bytes);
    w->idle_ring = ring_mem;
    io_uring_buf_ring_init(w->idle_ring);
    struct io_uring_buf_reg reg = {
        .ring_addr = (unsigned long)(uintptr_t)ring_mem, .ring_entries = IDLE_BUFS, .bgid = IDLE_BUF_GROUP};
    if (io_uring_register_buf_ring(&w->ring, &reg, 0) != 0) {
        free(w->idle_bufs);
        free(ring_mem);
        w->idle_bufs = NULL;
        w->idle_ring = NULL;
        return;
    }
    for (int i = 0; i < IDLE_BUFS; i++)
        io_uring_buf_ring_add(w->idle_ring, w->idle_bufs + (size_t)i * IDLE_BUF_SIZE, IDLE_BUF_SIZE,
                              (unsigned short)i, io_uring_buf_ring_mask(IDLE_BUFS), i);
    io_uring_buf_ring_advance(w->idle_ring, IDLE_BUFS);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    w->enable_failed = enable_ring(w) != 0;
    if (sem_post(w->started) != 0)
        log_syscall("sem_post", "worker started", errno);
    if (w->enable_failed)
        return NULL;
    setup_idle_ring(w);
    for (int i = 0; i < w->ew.srv->cfg->listen_count; i++)
        arm_accept(w, &w->listeners[i]);
    arm_wake(w);
    while (!w->ew.draining || w->live > 0 || w->pending > 0) {
        if (w->ew.ctx.log.len)
            access_log_flush(&w->ew.ctx.log);
        if (wait_and_reap(w) != 0) {
            w->abandoned = w->live > 0 || w->pending > 0;
            break;
        }
    }
    access_log_flush(&w->ew.ctx.log);
    /* A registered ring descriptor belongs to this thread: give it back here. */
    int ret = w->ring_fd_registered ? io_uring_unregister_ring_fd(&w->ring) : 0;
    if (ret < 0)
        log_syscall("io_uring_unregister_ring_fd", NULL, -ret);
    return NULL;
}

/* ---- start and stop ------------------------------------------------- */

static void destroy_worker(struct worker *w)
{
    if (w->ring_ready) {
        io_uring_submit(&w->ring); /* the closes queued last */
        io_uring_queue_exit(&w->ring);
    }
    /* The kernel let go of the provided buffers with the ring. */
    if (!w->abandoned) {
        free(w->idle_ring);
        free(w->idle_bufs);
    }
    /* Operations the broken loop left in flight may still write into the
     * connections' buffers: leak them rather than free them (the process is
     * exiting). */
    if (!w->abandoned) {
        while (w->conns)
            free_conn(w, w->conns, ENGINE_CLOSE_STOP);
        slab_destroy(&w->records);
        engine_worker_destroy(&w->ew);
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
    w->index = index;
    w->wake_tok.kind = TOKEN_WAKE;
    for (int i = 0; i < SERVE_MAX_LISTEN; i++)
        w->listeners[i] = (struct ulistener){
            .tok.kind = TOKEN_ACCEPT, .index = i, .wants_peer = engine_peer_wanted(srv, (unsigned)i)};
    timer_wheel_init(&w->timers, timer_clock_ms());
    timer_init(&w->pause_timer);
    timer_init(&w->drain_timer);
    slab_init(&w->records, sizeof(struct uconn), SLAB_CONNS);
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->wake_fd < 0) {
        log_syscall("eventfd", NULL, errno);
        return -1;
    }
    if (engine_worker_init(&w->ew, srv) != 0)
        return -1;
    w->ew.timers = &w->timers;
    return init_ring(w);
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
