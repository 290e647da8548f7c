/* The accept loop of the blocking models: one thread that waits on the
 * listeners, accepts with a blocking socket, and hands each connection to the
 * model (serve it now, give it a thread, queue it, fork for it). */
#ifndef DUCT_SERVE_ACCEPTOR_H
#define DUCT_SERVE_ACCEPTOR_H

#include <pthread.h>
#include <sys/socket.h>

#include "serve/server.h"

struct acceptor {
    struct server *srv;
    /* Takes ownership of fd and of its --max-conns slot (blocking_serve or
     * blocking_refuse gives it back). */
    void (*hand_over)(void *model, int fd, int listener, const struct sockaddr_storage *peer, socklen_t peer_len);
    void *model;
    /* Optional: called at least once a second while no connection comes, for
     * a model whose accept thread also serves (the iterative model's
     * housekeeping). */
    void (*idle)(void *model);
    int stop_fd; /* eventfd written by acceptor_stop */
    pthread_t thread;
    int running;
};

/* Starts the accept thread. 0, or -1 after logging why. */
int acceptor_start(struct acceptor *a);

/* Stops accepting and joins the accept thread (connections handed over are
 * the model's to finish). */
void acceptor_stop(struct acceptor *a);

#endif
