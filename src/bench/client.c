/* One load-generating thread: an epoll loop over its share of non-blocking
 * connections, for HTTP and for the TCP echo target.
 *
 * A connection carries a batch of requests at a time (one, or --pipeline N
 * written back to back). Every request issued ends exactly once: as a
 * complete response, or as an error of the stage it failed in. Responses are
 * parsed, not counted as bytes: the head with http_parse_response, the body by
 * its framing (Content-Length, chunked, or until the close), so a short or
 * broken reply is an error, not a fast answer.
 *
 * Epoll is used directly rather than through loop/: the event carries the
 * connection pointer (no descriptor table), and the open model needs
 * sub-millisecond wake-ups, which a timerfd in the same set gives. The loop is
 * level-triggered; EPOLLOUT is asked for only while connecting or while a write
 * is short, so a keep-alive request costs one send and one recv.
 *
 * An https connection adds a state between the connect and the first write:
 * the handshake, driven without blocking (SSL_do_handshake asks for reading
 * or writing, and the interest set follows), timed from the TCP connection
 * to its end and counted apart from the requests. Requests then go through
 * SSL_write and SSL_read; OpenSSL reads a record at a time (no read-ahead),
 * so nothing decrypted waits inside it once the socket is drained, and the
 * level-triggered loop stays right. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "http/chunked.h"
#include "http/parse.h"
#include "http/response.h"
#include "net/sock.h"
#include "tls/client.h"

#include <openssl/err.h>

#define CARRY_MAX 8192          /* a response head must fit in this */
#define READ_BUF (256 * 1024)   /* per thread: bodies are read through it and dropped */
#define TICK_MS 10              /* the loop looks at the clock at least this often */
#define MAX_EVENTS 256

enum conn_state { CONN_DOWN, CONN_CONNECTING, CONN_HANDSHAKE, CONN_READY };

/* What the bytes arriving next are. */
enum read_state {
    RD_HEAD,        /* a response head, maybe split: kept in carry until whole */
    RD_LENGTH,      /* body_left more bytes (Content-Length; echo replies too) */
    RD_CHUNKED,     /* chunked body, decoded by http_chunked */
    RD_UNTIL_CLOSE, /* body ends when the server closes */
};

struct conn {
    int fd;
    SSL *ssl;             /* https: from the connect to the close */
    SSL_SESSION *session; /* --tls-resume: the last session the server gave, offered on reconnect */
    uint64_t hs_start_ns; /* when the TCP connection was up and the handshake began */
    enum conn_state state;
    enum read_state rd;
    int outstanding;  /* requests of the batch without a complete response */
    int counted;      /* the batch was issued while measuring: its results count */
    int want_write;   /* EPOLLOUT is in the interest set */
    int keep_alive;   /* the response being read lets the connection carry more */
    int queued;       /* in the restart queue */
    int status;       /* of the response being read */
    size_t wr_off, wr_len;
    uint64_t started_ns; /* latency origin: when issued (closed) or due (open) */
    uint64_t sent_ns;    /* when issued, for --timeout */
    uint64_t next_due_ns;
    uint64_t on_conn;    /* responses on this connection */
    uint64_t body_left;
    struct http_chunked chunked;
    size_t carry_len;
    char *carry;
};

struct worker {
    struct bench_thread *t;
    const struct bench_shared *sh;
    const struct bench_config *cfg;
    int echo;
    int epfd, timerfd;
    struct conn *conns;
    int *restart; /* connections to issue a batch on once the current event batch is done */
    int restart_len;
    char *carry_slab;
    char *rbuf;
    int measuring;
    uint64_t issued;   /* requests issued while measuring */
    uint64_t inflight; /* outstanding requests over all connections */
    uint64_t done, failed;
    uint64_t last_done_ns;
    uint64_t interval_ns; /* open model: between two requests of one connection */
    uint64_t earliest_due, armed_due;
    uint64_t next_check_ns;
    uint64_t cpu_start_ns;
    uint64_t spin_ns;      /* spent in empty non-blocking polls while measuring: idle time */
    uint64_t last_busy_ns; /* when a poll last returned events */
    uint64_t stop_ns;
    int tls_said;          /* the first failed handshake was explained on stderr */
    struct http_response res;
};

