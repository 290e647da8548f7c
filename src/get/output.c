#include "get/output.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "get/get.h"

/* Bodies at least this large, or of unknown length, get a progress bar. */
#define PROGRESS_MIN (1u << 20)
#define PROGRESS_EVERY_NS 100000000L

int get_sink_init(struct get_sink *s, const char *path, int resume)
{
    struct stat st;
    memset(s, 0, sizeof *s);
    s->path = path;
    s->fd = path ? -1 : STDOUT_FILENO;
    if (!resume || !path)
        return 0;
    if (stat(path, &st) == 0)
        s->resume_from = (uint64_t)st.st_size;
    else if (errno != ENOENT) {
        fprintf(stderr, "duct get: %s: %s\n", path, strerror(errno));
        return GET_WRITE;
    }
    return 0;
}

static int open_file(struct get_sink *s)
{
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (s->append ? O_APPEND : O_TRUNC);
    s->fd = open(s->path, flags, 0666);
    if (s->fd >= 0)
        return 0;
    fprintf(stderr, "duct get: cannot write %s: %s\n", s->path, strerror(errno));
    return GET_WRITE;
}

void get_sink_begin(struct get_sink *s, uint64_t expected, int quiet)
{
    s->expected = expected;
    s->written = 0;
    s->progress = !quiet && isatty(STDERR_FILENO) && (expected == 0 || expected >= PROGRESS_MIN);
    clock_gettime(CLOCK_MONOTONIC, &s->last_draw);
}

static void draw(struct get_sink *s, int last)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ns = (now.tv_sec - s->last_draw.tv_sec) * 1000000000L + (now.tv_nsec - s->last_draw.tv_nsec);
    if (!last && ns < PROGRESS_EVERY_NS)
        return;
    s->last_draw = now;
    double mib = (double)s->written / (1 << 20);
    if (s->expected > 0) {
        int width = 30, filled = (int)(width * (double)s->written / (double)s->expected);
        fprintf(stderr, "\r[%-*.*s] %5.1f%% %.1f of %.1f MiB", width, filled,
                "##############################", 100.0 * (double)s->written / (double)s->expected, mib,
                (double)s->expected / (1 << 20));
    } else {
        fprintf(stderr, "\r%.1f MiB", mib);
    }
    if (last)
        fputc('\n', stderr);
}

int get_sink_write(struct get_sink *s, const char *p, size_t n)
{
    if (s->fd < 0 && open_file(s) != 0)
        return GET_WRITE;
    for (size_t off = 0; off < n;) {
        ssize_t w = write(s->fd, p + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            fprintf(stderr, "duct get: write to %s: %s\n", s->path ? s->path : "stdout", strerror(errno));
            return GET_WRITE;
        }
        off += (size_t)w;
    }
    s->written += n;
    if (s->progress)
        draw(s, 0);
    return 0;
}

int get_sink_finish(struct get_sink *s, int body_done)
{
    int status = 0;
    if (s->progress)
        draw(s, 1);
    s->progress = 0;
    if (s->path && s->fd < 0 && body_done)
        status = open_file(s);
    if (s->path && s->fd >= 0 && close(s->fd) != 0) {
        fprintf(stderr, "duct get: close %s: %s\n", s->path, strerror(errno));
        status = GET_WRITE;
    }
    if (s->path)
        s->fd = -1;
    return status;
}
