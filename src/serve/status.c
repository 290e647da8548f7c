#include "serve/status.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "net/sock.h"
#include "serve/engine.h"
#include "serve/fork_gate.h"
#include "serve/log.h"

/* A scrape is small: a request longer than this, or slower than this, is
 * answered 400 or dropped, so no client can hold the status thread. */
#define STATUS_REQUEST_MAX 2048
#define STATUS_IO_SECONDS 2
#define STATUS_BODY_MAX 32768

struct status_server {
    pthread_t thread;
    int stop_pipe[2];
    time_t started;
};

/* ---- the text ----------------------------------------------------------- */

struct text {
    char *p;
    size_t len, cap;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct text *t, const char *fmt, ...)
{
    if (t->len + 1 >= t->cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len = t->len + (size_t)n < t->cap ? t->len + (size_t)n : t->cap - 1;
}

static void family(struct text *t, const char *name, const char *type, const char *help)
{
    put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static uint64_t load(const struct metrics_shared *m, int slot)
{
    return atomic_load_explicit(&m->v[slot], memory_order_relaxed);
}

static void requests(struct text *t, const struct metrics_shared *m)
{
    static const char *const methods[METRICS_METHODS] = {"GET", "HEAD", "other"};
    static const char *const classes[METRICS_STATUS_CLASSES] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
    family(t, "duct_requests_total", "counter", "Responses finished, by request method class and status class.");
    for (int me = 0; me < METRICS_METHODS; me++)
        for (int c = 1; c < METRICS_STATUS_CLASSES; c++)
            put(t, "duct_requests_total{method=\"%s\",status=\"%s\"} %llu\n", methods[me], classes[c],
                (unsigned long long)load(m, METRICS_REQUESTS + me * METRICS_STATUS_CLASSES + c));
    family(t, "duct_response_body_bytes_total", "counter", "Body bytes of responses sent, as the access log counts them.");
    put(t, "duct_response_body_bytes_total %llu\n", (unsigned long long)load(m, METRICS_BODY_BYTES));
    family(t, "duct_sent_bytes_total", "counter", "Bytes written to client connections, heads included.");
    put(t, "duct_sent_bytes_total %llu\n", (unsigned long long)load(m, METRICS_SENT_BYTES));
}

static void durations(struct text *t, const struct metrics_shared *m)
{
    uint64_t sum = 0;
    family(t, "duct_response_seconds", "histogram",
           "Time from the first byte of a request to the last byte of its response.");
    for (int i = 0; i < METRICS_BUCKETS; i++) {
        sum += load(m, METRICS_DURATION + i);
        /* As Prometheus's own clients write bounds: "0.001", "1.0", "10.0". */
        uint32_t us = metrics_bucket_us[i];
        if (us % 1000000 == 0)
            put(t, "duct_response_seconds_bucket{le=\"%u.0\"} %llu\n", us / 1000000, (unsigned long long)sum);
        else
            put(t, "duct_response_seconds_bucket{le=\"%g\"} %llu\n", us / 1e6, (unsigned long long)sum);
    }
    sum += load(m, METRICS_DURATION + METRICS_BUCKETS);
    put(t, "duct_response_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)sum);
    put(t, "duct_response_seconds_sum %.6f\n", (double)load(m, METRICS_DURATION_SUM_US) / 1e6);
    put(t, "duct_response_seconds_count %llu\n", (unsigned long long)sum);
}

static void connections(struct text *t, const struct server *srv)
{
    const struct engine_totals *tot = srv->totals;
    family(t, "duct_connections_open", "gauge", "Client connections being served now.");
    put(t, "duct_connections_open %d\n", atomic_load(&srv->live));
    family(t, "duct_connections_accepted_total", "counter", "Client connections accepted and served.");
    put(t, "duct_connections_accepted_total %llu\n", (unsigned long long)atomic_load(&tot->accepted));
    family(t, "duct_connections_refused_total", "counter",
           "Client connections answered 503 and closed: over --max-conns or beyond what the model can hold.");
    put(t, "duct_connections_refused_total %llu\n", (unsigned long long)atomic_load(&tot->closes[ENGINE_CLOSE_LIMIT]));
    family(t, "duct_connections_closed_total", "counter", "Client connections closed, by reason.");
    for (int i = 0; i < ENGINE_CLOSE_COUNT; i++)
        put(t, "duct_connections_closed_total{reason=\"%s\"} %llu\n", engine_close_name((enum engine_close)i),
            (unsigned long long)atomic_load(&tot->closes[i]));
    family(t, "duct_file_cache_hits_total", "counter", "File lookups answered from a worker's open-file cache.");
    put(t, "duct_file_cache_hits_total %llu\n", (unsigned long long)load(&tot->metrics, METRICS_CACHE_HITS));
    family(t, "duct_file_cache_misses_total", "counter", "File lookups that went to the file system.");
    put(t, "duct_file_cache_misses_total %llu\n", (unsigned long long)load(&tot->metrics, METRICS_CACHE_MISSES));
}

/* What the model runs: the event models a loop per worker; the pool its
 * threads; the thread and fork models a thread or a process per connection
 * (their counts follow the open connections); the iterative model one. */
static void model(struct text *t, const struct server *srv)
{
    const char *name = srv->model->name;
    int live = atomic_load(&srv->live);
    int loops = srv->model->event_loops ? srv->cfg->workers : 0;
    int threads = loops                           ? loops
                  : strcmp(name, "pool") == 0     ? srv->cfg->threads
                  : strcmp(name, "thread") == 0   ? live
                  : strcmp(name, "iterative") == 0 ? 1
                                                  : 0;
    int processes = strcmp(name, "fork") == 0 ? 1 + live : 1;
    family(t, "duct_model_info", "gauge", "The concurrency model serving (always 1, the model is the label).");
    put(t, "duct_model_info{model=\"%s\"} 1\n", name);
    family(t, "duct_event_loops", "gauge", "Event loops (--workers) of the select, poll, epoll and uring models.");
    put(t, "duct_event_loops %d\n", loops);
    family(t, "duct_serving_threads", "gauge", "Threads serving connections (event loops, pool threads, one per connection).");
    put(t, "duct_serving_threads %d\n", threads);
    family(t, "duct_processes", "gauge", "Processes of the server: the fork model adds one per connection.");
    put(t, "duct_processes %d\n", processes);
    family(t, "duct_max_connections", "gauge", "The --max-conns limit.");
    put(t, "duct_max_connections %d\n", srv->cfg->max_conns);
    family(t, "duct_draining", "gauge", "1 while a graceful stop drains (then /healthz answers 503).");
    put(t, "duct_draining %d\n", atomic_load(&srv->draining));
}

size_t status_metrics(const struct server *srv, char *out, size_t cap)
{
    struct text t = {out, 0, cap};
    if (cap == 0)
        return 0;
    out[0] = '\0';
    if (!srv->totals)
        return 0;
    requests(&t, &srv->totals->metrics);
    durations(&t, &srv->totals->metrics);
    connections(&t, srv);
    model(&t, srv);
    if (srv->status) {
        family(&t, "duct_start_time_seconds", "gauge", "When the server started, in seconds since the epoch.");
        put(&t, "duct_start_time_seconds %lld\n", (long long)srv->status->started);
    }
    return t.len;
}

/* ---- one exchange ------------------------------------------------------- */

/* Reads the request head: 1 with its request line in line, 0 when the client
 * sent nothing usable in time. */
static int read_head(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    while (len + 1 < cap) {
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 0;
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
            return 1;
    }
    return 0;
}

static void send_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        p += n;
        len -= (size_t)n;
    }
}

static void respond(int fd, const char *status, const char *type, const char *body, size_t body_len, int head_only)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"
                     "Connection: close\r\n\r\n",
                     status, type, body_len);
    send_all(fd, head, (size_t)n);
    if (!head_only)
        send_all(fd, body, body_len);
}

