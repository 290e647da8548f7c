/* Restarts without loss, as HAProxy's -x does: the listening sockets pass
 * from the running server to its successor over a Unix socket, so the
 * listen queue is never closed and no connection is refused or reset.
 *
 * A server started with --handover PATH listens on PATH (made under umask 077: only its owner may connect) for a
 * successor. A new `duct serve --handover PATH` connects there before it
 * opens its listeners, sends "duct-handover 1", and receives every listener
 * of the running server (SCM_RIGHTS); it serves on those whose address
 * matches one of its --listen addresses (port 0 matches any port of the same
 * IP) and opens the others itself. Once its model runs, it sends "go". The
 * old server then stops accepting (the queue is shared: what waits in it is
 * the successor's to accept), answers every further request with
 * Connection: close, waits until its connections have ended by themselves
 * (at most --drain-timeout), and stops as SIGTERM would. Nobody listening
 * at PATH means a first start.
 *
 * With --handover, each TCP address has one listening socket shared by the
 * workers (as a Unix address always has) instead of one SO_REUSEPORT socket
 * per worker: per-worker sockets would each hold a queue of their own, and
 * the successor would have to take them all, whatever its --workers.
 * Only root or the server's own user may connect (SO_PEERCRED). */
#ifndef DUCT_SERVE_HANDOVER_H
#define DUCT_SERVE_HANDOVER_H

#include <pthread.h>

#include "serve/server.h"

/* In prepare, before the listeners: connects to path and receives the
 * running server's listeners, if one answers. 0 (srv->handover set), or -1
 * after logging why. */
int handover_begin(struct server *srv, const char *path);

/* A received listener bound to addr, or -1. Each is claimed at most once. */
int handover_claim(struct handover *h, const struct net_addr *addr);

/* After the listeners: closes the received ones nobody claimed, and binds
 * the control socket at the path (replacing the predecessor's name, which
 * it no longer needs). 0, or -1 after logging why. */
int handover_listen(struct server *srv);

/* Once serving: tells the predecessor, if any, to let go. */
void handover_complete(struct server *srv);

/* Starts the thread that waits for a successor; when one has taken the
 * listeners and said "go", it sets srv->accept_off and *srv->retiring and
 * sends SIGUSR2 to main. 0, or -1 after logging why. */
int handover_serve(struct server *srv, pthread_t main);

/* 1 once a successor took over. */
int handover_given(const struct server *srv);

/* The successor's pid, for messages. */
int handover_successor(const struct server *srv);

/* Stops the thread and closes everything; safe when begin failed. */
void handover_end(struct server *srv);

#endif
