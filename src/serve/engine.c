#include "serve/engine.h"

#include <arpa/inet.h>
#include <stdalign.h>
#include <errno.h>
#include <stddef.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "net/addr.h"
#include "serve/log.h"
#include "tls/server.h"

static const char *const close_names[ENGINE_CLOSE_COUNT] = {
    [ENGINE_CLOSE_DONE] = "done",
    [ENGINE_CLOSE_PEER_CLOSED] = "peer-closed",
    [ENGINE_CLOSE_PEER_RESET] = "peer-reset",
    [ENGINE_CLOSE_IO_ERROR] = "io-error",
    [ENGINE_CLOSE_REFUSED] = "refused-request",
    [ENGINE_CLOSE_HEADER_TIMEOUT] = "header-timeout",
    [ENGINE_CLOSE_IDLE_TIMEOUT] = "idle-timeout",
    [ENGINE_CLOSE_SEND_TIMEOUT] = "send-timeout",
    [ENGINE_CLOSE_LIMIT] = "over-limit",
    [ENGINE_CLOSE_NO_MEMORY] = "no-memory",
    [ENGINE_CLOSE_FILE_CHANGED] = "file-changed",
    [ENGINE_CLOSE_STOP] = "stop",
    [ENGINE_CLOSE_DRAIN_CUT] = "drain-cut",
    [ENGINE_CLOSE_PROXY_HEADER] = "proxy-header",
    [ENGINE_CLOSE_HANDSHAKE] = "tls-handshake-failed",
};

const char *engine_close_name(enum engine_close why)
{
    return why < ENGINE_CLOSE_COUNT ? close_names[why] : "?";
}

/* ---- timeouts ---------------------------------------------------------- */

void engine_timeouts_init(struct engine_timeouts *t, const struct serve_config *cfg)
{
    t->ms[ENGINE_PHASE_IDLE] = (int64_t)cfg->idle_timeout * 1000;
    t->ms[ENGINE_PHASE_HEAD] = (int64_t)cfg->header_timeout * 1000;
    t->ms[ENGINE_PHASE_SEND] = (int64_t)cfg->send_timeout * 1000;
    t->ms[ENGINE_PHASE_LINGER] = ENGINE_LINGER_MS;
}

enum engine_phase engine_phase_of(const void *conn)
{
    if (!conn)
        return ENGINE_PHASE_IDLE;
    const struct serve_proto *p = engine_proto_of(conn);
    enum serve_want want = p->want(conn);
    if (want == SERVE_WANT_WRITE || want == SERVE_WANT_WAIT)
        return ENGINE_PHASE_SEND; /* a response under way, even while its body is being made */
    return p->idle(conn) ? ENGINE_PHASE_IDLE : ENGINE_PHASE_HEAD;
}

int64_t engine_deadline(const struct engine_timeouts *t, enum engine_phase phase, int64_t since_ms)
{
    return since_ms + t->ms[phase];
}

int64_t engine_track(const struct engine_worker *ew, uint8_t *phase, int64_t *since_ms, const void *conn,
                     int64_t now_ms, int progressed)
{
    enum engine_phase next = engine_phase_of(conn);
    if (next == ENGINE_PHASE_IDLE && *phase == ENGINE_PHASE_HEAD && !progressed)
        next = ENGINE_PHASE_HEAD;
    /* A send's clock runs from its last progress, an idle one's from the
     * response that just ended; a head's from its first byte only. */
    if (next != *phase || (progressed && next != ENGINE_PHASE_HEAD)) {
        *phase = (uint8_t)next;
        *since_ms = now_ms;
    }
    return engine_deadline(&ew->timeouts, next, *since_ms);
}

enum engine_close engine_timeout_reason(enum engine_phase phase)
{
    switch (phase) {
    case ENGINE_PHASE_IDLE:
        return ENGINE_CLOSE_IDLE_TIMEOUT;
    case ENGINE_PHASE_HEAD:
        return ENGINE_CLOSE_HEADER_TIMEOUT;
    case ENGINE_PHASE_SEND:
        return ENGINE_CLOSE_SEND_TIMEOUT;
    case ENGINE_PHASE_LINGER:
        break;
    }
    return ENGINE_CLOSE_DONE; /* a lingering close that ran its time ends as it began */
}

