/* The connection rules of serve/engine.c, driven by hand: the timeout
 * policy on an injected monotonic clock (a wall-clock jump moves nothing),
 * admission and the one refusal, what accept's errno means, the close
 * reasons and their counts, lingering close and the reset on a timeout, and
 * a protocol object lent only while something is in flight. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdatomic.h>
#include <stdio.h>

#include "serve/engine.h"
#include "test.h"

/* ---- a protocol whose state the test sets ---- */

struct fake_conn {
    void *pool_link; /* first: the pool threads its free list here */
    enum serve_want want;
    int idle;
    int drained;
    int released;
    char peer[64];
    time_t last_now;
};

static void fake_init(void *conn, const struct serve_proto *self, struct serve_ctx *ctx, const char *peer)
{
    struct fake_conn *f = conn;
    (void)self;
    (void)ctx;
    memset(f, 0, sizeof *f);
    f->want = SERVE_WANT_READ;
    f->idle = 1;
    snprintf(f->peer, sizeof f->peer, "%s", peer);
}

static enum serve_want fake_want(const void *conn)
{
    return ((const struct fake_conn *)conn)->want;
}

static int fake_idle(const void *conn)
{
    return ((const struct fake_conn *)conn)->idle;
}

static void fake_drain(void *conn, time_t now)
{
    ((struct fake_conn *)conn)->drained = 1;
    ((struct fake_conn *)conn)->last_now = now;
}

static enum serve_end fake_end(const void *conn)
{
    (void)conn;
    return SERVE_END_DONE;
}

static int fake_unread(const void *conn)
{
    return !((const struct fake_conn *)conn)->idle;
}

static void fake_release(void *conn)
{
    ((struct fake_conn *)conn)->released++;
}

static const struct serve_proto fake_proto = {
    .name = "fake",
    .conn_size = sizeof(struct fake_conn),
    .refusal = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\nRetry-After: 1\r\n\r\n",
    .init = fake_init,
    .want = fake_want,
    .drain = fake_drain,
    .idle = fake_idle,
    .end = fake_end,
    .unread = fake_unread,
    .release = fake_release,
};

static struct serve_config cfg;
static struct server srv;

static void setup_server(int max_conns)
{
    memset(&cfg, 0, sizeof cfg);
    cfg.header_timeout = 30;
    cfg.idle_timeout = 60;
    cfg.send_timeout = 45;
    cfg.drain_timeout = 5;
    cfg.max_conns = max_conns;
    cfg.quiet = 1;
    memset(&srv, 0, sizeof srv);
    srv.cfg = &cfg;
    srv.proto = &fake_proto;
    srv.stack[0] = &fake_proto;
    srv.access_fd = -1;
}

/* ---- the timeout policy ---- */

static void test_deadlines(void)
{
    struct engine_timeouts t;
    setup_server(10);
    engine_timeouts_init(&t, &cfg);
    CHECK_EQ_INT(engine_deadline(&t, ENGINE_PHASE_HEAD, 1000), 31000);
    CHECK_EQ_INT(engine_deadline(&t, ENGINE_PHASE_IDLE, 1000), 61000);
    CHECK_EQ_INT(engine_deadline(&t, ENGINE_PHASE_SEND, 1000), 46000);
    CHECK_EQ_INT(engine_deadline(&t, ENGINE_PHASE_LINGER, 1000), 1000 + ENGINE_LINGER_MS);
    CHECK_EQ_INT(engine_timeout_reason(ENGINE_PHASE_HEAD), ENGINE_CLOSE_HEADER_TIMEOUT);
    CHECK_EQ_INT(engine_timeout_reason(ENGINE_PHASE_IDLE), ENGINE_CLOSE_IDLE_TIMEOUT);
    CHECK_EQ_INT(engine_timeout_reason(ENGINE_PHASE_SEND), ENGINE_CLOSE_SEND_TIMEOUT);
}

/* The phase follows the protocol; a head's clock never restarts on a byte
 * (the slowloris defence), a send's restarts on every progress. */
