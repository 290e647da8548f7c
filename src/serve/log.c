#include "serve/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http/log.h"

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

int access_log_open(const char *path)
{
    if (!path)
        return -2;
    if (strcmp(path, "-") == 0)
        return STDOUT_FILENO;
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

void access_log_init(struct access_log *log, int fd)
{
    log->fd = fd;
    log->len = 0;
}

void access_log_flush(struct access_log *log)
{
    size_t done = 0;
    while (done < log->len) {
        ssize_t n = write(log->fd, log->buf + done, log->len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            log_syscall("write", "access log", n < 0 ? errno : EIO);
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
    log->len += http_log_combined(log->buf + log->len, entry);
}
