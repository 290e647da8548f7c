#include "bench/run.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench/report.h"
#include "bench/request.h"
#include "tls/client.h"

static atomic_int run_stop;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&run_stop, 1);
}

long bench_fds_needed(const struct bench_config *cfg)
{
    return (long)cfg->conns + 2L * cfg->threads + 32;
}

/* Raises the soft RLIMIT_NOFILE (and the hard one when allowed) to what the
 * run needs, or says why it cannot. */
static int raise_fd_limit(const struct bench_config *cfg)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)bench_fds_needed(cfg);

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        fprintf(stderr, "duct bench: getrlimit(RLIMIT_NOFILE): %s\n", strerror(errno));
        return -1;
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= need)
        return 0;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
        struct rlimit more = {need, need};
        if (setrlimit(RLIMIT_NOFILE, &more) == 0)
            return 0;
        fprintf(stderr,
                "duct bench: %d connections need %lu open files, but the hard limit is %lu and could not be "
                "raised (%s); lower -c or raise the limit (ulimit -Hn, limits.conf)\n",
                cfg->conns, (unsigned long)need, (unsigned long)rl.rlim_max, strerror(errno));
        return -1;
    }
    rl.rlim_cur = need;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        fprintf(stderr, "duct bench: setrlimit(RLIMIT_NOFILE, %lu): %s\n", (unsigned long)need, strerror(errno));
        return -1;
    }
    return 0;
}

/* Splits connections and the -n quota over the threads as evenly as they go. */
static void share_out(const struct bench_config *cfg, const struct bench_shared *sh, struct bench_thread *t, int i)
{
    int base = cfg->conns / cfg->threads, extra = cfg->conns % cfg->threads;

    memset(t, 0, sizeof *t);
    t->index = i;
    t->shared = sh;
    t->conns = base + (i < extra);
    t->first_conn = i * base + (i < extra ? i : extra);
    t->quota = UINT64_MAX;
    if (cfg->requests) {
        /* Shares in proportion to connections, so each connection gets about as many requests. */
        uint64_t before = cfg->requests * (uint64_t)t->first_conn / (uint64_t)cfg->conns;
        uint64_t upto = cfg->requests * (uint64_t)(t->first_conn + t->conns) / (uint64_t)cfg->conns;
        t->quota = upto - before;
    }
    atomic_init(&t->done, 0);
    atomic_init(&t->failed, 0);
}

struct runner {
    pthread_t id;
    struct bench_thread t;
    void *(*body)(void *);
    atomic_int *finished;
};

static void *runner_main(void *arg)
{
    struct runner *r = arg;

    r->body(&r->t);
    atomic_fetch_add(r->finished, 1);
    return NULL;
}

/* "  12.0 s  123456 requests  10234 req/s  0 errors", over itself on a terminal. */
static void progress_line(const struct runner *rs, int n, uint64_t start_ns, uint64_t measure_ns, uint64_t *last,
                          uint64_t *last_ns)
{
    uint64_t done = 0, failed = 0, now = bench_now_ns();
    double dt = (double)(now - *last_ns) / 1e9;
    double rate;

    for (int i = 0; i < n; i++) {
        done += atomic_load_explicit(&rs[i].t.done, memory_order_relaxed);
        failed += atomic_load_explicit(&rs[i].t.failed, memory_order_relaxed);
    }
    /* The counters restart at the end of the warm-up: say which phase they count,
     * and take the rate across the restart from the restart on. */
    if (done >= *last)
        rate = dt > 0 ? (double)(done - *last) / dt : 0.0;
    else
        rate = now > measure_ns ? (double)done / ((double)(now - measure_ns) / 1e9) : 0.0;
    printf("\r\033[K  %6.1f s %s %12llu requests  %10.0f req/s  %llu errors", (double)(now - start_ns) / 1e9,
           now < measure_ns ? "warm-up" : "       ", (unsigned long long)done, rate, (unsigned long long)failed);
    fflush(stdout);
    *last = done;
    *last_ns = now;
}

/* Waits for the threads, drawing the progress line once a second on a terminal. */
static void watch_threads(const struct bench_config *cfg, const struct runner *rs, int started,
                          atomic_int *finished, const struct bench_shared *sh)
{
    uint64_t last = 0, last_ns = sh->start_ns, next = sh->start_ns + 1000000000ULL;
    struct timespec tick = {0, 50 * 1000000L};

    while (atomic_load(finished) < started) {
        nanosleep(&tick, NULL);
        if (cfg->progress && bench_now_ns() >= next) {
            progress_line(rs, started, sh->start_ns, sh->measure_ns, &last, &last_ns);
            next += 1000000000ULL;
        }
    }
    if (cfg->progress) {
        printf("\r\033[K");
        fflush(stdout);
    }
}

static void *(*thread_body(const struct bench_config *cfg))(void *)
{
    switch (cfg->url.scheme) {
    case BENCH_TCP_ECHO:
        return bench_echo_thread;
    case BENCH_UDP_ECHO:
        return bench_udp_thread;
    default:
        return bench_http_thread;
    }
}

