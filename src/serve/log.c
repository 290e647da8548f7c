#include "serve/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http/log.h"
#include "loop/timer.h"

static void timestamp(char out[32])
{
    struct tm tm;
    time_t now = time(NULL);
    if (!gmtime_r(&now, &tm) || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        strcpy(out, "-");
}

void log_error(const char *fmt, ...)
{
    char when[32], message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    timestamp(when);
    /* One fprintf per line: stdio locks the stream, so threads do not interleave. */
    fprintf(stderr, "%s duct: %s\n", when, message);
}

void log_syscall(const char *syscall, const char *arg, int err)
{
    log_error("%s(%s): %s", syscall, arg ? arg : "", strerror(err));
}

/* ---- errors that repeat ------------------------------------------------- */

/* The limiters that have held a line back, for log_limits_flush. A limiter
 * joins once and never leaves (it is static), so a plain push is safe. */
static struct log_limit *_Atomic held_list;

static void enlist(struct log_limit *limit)
{
    if (atomic_exchange(&limit->listed, 1))
        return;
    struct log_limit *head = atomic_load(&held_list);
    do
        limit->next = head;
    while (!atomic_compare_exchange_weak(&held_list, &head, limit));
}

/* Whether a line may go out at now_ms: its second has come and this thread
 * won it. Then *held is what was held back since the line at *since_ms. */
static int take_turn(struct log_limit *limit, int64_t now_ms, int force, uint64_t *held, int64_t *since_ms)
{
    int64_t last = atomic_load(&limit->last_ms);
    if (!force && last != LOG_LIMIT_NEVER && now_ms - last < LOG_LIMIT_MS)
        return 0;
    if (!atomic_compare_exchange_strong(&limit->last_ms, &last, now_ms))
        return 0; /* another thread logged just now */
    *held = atomic_exchange(&limit->held, 0);
    *since_ms = last;
    return 1;
}

static double seconds_since(int64_t since_ms, int64_t now_ms)
{
    return since_ms == LOG_LIMIT_NEVER ? 0.0 : (double)(now_ms - since_ms) / 1000.0;
}

static int vlog_limited(struct log_limit *limit, int64_t now_ms, const char *fmt, va_list ap)
{
    uint64_t held;
    int64_t since;
    char message[512];
    if (!take_turn(limit, now_ms, 0, &held, &since)) {
        atomic_store(&limit->seen_ms, now_ms);
        atomic_fetch_add(&limit->held, 1);
        enlist(limit);
        return 0;
    }
    vsnprintf(message, sizeof message, fmt, ap);
    if (held)
        log_error("%s (repeated %llu time%s in the last %.1f s)", message, (unsigned long long)held,
                  held == 1 ? "" : "s", seconds_since(since, now_ms));
    else
        log_error("%s", message);
    return 1;
}

int log_limited_at(struct log_limit *limit, int64_t now_ms, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int logged = vlog_limited(limit, now_ms, fmt, ap);
    va_end(ap);
    return logged;
}

int log_limited(struct log_limit *limit, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int logged = vlog_limited(limit, timer_clock_ms(), fmt, ap);
    va_end(ap);
    return logged;
}

void log_syscall_limited(struct log_limit *limit, const char *syscall, const char *arg, int err)
{
    log_limited(limit, "%s(%s): %s", syscall, arg ? arg : "", strerror(err));
}

void log_limits_forked(void)
{
    for (struct log_limit *l = atomic_load(&held_list); l; l = l->next)
        atomic_store(&l->held, 0);
}

void log_limits_flush(int64_t now_ms, int force)
{
    for (struct log_limit *l = atomic_load(&held_list); l; l = l->next) {
        uint64_t held;
        int64_t since;
        int64_t seen = atomic_load(&l->seen_ms);
        if (!atomic_load(&l->held) || seen == LOG_LIMIT_NEVER)
            continue;
        /* While the error goes on, its next line carries the count. */
        if (!force && now_ms - seen < LOG_LIMIT_MS)
            continue;
        if (take_turn(l, now_ms, force, &held, &since) && held)
            log_error("%s: repeated %llu time%s in the last %.1f s", l->what, (unsigned long long)held,
                      held == 1 ? "" : "s", seconds_since(since, now_ms));
    }
}

int access_log_open(const char *path)
{
    if (!path)
        return -2;
    if (strcmp(path, "-") == 0)
        return STDOUT_FILENO;
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

int access_log_reopen(const char *path, int fd)
{
    int fresh = access_log_open(path);
    if (fresh < 0)
        return -1;
    if (fresh == fd)
        return 0;
    int ok = dup3(fresh, fd, O_CLOEXEC) >= 0;
    int err = errno;
    close(fresh);
    errno = err;
    return ok ? 0 : -1;
}

void access_log_init(struct access_log *log, int fd)
{
    log->fd = fd;
    log->vhost = 0;
    log->len = 0;
}

/* A full disk fails every flush of every worker: one line a second says so. */
static struct log_limit write_failed = LOG_LIMIT_INIT("write(access log)");
static _Atomic uint64_t lines_lost;

static void count_lost(const char *from, size_t len, int err)
{
    uint64_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += from[i] == '\n';
    uint64_t total = atomic_fetch_add(&lines_lost, lines) + lines;
    log_limited(&write_failed, "write(access log): %s; %llu line%s lost so far", strerror(err),
                (unsigned long long)total, total == 1 ? "" : "s");
}

void access_log_flush(struct access_log *log)
{
    size_t done = 0;
    while (done < log->len) {
        ssize_t n = write(log->fd, log->buf + done, log->len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            count_lost(log->buf + done, log->len - done, n < 0 ? errno : EIO);
            break;
        }
        done += (size_t)n;
    }
    log->len = 0;
}

void access_log_write(void *opaque, const struct http_log_entry *entry)
{
    struct access_log *log = opaque;
    if (log->fd < 0)
        return;
    if (sizeof log->buf - log->len < HTTP_LOG_LINE_MAX)
        access_log_flush(log);
    if (log->vhost)
        log->len += http_log_vhost_combined(log->buf + log->len, entry);
    else
        log->len += http_log_combined(log->buf + log->len, entry);
}