static void conn_fail(struct worker *w, struct conn *c, enum bench_stage stage, int err);
static void issue_batch(struct worker *w, struct conn *c, uint64_t origin, uint64_t now);

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int watch(struct worker *w, struct conn *c, int op, int want_write)
{
    struct epoll_event ev = {.events = EPOLLIN | (want_write ? EPOLLOUT : 0), .data.ptr = c};

    c->want_write = want_write;
    return epoll_ctl(w->epfd, op, c->fd, &ev);
}

static void restart_later(struct worker *w, struct conn *c)
{
    if (!c->queued && !w->sh->cfg->rate) {
        c->queued = 1;
        w->restart[w->restart_len++] = (int)(c - w->conns);
    }
}

static void conn_close(struct worker *w, struct conn *c)
{
    if (c->ssl) {
        /* Without close_notify OpenSSL takes the session for a broken one
         * and will not resume it. */
        if (c->state == CONN_READY)
            SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
        c->ssl = NULL;
        ERR_clear_error();
    }
    if (c->fd >= 0)
        close(c->fd); /* the last reference: epoll forgets it by itself */
    c->fd = -1;
    c->state = CONN_DOWN;
    c->rd = RD_HEAD;
    c->carry_len = 0;
    c->on_conn = 0;
    c->want_write = 0;
    w->inflight -= (uint64_t)c->outstanding;
    c->outstanding = 0;
    if (w->cfg->rate && c->next_due_ns < w->earliest_due)
        w->earliest_due = c->next_due_ns;
    restart_later(w, c);
}

/* Ends the connection and every request still outstanding on it. */
static void conn_fail(struct worker *w, struct conn *c, enum bench_stage stage, int err)
{
    if (c->counted && c->outstanding > 0) {
        bench_stats_error(&w->t->stats, stage, err, (uint64_t)c->outstanding);
        w->last_done_ns = bench_now_ns();
    }
    w->done += (uint64_t)c->outstanding;
    w->failed += (uint64_t)c->outstanding;
    conn_close(w, c);
}

static void conn_connect(struct worker *w, struct conn *c)
{
    const char *failed = NULL;

    c->fd = net_connect(&w->cfg->addr, NET_NONBLOCK, &failed);
    if (c->fd < 0) {
        conn_fail(w, c, BENCH_ERR_CONNECT, errno);
        return;
    }
    if (net_set_nodelay(c->fd) != 0 || watch(w, c, EPOLL_CTL_ADD, 1) != 0) {
        conn_fail(w, c, BENCH_ERR_CONNECT, errno);
        return;
    }
    c->state = CONN_CONNECTING;
    if (w->measuring)
        w->t->stats.connects++;
}

/* SSL_write as send: bytes, or -1 with errno (EAGAIN when the socket is
 * full, or when TLS must read first: the loop polls again either way). */
static ssize_t tls_send(SSL *ssl, const char *p, size_t n)
{
    int rc = SSL_write(ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
    if (rc > 0)
        return rc;
    switch (SSL_get_error(ssl, rc)) {
    case SSL_ERROR_WANT_WRITE:
    case SSL_ERROR_WANT_READ:
        errno = EAGAIN;
        break;
    case SSL_ERROR_SYSCALL:
        errno = errno ? errno : EPIPE;
        break;
    default:
        errno = EPROTO;
        break;
    }
    ERR_clear_error();
    return -1;
}

static void conn_write(struct worker *w, struct conn *c)
{
    while (c->wr_off < c->wr_len) {
        const char *p = w->sh->request + c->wr_off;
        size_t len = c->wr_len - c->wr_off;
        ssize_t n = c->ssl ? tls_send(c->ssl, p, len) : send(c->fd, p, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->want_write && watch(w, c, EPOLL_CTL_MOD, 1) != 0)
                conn_fail(w, c, BENCH_ERR_WRITE, errno);
            return;
        }
        if (n < 0) {
            conn_fail(w, c, BENCH_ERR_WRITE, errno);
            return;
        }
        c->wr_off += (size_t)n;
    }
    if (c->want_write && watch(w, c, EPOLL_CTL_MOD, 0) != 0)
        conn_fail(w, c, BENCH_ERR_WRITE, errno);
}

