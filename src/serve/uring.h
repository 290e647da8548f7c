/* The completion-based server behind the uring model: each worker thread owns
 * one io_uring, its own listeners and its connections, and drives each
 * connection's http_conn from the completions of the operations it submits
 * (accept, recv, sendmsg, poll), at most one in flight per connection. */
#ifndef DUCT_SERVE_URING_H
#define DUCT_SERVE_URING_H

#include "serve/server.h"

/* Starts srv->cfg->workers threads, one io_uring each. -1 after logging why:
 * built without liburing, or the kernel refuses io_uring. */
int uring_start(struct server *srv);

/* Wakes every worker to drain and joins them; also undoes a failed start. */
void uring_stop(struct server *srv);

#endif
