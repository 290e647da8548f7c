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

#endif