/* How many requests the next batch on c may hold: the pipeline depth, no more
 * than --reqs-per-conn leaves on the connection, nor than is left of the -n
 * quota once measuring (requests of the warm-up are free). */
static int batch_size(const struct worker *w, const struct conn *c)
{
    uint64_t want = w->cfg->rate ? 1 : (uint64_t)w->cfg->pipeline;
    uint64_t left;

    if (w->cfg->reqs_per_conn && w->cfg->reqs_per_conn - c->on_conn < want)
        want = w->cfg->reqs_per_conn - c->on_conn;
    if (!w->measuring)
        return (int)want;
    left = w->t->quota - w->issued;
    return (int)(want < left ? want : left);
}

static void reset_reader(struct worker *w, struct conn *c)
{
    c->rd = w->echo ? RD_LENGTH : RD_HEAD;
    c->body_left = w->echo ? w->cfg->size : 0;
    if (w->echo)
        c->keep_alive = 1;
}

/* Gives an idle connection its next batch; origin is where latency counts
 * from, now the clock as the caller last read it. */
static void issue_batch(struct worker *w, struct conn *c, uint64_t origin, uint64_t now)
{
    int n = batch_size(w, c);

    if (n <= 0 || c->outstanding > 0)
        return;
    if (w->measuring)
        w->issued += (uint64_t)n;
    c->counted = w->measuring;
    c->outstanding = n;
    w->inflight += (uint64_t)n;
    c->started_ns = origin;
    c->sent_ns = now;
    c->wr_off = 0;
    c->wr_len = (size_t)n * w->sh->request_len;
    if (c->state == CONN_DOWN) {
        reset_reader(w, c);
        conn_connect(w, c);
    } else if (c->state == CONN_READY) {
        conn_write(w, c);
    }
}

/* One response (or echo) is complete: count it and move the connection on. */
static int response_done(struct worker *w, struct conn *c)
{
    uint64_t now = bench_now_ns();
    struct bench_stats *s = &w->t->stats;

    if (c->counted && now < w->sh->end_ns) {
        uint64_t sec = (now - w->sh->measure_ns) / 1000000000ULL;

        hist_record(&s->latency, now > c->started_ns ? (now - c->started_ns) / 1000 : 0);
        s->responses++;
        /* An echo round trip counts as a success, like a 2xx. */
        s->status[w->echo ? 2 : c->status >= 100 && c->status < 600 ? c->status / 100 : 0]++;
        if (sec < s->timeline_len)
            s->timeline[sec]++;
        w->last_done_ns = now;
    }
    w->done++; /* for the progress line, which shows the warm-up too */
    c->outstanding--;
    w->inflight--;
    c->on_conn++;
    reset_reader(w, c);
    if (c->outstanding > 0)
        return 0;
    if (!c->keep_alive || (w->cfg->reqs_per_conn && c->on_conn >= w->cfg->reqs_per_conn)) {
        conn_close(w, c);
        return -1;
    }
    if (!w->cfg->rate) {
        issue_batch(w, c, now, now);
    } else if (c->next_due_ns <= now && batch_size(w, c) > 0) {
        /* Behind schedule (the server stalled): catch up back to back, each
         * request still timed from when it was due. */
        issue_batch(w, c, c->next_due_ns, now);
        c->next_due_ns += w->interval_ns;
    } else if (c->next_due_ns < w->earliest_due) {
        w->earliest_due = c->next_due_ns;
    }
    return 0;
}