static void test_track(void)
{
    struct engine_worker ew;
    struct engine_peer nowhere;
    setup_server(10);
    CHECK_EQ_INT(engine_worker_init(&ew, &srv), 0);
    engine_peer_set(&nowhere, NULL, 0);
    struct fake_conn *fp = engine_attach(&ew, 0, &nowhere, 0);
    CHECK(fp != NULL);
    CHECK(engine_proto_of(fp) == &fake_proto); /* the object knows what it runs */
    uint8_t phase = ENGINE_PHASE_HEAD;
    int64_t since = 0;
    /* A new connection with nothing yet stays under the header timeout. */
    CHECK_EQ_INT(engine_track(&ew, &phase, &since, fp, 500, 0), 30000);
    CHECK_EQ_INT(phase, ENGINE_PHASE_HEAD);
    /* Bytes of a head trickle in: the deadline does not move. */
    fp->idle = 0;
    CHECK_EQ_INT(engine_track(&ew, &phase, &since, fp, 9000, 1), 30000);
    CHECK_EQ_INT(engine_track(&ew, &phase, &since, fp, 29000, 1), 30000);
    /* The response is leaving: the send timeout from each progress. */
    fp->want = SERVE_WANT_WRITE;
    CHECK_EQ_INT(engine_track(&ew, &phase, &since, fp, 29500, 1), 29500 + 45000);
    CHECK_EQ_INT(phase, ENGINE_PHASE_SEND);
    CHECK_EQ_INT(engine_track(&ew, &phase, &since, fp, 40000, 0), 29500 + 45000);
    CHECK_EQ_INT(engine_track(&ew, &phase, &since, fp, 50000, 1), 50000 + 45000);
    /* Done and idle: the idle timeout from the end of the response. */
    fp->want = SERVE_WANT_READ;
    fp->idle = 1;
    CHECK_EQ_INT(engine_track(&ew, &phase, &since, NULL, 51000, 1), 51000 + 60000);
    CHECK_EQ_INT(phase, ENGINE_PHASE_IDLE);
    /* The next head's first byte starts the header timeout anew. */
    fp->idle = 0;
    CHECK_EQ_INT(engine_track(&ew, &phase, &since, fp, 70000, 1), 70000 + 30000);
    CHECK_EQ_INT(phase, ENGINE_PHASE_HEAD);
    engine_detach(&ew, fp);
    engine_worker_destroy(&ew);
}

/* A connection on an injected clock: its timer fires at the monotonic
 * deadline whatever the wall clock (the `now` the protocol sees) does. */
static int64_t expire_at(int wall_jump)
{
    struct engine_worker ew;
    struct timer_wheel wheel;
    struct engine_conn ec;
    struct sockaddr_in peer = {.sin_family = AF_INET};
    setup_server(10);
    engine_worker_init(&ew, &srv);
    timer_wheel_init(&wheel, 0);
    ew.timers = &wheel;
    int fds[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, fds);
    engine_conn_start(&ew, &ec, fds[0], 0, (struct sockaddr *)&peer, sizeof peer, 0);
    /* A request is answered at 1 s (wall clock 1000 s, then jumping). */
    time_t wall = 1000;
    struct fake_conn *f = engine_conn_proto(&ew, &ec, wall);
    f->want = SERVE_WANT_READ;
    f->idle = 1;
    engine_conn_settle(&ew, &ec, 1000, 1); /* idle: the object goes back, the idle timeout runs */
    int64_t fired = -1;
    for (int64_t now = 1000; now <= 200000 && fired < 0; now += 10) {
        if (now == 5000)
            wall += wall_jump; /* a step of the wall clock, as an NTP correction or an operator makes */
        struct timer *t;
        while ((t = timer_expired(&wheel, now))) {
            if (engine_conn_expired(&ew, &ec, now) == ENGINE_CLOSE_IDLE_TIMEOUT)
                fired = now;
        }
    }
    timer_cancel(&wheel, &ec.timer);
    close(fds[0]);
    close(fds[1]);
    engine_worker_destroy(&ew);
    return fired;
}

static void test_wall_clock_jump_changes_no_timeout(void)
{
    int64_t steady = expire_at(0);
    CHECK(steady >= 61000 && steady <= 61000 + TIMER_SLOT_MS + 10);
    CHECK_EQ_INT(expire_at(3600), steady);
    CHECK_EQ_INT(expire_at(-3600), steady);
}

/* ---- protocol objects: lent while in flight, given back when idle ---- */

