/* The pool model: a fixed pool of threads that are lent only to work.
 *
 * One thread owns a poll set (the reactor, with the poll backend) holding
 * the listeners and every connection that is waiting: idle keep-alive
 * connections, request heads still arriving, lingering closes, each under
 * its idle or header timeout. When a connection becomes readable it leaves
 * the set for a queue; --threads threads (default 4 per CPU), made once at
 * start, take connections off it, read what has arrived and serve each
 * complete request with blocking writes (and sendfile), then give the
 * connection back to the poll set instead of waiting for its next request.
 * So at most --threads responses are written at once, but a client that
 * does nothing, or sends its head a byte at a time, holds no thread: idle
 * and slow clients cannot starve the pool. This is Apache's event MPM,
 * its answer to the worker MPM, whose threads each held a connection for
 * its whole life. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "serve/blocking.h"
#include "serve/reactor.h"

struct pool_model {
    struct server *srv;
    struct reactor *poll_set;
    struct blocking_set serving; /* only its stop flag: threads never wait to read */
    pthread_mutex_t lock;
    pthread_cond_t not_empty;
    struct engine_conn **queue; /* a ring of cap readable connections */
    int head, count, cap;
    int stopping;
    pthread_t *threads;
    int started;
};

/* 1: a connection to serve; 0: the pool stops; -1: none came for a second
 * (an idle thread still does its worker's housekeeping once a second). */
static int take(struct pool_model *p, struct engine_conn **out)
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

/* From the poll set's thread: a connection has bytes to read. Each
 * connection is queued at most once, so the ring never overflows. */
static void lend(void *model, struct engine_conn *ec)
{
    struct pool_model *p = model;
    pthread_mutex_lock(&p->lock);
    p->queue[(p->head + p->count) % p->cap] = ec;
    p->count++;
    pthread_cond_signal(&p->not_empty);
    pthread_mutex_unlock(&p->lock);
}

static void *pool_thread(void *arg)
{
    struct pool_model *p = arg;
    struct blocking_worker worker;
    struct engine_conn *ec;
    int ready = blocking_worker_init(&worker, p->srv, &p->serving) == 0;
    int got;
    while ((got = take(p, &ec)) != 0) {
        if (got < 0) {
            if (ready)
                engine_tick(&worker.ew, serve_clock());
            continue;
        }
        if (ready) {
            blocking_turn(&worker, ec);
        } else {
            engine_close_fd(&worker.ew, ec->fd, ENGINE_CLOSE_NO_MEMORY);
            engine_leave(p->srv);
            ec->fd = -1;
        }
        reactor_give_back(p->poll_set, ec);
    }
    blocking_worker_destroy(&worker);
    return NULL;
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
    if (!p || blocking_set_init(&p->serving, 1) != 0)
        return -1;
    p->srv = srv;
    p->cap = srv->cfg->max_conns;
    p->queue = calloc((size_t)p->cap, sizeof *p->queue);
    p->threads = calloc((size_t)n, sizeof *p->threads);
    pthread_mutex_init(&p->lock, NULL);
    if (init_cond(&p->not_empty) != 0)
        return -1;
    if (!p->queue || !p->threads)
        return -1;
    /* The poll set first: the threads give connections back to it. What it
     * lends before they run waits in the queue. */
    p->poll_set = reactor_create(srv, "poll", 1, lend, p);
    if (!p->poll_set)
        return -1;
    for (; p->started < n; p->started++) {
        int err = pthread_create(&p->threads[p->started], NULL, pool_thread, p);
        if (err != 0) {
            log_syscall("pthread_create", "pool thread", err);
            return -1;
        }
    }
    return 0;
}

/* The poll set stops accepting and closes what waits; the threads finish
 * the responses they write (a stop makes each the last on its connection);
 * the poll set returns once every connection is back and closed. */
static void stop(struct server *srv)
{
    struct pool_model *p = srv->model_state;
    if (!p)
        return;
    blocking_set_stop(&p->serving);
    reactor_destroy(p->poll_set);
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
    .summary = "--threads threads lent only to requests that have arrived; idle ones wait in one poll set",
    .start = start,
    .stop = stop,
};
