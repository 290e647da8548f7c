#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>

#include "loop/backend.h"

struct poll_state {
    struct pollfd *fds; /* the watched descriptors, packed: removal moves the last one into the hole */
    int count;
    int cap;
    int *index; /* descriptor -> position in fds, -1 when not watched */
    int next;   /* where the next scan starts, so a small max does not starve the tail */
};

static void *poll_backend_create(int max_fds)
{
    struct poll_state *st = calloc(1, sizeof *st);
    int i;

    if (!st)
        return NULL;
    st->index = malloc((size_t)max_fds * sizeof *st->index);
    if (!st->index) {
        free(st);
        errno = ENOMEM;
        return NULL;
    }
    for (i = 0; i < max_fds; i++)
        st->index[i] = -1;
    return st;
}

static void poll_backend_destroy(void *state)
{
    struct poll_state *st = state;

    free(st->fds);
    free(st->index);
    free(st);
}

static short poll_events_of(int mask)
{
    short ev = 0;

    if (mask & LOOP_READ)
        ev |= POLLIN | POLLRDHUP;
    if (mask & LOOP_WRITE)
        ev |= POLLOUT;
    return ev;
}

static int poll_backend_add(struct poll_state *st, int fd, int mask)
{
    if (st->count == st->cap) {
        int cap = st->cap ? st->cap * 2 : 64;
        struct pollfd *grown = realloc(st->fds, (size_t)cap * sizeof *grown);

        if (!grown)
            return -1;
        st->fds = grown;
        st->cap = cap;
    }
    st->fds[st->count].fd = fd;
    st->fds[st->count].events = poll_events_of(mask);
    st->fds[st->count].revents = 0;
    st->index[fd] = st->count++;
    return 0;
}

static void poll_backend_remove(struct poll_state *st, int fd)
{
    int at = st->index[fd];
    struct pollfd last = st->fds[--st->count];

    st->fds[at] = last;
    st->index[last.fd] = at;
    st->index[fd] = -1;
}

/* The position map, not old_mask, decides between add, change and remove: it is the backend's own truth. */
static int poll_backend_watch(void *state, int fd, int old_mask, int new_mask)
{
    struct poll_state *st = state;

    (void)old_mask;
    if (st->index[fd] < 0)
        return new_mask ? poll_backend_add(st, fd, new_mask) : 0;
    if (new_mask == 0)
        poll_backend_remove(st, fd);
    else
        st->fds[st->index[fd]].events = poll_events_of(new_mask);
    return 0;
}

static int poll_ready_mask(short revents)
{
    int ready = 0;

    if (revents & POLLIN)
        ready |= LOOP_READ;
    if (revents & POLLOUT)
        ready |= LOOP_WRITE;
    /* POLLNVAL: the descriptor was closed while still watched. */
    if (revents & (POLLERR | POLLHUP | POLLRDHUP | POLLNVAL))
        ready |= LOOP_ERROR;
    return ready;
}

static int poll_backend_wait(void *state, const unsigned char *masks, struct loop_event *events, int max,
                             int timeout_ms)
{
    struct poll_state *st = state;
    int n = poll(st->fds, (nfds_t)st->count, timeout_ms);
    int i, out = 0;

    if (n <= 0)
        return n;
    if (st->next >= st->count)
        st->next = 0;
    for (i = 0; i < st->count && out < max; i++) {
        const struct pollfd *p = &st->fds[(st->next + i) % st->count];

        if (p->revents == 0)
            continue;
        events[out].fd = p->fd;
        events[out].mask = loop_report(masks[p->fd], poll_ready_mask(p->revents));
        if (events[out].mask)
            out++;
    }
    st->next = (st->next + i) % st->count;
    return out;
}

const struct loop_backend loop_backend_poll = {
    .name = "poll",
    .fd_limit = INT_MAX,
    .create = poll_backend_create,
    .destroy = poll_backend_destroy,
    .watch = poll_backend_watch,
    .wait = poll_backend_wait,
};
