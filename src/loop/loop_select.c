#include <errno.h>
#include <stdlib.h>
#include <sys/select.h>

#include "loop/backend.h"

struct select_state {
    fd_set readers; /* the interest; select overwrites its arguments, so each wait works on copies */
    fd_set writers;
    int max_fd; /* highest watched descriptor, -1 when none */
    int next;   /* where the next scan starts, so a small max does not starve high descriptors */
};

static void *select_backend_create(int max_fds)
{
    struct select_state *st = calloc(1, sizeof *st);

    (void)max_fds;
    if (!st)
        return NULL;
    FD_ZERO(&st->readers);
    FD_ZERO(&st->writers);
    st->max_fd = -1;
    return st;
}

static void select_backend_destroy(void *state)
{
    free(state);
}

static int select_watched(const struct select_state *st, int fd)
{
    return FD_ISSET(fd, &st->readers) || FD_ISSET(fd, &st->writers);
}

static int select_backend_watch(void *state, int fd, int old_mask, int new_mask)
{
    struct select_state *st = state;

    (void)old_mask;
    /* FD_SET past FD_SETSIZE writes beyond the fd_set: refuse rather than corrupt memory. */
    if (fd < 0 || fd >= FD_SETSIZE) {
        errno = ERANGE;
        return -1;
    }
    if (new_mask & LOOP_READ)
        FD_SET(fd, &st->readers);
    else
        FD_CLR(fd, &st->readers);
    if (new_mask & LOOP_WRITE)
        FD_SET(fd, &st->writers);
    else
        FD_CLR(fd, &st->writers);
    if (new_mask && fd > st->max_fd)
        st->max_fd = fd;
    while (st->max_fd >= 0 && !select_watched(st, st->max_fd))
        st->max_fd--;
    return 0;
}

static int select_ready_mask(int fd, const fd_set *readable, const fd_set *writable)
{
    int ready = 0;

    if (FD_ISSET(fd, readable))
        ready |= LOOP_READ;
    if (FD_ISSET(fd, writable))
        ready |= LOOP_WRITE;
    return ready;
}

static int select_backend_wait(void *state, const unsigned char *masks, struct loop_event *events, int max,
                               int timeout_ms)
{
    struct select_state *st = state;
    fd_set readable = st->readers, writable = st->writers;
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    int span = st->max_fd + 1;
    int n = select(span, &readable, &writable, NULL, timeout_ms < 0 ? NULL : &tv);
    int i, out = 0;

    if (n <= 0)
        return n;
    if (st->next >= span)
        st->next = 0;
    /* select has no error set: an error or hang-up shows as readable (and
     * writable), and the caller's read or write meets it there. */
    for (i = 0; i < span && out < max; i++) {
        int fd = (st->next + i) % span;

        events[out].fd = fd;
        events[out].mask = loop_report(masks[fd], select_ready_mask(fd, &readable, &writable));
        if (events[out].mask)
            out++;
    }
    st->next = (st->next + i) % span;
    return out;
}

const struct loop_backend loop_backend_select = {
    .name = "select",
    .fd_limit = FD_SETSIZE,
    .create = select_backend_create,
    .destroy = select_backend_destroy,
    .watch = select_backend_watch,
    .wait = select_backend_wait,
};
