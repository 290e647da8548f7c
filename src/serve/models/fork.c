/* The fork model: a process per connection.
 *
 * The accept thread forks a child for each new connection; the child serves
 * it with blocking I/O to its end and exits, while the parent closes its copy
 * of the socket and goes back to accept. Children share nothing writable, so
 * a crash takes down one connection only, but each connection pays for a
 * fork (page tables copied) and a process. A reaper thread waits for every
 * child, so none is left a zombie. When fork fails (EAGAIN: process limit,
 * or ENOMEM) the client is answered 503 and the server goes on. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "serve/acceptor.h"
#include "serve/blocking.h"
#include "serve/fork_gate.h"

struct fork_model {
    struct acceptor acceptor;
    pthread_t reaper;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    pid_t *children; /* pids of live children, for the graceful stop */
    int count, cap;
    int stopping;
    int reaping; /* the reaper thread was started */
};

/* The model while it runs, for a second stop signal (cut), which may come
 * from another thread at any time. */
static pthread_mutex_t running_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fork_model *running;

/* In a child: the connection being served, and the drain request, for the
 * SIGUSR2 handler; the access log, for the SIGUSR1 one. */
static volatile sig_atomic_t child_fd = -1;
static volatile sig_atomic_t child_stop;

static void on_drain_signal(int sig)
{
    (void)sig;
    child_stop = 1;
    if (child_fd >= 0)
        shutdown(child_fd, SHUT_RD); /* async-signal-safe: ends reading, not the response */
}

static const char *child_log_path;
static int child_log_fd = -1;

/* The parent reopened the access log (SIGUSR1): this process's copy of the
 * descriptor still names the old file. Everything here is async-signal-safe. */
static void on_reopen_signal(int sig)
{
    (void)sig;
    int err = errno;
    if (child_log_fd >= 0 && child_log_path)
        access_log_reopen(child_log_path, child_log_fd);
    errno = err;
}

static void close_listeners(struct server *srv)
{
    for (int i = 0; i < srv->cfg->listen_count; i++)
        close(srv->listen_fd[0][i]);
}

static void serve_in_child(struct fork_model *m, int fd, int listener, const struct sockaddr_storage *peer,
                           socklen_t peer_len)
{
    struct server *srv = m->acceptor.srv;
    struct blocking_worker worker;
    struct sigaction sa = {.sa_handler = on_drain_signal};
    struct sigaction reopen = {.sa_handler = on_reopen_signal, .sa_flags = SA_RESTART};
    close_listeners(srv);
    if (srv->status_fd >= 0)
        close(srv->status_fd);
    close(m->acceptor.stop_fd);
    log_limits_forked();
    sigset_t drain;
    child_fd = fd;
    child_log_fd = srv->cfg->access_log && strcmp(srv->cfg->access_log, "-") != 0 ? srv->access_fd : -1;
    child_log_path = srv->cfg->access_log;
    sigaction(SIGUSR2, &sa, NULL);
    sigaction(SIGUSR1, &reopen, NULL);
    /* SIGUSR2 and SIGUSR1 stayed blocked (serve_run blocks them) until the
     * handlers are in place: a request sent at once is held, not fatal. */
    sigemptyset(&drain);
    sigaddset(&drain, SIGUSR2);
    sigaddset(&drain, SIGUSR1);
    pthread_sigmask(SIG_UNBLOCK, &drain, NULL);
    if (blocking_worker_init(&worker, srv, NULL) == 0) {
        worker.stop_flag = &child_stop;
        blocking_serve(&worker, fd, listener, peer, peer_len);
    } else {
        blocking_refuse(srv, fd, listener);
    }
    blocking_worker_destroy(&worker);
    log_limits_flush(timer_clock_ms(), 1); /* what this process held back */
    _exit(0);
}