static void answer(struct server *srv, int fd, char *body)
{
    char req[STATUS_REQUEST_MAX];
    if (!read_head(fd, req, sizeof req)) {
        respond(fd, "400 Bad Request", "text/plain", "bad request\n", 12, 0);
        return;
    }
    int head = strncmp(req, "HEAD ", 5) == 0;
    if (!head && strncmp(req, "GET ", 4) != 0) {
        respond(fd, "405 Method Not Allowed", "text/plain", "GET or HEAD\n", 12, 0);
        return;
    }
    const char *path = req + (head ? 5 : 4);
    size_t plen = strcspn(path, " ?\r\n");
    if (plen == 8 && strncmp(path, "/healthz", 8) == 0) {
        int draining = atomic_load(&srv->draining);
        respond(fd, draining ? "503 Service Unavailable" : "200 OK", "text/plain", draining ? "draining\n" : "ok\n",
                draining ? 9 : 3, head);
    } else if (plen == 8 && strncmp(path, "/metrics", 8) == 0) {
        size_t len = status_metrics(srv, body, STATUS_BODY_MAX);
        respond(fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8", body, len, head);
    } else {
        respond(fd, "404 Not Found", "text/plain", "/healthz or /metrics\n", 21, head);
    }
}

static void serve_one(struct server *srv, char *body)
{
    struct sockaddr_storage peer;
    socklen_t len = sizeof peer;
    int fd = net_accept(srv->status_fd, 0, &peer, &len);
    if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE)
            poll(NULL, 0, ENGINE_ACCEPT_PAUSE_MS);
        return;
    }
    /* accept4 does not pass O_NONBLOCK on; the timeouts bound each call. */
    struct timeval tv = {.tv_sec = STATUS_IO_SECONDS};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    answer(srv, fd, body);
    shutdown(fd, SHUT_WR);
    close(fd);
}

