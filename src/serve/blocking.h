/* Serving one connection with blocking I/O, shared by the iterative, fork,
 * thread and pool models: they differ only in who calls blocking_serve and
 * when. The socket is non-blocking and every wait is a poll bounded by the
 * engine's deadline for the connection's phase (idle, header, send), so an
 * idle or slow client cannot hold a thread or process for ever. */
#ifndef DUCT_SERVE_BLOCKING_H
#define DUCT_SERVE_BLOCKING_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "serve/engine.h"
#include "serve/log.h"
#include "serve/server.h"

/* The connections being served, so that a graceful stop can reach threads
 * blocked in recv: shutdown(SHUT_RD) wakes them with end-of-input, and the
 * connection core then answers what it has already received and closes. */
struct blocking_set {
    pthread_mutex_t lock;
    atomic_int stopping;
    int64_t stop_ms; /* when the stop was asked: every thread's drain deadline runs from it */
    int count;
    int cap;
    int *fds;
};

/* What one thread (or process) needs to serve connections. */
struct blocking_worker {
    struct engine_worker ew;
    struct blocking_set *set;               /* NULL in a forked child */
    const volatile sig_atomic_t *stop_flag; /* a forked child's drain request, else NULL */
};

/* 0, or -1 after logging why. set may be NULL. */
int blocking_worker_init(struct blocking_worker *bw, struct server *srv, struct blocking_set *set);
void blocking_worker_destroy(struct blocking_worker *bw);

int blocking_set_init(struct blocking_set *set, int cap);
void blocking_set_destroy(struct blocking_set *set);
/* Ends reading on every connection in the set, and on those added later. */
void blocking_set_stop(struct blocking_set *set);

/* Serves fd, accepted on listener, to its end and closes it, giving back
 * its --max-conns slot. */
void blocking_serve(struct blocking_worker *bw, int fd, int listener, const struct sockaddr_storage *peer,
                    socklen_t peer_len);

/* One turn of a connection the pool model's poll set found readable:
 * reads what has arrived and serves every response it completes with
 * blocking writes, but never waits to read. Returns 1 when the connection
 * should wait again in the poll set (idle, a head still arriving, or a
 * lingering close), its phase and protocol object (or none) up to date; 0
 * when it was closed (ec->fd is then -1). Either way the record goes back. */
int blocking_turn(struct blocking_worker *bw, struct engine_conn *ec);

/* Waits until one of srv's listeners (this is worker 0's set) has a
 * connection, or stop_fd is readable, or timeout_ms passes (-1: no limit).
 * Returns the listener's index, -1 on stop, or -2 when the time passed. */
int blocking_wait_listener(struct server *srv, int stop_fd, int timeout_ms);

/* Accepts one connection from the listener and admits it against --max-conns
 * (a connection over the limit is refused with the engine's 503). Returns
 * the descriptor, which owns a slot until blocking_serve or
 * blocking_refuse ends it, or -1 (nothing to do; already handled). An
 * accept failure that calls for a pause waits on stop_fd for it. */
int blocking_accept(struct server *srv, int listener, int stop_fd, struct sockaddr_storage *peer,
                    socklen_t *peer_len);

/* Refuses a connection that blocking_accept admitted but no one can serve
 * (no thread, no process): the engine's 503, and the slot given back. */
void blocking_refuse(struct server *srv, int fd, int listener);

#endif
