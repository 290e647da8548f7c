/* The epoll model: non-blocking sockets and one epoll instance per worker.
 *
 * Each of --workers threads owns an epoll set holding its own SO_REUSEPORT
 * listener (the kernel spreads new connections across them) and its
 * connections. epoll_wait returns only the ready descriptors, so a wake-up
 * costs O(ready), not O(watched): this is what lets one thread hold tens of
 * thousands of mostly idle keep-alive connections. Nothing blocks but
 * epoll_wait itself; a slow client costs only its own buffer. */
#include "serve/reactor.h"

static int start(struct server *srv)
{
    return reactor_start(srv, "epoll");
}

const struct serve_model serve_model_epoll = {
    .name = "epoll",
    .summary = "non-blocking sockets, one epoll loop per worker (default)",
    .event_loops = 1,
    .start = start,
    .stop = reactor_stop,
};