/* A complete head at buf[0..len): decide how its body is framed. */
static int on_head(struct worker *w, struct conn *c)
{
    struct http_response_info info;

    c->status = w->res.status;
    /* An interim 1xx answer is followed by the real one (RFC 9110 §15.2). */
    if (c->status < 200 && c->status != 101)
        return 0;
    if (http_response_interpret(&w->res, w->sh->request_is_head, &info) != 0) {
        conn_fail(w, c, BENCH_ERR_PARSE, 0);
        return -1;
    }
    c->keep_alive = info.keep_alive && !w->cfg->close;
    switch (info.framing) {
    case HTTP_BODY_NONE:
        return response_done(w, c);
    case HTTP_BODY_LENGTH:
        c->rd = RD_LENGTH;
        c->body_left = info.content_length;
        return c->body_left ? 0 : response_done(w, c);
    case HTTP_BODY_CHUNKED:
        c->rd = RD_CHUNKED;
        http_chunked_init(&c->chunked, 4096, CARRY_MAX);
        return 0;
    case HTTP_BODY_UNTIL_CLOSE:
        c->rd = RD_UNTIL_CLOSE;
        c->keep_alive = 0;
        return 0;
    }
    return 0;
}

/* Takes head bytes from p[0..n). Returns how many belonged to the head (the
 * rest is body or the next response), or -1 when the connection ended. A head
 * split across reads is gathered in the connection's carry buffer. */
static long feed_head(struct worker *w, struct conn *c, const char *p, size_t n)
{
    const char *buf = p;
    size_t len = n, before = c->carry_len, take = n;
    int r;

    if (before) {
        take = n < CARRY_MAX - before ? n : CARRY_MAX - before;
        memcpy(c->carry + before, p, take);
        buf = c->carry;
        len = before + take;
    }
    r = http_parse_response(buf, len, CARRY_MAX, &w->res);
    if (r == HTTP_PARSE_INCOMPLETE && len < CARRY_MAX) {
        if (!before)
            memcpy(c->carry, p, n);
        c->carry_len = len;
        return (long)take;
    }
    if (r <= 0) {
        conn_fail(w, c, BENCH_ERR_PARSE, 0);
        return -1;
    }
    c->carry_len = 0;
    if (on_head(w, c) != 0)
        return -1;
    return (long)((size_t)r - before);
}

/* Takes body bytes from p[0..n): how many, or -1 when the connection ended. */
static long feed_body(struct worker *w, struct conn *c, const char *p, size_t n)
{
    struct http_span data;
    long used;

    switch (c->rd) {
    case RD_LENGTH:
        used = (long)(n < c->body_left ? n : c->body_left);
        c->body_left -= (uint64_t)used;
        if (c->body_left == 0 && response_done(w, c) != 0)
            return -1;
        return used;
    case RD_CHUNKED:
        used = http_chunked_decode(&c->chunked, p, n, &data);
        if (used < 0) {
            conn_fail(w, c, BENCH_ERR_PARSE, 0);
            return -1;
        }
        if (http_chunked_done(&c->chunked) && response_done(w, c) != 0)
            return -1;
        return used;
    default:
        return (long)n; /* RD_UNTIL_CLOSE: everything is body */
    }
}

/* Consumes bytes received on c. Returns 0, or -1 when the connection ended. */
static int feed(struct worker *w, struct conn *c, const char *p, size_t n)
{
    while (n > 0) {
        long used;

        if (c->outstanding == 0) {
            /* Bytes nobody asked for: the stream cannot be trusted any more. */
            c->outstanding = 1;
            w->inflight++;
            conn_fail(w, c, BENCH_ERR_PARSE, 0);
            return -1;
        }
        used = c->rd == RD_HEAD ? feed_head(w, c, p, n) : feed_body(w, c, p, n);
        if (used < 0)
            return -1;
        p += used;
        n -= (size_t)used;
    }
    return 0;
}

