/* The thread model: a thread per connection.
 *
 * An accept thread takes each new connection and starts a thread for it that
 * serves it with blocking reads and writes until it closes. The code reads
 * like the iterative model, yet clients no longer wait for each other. Each
 * connection costs a thread (its stack, 256 KiB here, and a kernel task) and
 * a thread creation: thousands of connections mean thousands of threads.
 * When pthread_create fails (EAGAIN: out of threads or memory) the client is
 * answered 503 and the server goes on. */
#include <errno.h>
#include <stdlib.h>

#include "serve/acceptor.h"
#include "serve/blocking.h"

#define THREAD_STACK (256 * 1024)

struct thread_model {
    struct acceptor acceptor;
    struct blocking_set serving;
    pthread_attr_t attr; /* detached, small stack */
    pthread_mutex_t lock;
    pthread_cond_t all_done;
    int threads; /* connection threads alive */
};

struct job {
    struct thread_model *model;
    int fd;
    socklen_t peer_len;
    int listener;
    struct sockaddr_storage peer;
};

static void thread_done(struct thread_model *m)
{
    pthread_mutex_lock(&m->lock);
    if (--m->threads == 0)
        pthread_cond_broadcast(&m->all_done);
    pthread_mutex_unlock(&m->lock);
}

static void *serve_connection(void *arg)
{
    struct job *job = arg;
    struct thread_model *m = job->model;
    struct blocking_worker worker;
    if (blocking_worker_init(&worker, m->acceptor.srv, &m->serving) == 0)
        blocking_serve(&worker, job->fd, job->listener, &job->peer, job->peer_len);
    else
        blocking_refuse(m->acceptor.srv, job->fd, job->listener);
    blocking_worker_destroy(&worker);
    free(job);
    thread_done(m);
    return NULL;
}

static void spawn(void *model, int fd, int listener, const struct sockaddr_storage *peer, socklen_t peer_len)
{
    struct thread_model *m = model;
    pthread_t thread;
    struct job *job = malloc(sizeof *job);
    if (!job)
        goto refuse;
    *job = (struct job){.model = m, .fd = fd, .peer_len = peer_len, .listener = listener, .peer = *peer};
    pthread_mutex_lock(&m->lock);
    m->threads++;
    pthread_mutex_unlock(&m->lock);
    int err = pthread_create(&thread, &m->attr, serve_connection, job);
    if (err == 0)
        return;
    log_syscall("pthread_create", "connection", err);
    free(job);
    thread_done(m);
refuse:
    blocking_refuse(m->acceptor.srv, fd, listener);
}

static int start(struct server *srv)
{
    struct thread_model *m = calloc(1, sizeof *m);
    srv->model_state = m;
    if (!m || blocking_set_init(&m->serving, srv->cfg->max_conns) != 0)
        return -1;
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->all_done, NULL);
    pthread_attr_init(&m->attr);
    pthread_attr_setdetachstate(&m->attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&m->attr, THREAD_STACK);
    m->acceptor = (struct acceptor){.srv = srv, .hand_over = spawn, .model = m};
    return acceptor_start(&m->acceptor);
}

static void stop(struct server *srv)
{
    struct thread_model *m = srv->model_state;
    if (!m)
        return;
    acceptor_stop(&m->acceptor);
    blocking_set_stop(&m->serving);
    pthread_mutex_lock(&m->lock);
    while (m->threads > 0)
        pthread_cond_wait(&m->all_done, &m->lock);
    pthread_mutex_unlock(&m->lock);
    pthread_attr_destroy(&m->attr);
    blocking_set_destroy(&m->serving);
    free(m);
    srv->model_state = NULL;
}

const struct serve_model serve_model_thread = {
    .name = "thread",
    .summary = "a thread per connection, blocking I/O",
    .ctx_per_conn = 1,
    .start = start,
    .stop = stop,
};