/* ---- admission --------------------------------------------------------- */

int engine_admit(struct server *srv)
{
    if (atomic_fetch_add(&srv->live, 1) < srv->cfg->max_conns)
        return 1;
    atomic_fetch_sub(&srv->live, 1);
    return 0;
}

void engine_leave(struct server *srv)
{
    atomic_fetch_sub(&srv->live, 1);
}

/* The refusal fits any socket buffer, so one non-blocking send takes it all.
 * Closing with a request unread would answer with a reset that can destroy
 * the 503 before the client reads it: what has already arrived is read and
 * dropped first, without waiting for more. */
void engine_refuse(const struct server *srv, int fd, unsigned listener)
{
    const char *busy = engine_listener_proto(srv, listener)->refusal;
    char scratch[512];
    if (busy && send(fd, busy, strlen(busy), MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN &&
        errno != ECONNRESET && errno != EPIPE)
        log_syscall("send", "503", errno);
    shutdown(fd, SHUT_WR);
    for (int i = 0; i < 16 && recv(fd, scratch, sizeof scratch, MSG_DONTWAIT) > 0; i++)
        ;
    if (srv->totals)
        atomic_fetch_add(&srv->totals->closes[ENGINE_CLOSE_LIMIT], 1);
    if (close(fd) != 0 && errno != EINTR)
        log_syscall("close", "refused connection", errno);
}

/* ---- accepting --------------------------------------------------------- */

static struct log_limit accept_failed = LOG_LIMIT_INIT("accept4(accepting paused for 100 ms)");

enum engine_accept engine_accept_failed(int err)
{
    switch (err) {
    case EAGAIN:
        return ENGINE_ACCEPT_EMPTY;
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case EPERM: /* a firewall rule refused this one connection */
        return ENGINE_ACCEPT_RETRY;
    case EINVAL: /* the listener was shut down by a graceful stop */
        return ENGINE_ACCEPT_EMPTY;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
    default:
        /* Out of descriptors or memory, or unexpected and perhaps lasting:
         * rest rather than spin on it. Every worker fails again after each
         * pause, so the log hears of it once a second. */
        log_syscall_limited(&accept_failed, "accept4", "accepting paused for 100 ms", err);
        return ENGINE_ACCEPT_PAUSE;
    }
}

/* ---- a worker ---------------------------------------------------------- */

int engine_worker_init(struct engine_worker *ew, struct server *srv)
{
    memset(ew, 0, offsetof(struct engine_worker, ctx)); /* serve_ctx_init does the rest */
    ew->srv = srv;
    engine_timeouts_init(&ew->timeouts, srv->cfg);
    return serve_ctx_init(&ew->ctx, srv);
}

/* What engine_attach puts before each protocol object, padded so that the
 * object keeps the strictest alignment. */
struct obj_head {
    const struct serve_proto *proto;
    unsigned listener;
};
#define OBJ_HEAD \
    ((sizeof(struct obj_head) + alignof(max_align_t) - 1) / alignof(max_align_t) * alignof(max_align_t))

static struct obj_head *head_of(const void *conn)
{
    return (struct obj_head *)((char *)(uintptr_t)conn - OBJ_HEAD);
}

const struct serve_proto *engine_proto_of(const void *conn)
{
    return head_of(conn)->proto;
}

static void free_pool(struct engine_worker *ew)
{
    for (int i = 0; i < SERVE_MAX_LISTEN; i++)
        while (ew->pool[i]) {
            void **obj = ew->pool[i];
            ew->pool[i] = *obj;
            free(head_of(obj));
        }
}

void engine_trim(struct engine_worker *ew)
{
    free_pool(ew);
    serve_ctx_trim(&ew->ctx);
}

void engine_fold(struct engine_worker *ew)
{
    struct engine_totals *t = ew->srv->totals;
    struct metrics_local *m = &ew->ctx.metrics;
    if (ew->ctx.files)
        file_cache_take_counts(ew->ctx.files, &m->v[METRICS_CACHE_HITS], &m->v[METRICS_CACHE_MISSES]);
    if (t) {
        if (ew->stats.accepted)
            atomic_fetch_add(&t->accepted, ew->stats.accepted);
        for (int i = 0; i < ENGINE_CLOSE_COUNT; i++)
            if (ew->stats.closes[i])
                atomic_fetch_add(&t->closes[i], ew->stats.closes[i]);
        metrics_fold(&t->metrics, m);
    }
    memset(&ew->stats, 0, sizeof ew->stats);
}

void engine_worker_destroy(struct engine_worker *ew)
{
    if (!ew->srv)
        return;
    engine_fold(ew);
    free_pool(ew);
    serve_ctx_destroy(&ew->ctx);
    /* A worker ends with its thread (the thread model's, one a connection):
     * the TLS library's state for the thread goes now, before the process
     * may exit. */
    tls_thread_done();
}

void engine_peer_set(struct engine_peer *peer, const struct sockaddr *sa, socklen_t len)
{
    memset(peer, 0, sizeof *peer);
    if (!sa || len < (socklen_t)sizeof(sa_family_t))
        return;
    peer->family = (uint8_t)sa->sa_family;
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in))
        memcpy(peer->addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    else if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6))
        memcpy(peer->addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
}