static void spawn(void *model, int fd, int listener, const struct sockaddr_storage *peer, socklen_t peer_len)
{
    struct fork_model *m = model;
    fork_gate_close();
    pthread_mutex_lock(&m->lock);
    pid_t pid = m->count < m->cap ? fork() : (errno = EAGAIN, -1);
    fork_gate_open();
    if (pid == 0)
        serve_in_child(m, fd, listener, peer, peer_len);
    if (pid > 0) {
        m->children[m->count++] = pid;
        pthread_cond_broadcast(&m->changed);
    }
    pthread_mutex_unlock(&m->lock);
    if (pid < 0) {
        log_syscall("fork", "connection", errno);
        blocking_refuse(m->acceptor.srv, fd, listener);
        return;
    }
    close(fd);
}

static void forget(struct fork_model *m, pid_t pid)
{
    pthread_mutex_lock(&m->lock);
    for (int i = 0; i < m->count; i++) {
        if (m->children[i] == pid) {
            m->children[i] = m->children[--m->count];
            engine_leave(m->acceptor.srv);
            break;
        }
    }
    pthread_cond_broadcast(&m->changed);
    pthread_mutex_unlock(&m->lock);
}

static void *reap_children(void *arg)
{
    struct fork_model *m = arg;
    for (;;) {
        pthread_mutex_lock(&m->lock);
        while (m->count == 0 && !m->stopping)
            pthread_cond_wait(&m->changed, &m->lock);
        int done = m->count == 0 && m->stopping;
        pthread_mutex_unlock(&m->lock);
        if (done)
            return NULL;
        pid_t pid = waitpid(-1, NULL, 0);
        if (pid > 0)
            forget(m, pid);
        else if (errno != EINTR && errno != ECHILD)
            log_syscall("waitpid", NULL, errno);
    }
}

static int start(struct server *srv)
{
    struct fork_model *m = calloc(1, sizeof *m);
    srv->model_state = m;
    if (!m)
        return -1;
    m->cap = srv->cfg->max_conns;
    m->children = calloc((size_t)m->cap, sizeof *m->children);
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->changed, NULL);
    if (!m->children || gate_thread_create(&m->reaper, reap_children, m) != 0)
        return -1;
    m->reaping = 1;
    m->acceptor = (struct acceptor){.srv = srv, .hand_over = spawn, .model = m};
    pthread_mutex_lock(&running_lock);
    running = m;
    pthread_mutex_unlock(&running_lock);
    return acceptor_start(&m->acceptor);
}

static void stop(struct server *srv)
{
    struct fork_model *m = srv->model_state;
    if (!m)
        return;
    acceptor_stop(&m->acceptor);
    pthread_mutex_lock(&m->lock);
    for (int i = 0; i < m->count; i++)
        kill(m->children[i], SIGUSR2);
    m->stopping = 1;
    pthread_cond_broadcast(&m->changed);
    pthread_mutex_unlock(&m->lock);
    if (m->reaping)
        pthread_join(m->reaper, NULL);
    pthread_mutex_lock(&running_lock);
    running = NULL;
    pthread_mutex_unlock(&running_lock);
    free(m->children);
    free(m);
    srv->model_state = NULL;
}

/* A second stop signal: the children would go on draining after the server
 * is gone, so they end now too. */
static void cut(void)
{
    pthread_mutex_lock(&running_lock);
    if (running) {
        pthread_mutex_lock(&running->lock);
        for (int i = 0; i < running->count; i++)
            kill(running->children[i], SIGKILL);
        pthread_mutex_unlock(&running->lock);
    }
    pthread_mutex_unlock(&running_lock);
}

/* The access log was reopened: children forked before hold the old file. A
 * child forked after the reopen has the new one, and the lock orders the two. */
static void reopened(void)
{
    pthread_mutex_lock(&running_lock);
    if (running) {
        pthread_mutex_lock(&running->lock);
        for (int i = 0; i < running->count; i++)
            kill(running->children[i], SIGUSR1);
        pthread_mutex_unlock(&running->lock);
    }
    pthread_mutex_unlock(&running_lock);
}

const struct serve_model serve_model_fork = {
    .name = "fork",
    .summary = "a process per connection, blocking I/O",
    .ctx_per_conn = 1,
    .start = start,
    .stop = stop,
    .cut = cut,
    .reopened = reopened,
};