/* Starts the threads; returns how many started (all, or fewer after a failure). */
static int start_threads(const struct bench_config *cfg, const struct bench_shared *sh, struct runner *rs,
                         atomic_int *finished, size_t timeline_len)
{
    for (int i = 0; i < cfg->threads; i++) {
        int err;

        share_out(cfg, sh, &rs[i].t, i);
        rs[i].body = thread_body(cfg);
        rs[i].finished = finished;
        if (bench_stats_init(&rs[i].t.stats, timeline_len) != 0) {
            fprintf(stderr, "duct bench: out of memory\n");
            return i;
        }
        err = pthread_create(&rs[i].id, NULL, runner_main, &rs[i]);
        if (err) {
            fprintf(stderr, "duct bench: pthread_create: %s\n", strerror(err));
            bench_stats_free(&rs[i].t.stats);
            return i;
        }
    }
    return cfg->threads;
}

/* Joins the threads and merges what they measured into r. Returns -1 when one of them could not run. */
static int collect(const struct bench_config *cfg, struct runner *rs, int started, struct bench_result *r)
{
    int status = 0;

    for (int i = 0; i < started; i++) {
        struct bench_stats *s = &rs[i].t.stats;

        pthread_join(rs[i].id, NULL);
        if (rs[i].t.error) {
            fprintf(stderr, "duct bench: thread %d: %s: %s\n", i, rs[i].t.error_what, strerror(rs[i].t.error));
            status = -1;
        }
        r->busy[i] = s->wall > 0 ? s->cpu / s->wall : 0;
        if (r->busy[i] > r->max_busy)
            r->max_busy = r->busy[i];
        bench_stats_merge(&r->total, s);
        bench_stats_free(s);
    }
    r->threads = started;
    r->seconds = r->total.wall;
    (void)cfg;
    return status;
}

static int write_file(const char *path, int (*emit)(FILE *, const struct bench_result *),
                      const struct bench_result *r)
{
    FILE *f = fopen(path, "w");

    if (!f || emit(f, r) != 0 || fclose(f) != 0) {
        fprintf(stderr, "duct bench: writing %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int report(const struct bench_config *cfg, const struct bench_result *r)
{
    int status = 0;

    bench_report_text(stdout, r);
    fflush(stdout);
    if (cfg->json_path && write_file(cfg->json_path, bench_report_json, r) != 0)
        status = 1;
    if (cfg->html_path && write_file(cfg->html_path, bench_report_html, r) != 0)
        status = 1;
    return status;
}

static size_t timeline_seconds(const struct bench_config *cfg)
{
    return cfg->requests ? BENCH_TIMELINE_MAX : (size_t)cfg->duration + 2;
}

/* The client context every https connection of the run shares. */
static int open_tls(const struct bench_config *cfg, struct bench_shared *sh)
{
    struct tls_client_opts opts = {
        .cacert = cfg->cacert, .insecure = cfg->insecure, .alpn_http11 = 1, .resume = cfg->tls_resume};
    char err[300];

    sh->tls = tls_client_ctx(&opts, err, sizeof err);
    if (!sh->tls) {
        fprintf(stderr, "duct bench: %s\n", err);
        return -1;
    }
    /* OpenSSL writes with write(2), without MSG_NOSIGNAL: a server gone is
     * an EPIPE to count, not a signal that ends the run. */
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

int bench_run(const struct bench_config *cfg)
{
    /* On the heap, for the threads asked for: a static table for the most
     * threads would be 72 MB of bss in every duct process, which a leak
     * checker scans at each exit. */
    struct runner *rs = calloc((size_t)cfg->threads, sizeof *rs);
    struct bench_result *result = calloc(1, sizeof *result);
    struct bench_shared sh = {.cfg = cfg, .stop = &run_stop};
    atomic_int finished;
    char err[256] = "", *request = NULL;
    int started, status;
    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;

    if (!rs || !result) {
        fprintf(stderr, "duct bench: out of memory\n");
        status = 1;
        goto out;
    }
    if (raise_fd_limit(cfg) != 0 || (cfg->url.tls && open_tls(cfg, &sh) != 0)) {
        status = 1;
        goto out;
    }
    if (bench_request_build(cfg, &request, &sh.request_len, err, sizeof err) != 0) {
        fprintf(stderr, "duct bench: %s\n", err);
        status = 1;
        goto out;
    }
    sh.request = request;
    sh.request_is_head = strcmp(cfg->method, "HEAD") == 0;
    result->cfg = cfg;
    if (bench_stats_init(&result->total, timeline_seconds(cfg)) != 0) {
        fprintf(stderr, "duct bench: out of memory\n");
        status = 1;
        goto out;
    }
    atomic_init(&finished, 0);
    atomic_store(&run_stop, 0);
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sh.start_ns = bench_now_ns();
    sh.measure_ns = sh.start_ns + (uint64_t)(cfg->warmup * 1e9);
    sh.end_ns = cfg->requests ? UINT64_MAX : sh.measure_ns + (uint64_t)(cfg->duration * 1e9);
    started = start_threads(cfg, &sh, rs, &finished, timeline_seconds(cfg));
    if (started < cfg->threads)
        atomic_store(&run_stop, 1);
    watch_threads(cfg, rs, started, &finished, &sh);
    result->interrupted = atomic_load(&run_stop);
    status = collect(cfg, rs, started, result) == 0 && started == cfg->threads ? 0 : 1;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (status == 0)
        status = report(cfg, result);
    bench_stats_free(&result->total);
out:
    free(request);
    SSL_CTX_free(sh.tls);
    free(result);
    free(rs);
    return status;
}
