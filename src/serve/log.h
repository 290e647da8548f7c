/* The server's two logs: errors on stderr, each line with a UTC timestamp and
 * the name of the failing syscall; and the access log, buffered per worker. */
#ifndef DUCT_SERVE_LOG_H
#define DUCT_SERVE_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "http/conn.h"

/* "2026-11-25T12:00:00Z duct: <message>" on stderr. */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "... duct: <syscall>(<arg>): <strerror(err)>". */
void log_syscall(const char *syscall, const char *arg, int err);

/* An error that can recur many times a second (accept out of descriptors, a
 * full disk under the access log) goes through a limiter: at most one line a
 * second. What is held back meanwhile is counted, and the next line that goes
 * out says so: "... (repeated 37 times in the last 1.0 s)". Once the error
 * has stopped for a second, log_limits_flush (every worker's tick) reports
 * what a limiter still holds as "<what>: repeated 37 times in the last 1.0 s",
 * so no count is lost.
 *
 * A limiter is a static object, one per call site, shared by every thread:
 * it is lock-free (a forked child inherits no held lock). Its clock is
 * monotonic milliseconds (timer_clock_ms), so a step of the wall clock
 * neither floods the log nor silences it. */
struct log_limit {
    const char *what;        /* names the error in a summary line: "write(access log)" */
    _Atomic int64_t last_ms; /* when a line last went out; LOG_LIMIT_NEVER: none yet */
    _Atomic uint64_t held;   /* lines held back since */
    _Atomic int64_t seen_ms; /* when the latest was held back */
    _Atomic int listed;      /* on the list log_limits_flush walks */
    struct log_limit *next;
};

#define LOG_LIMIT_MS 1000
#define LOG_LIMIT_NEVER INT64_MIN
#define LOG_LIMIT_INIT(what) {(what), LOG_LIMIT_NEVER, 0, LOG_LIMIT_NEVER, 0, NULL}

/* log_error through the limiter, at monotonic time now_ms (log_limited reads
 * the clock). Returns 1 when the line went out, 0 when it was held back. */
int log_limited_at(struct log_limit *limit, int64_t now_ms, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int log_limited(struct log_limit *limit, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* log_syscall through the limiter. */
void log_syscall_limited(struct log_limit *limit, const char *syscall, const char *arg, int err);

/* In a child just forked: what the parent held back is the parent's to report. */
void log_limits_forked(void);

/* One summary line for every limiter that holds lines back, whose error has
 * not recurred for a second and whose second is over (force: whatever the
 * time, as a process ends). */
void log_limits_flush(int64_t now_ms, int force);

/* One per worker; all share one descriptor opened with O_APPEND, and each
 * flush is one write of whole lines, so lines from workers never interleave. */
struct access_log {
    int fd; /* -1: logging is off */
    int vhost; /* --vhosts: lines start with "host:port " (vhost_combined) */
    size_t len;
    char buf[65536];
};

/* Opens path for appending ("-" is stdout, NULL is no log). Returns the
 * descriptor, -2 for "no log", or -1 with errno. */
int access_log_open(const char *path);

/* Opens path again onto fd (dup2), for log rotation: every worker keeps
 * writing to the same descriptor, which now names the new file, and a line
 * goes whole to one file or the other. Async-signal-safe (a forked child
 * calls it from its signal handler). 0, or -1 with errno, fd unchanged. */
int access_log_reopen(const char *path, int fd);

void access_log_init(struct access_log *log, int fd);

/* The http_ctx on_log callback: formats one Combined Log Format line. */
void access_log_write(void *log, const struct http_log_entry *entry);

/* Writes out what is buffered: before a worker sleeps, and when it stops. A
 * failed write drops what was buffered (serving goes on); the failure is
 * logged through a limiter with the number of lines lost so far. */
void access_log_flush(struct access_log *log);

#endif