static void test_pool_and_peer(void)
{
    struct engine_worker ew;
    struct timer_wheel wheel;
    struct engine_conn ec;
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    struct sockaddr_in v4 = {.sin_family = AF_INET};
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    setup_server(10);
    engine_worker_init(&ew, &srv);
    timer_wheel_init(&wheel, 0);
    ew.timers = &wheel;
    inet_pton(AF_INET, "192.0.2.7", &v4.sin_addr);
    engine_conn_start(&ew, &ec, 99, 0, (struct sockaddr *)&v4, sizeof v4, 0);
    CHECK(ec.proto == NULL); /* nothing held before a byte arrives */
    CHECK(timer_armed(&ec.timer));
    struct fake_conn *f = engine_conn_proto(&ew, &ec, 7);
    CHECK(f != NULL);
    CHECK_EQ_STR(f->peer, "192.0.2.7");
    static const char *const quads[] = {"0.0.0.0", "127.0.0.1", "10.20.30.40", "255.255.255.255", "1.100.99.9"};
    for (size_t i = 0; i < sizeof quads / sizeof *quads; i++) {
        struct engine_peer q;
        inet_pton(AF_INET, quads[i], &v4.sin_addr);
        engine_peer_set(&q, (struct sockaddr *)&v4, sizeof v4);
        struct fake_conn *o = engine_attach(&ew, 0, &q, 0);
        CHECK_EQ_STR(o->peer, quads[i]);
        engine_detach(&ew, o);
    }
    f->idle = 0;
    engine_conn_settle(&ew, &ec, 10, 1);
    CHECK(ec.proto == f); /* mid-request: kept */
    f->idle = 1;
    engine_conn_settle(&ew, &ec, 20, 1);
    CHECK(ec.proto == NULL); /* idle: given back */
    CHECK_EQ_INT(f->released, 1);
    CHECK_EQ_INT(ec.phase, ENGINE_PHASE_IDLE);
    struct fake_conn *g = engine_conn_proto(&ew, &ec, 30);
    CHECK(g == f); /* the pool lends the same object again */
    engine_conn_settle(&ew, &ec, 40, 1);
    engine_peer_set(&ec.peer, (struct sockaddr *)&v6, sizeof v6);
    CHECK_EQ_STR(((struct fake_conn *)engine_conn_proto(&ew, &ec, 50))->peer, "::1");
    engine_conn_settle(&ew, &ec, 60, 1);
    engine_peer_set(&ec.peer, (struct sockaddr *)&un, sizeof un);
    CHECK_EQ_STR(((struct fake_conn *)engine_conn_proto(&ew, &ec, 50))->peer, "unix");
    engine_conn_settle(&ew, &ec, 60, 1);
    engine_peer_set(&ec.peer, NULL, 0);
    CHECK_EQ_STR(((struct fake_conn *)engine_conn_proto(&ew, &ec, 50))->peer, "-");
    /* During a stop a lent object is drained at once. */
    engine_conn_settle(&ew, &ec, 60, 1);
    engine_begin_drain(&ew, 1000);
    CHECK_EQ_INT(ew.drain_end, 1000 + 5000);
    CHECK(((struct fake_conn *)engine_conn_proto(&ew, &ec, 77))->drained);
    ec.fd = -1; /* nothing to close: only the counters and the pool are checked */
    timer_cancel(&wheel, &ec.timer);
    if (ec.proto)
        engine_detach(&ew, ec.proto);
    engine_worker_destroy(&ew);
}

/* Only what reads the peer makes a driver ask the kernel for it. */
static void test_peer_wanted(void)
{
    static const struct serve_proto layer = {.name = "layer"};
    setup_server(10);
    srv.stack[1] = &layer;
    CHECK_EQ_INT(engine_peer_wanted(&srv, 0), 0); /* no access log, no layer */
    CHECK_EQ_INT(engine_peer_wanted(&srv, 1), 1); /* TLS or PROXY in front */
    srv.access_fd = 2;
    CHECK_EQ_INT(engine_peer_wanted(&srv, 0), 1); /* the access log prints it */
}

/* ---- admission and accepting ---- */

static void test_admission(void)
{
    setup_server(2);
    CHECK(engine_admit(&srv));
    CHECK(engine_admit(&srv));
    CHECK(!engine_admit(&srv));
    CHECK_EQ_INT(atomic_load(&srv.live), 2); /* a refusal counts nothing */
    engine_leave(&srv);
    CHECK(engine_admit(&srv));
}

