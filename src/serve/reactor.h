/* The event-driven server, written once: each worker thread runs one loop
 * (select, poll or epoll, by name) over its own listeners and non-blocking
 * connections, and drives each connection's http_conn as far as it can go
 * without blocking. The select, poll and epoll models are this reactor with
 * a different backend. */
#ifndef DUCT_SERVE_REACTOR_H
#define DUCT_SERVE_REACTOR_H

#include "serve/server.h"

/* Starts srv->cfg->workers threads running the reactor on `backend`. */
int reactor_start(struct server *srv, const char *backend);

/* Wakes every worker to drain and joins them. */
void reactor_stop(struct server *srv);

struct reactor;
struct engine_conn;

/* The reactor on its own: `workers` loops, each with its listeners. With
 * hand_off (the pool model), a loop serves nothing itself: a connection that
 * becomes readable leaves it and goes to hand_off(model, ec) (a record of the
 * loop's: a thread serves it), and comes back with reactor_give_back, to wait
 * again or closed (fd -1). NULL after logging why. */
struct reactor *reactor_create(struct server *srv, const char *backend, int workers,
                               void (*hand_off)(void *model, struct engine_conn *ec), void *model);

/* From any thread: a connection handed off returns (hand-off mode has one worker). */
void reactor_give_back(struct reactor *r, struct engine_conn *ec);

/* Drains (the loops wait until every connection handed off is given back),
 * joins and frees. */
void reactor_destroy(struct reactor *r);

#endif
