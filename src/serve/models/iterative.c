/* The iterative model: one client at a time.
 *
 * One thread accepts a connection, serves it to its end with blocking reads
 * and writes (keep-alive included), closes it, and only then accepts the
 * next. Nothing runs in parallel, so it needs no locks and no extra memory,
 * but every other client waits in the listen backlog meanwhile: one slow or
 * idle client stalls them all. A short idle timeout (2 s) bounds how long a
 * keep-alive connection keeps the others waiting. */
#include <stdlib.h>

#include "serve/acceptor.h"
#include "serve/blocking.h"

#define ITERATIVE_IDLE_TIMEOUT 2

struct iterative {
    struct acceptor acceptor;
    struct blocking_set serving; /* the one connection, for a graceful stop */
    struct blocking_worker worker;
};

static void serve_now(void *model, int fd, int listener, const struct sockaddr_storage *peer, socklen_t peer_len)
{
    struct iterative *it = model;
    blocking_serve(&it->worker, fd, listener, peer, peer_len);
}

/* Between clients the thread waits in accept: the worker's housekeeping
 * (the file cache lets go of its files) runs from there. */
static void tick(void *model)
{
    struct iterative *it = model;
    engine_tick(&it->worker.ew, serve_clock());
}

static int start(struct server *srv)
{
    struct iterative *it = calloc(1, sizeof *it);
    srv->model_state = it;
    if (!it || blocking_set_init(&it->serving, 1) != 0 || blocking_worker_init(&it->worker, srv, &it->serving) != 0)
        return -1;
    int64_t *idle_ms = &it->worker.ew.timeouts.ms[ENGINE_PHASE_IDLE];
    if (*idle_ms > ITERATIVE_IDLE_TIMEOUT * 1000)
        *idle_ms = ITERATIVE_IDLE_TIMEOUT * 1000;
    it->acceptor = (struct acceptor){.srv = srv, .hand_over = serve_now, .model = it, .idle = tick};
    return acceptor_start(&it->acceptor);
}

static void stop(struct server *srv)
{
    struct iterative *it = srv->model_state;
    if (!it)
        return;
    blocking_set_stop(&it->serving);
    acceptor_stop(&it->acceptor);
    blocking_worker_destroy(&it->worker);
    blocking_set_destroy(&it->serving);
    free(it);
    srv->model_state = NULL;
}

const struct serve_model serve_model_iterative = {
    .name = "iterative",
    .summary = "one client at a time, blocking I/O, in one thread",
    .start = start,
    .stop = stop,
};
