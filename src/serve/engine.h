/* The connection rules, written once. Every driver (the reactor of select,
 * poll and epoll, io_uring, and the blocking loop of the iterative, fork,
 * thread and pool models) asks here who may come in and what the others are
 * told, what an accept failure means, which timeout a connection is under,
 * how a stop drains, and how and why a connection ends. The drivers decide
 * only who calls these and when.
 *
 * An engine worker is what one thread (or forked process) serving
 * connections owns: its serve_ctx, its counters, and a pool of protocol
 * objects. A connection borrows an object from the pool while something is in
 * flight and gives it back when it falls idle, so an idle connection costs
 * its engine_conn and nothing more. */
#ifndef DUCT_SERVE_ENGINE_H
#define DUCT_SERVE_ENGINE_H

#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "loop/timer.h"
#include "serve/context.h"
#include "serve/metrics.h"
#include "serve/proto.h"
#include "serve/server.h"

/* After EMFILE, ENFILE or an unexpected failure, accepting rests this long
 * instead of spinning on a listener that stays ready (OpenBSD httpd's back-off). */
#define ENGINE_ACCEPT_PAUSE_MS 100

/* Why a connection ended: counted per worker, summed when the server stops. */
enum engine_close {
    ENGINE_CLOSE_DONE,           /* the protocol finished (Connection: close, HTTP/1.0) */
    ENGINE_CLOSE_PEER_CLOSED,    /* the peer closed its side first */
    ENGINE_CLOSE_PEER_RESET,     /* ECONNRESET or EPIPE */
    ENGINE_CLOSE_IO_ERROR,       /* another socket error */
    ENGINE_CLOSE_REFUSED,        /* a refused request (4xx) left the framing untrustworthy */
    ENGINE_CLOSE_HEADER_TIMEOUT, /* a request head took longer than --header-timeout */
    ENGINE_CLOSE_IDLE_TIMEOUT,   /* no request for --idle-timeout */
    ENGINE_CLOSE_SEND_TIMEOUT,   /* the peer took no bytes for --send-timeout */
    ENGINE_CLOSE_LIMIT,          /* over --max-conns, or beyond what the backend can watch: 503 */
    ENGINE_CLOSE_NO_MEMORY,      /* no memory for the connection's state or buffer */
    ENGINE_CLOSE_FILE_CHANGED,   /* a file shrank under its response */
    ENGINE_CLOSE_STOP,           /* idle when a graceful stop began */
    ENGINE_CLOSE_DRAIN_CUT,      /* still busy when the stop's --drain-timeout passed */
    ENGINE_CLOSE_PROXY_HEADER,   /* no valid PROXY header on a listener that wants one */
    ENGINE_CLOSE_HANDSHAKE,      /* a TLS handshake failed (not TLS, bad version, no shared cipher) */
    ENGINE_CLOSE_COUNT
};

/* The short name of a reason, as the stop summary prints it ("idle-timeout"). */
const char *engine_close_name(enum engine_close why);

struct engine_stats {
    uint64_t accepted;
    uint64_t closes[ENGINE_CLOSE_COUNT];
};

/* The timeout a connection is under, from its protocol's state. */
enum engine_phase {
    ENGINE_PHASE_IDLE,   /* between requests: the idle timeout, from the end of the last response */
    ENGINE_PHASE_HEAD,   /* a request is arriving: the header timeout, from its first byte */
    ENGINE_PHASE_SEND,   /* a response is leaving (or waits for its body to be made): the send
                            timeout, from the last progress */
    ENGINE_PHASE_LINGER, /* closing: what the peer still sends is read and dropped, briefly */
};

struct engine_worker;

/* Milliseconds for each phase; the iterative model shortens idle_ms. */
struct engine_timeouts {
    int64_t ms[4]; /* indexed by enum engine_phase */
};

/* How long a lingering close reads and drops, and how much at most. */
#define ENGINE_LINGER_MS 2000
#define ENGINE_LINGER_BYTES (1 << 20)

void engine_timeouts_init(struct engine_timeouts *t, const struct serve_config *cfg);

/* The phase of a protocol object (NULL: a connection with nothing in flight). */
enum engine_phase engine_phase_of(const void *conn);

/* When a phase that began (or last progressed) at since_ms ends. */
int64_t engine_deadline(const struct engine_timeouts *t, enum engine_phase phase, int64_t since_ms);

/* Follows a connection's phase after a driver moved bytes (progressed) or
 * not: the phase comes from the protocol's state (conn NULL: idle), and
 * *since_ms restarts when the phase changes, a send progressed or an
 * exchange ended (idle again). A new
 * connection stays under the header timeout until its first request is
 * answered. Returns the deadline. */
int64_t engine_track(const struct engine_worker *ew, uint8_t *phase, int64_t *since_ms, const void *conn,
                     int64_t now_ms, int progressed);

/* The reason a connection closed because its phase's deadline passed. */
enum engine_close engine_timeout_reason(enum engine_phase phase);