static void test_accept_errors(void)
{
    CHECK_EQ_INT(engine_accept_failed(EAGAIN), ENGINE_ACCEPT_EMPTY);
    CHECK_EQ_INT(engine_accept_failed(EINVAL), ENGINE_ACCEPT_EMPTY);
    CHECK_EQ_INT(engine_accept_failed(EINTR), ENGINE_ACCEPT_RETRY);
    CHECK_EQ_INT(engine_accept_failed(ECONNABORTED), ENGINE_ACCEPT_RETRY);
    CHECK_EQ_INT(engine_accept_failed(EPROTO), ENGINE_ACCEPT_RETRY);
    CHECK_EQ_INT(engine_accept_failed(EPERM), ENGINE_ACCEPT_RETRY);
    CHECK_EQ_INT(engine_accept_failed(EMFILE), ENGINE_ACCEPT_PAUSE);
    CHECK_EQ_INT(engine_accept_failed(ENFILE), ENGINE_ACCEPT_PAUSE);
    CHECK_EQ_INT(engine_accept_failed(ENOBUFS), ENGINE_ACCEPT_PAUSE);
    CHECK_EQ_INT(engine_accept_failed(ENOMEM), ENGINE_ACCEPT_PAUSE);
    CHECK_EQ_INT(engine_accept_failed(EBADF), ENGINE_ACCEPT_PAUSE);
}

static void test_reasons(void)
{
    CHECK_EQ_INT(engine_errno_reason(ECONNRESET), ENGINE_CLOSE_PEER_RESET);
    CHECK_EQ_INT(engine_errno_reason(EPIPE), ENGINE_CLOSE_PEER_RESET);
    CHECK_EQ_INT(engine_errno_reason(ENOMEM), ENGINE_CLOSE_NO_MEMORY);
    CHECK_EQ_INT(engine_errno_reason(ENODATA), ENGINE_CLOSE_FILE_CHANGED);
    CHECK_EQ_INT(engine_errno_reason(ETIMEDOUT), ENGINE_CLOSE_IO_ERROR);
    CHECK_EQ_STR(engine_close_name(ENGINE_CLOSE_IDLE_TIMEOUT), "idle-timeout");
    CHECK_EQ_STR(engine_close_name(ENGINE_CLOSE_DRAIN_CUT), "drain-cut");
    for (int i = 0; i < ENGINE_CLOSE_COUNT; i++)
        CHECK(engine_close_name((enum engine_close)i) != NULL);
}

/* ---- real sockets on loopback ---- */

/* A connected TCP pair on 127.0.0.1: *client, *server. */
static int tcp_pair(int *client, int *server)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 1) != 0 ||
        getsockname(l, (struct sockaddr *)&a, &len) != 0)
        return -1;
    *client = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(*client, (struct sockaddr *)&a, sizeof a) != 0)
        return -1;
    *server = accept(l, NULL, NULL);
    close(l);
    return *server >= 0 ? 0 : -1;
}

/* Everything the peer sends until end of input or an error: bytes, and the error (0: EOF). */
static size_t drain_peer(int fd, char *buf, size_t cap, int *err)
{
    size_t got = 0;
    *err = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 3000) <= 0) {
            *err = ETIMEDOUT;
            return got;
        }
        char scratch[65536];
        ssize_t n = recv(fd, scratch, sizeof scratch, 0);
        if (n < 0) {
            *err = errno;
            return got;
        }
        if (n == 0)
            return got;
        if (got < cap) {
            size_t take = (size_t)n < cap - got ? (size_t)n : cap - got;
            memcpy(buf + got, scratch, take);
        }
        got += (size_t)n;
    }
}

/* The refusal reaches the client whole, even though its request was never
 * read: no reset destroys it. */
