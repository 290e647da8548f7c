/* Serving one connection with blocking I/O, shared by the iterative, fork,
 * thread and pool models: they differ only in who calls blocking_serve and
 * when. Reads and writes block, bounded by socket timeouts so that an idle or
 * slow client cannot hold a thread or process for ever. */
#ifndef DUCT_SERVE_BLOCKING_H
#define DUCT_SERVE_BLOCKING_H

#include <pthread.h>
#include <sys/socket.h>

#include "serve/context.h"
#include "serve/log.h"
#include "serve/server.h"

/* What one thread (or process) needs to serve connections. */
struct blocking_worker {
    struct server *srv;
    const struct serve_proto *proto;
    void *conn; /* the one connection object this thread or process serves at a time */
    struct serve_ctx ctx;
    int idle_timeout; /* seconds; the iterative model shortens it */
};

int blocking_worker_init(struct blocking_worker *bw, struct server *srv);
void blocking_worker_destroy(struct blocking_worker *bw);

/* The connections being served, so that a graceful stop can reach threads
 * blocked in recv: shutdown(SHUT_RD) wakes them with end-of-input, and the
 * connection core then answers what it has already received and closes. */
struct blocking_set {
    pthread_mutex_t lock;
    int stopping;
    int count;
    int cap;
    int *fds;
};

int blocking_set_init(struct blocking_set *set, int cap);
void blocking_set_destroy(struct blocking_set *set);
/* Ends reading on every connection in the set, and on those added later. */
void blocking_set_stop(struct blocking_set *set);

/* Serves fd to its end and closes it. set may be NULL (a forked child has
 * its own way to stop). */
void blocking_serve(struct blocking_worker *bw, struct blocking_set *set, int fd,
                    const struct sockaddr_storage *peer, socklen_t peer_len);

/* Waits until one of srv's listeners (this is worker 0's set) has a
 * connection, or stop_fd is readable. Returns the listener, or -1 on stop. */
int blocking_wait_listener(struct server *srv, int stop_fd);

/* Accepts one blocking connection from listen_fd, counting it against
 * --max-conns. Returns the descriptor, or -1 (nothing to do; already logged). */
int blocking_accept(struct server *srv, int listen_fd, struct sockaddr_storage *peer, socklen_t *peer_len);

/* Gives back the --max-conns slot of a connection blocking_accept admitted. */
void blocking_release_slot(struct server *srv);

/* Answers the protocol's refusal (HTTP 503) without waiting and closes: for
 * a connection no one can serve. */
void blocking_refuse(const struct server *srv, int fd);

#endif
