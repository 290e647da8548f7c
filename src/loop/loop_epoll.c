#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "loop/backend.h"

struct epoll_state {
    int epfd;
    int max_fds;
    struct epoll_event *ready; /* grown to the largest max a caller passed to wait */
    int cap;
};

static void *epoll_backend_create(int max_fds)
{
    struct epoll_state *st = calloc(1, sizeof *st);

    if (!st)
        return NULL;
    st->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (st->epfd < 0) {
        int saved = errno;

        free(st);
        errno = saved;
        return NULL;
    }
    st->max_fds = max_fds;
    return st;
}

static void epoll_backend_destroy(void *state)
{
    struct epoll_state *st = state;

    close(st->epfd);
    free(st->ready);
    free(st);
}

static uint32_t epoll_events_of(int mask)
{
    uint32_t ev = 0;

    /* EPOLLRDHUP tells a peer's shutdown apart from plain data; it is reported as LOOP_ERROR. */
    if (mask & LOOP_READ)
        ev |= EPOLLIN | EPOLLRDHUP;
    if (mask & LOOP_WRITE)
        ev |= EPOLLOUT;
    return ev;
}

static int epoll_backend_watch(void *state, int fd, int old_mask, int new_mask)
{
    struct epoll_state *st = state;
    struct epoll_event ev = {.events = epoll_events_of(new_mask), .data.fd = fd};
    int op = old_mask ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

    if (new_mask == 0) {
        /* Closing a descriptor already took it out of the set: removing it again is not an error. */
        if (epoll_ctl(st->epfd, EPOLL_CTL_DEL, fd, &ev) != 0 && errno != ENOENT && errno != EBADF)
            return -1;
        return 0;
    }
    if (epoll_ctl(st->epfd, op, fd, &ev) == 0)
        return 0;
    /* A descriptor closed while watched and reused under the same number is gone from the set. */
    if (op == EPOLL_CTL_MOD && errno == ENOENT)
        return epoll_ctl(st->epfd, EPOLL_CTL_ADD, fd, &ev);
    return -1;
}

static int epoll_backend_reserve(struct epoll_state *st, int max)
{
    struct epoll_event *grown;

    /* More events than watched descriptors can never be ready at once. */
    if (max > st->max_fds)
        max = st->max_fds;
    if (max <= st->cap)
        return st->cap;
    grown = realloc(st->ready, (size_t)max * sizeof *grown);
    if (!grown)
        return -1;
    st->ready = grown;
    st->cap = max;
    return max;
}

static int epoll_ready_mask(uint32_t ev)
{
    int ready = 0;

    if (ev & EPOLLIN)
        ready |= LOOP_READ;
    if (ev & EPOLLOUT)
        ready |= LOOP_WRITE;
    if (ev & (EPOLLERR | EPOLLHUP | EPOLLRDHUP))
        ready |= LOOP_ERROR;
    return ready;
}

static int epoll_backend_wait(void *state, const unsigned char *masks, struct loop_event *events, int max,
                              int timeout_ms)
{
    struct epoll_state *st = state;
    int cap = epoll_backend_reserve(st, max);
    int n, i, out = 0;

    if (cap < 0)
        return -1;
    n = epoll_wait(st->epfd, st->ready, cap < max ? cap : max, timeout_ms);
    for (i = 0; i < n; i++) {
        int fd = st->ready[i].data.fd;
        int mask = loop_report(masks[fd], epoll_ready_mask(st->ready[i].events));

        if (mask) {
            events[out].fd = fd;
            events[out].mask = mask;
            out++;
        }
    }
    return n < 0 ? -1 : out;
}

const struct loop_backend loop_backend_epoll = {
    .name = "epoll",
    .fd_limit = INT_MAX,
    .create = epoll_backend_create,
    .destroy = epoll_backend_destroy,
    .watch = epoll_backend_watch,
    .wait = epoll_backend_wait,
};
