/* The poll model: non-blocking sockets and one poll loop per worker.
 *
 * Like epoll, but the whole pollfd array goes to the kernel on every wake-up
 * and is scanned on return: each wake-up costs O(watched connections), which
 * is what makes poll slow down as idle connections pile up. There is no
 * limit on descriptor numbers. */
#include "serve/reactor.h"

static int start(struct server *srv)
{
    return reactor_start(srv, "poll");
}

const struct serve_model serve_model_poll = {
    .name = "poll",
    .summary = "non-blocking sockets, one poll loop per worker",
    .event_loops = 1,
    .start = start,
    .stop = reactor_stop,
};