int engine_peer_wanted(const struct server *srv, unsigned listener)
{
    return srv->access_fd >= 0 || engine_listener_proto(srv, listener) != srv->proto;
}

/* Dotted quad by hand: a keep-alive connection formats its peer once per
 * request (its protocol object is new after each idle spell), and this is
 * several times cheaper than inet_ntop. */
static void ipv4_text(const uint8_t a[4], char *out)
{
    for (int i = 0; i < 4; i++) {
        unsigned v = a[i];
        if (v >= 100)
            *out++ = (char)('0' + v / 100);
        if (v >= 10)
            *out++ = (char)('0' + v / 10 % 10);
        *out++ = (char)('0' + v % 10);
        *out++ = i < 3 ? '.' : '\0';
    }
}

/* The text the access log shows for a peer: its address, "unix", or "-". */
static void peer_text(const struct engine_peer *peer, char *out, size_t cap)
{
    if (peer->family == AF_INET && cap >= 16) {
        ipv4_text(peer->addr, out);
        return;
    }
    if (peer->family == AF_INET6 && inet_ntop(AF_INET6, peer->addr, out, cap))
        return;
    snprintf(out, cap, "%s", peer->family == AF_UNIX ? "unix" : "-");
}

void *engine_attach(struct engine_worker *ew, unsigned listener, const struct engine_peer *peer, time_t now)
{
    char text[INET6_ADDRSTRLEN + 2];
    const struct serve_proto *p = engine_listener_proto(ew->srv, listener);
    void **obj = ew->pool[listener];
    if (obj) {
        ew->pool[listener] = *obj;
    } else {
        struct obj_head *head = malloc(OBJ_HEAD + p->conn_size);
        if (!head)
            return NULL;
        *head = (struct obj_head){p, listener};
        obj = (void **)((char *)head + OBJ_HEAD);
        /* The object is the allocation OBJ_HEAD bytes in: free_pool and the
         * caller's detach give back head_of(obj). */
        // cppcheck-suppress memleak
    }
    peer_text(peer, text, sizeof text);
    p->init(obj, p, &ew->ctx, text);
    if (ew->draining)
        p->drain(obj, now);
    return obj;
}

void engine_rest(void *conn)
{
    const struct serve_proto *p = engine_proto_of(conn);
    if (p->trim && p->want(conn) == SERVE_WANT_READ && p->idle(conn))
        p->trim(conn);
}

void engine_detach(struct engine_worker *ew, void *conn)
{
    const struct obj_head *head = head_of(conn);
    head->proto->release(conn);
    *(void **)conn = ew->pool[head->listener];
    ew->pool[head->listener] = conn;
}

void engine_begin_drain(struct engine_worker *ew, int64_t now_ms)
{
    if (ew->draining)
        return;
    ew->draining = 1;
    ew->drain_end = now_ms + (int64_t)ew->srv->cfg->drain_timeout * 1000;
}

void engine_tick(struct engine_worker *ew, time_t now)
{
    if (now == ew->ticked)
        return;
    ew->ticked = now;
    if (ew->ctx.files)
        file_cache_tick(ew->ctx.files, now);
    engine_fold(ew);
    log_limits_flush(timer_clock_ms(), 0);
}

/* ---- ending ------------------------------------------------------------ */

