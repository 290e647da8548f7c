/* The select model: non-blocking sockets and one select loop per worker.
 *
 * The oldest readiness API: fd_set bitmaps copied in and out of the kernel on
 * every wake-up and scanned up to the highest descriptor. An fd_set holds
 * only descriptors below FD_SETSIZE (1024), and FD_SET beyond it writes past
 * the bitmap, corrupting memory. So a connection whose descriptor is 1024 or
 * more is refused at accept (closed at once, never passed to FD_SET): this
 * model serves at most about a thousand connections per process. */
#include "serve/reactor.h"

static int start(struct server *srv)
{
    return reactor_start(srv, "select");
}

const struct serve_model serve_model_select = {
    .name = "select",
    .summary = "non-blocking sockets, one select loop per worker (descriptors < 1024 only)",
    .event_loops = 1,
    .start = start,
    .stop = reactor_stop,
};
