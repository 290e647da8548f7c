/* --status-listen: /healthz and /metrics on a listener of their own, served
 * by one small thread with blocking I/O, beside whatever model serves the
 * site. It never touches a connection of the site: it reads only the
 * server's shared totals (serve/engine.h, serve/metrics.h) and gauges. */
#ifndef DUCT_SERVE_STATUS_H
#define DUCT_SERVE_STATUS_H

#include <stddef.h>

#include "serve/server.h"

/* Opens the status listener when --status-listen was given (before the
 * sandbox and the model start). 0, or -1 after logging why. */
int status_open(struct server *srv);

/* Starts the thread that answers on it. 0, or -1 after logging why. */
int status_start(struct server *srv);

/* Stops the thread (after the model's stop: /healthz says 503 while the
 * server drains) and closes the listener. */
void status_stop(struct server *srv);

/* The /metrics text in the Prometheus text exposition format (0.0.4). Returns
 * its length, at most cap - 1 (cut short, never past cap). */
size_t status_metrics(const struct server *srv, char *out, size_t cap);

#endif