enum engine_close engine_end_reason(const struct engine_worker *ew, const void *conn)
{
    switch (engine_proto_of(conn)->end(conn)) {
    case SERVE_END_PEER:
        return ENGINE_CLOSE_PEER_CLOSED;
    case SERVE_END_REFUSED:
        return ENGINE_CLOSE_REFUSED;
    case SERVE_END_PROXY_HEADER:
        return ENGINE_CLOSE_PROXY_HEADER;
    case SERVE_END_HANDSHAKE:
        return ENGINE_CLOSE_HANDSHAKE;
    case SERVE_END_DONE:
        break;
    }
    return ew->draining ? ENGINE_CLOSE_STOP : ENGINE_CLOSE_DONE;
}

enum engine_close engine_errno_reason(int err)
{
    switch (err) {
    case ECONNRESET:
    case EPIPE:
        return ENGINE_CLOSE_PEER_RESET;
    case ENOMEM:
    case ENOBUFS:
        return ENGINE_CLOSE_NO_MEMORY;
    case ENODATA:
        return ENGINE_CLOSE_FILE_CHANGED;
    default:
        return ENGINE_CLOSE_IO_ERROR;
    }
}

int engine_should_linger(const struct engine_worker *ew, const void *conn, enum engine_close why)
{
    (void)ew;
    if (why != ENGINE_CLOSE_DONE && why != ENGINE_CLOSE_REFUSED && why != ENGINE_CLOSE_STOP)
        return 0;
    return conn && engine_proto_of(conn)->unread(conn);
}

void engine_linger_begin(int fd)
{
    if (shutdown(fd, SHUT_WR) != 0 && errno != ENOTCONN)
        log_syscall("shutdown", "lingering close", errno);
}

