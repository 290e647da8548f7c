/* The uring model: completion-based I/O, one io_uring per worker.
 *
 * The readiness models (select, poll, epoll) ask the kernel "which sockets
 * can I read or write now?" and then make the calls themselves. io_uring
 * turns the question around: the worker hands the kernel the operations
 * themselves (accept on this listener, receive into this buffer, send these
 * bytes) through a submission queue shared with the kernel, and later reaps
 * their results from a completion queue. One io_uring_enter both submits
 * the queued operations and waits for completions, so a busy worker makes
 * about one system call per round instead of one per read and per write.
 *
 * Each of --workers threads owns a ring, its own SO_REUSEPORT listeners and
 * its connections. A listener always has one accept in flight, re-armed on
 * its completion; a connection has at most one operation in flight, and its
 * memory is freed only after that operation has completed, since until then
 * the kernel may still write into its buffer. To end a connection early the
 * worker cancels the operation and frees it on the completion.
 *
 * io_uring has no sendfile. A file body is sent with sendfile(2) on the
 * non-blocking socket, synchronously; when the socket is full, a POLLOUT
 * poll is submitted and the sendfile retried on its completion (the simpler
 * of the two ways; the other splices file -> pipe -> socket). */
#include "serve/uring.h"

const struct serve_model serve_model_uring = {
    .name = "uring",
    .summary = "completion-based io_uring, one ring per worker (Linux)",
    .event_loops = 1,
    .start = uring_start,
    .stop = uring_stop,
};
