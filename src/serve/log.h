/* The server's two logs: errors on stderr, each line with a UTC timestamp and
 * the name of the failing syscall; and the access log, buffered per worker. */
#ifndef DUCT_SERVE_LOG_H
#define DUCT_SERVE_LOG_H

#include <stddef.h>

#include "http/conn.h"

/* "2026-11-25T12:00:00Z duct: <message>" on stderr. */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "... duct: <syscall>(<arg>): <strerror(err)>". */
void log_syscall(const char *syscall, const char *arg, int err);

/* One per worker; all share one descriptor opened with O_APPEND, and each
 * flush is one write of whole lines, so lines from workers never interleave. */
struct access_log {
    int fd; /* -1: logging is off */
    size_t len;
    char buf[65536];
};

/* Opens path for appending ("-" is stdout, NULL is no log). Returns the
 * descriptor, -2 for "no log", or -1 with errno. */
int access_log_open(const char *path);

void access_log_init(struct access_log *log, int fd);

/* The http_ctx on_log callback: formats one Combined Log Format line. */
void access_log_write(void *log, const struct http_log_entry *entry);

/* Writes out what is buffered: before a worker sleeps, and when it stops. */
void access_log_flush(struct access_log *log);

#endif
