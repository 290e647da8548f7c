/* duct bench: an HTTP/1.1 (and echo) load generator.
 *
 * One thread = one epoll loop over its share of non-blocking connections
 * (wrk's design). Each thread keeps its own statistics, merged after the
 * threads join (wrk2's), so the hot path shares nothing but a relaxed progress
 * counter per thread. Two load models: closed (each connection sends its next
 * request as soon as the previous answer is in) and open (--rate: requests are
 * due at fixed times, and latency counts from when a request was due, so a
 * stalled server cannot hide its stall by slowing the client down). */
#ifndef DUCT_BENCH_BENCH_H
#define DUCT_BENCH_BENCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/histogram.h"
#include "bench/url.h"
#include "net/addr.h"

struct ssl_ctx_st; /* OpenSSL's SSL_CTX, kept out of every file that does not speak TLS */

#define BENCH_MAX_HEADERS 64
#define BENCH_MAX_THREADS 256
#define BENCH_MAX_PIPELINE 256
#define BENCH_ERRNO_MAX 256     /* errno values counted one by one; larger ones share the last slot */
#define BENCH_TIMELINE_MAX 86400 /* seconds of per-second throughput kept for the plot */

struct bench_config {
    const char *target;       /* the URL as given */
    struct bench_url url;
    struct net_addr addr;     /* where connections go: the URL's host, or --unix-socket */
    int conns;
    int threads;
    double duration;          /* seconds measured (-d); ignored with -n */
    uint64_t requests;        /* -n: exactly this many requests; 0 for a timed run */
    double warmup;            /* seconds of load before measuring starts */
    double rate;              /* --rate requests/s over all connections; 0: closed model */
    int close;                /* --close: Connection: close on every request */
    uint64_t reqs_per_conn;   /* new connection after this many requests; 0: never */
    int pipeline;             /* requests written back to back on a connection */
    const char *headers[BENCH_MAX_HEADERS];
    int header_count;
    const char *method;
    const char *body_file;
    double timeout;           /* seconds a request may take before it counts as timed out */
    const char *unix_socket;
    const char *json_path;
    const char *html_path;
    size_t size;              /* echo payload bytes */
    int progress;             /* draw the live line (stdout is a terminal) */
    int tls_resume;           /* --tls-resume: offer each connection's last session on reconnect */
    int insecure;             /* -k: https without certificate verification */
    const char *cacert;       /* --cacert FILE: CAs trusted besides the system store */
};

/* Where a failed request failed. Every request issued ends either as one
 * response or as one error, so with -n responses + errors == n. */
enum bench_stage {
    BENCH_ERR_CONNECT,
    BENCH_ERR_WRITE,
    BENCH_ERR_READ,
    BENCH_ERR_TIMEOUT,
    BENCH_ERR_PARSE,
    BENCH_ERR_CLOSED, /* the server closed before the whole response came */
    BENCH_ERR_TLS,    /* the TLS handshake failed */
    BENCH_ERR_COUNT,
};

extern const char *const bench_stage_names[BENCH_ERR_COUNT];

struct bench_stats {
    struct hist latency;        /* every complete response, any status */
    uint64_t responses;
    uint64_t status[6];         /* by status / 100; [0] for anything outside 1..5 */
    uint64_t bytes;             /* received while measuring */
    uint64_t errors[BENCH_ERR_COUNT];
    uint64_t errnos[BENCH_ERRNO_MAX];
    uint64_t connects;          /* connections opened while measuring */
    uint64_t handshakes;        /* TLS handshakes completed while measuring */
    uint64_t resumed;           /* of which resumed a session (--tls-resume) */
    struct hist handshake;      /* each handshake, from the TCP connection to its end */
    uint64_t lost;              /* udp-echo: datagrams sent and never echoed */
    uint64_t sent;              /* udp-echo: datagrams sent */
    uint64_t *timeline;         /* responses completed in each second of the measurement */
    size_t timeline_len;
    double cpu;                 /* seconds of CPU the thread used while measuring */
    double wall;                /* seconds it measured */
};

/* What every thread reads and nobody writes once the threads run. */
struct bench_shared {
    const struct bench_config *cfg;
    const char *request;      /* cfg->pipeline copies of the request, back to back */
    size_t request_len;       /* of one copy */
    int request_is_head;
    uint64_t start_ns;        /* load starts (CLOCK_MONOTONIC) */
    uint64_t measure_ns;      /* measuring starts: start + warm-up */
    uint64_t end_ns;          /* a timed run ends; UINT64_MAX with -n */
    atomic_int *stop;         /* set by SIGINT: end now */
    struct ssl_ctx_st *tls;   /* https: the client context every connection's SSL comes from */
};

struct bench_thread {
    int index;
    int conns;                /* its share of the connections */
    int first_conn;           /* global index of its first connection (to spread due times) */
    uint64_t quota;           /* -n: requests it issues once measuring; UINT64_MAX in a timed run */
    const struct bench_shared *shared;
    struct bench_stats stats;
    atomic_uint_fast64_t done;   /* responses + errors so far, for the progress line only */
    atomic_uint_fast64_t failed; /* errors so far, for the progress line only */
    int error;                /* the thread could not run (errno); reported by the caller */
    const char *error_what;
};

uint64_t bench_now_ns(void);

/* Statistics of one thread: init allocates the timeline, reset empties the
 * figures (at the end of the warm-up), merge adds src into dst. */
int bench_stats_init(struct bench_stats *s, size_t timeline_len);
void bench_stats_reset(struct bench_stats *s);
void bench_stats_merge(struct bench_stats *dst, const struct bench_stats *src);
void bench_stats_free(struct bench_stats *s);
void bench_stats_error(struct bench_stats *s, enum bench_stage stage, int err, uint64_t requests);

/* The thread bodies: HTTP over TCP or Unix sockets, TCP echo, UDP echo. */
void *bench_http_thread(void *arg);
void *bench_echo_thread(void *arg);
void *bench_udp_thread(void *arg);

#endif