/* The server closed its side. */
static void on_eof(struct worker *w, struct conn *c)
{
    if (c->outstanding > 0 && c->rd == RD_UNTIL_CLOSE) {
        c->keep_alive = 0;
        if (response_done(w, c) != 0)
            return; /* it closed the connection */
    }
    if (c->outstanding > 0)
        conn_fail(w, c, BENCH_ERR_CLOSED, 0);
    else
        conn_close(w, c); /* an idle keep-alive connection the server let go */
}

/* SSL_read as recv: bytes, 0 at the end of the stream (close_notify, or a
 * close without it: the HTTP framing says whether that cut a response), -1
 * with errno. */
static ssize_t tls_recv(SSL *ssl, char *buf, size_t n)
{
    int rc = SSL_read(ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
    if (rc > 0)
        return rc;
    switch (SSL_get_error(ssl, rc)) {
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        errno = EAGAIN;
        break;
    case SSL_ERROR_SYSCALL:
        errno = errno ? errno : ECONNRESET;
        break;
    default:
        errno = EPROTO;
        break;
    }
    ERR_clear_error();
    return -1;
}

/* A plain read drains up to 4 buffers of 256 KiB per event; a TLS read
 * yields one record (16 KiB at most) per call, so it gets as many calls. A
 * short read (a short record) most likely emptied the socket: the loop
 * stops there rather than pay a read that says EAGAIN, as level-triggered
 * epoll reports whatever is left. */
#define READS_PER_EVENT 4
#define TLS_RECORD_MAX 16384
#define TLS_READS_PER_EVENT (READS_PER_EVENT * READ_BUF / TLS_RECORD_MAX)

static int read_was_short(const struct conn *c, ssize_t n)
{
    if (!c->ssl)
        return n < READ_BUF;
    return n < TLS_RECORD_MAX && SSL_pending(c->ssl) == 0;
}

static void on_readable(struct worker *w, struct conn *c)
{
    int reads = c->ssl ? TLS_READS_PER_EVENT : READS_PER_EVENT;

    for (int i = 0; i < reads; i++) {
        ssize_t n = c->ssl ? tls_recv(c->ssl, w->rbuf, READ_BUF) : recv(c->fd, w->rbuf, READ_BUF, 0);

        if (n > 0) {
            if (w->measuring)
                w->t->stats.bytes += (uint64_t)n;
            if (feed(w, c, w->rbuf, (size_t)n) != 0 || read_was_short(c, n))
                return;
        } else if (n == 0) {
            on_eof(w, c);
            return;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return;
        } else if (errno != EINTR) {
            conn_fail(w, c, BENCH_ERR_READ, errno);
            return;
        }
    }
}

/* The first failed handshake of a thread says why on stderr (a certificate
 * that does not verify is the usual one); the rest are only counted. */
static void tls_failed(struct worker *w, struct conn *c, int rc)
{
    char err[300];

    tls_client_failure(c->ssl, rc, err, sizeof err);
    if (!w->tls_said) {
        w->tls_said = 1;
        fprintf(stderr, "duct bench: %s: %s%s\n", w->cfg->url.host, err,
                strstr(err, "certificate") ? " (--cacert FILE trusts another CA, -k skips the check)" : "");
    }
    conn_fail(w, c, BENCH_ERR_TLS, 0);
}

static void tls_done(struct worker *w, struct conn *c)
{
    if (w->measuring) {
        struct bench_stats *s = &w->t->stats;

        s->handshakes++;
        s->resumed += (uint64_t)SSL_session_reused(c->ssl);
        hist_record(&s->handshake, (bench_now_ns() - c->hs_start_ns) / 1000);
    }
    c->state = CONN_READY;
    conn_write(w, c); /* the batch issued while the connection was being made */
}

/* One step of the handshake: on, done, or failed (the connection ended). */
static void tls_step(struct worker *w, struct conn *c)
{
    int rc = SSL_do_handshake(c->ssl), want_write;

    if (rc == 1) {
        tls_done(w, c);
        return;
    }
    switch (SSL_get_error(c->ssl, rc)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        want_write = SSL_get_error(c->ssl, rc) == SSL_ERROR_WANT_WRITE;
        if (want_write != c->want_write && watch(w, c, EPOLL_CTL_MOD, want_write) != 0)
            conn_fail(w, c, BENCH_ERR_TLS, errno);
        return;
    default:
        tls_failed(w, c, rc);
    }
}

static void tls_begin(struct worker *w, struct conn *c)
{
    c->ssl = tls_client_new(w->sh->tls, c->fd, w->cfg->url.host);
    if (!c->ssl) {
        conn_fail(w, c, BENCH_ERR_TLS, ENOMEM);
        return;
    }
    if (w->cfg->tls_resume)
        tls_client_keep_sessions(c->ssl, &c->session);
    c->state = CONN_HANDSHAKE;
    c->hs_start_ns = bench_now_ns();
    tls_step(w, c);
}

static void on_writable(struct worker *w, struct conn *c)
{
    if (c->state == CONN_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;

        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = errno;
        if (err) {
            conn_fail(w, c, BENCH_ERR_CONNECT, err);
            return;
        }
        if (w->sh->tls) {
            tls_begin(w, c);
            return;
        }
        c->state = CONN_READY;
    }
    conn_write(w, c);
}

static void on_event(struct worker *w, struct conn *c, uint32_t events)
{
    if (c->fd < 0)
        return;
    if (c->state == CONN_HANDSHAKE) {
        tls_step(w, c); /* whatever woke it: the handshake reads or writes what it needs */
        return;
    }
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && c->state == CONN_CONNECTING) {
        on_writable(w, c);
        if (c->fd < 0 || c->state != CONN_READY)
            return;
    } else if (events & EPOLLOUT) {
        on_writable(w, c);
    }
    if (c->fd >= 0 && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        on_readable(w, c);
}

/* Ends every request that has waited longer than --timeout since it was issued. */
static void check_timeouts(struct worker *w, uint64_t now)
{
    uint64_t limit = (uint64_t)(w->cfg->timeout * 1e9);

    for (int i = 0; i < w->t->conns; i++) {
        struct conn *c = &w->conns[i];

        if (c->outstanding > 0 && now > c->sent_ns && now - c->sent_ns > limit)
            conn_fail(w, c, BENCH_ERR_TIMEOUT, ETIMEDOUT);
    }
    w->next_check_ns = now + (limit / 10 < 10000000 ? limit / 10 : 10000000);
}

/* Open model: issues every request that has fallen due on an idle connection,
 * and arms the timer for the next due time. */
static void schedule_due(struct worker *w, uint64_t now)
{
    if (now >= w->earliest_due) {
        uint64_t earliest = UINT64_MAX;

        for (int i = 0; i < w->t->conns; i++) {
            struct conn *c = &w->conns[i];

            if (c->outstanding == 0 && c->next_due_ns <= now && batch_size(w, c) > 0) {
                issue_batch(w, c, c->next_due_ns, now);
                c->next_due_ns += w->interval_ns;
            }
            if (c->outstanding == 0 && c->next_due_ns < earliest)
                earliest = c->next_due_ns;
        }
        w->earliest_due = earliest;
    }
    if (w->earliest_due != w->armed_due && w->earliest_due != UINT64_MAX) {
        struct itimerspec its = {.it_value = {.tv_sec = (time_t)(w->earliest_due / 1000000000ULL),
                                              .tv_nsec = (long)(w->earliest_due % 1000000000ULL)}};

        if (timerfd_settime(w->timerfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
            w->armed_due = w->earliest_due;
    }
}

static void run_restarts(struct worker *w)
{
    int n = w->restart_len;

    /* Issuing may fail and queue the same connection again, for the next round.
     * Only the connection being issued can be queued, so the i-th issue writes
     * at most slot i, never a slot still to be read. */
    w->restart_len = 0;
    for (int i = 0; i < n; i++) {
        struct conn *c = &w->conns[w->restart[i]];
        uint64_t now = bench_now_ns();

        c->queued = 0;
        issue_batch(w, c, now, now);
    }
}

static void begin_measuring(struct worker *w)
{
    bench_stats_reset(&w->t->stats);
    w->measuring = 1;
    w->done = w->failed = 0;
    w->last_done_ns = w->sh->measure_ns;
    w->cpu_start_ns = thread_cpu_ns();
    w->spin_ns = 0;
}

/* Returns 1 while the run goes on. */
static int keep_going(struct worker *w, uint64_t now)
{
    if (atomic_load_explicit(w->sh->stop, memory_order_relaxed))
        return 0;
    if (now >= w->sh->end_ns)
        return 0;
    return !(w->measuring && w->issued >= w->t->quota && w->inflight == 0);
}

static int wait_ms(const struct worker *w, uint64_t now)
{
    uint64_t left = w->sh->end_ns - now;

    if (w->restart_len)
        return 0;
    if (!w->measuring && w->sh->measure_ns - now < left)
        left = w->sh->measure_ns - now;
    return left < TICK_MS * 1000000ULL ? (int)((left + 999999) / 1000000) : TICK_MS;
}

/* In the closed model a thread with requests in flight polls without sleeping
 * for up to SPIN_NS after its last event before it blocks. A sleeping client
 * has to be woken by each response, and on loopback that wake-up is paid on
 * the sending CPU, i.e. by the server under test: against one duct worker
 * pinned to its core, the same run gave 40.6k req/s sleeping and 56k polling,
 * the server at 100% both times. Empty polls count as idle time, so the
 * client CPU figure (and the saturation warning) still says how busy the
 * generator really was. */
#define SPIN_NS 200000ULL

static int should_spin(const struct worker *w, uint64_t now)
{
    return !w->cfg->rate && w->inflight > 0 && now - w->last_busy_ns < SPIN_NS;
}

static void run_loop(struct worker *w)
{
    struct epoll_event ev[MAX_EVENTS];
    uint64_t now = bench_now_ns();

    for (;;) {
        if (!w->measuring && now >= w->sh->measure_ns)
            begin_measuring(w);
        if (!keep_going(w, now)) {
            w->stop_ns = now;
            break;
        }
        if (w->cfg->rate)
            schedule_due(w, now);
        run_restarts(w);
        if (w->cfg->timeout > 0 && now >= w->next_check_ns)
            check_timeouts(w, now);
        int spin = should_spin(w, now);
        uint64_t polled_ns = spin ? bench_now_ns() : 0;
        int n = epoll_wait(w->epfd, ev, MAX_EVENTS, spin ? 0 : wait_ms(w, now));
        for (int i = 0; i < n; i++) {
            if (ev[i].data.ptr == NULL) {
                uint64_t expirations;
                if (read(w->timerfd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
                    break;
                continue;
            }
            on_event(w, ev[i].data.ptr, ev[i].events);
        }
        atomic_store_explicit(&w->t->done, w->done, memory_order_relaxed);
        atomic_store_explicit(&w->t->failed, w->failed, memory_order_relaxed);
        now = bench_now_ns();
        if (n > 0)
            w->last_busy_ns = now;
        else if (spin && w->measuring)
            w->spin_ns += now - polled_ns;
    }
}

/* Returns 0, or -1 with errno and the failed call in *what. */
static int worker_setup(struct worker *w, const char **what)
{
    struct epoll_event tev = {.events = EPOLLIN, .data.ptr = NULL};
    size_t n = (size_t)w->t->conns;

    *what = "epoll_create1";
    if ((w->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
        return -1;
    *what = "timerfd_create";
    if ((w->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) < 0)
        return -1;
    *what = "epoll_ctl(timerfd)";
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->timerfd, &tev) != 0)
        return -1;
    *what = "calloc(connections)";
    w->conns = calloc(n, sizeof *w->conns);
    for (size_t i = 0; w->conns && i < n; i++)
        w->conns[i].fd = -1; /* so that a failure half-way closes nothing it did not open */
    w->restart = calloc(n, sizeof *w->restart);
    /* calloc of a large block maps fresh zero pages: a carry buffer costs memory only once used. */
    w->carry_slab = w->echo ? NULL : calloc(n, CARRY_MAX);
    w->rbuf = malloc(READ_BUF);
    if (!w->conns || !w->restart || (!w->echo && !w->carry_slab) || !w->rbuf)
        return -1;
    for (size_t i = 0; !w->echo && i < n; i++)
        w->conns[i].carry = w->carry_slab + i * CARRY_MAX;
    return 0;
}

static void worker_teardown(struct worker *w)
{
    for (int i = 0; w->conns && i < w->t->conns; i++) {
        SSL_free(w->conns[i].ssl);
        SSL_SESSION_free(w->conns[i].session);
        if (w->conns[i].fd >= 0)
            close(w->conns[i].fd);
    }
    if (w->timerfd >= 0)
        close(w->timerfd);
    if (w->epfd >= 0)
        close(w->epfd);
    free(w->conns);
    free(w->restart);
    free(w->carry_slab);
    free(w->rbuf);
}

/* The first batch of every connection. The open model spreads the first due
 * times evenly over one interval of the whole rate, across all threads. */
static void start_connections(struct worker *w)
{
    double rate = w->cfg->rate;

    if (rate > 0) {
        w->interval_ns = (uint64_t)(1e9 * w->cfg->conns / rate);
        for (int i = 0; i < w->t->conns; i++) {
            struct conn *c = &w->conns[i];

            c->next_due_ns = w->sh->start_ns + (uint64_t)(1e9 * (w->t->first_conn + i) / rate);
            reset_reader(w, c);
            conn_connect(w, c); /* ahead of the first due time, as wrk2 does */
        }
        w->earliest_due = 0;
        return;
    }
    for (int i = 0; i < w->t->conns; i++)
        restart_later(w, &w->conns[i]);
}

/* A timed run measures up to its end (or the interruption); a counted one up
 * to its last answer. */
static double measured_seconds(const struct worker *w)
{
    uint64_t end = w->sh->end_ns != UINT64_MAX ? w->sh->end_ns : w->last_done_ns;

    if (!w->measuring)
        return 0;
    if (w->sh->end_ns != UINT64_MAX && w->stop_ns < end)
        end = w->stop_ns;
    return end > w->sh->measure_ns ? (double)(end - w->sh->measure_ns) / 1e9 : 0;
}

static void *client_thread(struct bench_thread *t, int echo)
{
    struct worker *w = calloc(1, sizeof *w);

    if (!w) {
        t->error = errno;
        t->error_what = "calloc";
        return NULL;
    }
    w->t = t;
    w->sh = t->shared;
    w->cfg = t->shared->cfg;
    w->echo = echo;
    w->epfd = w->timerfd = -1;
    /* Due times in the open model are kept to the microsecond, not the default 50 us slack. */
    if (w->cfg->rate > 0)
        prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    if (worker_setup(w, &t->error_what) != 0) {
        t->error = errno;
    } else {
        if (bench_now_ns() >= w->sh->measure_ns)
            begin_measuring(w);
        start_connections(w);
        run_loop(w);
        uint64_t cpu_ns = w->measuring ? thread_cpu_ns() - w->cpu_start_ns : 0;
        t->stats.cpu = (double)(cpu_ns > w->spin_ns ? cpu_ns - w->spin_ns : 0) / 1e9;
        t->stats.wall = measured_seconds(w);
    }
    atomic_store_explicit(&t->done, w->done, memory_order_relaxed);
    worker_teardown(w);
    free(w);
    return NULL;
}

void *bench_http_thread(void *arg)
{
    return client_thread(arg, 0);
}

void *bench_echo_thread(void *arg)
{
    return client_thread(arg, 1);
}