static void *status_loop(void *arg)
{
    struct server *srv = arg;
    char *body = malloc(STATUS_BODY_MAX);
    if (!body) {
        log_syscall("malloc", "status page", ENOMEM);
        return NULL;
    }
    for (;;) {
        struct pollfd fds[2] = {{.fd = srv->status_fd, .events = POLLIN}, {.fd = srv->status->stop_pipe[0], .events = POLLIN}};
        int n = poll(fds, 2, -1);
        if (n < 0 && errno != EINTR) {
            log_syscall("poll", "status listener", errno);
            break;
        }
        if (fds[1].revents)
            break;
        if (fds[0].revents) {
            fork_gate_enter();
            serve_one(srv, body);
            fork_gate_leave();
        }
    }
    free(body);
    return NULL;
}

int status_open(struct server *srv)
{
    const struct serve_config *cfg = srv->cfg;
    const char *failed = NULL;
    srv->status_fd = -1;
    if (!cfg->status_listen_set)
        return 0;
    srv->status_fd = net_listen(&cfg->status_listen, 64, NET_NONBLOCK, &failed);
    if (srv->status_fd < 0) {
        char text[NET_ADDR_TEXT_MAX];
        net_addr_format(&cfg->status_listen, text, sizeof text);
        log_error("cannot listen on %s (--status-listen): %s: %s", text, failed ? failed : "listen", strerror(errno));
        return -1;
    }
    return 0;
}

int status_start(struct server *srv)
{
    if (srv->status_fd < 0)
        return 0;
    struct status_server *s = calloc(1, sizeof *s);
    if (!s || pipe2(s->stop_pipe, O_CLOEXEC) != 0) {
        log_syscall(s ? "pipe2" : "calloc", "status listener", errno);
        free(s);
        return -1;
    }
    s->started = time(NULL);
    srv->status = s;
    int err = gate_thread_create(&s->thread, status_loop, srv);
    if (err != 0) {
        log_syscall("pthread_create", "status listener", err);
        close(s->stop_pipe[0]);
        close(s->stop_pipe[1]);
        free(s);
        srv->status = NULL;
        return -1;
    }
    return 0;
}

void status_stop(struct server *srv)
{
    struct status_server *s = srv->status;
    if (s) {
        if (write(s->stop_pipe[1], "x", 1) != 1)
            log_syscall("write", "status stop", errno);
        pthread_join(s->thread, NULL);
        close(s->stop_pipe[0]);
        close(s->stop_pipe[1]);
        free(s);
        srv->status = NULL;
    }
    if (srv->status_fd >= 0) {
        const struct net_addr *addr = &srv->cfg->status_listen;
        const struct sockaddr_un *un = (const struct sockaddr_un *)&addr->sa;
        close(srv->status_fd);
        if (addr->family == AF_UNIX && un->sun_path[0] != '\0')
            unlink(un->sun_path);
    }
    srv->status_fd = -1;
}