int engine_linger_read(int fd, uint32_t *dropped)
{
    char scratch[16384];
    for (;;) {
        ssize_t n = recv(fd, scratch, sizeof scratch, MSG_DONTWAIT);
        if (n > 0) {
            *dropped += (uint32_t)n;
            if (*dropped >= ENGINE_LINGER_BYTES)
                return 0;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
}

static int is_timeout(enum engine_close why)
{
    return why == ENGINE_CLOSE_HEADER_TIMEOUT || why == ENGINE_CLOSE_SEND_TIMEOUT || why == ENGINE_CLOSE_DRAIN_CUT;
}

void engine_close_prepare(struct engine_worker *ew, int fd, enum engine_close why)
{
    /* nginx's reset_timedout_connection: a peer that stopped reading would
     * keep what is queued for it in the kernel, in FIN-WAIT, for minutes. */
    if (is_timeout(why)) {
        struct linger reset = {.l_onoff = 1, .l_linger = 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    }
    ew->stats.closes[why]++;
}

void engine_close_fd(struct engine_worker *ew, int fd, enum engine_close why)
{
    engine_close_prepare(ew, fd, why);
    if (close(fd) != 0 && errno != EINTR)
        log_syscall("close", "connection", errno);
}

/* ---- the event drivers' connections ------------------------------------ */

void engine_conn_start(struct engine_worker *ew, struct engine_conn *ec, int fd, unsigned listener,
                       const struct sockaddr *peer, socklen_t peer_len, int64_t now_ms)
{
    timer_init(&ec->timer);
    ec->fd = fd;
    ec->listener = (uint8_t)listener;
    ec->proto = NULL;
    ec->flags = 0;
    ec->phase = ENGINE_PHASE_HEAD;
    ec->since_ms = now_ms;
    engine_peer_set(&ec->peer, peer, peer_len);
    if (ew->timers)
        timer_set(ew->timers, &ec->timer, engine_deadline(&ew->timeouts, ENGINE_PHASE_HEAD, now_ms));
    ew->stats.accepted++;
}

void *engine_conn_proto(struct engine_worker *ew, struct engine_conn *ec, time_t now)
{
    if (!ec->proto)
        ec->proto = engine_attach(ew, ec->listener, &ec->peer, now);
    return ec->proto;
}

void engine_conn_settle(struct engine_worker *ew, struct engine_conn *ec, int64_t now_ms, int progressed)
{
    if (ec->phase == ENGINE_PHASE_LINGER)
        return;
    if (ec->proto && serve_proto_releasable(engine_proto(ew, ec), ec->proto)) {
        engine_detach(ew, ec->proto);
        ec->proto = NULL;
    } else if (ec->proto) {
        engine_rest(ec->proto);
    }
    int64_t due = engine_track(ew, &ec->phase, &ec->since_ms, ec->proto, now_ms, progressed);
    if (ew->timers && (!timer_armed(&ec->timer) || due < ec->timer.due_ms))
        timer_set(ew->timers, &ec->timer, due);
}

int engine_conn_linger(struct engine_worker *ew, struct engine_conn *ec, enum engine_close why, int64_t now_ms)
{
    if (!engine_should_linger(ew, ec->proto, why))
        return 0;
    engine_detach(ew, ec->proto);
    engine_linger_begin(ec->fd);
    ec->phase = ENGINE_PHASE_LINGER;
    ec->linger.dropped = 0;
    ec->linger.why = (uint8_t)why;
    ec->since_ms = now_ms;
    if (ew->timers)
        timer_set(ew->timers, &ec->timer, engine_deadline(&ew->timeouts, ENGINE_PHASE_LINGER, now_ms));
    return 1;
}

int engine_conn_lingered(struct engine_worker *ew, struct engine_conn *ec)
{
    (void)ew;
    return engine_linger_read(ec->fd, &ec->linger.dropped);
}

enum engine_close engine_conn_expired(struct engine_worker *ew, struct engine_conn *ec, int64_t now_ms)
{
    int64_t due = engine_deadline(&ew->timeouts, (enum engine_phase)ec->phase, ec->since_ms);
    if (now_ms >= due)
        return engine_timeout_reason((enum engine_phase)ec->phase);
    timer_set(ew->timers, &ec->timer, due);
    return ENGINE_CLOSE_COUNT;
}

void engine_conn_close(struct engine_worker *ew, struct engine_conn *ec, enum engine_close why)
{
    engine_conn_forget(ew, ec, why);
    if (close(ec->fd) != 0 && errno != EINTR)
        log_syscall("close", "connection", errno);
}

void engine_conn_forget(struct engine_worker *ew, struct engine_conn *ec, enum engine_close why)
{
    if (ec->phase == ENGINE_PHASE_LINGER) {
        if (why == ENGINE_CLOSE_DONE) /* the linger ran its time: the reason it began with */
            why = (enum engine_close)ec->linger.why;
        ec->proto = NULL;
    } else if (ec->proto) {
        engine_detach(ew, ec->proto);
        ec->proto = NULL;
    }
    if (ew->timers)
        timer_cancel(ew->timers, &ec->timer);
    engine_close_prepare(ew, ec->fd, why);
    engine_leave(ew->srv);
}

/* ---- the server's totals ----------------------------------------------- */

int engine_totals_open(struct server *srv)
{
    void *p = mmap(NULL, sizeof(struct engine_totals), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        log_syscall("mmap", "connection counters", errno);
        return -1;
    }
    srv->totals = p;
    return 0;
}

void engine_totals_close(struct server *srv)
{
    if (srv->totals)
        munmap(srv->totals, sizeof(struct engine_totals));
    srv->totals = NULL;
}

uint64_t engine_drain_cut(const struct server *srv)
{
    return srv->totals ? atomic_load(&srv->totals->closes[ENGINE_CLOSE_DRAIN_CUT]) : 0;
}

void engine_report(const struct server *srv)
{
    char line[1024];
    size_t n = 0;
    const struct engine_totals *t = srv->totals;
    if (!t || srv->cfg->quiet)
        return;
    n += (size_t)snprintf(line, sizeof line, "connections: %llu accepted; closed:",
                          (unsigned long long)atomic_load(&t->accepted));
    const char *sep = " ";
    for (int i = 0; i < ENGINE_CLOSE_COUNT && n < sizeof line; i++) {
        uint64_t c = atomic_load(&t->closes[i]);
        if (c) {
            n += (size_t)snprintf(line + n, sizeof line - n, "%s%s %llu", sep, close_names[i], (unsigned long long)c);
            sep = ", ";
        }
    }
    if (n < sizeof line && *sep == ' ')
        snprintf(line + n, sizeof line - n, " none");
    log_error("%s", line);
}

/* What an idle connection costs, kept: a listener index had to fit. */
_Static_assert(sizeof(struct engine_conn) <= 64, "an idle connection's record fits a cache line");