/* ---- admission --------------------------------------------------------- */

/* Counts a new connection against --max-conns: 1 admitted (give the slot back
 * with engine_leave), 0 over the limit (nothing counted: engine_refuse it). */
int engine_admit(struct server *srv);
void engine_leave(struct server *srv);

/* The one answer beyond the limit, in every model: the protocol's refusal
 * (HTTP 503 with Retry-After) written without reading the request and
 * without waiting, then close. */
void engine_refuse(const struct server *srv, int fd, unsigned listener);

/* ---- accepting --------------------------------------------------------- */

enum engine_accept {
    ENGINE_ACCEPT_RETRY, /* this connection is gone (aborted, interrupted): accept again */
    ENGINE_ACCEPT_EMPTY, /* nothing more to accept now */
    ENGINE_ACCEPT_PAUSE, /* out of descriptors or memory, or unexpected: rest ENGINE_ACCEPT_PAUSE_MS */
};

/* What accept's errno means, logged when it is worth a line. */
enum engine_accept engine_accept_failed(int err);

/* ---- a worker ---------------------------------------------------------- */

struct engine_worker {
    struct server *srv;
    struct engine_timeouts timeouts;
    struct engine_stats stats;
    /* The event drivers' deadlines. NULL in a thread that hands its
     * connections back to another that owns the wheel (the blocking models):
     * the engine_conn_* calls then leave the timer alone. */
    struct timer_wheel *timers;
    /* Free protocol objects of each listener's stack (their sizes differ:
     * TLS wraps HTTP), linked through their first bytes. */
    void *pool[SERVE_MAX_LISTEN];
    int draining;      /* a graceful stop began */
    int64_t drain_end; /* monotonic ms when the stop cuts what is left */
    time_t ticked;     /* the second of the last engine_tick */
    /* Last: its access-log buffer is touched only when lines are written, so
     * a thread that holds its worker on its stack (the thread model) pays
     * for the buffer only when it logs. */
    struct serve_ctx ctx;
};

/* The peer's address in 17 bytes, formatted only when a request starts. */
struct engine_peer {
    uint8_t family; /* AF_INET, AF_INET6, AF_UNIX: all below 256 */
    uint8_t addr[16];
};

void engine_peer_set(struct engine_peer *peer, const struct sockaddr *sa, socklen_t len);

/* Whether anything reads the peer's address of listener's connections: the
 * access log, or a layer (TLS names it in a failed handshake's line, PROXY
 * stands it in for a header that names no client). A driver whose accept
 * does not give the address (io_uring's multishot accept) asks the kernel
 * for it only then. */
int engine_peer_wanted(const struct server *srv, unsigned listener);

/* What an event-driven worker keeps for every connection, idle or not: 64
 * bytes on x86_64. The protocol object is attached only while something is
 * in flight. */
struct engine_conn {
    struct timer timer;  /* fires at the phase's deadline, or earlier (then re-armed) */
    int64_t since_ms;    /* start of the phase, or the last progress of a send */
    union {
        void *proto; /* the protocol object, NULL while idle */
        struct {
            uint32_t dropped; /* bytes read and dropped so far */
            uint8_t why;      /* enum engine_close: counted when the linger ends */
        } linger;             /* in ENGINE_PHASE_LINGER, which holds no protocol object */
    };
    int fd;
    uint8_t phase;       /* enum engine_phase */
    uint8_t flags;       /* the driver's own */
    uint8_t listener;    /* the address it came in on: which protocol stack it speaks */
    struct engine_peer peer;
};

/* The protocol stack a listener's connections speak (TLS in front of HTTP,
 * or HTTP alone). */
static inline const struct serve_proto *engine_listener_proto(const struct server *srv, unsigned listener)
{
    return srv->stack[listener];
}

/* The protocol a connection speaks: what every driver calls instead of
 * assuming one protocol per server. */
static inline const struct serve_proto *engine_proto(const struct engine_worker *ew, const struct engine_conn *ec)
{
    return engine_listener_proto(ew->srv, ec->listener);
}

/* The protocol a protocol object runs, for a caller that has only the object:
 * engine_attach keeps it just before the object. */
const struct serve_proto *engine_proto_of(const void *conn);

/* A new connection: no protocol object yet, under the header timeout. */
void engine_conn_start(struct engine_worker *ew, struct engine_conn *ec, int fd, unsigned listener,
                       const struct sockaddr *peer, socklen_t peer_len, int64_t now_ms);

/* The connection's protocol object, attached from the pool if it has none.
 * NULL when out of memory. */
void *engine_conn_proto(struct engine_worker *ew, struct engine_conn *ec, time_t now);

/* After a driver moved bytes (progressed) or not: an idle protocol object
 * goes back to the pool, the phase follows the protocol's state, and the
 * timer is moved when the deadline came nearer (a later one is found when
 * the timer fires: re-arming on every send would cost more). */
