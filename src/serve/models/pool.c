/* The pool model: a fixed pool of threads fed by a bounded queue.
 *
 * An accept thread puts each new connection on a queue; --threads worker
 * threads (default 4 per CPU), made once at start, take connections off it
 * and serve each with blocking I/O to its end. Thread creation leaves the
 * request path and the number of threads is capped, but at most --threads
 * clients are served at once: the rest wait in the queue, and when the queue
 * (4096 slots, or 4 per thread if more) is full too, a new client is
 * answered 503 at once. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "serve/acceptor.h"
#include "serve/blocking.h"

/* The queue holds at least this many waiting connections, so that a burst of
 * clients queues rather than being refused while threads are busy. */
#define POOL_QUEUE_MIN 4096

struct queued {
    int fd;
    socklen_t peer_len;
    struct sockaddr_storage peer;
};

struct pool_model {
    struct acceptor acceptor;
    struct blocking_set serving;
    pthread_mutex_t lock;
    pthread_cond_t not_empty;
    struct queued *queue; /* a ring of cap entries */
    int head, count, cap;
    int stopping;
    pthread_t *threads;
    int started;
};

/* 1: a connection to serve; 0: the pool stops; -1: none came for a second
 * (an idle thread still does its worker's housekeeping once a second). */
static int take(struct pool_model *p, struct queued *out)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += 1;
    pthread_mutex_lock(&p->lock);
    while (p->count == 0 && !p->stopping)
        if (pthread_cond_timedwait(&p->not_empty, &p->lock, &until) == ETIMEDOUT)
            break;
    int got = p->count > 0 ? 1 : p->stopping ? 0 : -1;
    if (got > 0) {
        *out = p->queue[p->head];
        p->head = (p->head + 1) % p->cap;
        p->count--;
    }
    pthread_mutex_unlock(&p->lock);
    return got;
}

static void *pool_thread(void *arg)
{
    struct pool_model *p = arg;
    struct blocking_worker worker;
    struct queued q;
    int ready = blocking_worker_init(&worker, p->acceptor.srv, &p->serving) == 0;
    int got;
    while ((got = take(p, &q)) != 0) {
        if (got < 0) {
            if (ready)
                engine_tick(&worker.ew, serve_clock());
        } else if (ready) {
            blocking_serve(&worker, q.fd, &q.peer, q.peer_len);
        } else {
            blocking_refuse(p->acceptor.srv, q.fd);
        }
    }
    blocking_worker_destroy(&worker);
    return NULL;
}

static void enqueue(void *model, int fd, const struct sockaddr_storage *peer, socklen_t peer_len)
{
    struct pool_model *p = model;
    pthread_mutex_lock(&p->lock);
    int full = p->count == p->cap;
    if (!full) {
        p->queue[(p->head + p->count) % p->cap] = (struct queued){.fd = fd, .peer_len = peer_len, .peer = *peer};
        p->count++;
        pthread_cond_signal(&p->not_empty);
    }
    pthread_mutex_unlock(&p->lock);
    if (full)
        blocking_refuse(p->acceptor.srv, fd);
}

/* The queue's condition times its waits on the monotonic clock, so that a
 * step of the wall clock neither stretches nor shortens them. */
static int init_cond(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    int err = pthread_condattr_init(&attr);
    if (err == 0) {
        err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        if (err == 0)
            err = pthread_cond_init(cond, &attr);
        pthread_condattr_destroy(&attr);
    }
    if (err != 0)
        log_syscall("pthread_cond_init", "pool queue", err);
    return err ? -1 : 0;
}

static int start(struct server *srv)
{
    int n = srv->cfg->threads;
    struct pool_model *p = calloc(1, sizeof *p);
    srv->model_state = p;
    if (!p || blocking_set_init(&p->serving, n) != 0)
        return -1;
    p->cap = 4 * n > POOL_QUEUE_MIN ? 4 * n : POOL_QUEUE_MIN;
    p->queue = calloc((size_t)p->cap, sizeof *p->queue);
    p->threads = calloc((size_t)n, sizeof *p->threads);
    pthread_mutex_init(&p->lock, NULL);
    if (init_cond(&p->not_empty) != 0)
        return -1;
    if (!p->queue || !p->threads)
        return -1;
    p->acceptor = (struct acceptor){.srv = srv, .hand_over = enqueue, .model = p};
    for (; p->started < n; p->started++) {
        int err = pthread_create(&p->threads[p->started], NULL, pool_thread, p);
        if (err != 0) {
            log_syscall("pthread_create", "pool thread", err);
            return -1;
        }
    }
    return acceptor_start(&p->acceptor);
}

static void stop(struct server *srv)
{
    struct pool_model *p = srv->model_state;
    if (!p)
        return;
    acceptor_stop(&p->acceptor);
    blocking_set_stop(&p->serving);
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    pthread_cond_broadcast(&p->not_empty);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->started; i++)
        pthread_join(p->threads[i], NULL);
    blocking_set_destroy(&p->serving);
    free(p->queue);
    free(p->threads);
    free(p);
    srv->model_state = NULL;
}

const struct serve_model serve_model_pool = {
    .name = "pool",
    .summary = "a fixed pool of --threads threads fed by a bounded queue, blocking I/O",
    .start = start,
    .stop = stop,
};