static void test_refusal(void)
{
    int c, s, err;
    char got[256];
    setup_server(1);
    CHECK_EQ_INT(engine_totals_open(&srv), 0);
    CHECK_EQ_INT(tcp_pair(&c, &s), 0);
    const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK_EQ_INT(send(c, req, sizeof req - 1, 0), sizeof req - 1);
    usleep(20000); /* the request is in the server's receive queue: the case a plain close would reset */
    engine_refuse(&srv, s, 0);
    size_t n = drain_peer(c, got, sizeof got, &err);
    CHECK_EQ_INT(err, 0);
    CHECK_EQ_MEM(got, n, fake_proto.refusal, strlen(fake_proto.refusal));
    close(c);
    engine_totals_close(&srv);
}

/* A lingering close reads and drops until the peer closes. */
static void test_linger_read(void)
{
    int c, s;
    uint32_t dropped = 0;
    CHECK_EQ_INT(tcp_pair(&c, &s), 0);
    fcntl(s, F_SETFL, O_NONBLOCK);
    CHECK_EQ_INT(engine_linger_read(s, &dropped), 1); /* nothing yet: go on */
    char junk[3000];
    memset(junk, 'j', sizeof junk);
    CHECK_EQ_INT(send(c, junk, sizeof junk, 0), sizeof junk);
    usleep(20000);
    CHECK_EQ_INT(engine_linger_read(s, &dropped), 1);
    CHECK_EQ_INT(dropped, sizeof junk);
    close(c);
    usleep(20000);
    CHECK_EQ_INT(engine_linger_read(s, &dropped), 0); /* end of input: over */
    close(s);
}

/* Bytes the server queued for a client that stopped reading: a send
 * timeout resets them away; an ordinary close delivers them. */
static size_t queue_until_full(int s)
{
    static char block[65536];
    size_t queued = 0;
    fcntl(s, F_SETFL, O_NONBLOCK);
    for (;;) {
        ssize_t n = send(s, block, sizeof block, MSG_NOSIGNAL);
        if (n <= 0)
            return queued;
        queued += (size_t)n;
    }
}

static void test_reset_on_timeout(void)
{
    int c, s, err;
    char ignored[1];
    struct engine_worker ew;
    setup_server(10);
    engine_worker_init(&ew, &srv);
    CHECK_EQ_INT(tcp_pair(&c, &s), 0);
    size_t queued = queue_until_full(s);
    CHECK(queued > 0);
    engine_close_fd(&ew, s, ENGINE_CLOSE_SEND_TIMEOUT);
    size_t n = drain_peer(c, ignored, 0, &err);
    CHECK_EQ_INT(err, ECONNRESET);
    CHECK(n < queued);
    close(c);
    CHECK_EQ_INT(tcp_pair(&c, &s), 0);
    queued = queue_until_full(s);
    engine_close_fd(&ew, s, ENGINE_CLOSE_DONE);
    n = drain_peer(c, ignored, 0, &err);
    CHECK_EQ_INT(err, 0);
    CHECK_EQ_INT(n, queued);
    close(c);
    CHECK_EQ_INT(ew.stats.closes[ENGINE_CLOSE_SEND_TIMEOUT], 1);
    CHECK_EQ_INT(ew.stats.closes[ENGINE_CLOSE_DONE], 1);
    engine_worker_destroy(&ew);
}

/* Each worker's counts reach the server's totals when it ends, also from
 * a forked child (shared memory). */
static void test_totals(void)
{
    struct engine_worker ew;
    setup_server(10);
    CHECK_EQ_INT(engine_totals_open(&srv), 0);
    engine_worker_init(&ew, &srv);
    ew.stats.closes[ENGINE_CLOSE_DRAIN_CUT] = 2;
    engine_worker_destroy(&ew);
    pid_t pid = fork();
    if (pid == 0) {
        struct engine_worker child;
        engine_worker_init(&child, &srv);
        child.stats.closes[ENGINE_CLOSE_DRAIN_CUT] = 3;
        engine_worker_destroy(&child);
        _exit(0);
    }
    int status = -1;
    waitpid(pid, &status, 0);
    CHECK_EQ_INT(status, 0);
    CHECK_EQ_INT(engine_drain_cut(&srv), 5);
    engine_totals_close(&srv);
}

int main(void)
{
    test_deadlines();
    test_track();
    test_wall_clock_jump_changes_no_timeout();
    test_pool_and_peer();
    test_peer_wanted();
    test_admission();
    test_accept_errors();
    test_reasons();
    test_refusal();
    test_linger_read();
    test_reset_on_timeout();
    test_totals();
    return test_report();
}