void engine_conn_settle(struct engine_worker *ew, struct engine_conn *ec, int64_t now_ms, int progressed);

/* The connection ends for `why`. When the peer may still be sending, this
 * begins a lingering close and returns 1: the driver then waits for the
 * socket to be readable and calls engine_conn_lingered. Otherwise it returns
 * 0 having done nothing, and the driver closes. */
int engine_conn_linger(struct engine_worker *ew, struct engine_conn *ec, enum engine_close why, int64_t now_ms);

/* The lingering connection is readable: 1 while it lingers on, 0 when it is
 * over (the driver closes it; the reason it began with is counted). */
int engine_conn_lingered(struct engine_worker *ew, struct engine_conn *ec);

/* The connection's timer fired: the reason to close it, or ENGINE_CLOSE_COUNT
 * when its deadline moved on (the timer is then re-armed). */
enum engine_close engine_conn_expired(struct engine_worker *ew, struct engine_conn *ec, int64_t now_ms);

/* Gives back the protocol object (if any) and the timer, then closes. */
void engine_conn_close(struct engine_worker *ew, struct engine_conn *ec, enum engine_close why);

/* engine_conn_close but for the close itself, which the caller does (io_uring
 * queues it with the next submission): ec->fd must be closed and not used again. */
void engine_conn_forget(struct engine_worker *ew, struct engine_conn *ec, enum engine_close why);

/* 0, or -1 after logging why. */
int engine_worker_init(struct engine_worker *ew, struct server *srv);

/* Adds the counters to the server's totals and frees the rest. Call once no
 * connection of this worker is open. Safe after a failed init. */
void engine_worker_destroy(struct engine_worker *ew);

/* A protocol object of listener's stack for a connection from peer, from the
 * pool; drained at once when a stop is under way. NULL when out of memory. */
void *engine_attach(struct engine_worker *ew, unsigned listener, const struct engine_peer *peer, time_t now);

/* An idle object that stays (keeps_state) gives back its buffers; a
 * driver calls this before a connection waits idle with its object. */
void engine_rest(void *conn);

/* Releases a protocol object and gives it back to the pool. */
void engine_detach(struct engine_worker *ew, void *conn);

/* Gives what the worker's pools hold back to the allocator: for a thread
 * that closes connections other threads served (the pool model's poll set),
 * whose pools would otherwise only grow. */
void engine_trim(struct engine_worker *ew);

/* Begins a graceful stop: the deadline for what is still in flight. */
void engine_begin_drain(struct engine_worker *ew, int64_t now_ms);

/* The worker's housekeeping, which every driver calls at least once a second,
 * busy or idle (now: serve_clock): the file cache lets go of the files a past
 * second opened, and repeated errors held back from the log are counted out.
 * A call within the same second as the last returns at once. */
void engine_tick(struct engine_worker *ew, time_t now);

/* ---- ending ------------------------------------------------------------ */

/* Why the connection ends now that its protocol said close. */
enum engine_close engine_end_reason(const struct engine_worker *ew, const void *conn);

/* Why the connection ends after a failed I/O call (errno as io.c left it). */
enum engine_close engine_errno_reason(int err);

/* Whether a close for `why` should first linger: send our FIN and read and
 * drop what the peer still sends, so that a reset does not destroy the end
 * of the response it has not read yet (RFC 9112 §9.6). */
int engine_should_linger(const struct engine_worker *ew, const void *conn, enum engine_close why);

/* Shuts the sending side down for a lingering close. */
void engine_linger_begin(int fd);

/* Reads and drops what the peer sent during a lingering close: 1 while it
 * should go on, 0 when it is over (end of input, an error, or the byte
 * bound). Never blocks. */
int engine_linger_read(int fd, uint32_t *dropped);

/* Counts the reason and closes fd. A connection that timed out is reset
 * (SO_LINGER 0), so that nothing it left queued stays in the kernel. */
void engine_close_fd(struct engine_worker *ew, int fd, enum engine_close why);

/* engine_close_fd without the close: the reset of a timed-out connection and the count. */
void engine_close_prepare(struct engine_worker *ew, int fd, enum engine_close why);

/* ---- the server's totals ----------------------------------------------- */

/* The server's totals live in shared memory so that forked children can add
 * theirs; every worker adds what it counted once a second (engine_tick) and
 * when it ends. */
struct engine_totals {
    _Atomic uint64_t accepted;
    _Atomic uint64_t closes[ENGINE_CLOSE_COUNT];
    struct metrics_shared metrics;
};

/* Adds the worker's counters to the server's totals, and starts them again. */
void engine_fold(struct engine_worker *ew);

/* Shared memory, so that forked children add theirs too. 0 or -1. */
int engine_totals_open(struct server *srv);
void engine_totals_close(struct server *srv);

/* One line on stderr with the closes by reason, when a stop is over. */
void engine_report(const struct server *srv);

/* Connections the stop cut at --drain-timeout, over all workers. */
uint64_t engine_drain_cut(const struct server *srv);

#endif
