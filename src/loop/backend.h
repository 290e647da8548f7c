/* The private side of loop.h: what each readiness backend provides, in the
 * shape of Redis's ae_*.c. loop.c owns the per-descriptor interest masks and
 * the bounds checks; a backend only translates them to its system call. */
#ifndef DUCT_LOOP_BACKEND_H
#define DUCT_LOOP_BACKEND_H

#include "loop/loop.h"

struct loop_backend {
    const char *name; /* as given to loop_create */
    int fd_limit;     /* highest descriptor + 1 it can watch, INT_MAX when only the process limit applies */
    /* State for descriptors 0..max_fds-1, or NULL with errno. */
    void *(*create)(int max_fds);
    /* Frees the state; never called with NULL. */
    void (*destroy)(void *state);
    /* Changes the interest of fd from old_mask to new_mask (they differ; either may be 0).
     * Returns 0 or -1 with errno. */
    int (*watch)(void *state, int fd, int old_mask, int new_mask);
    /* Waits up to timeout_ms (-1 for ever) and writes at most max events, each built by loop_report from masks[fd]
     * (the current interest). Returns how many, 0 on timeout, or -1 with errno (EINTR included). */
    int (*wait)(void *state, const unsigned char *masks, struct loop_event *events, int max, int timeout_ms);
};

extern const struct loop_backend loop_backend_epoll;
extern const struct loop_backend loop_backend_poll;
extern const struct loop_backend loop_backend_select;

/* The one normalised form of a report, whatever the backend: only bits the
 * caller asked for, and an error or hang-up also sets every interest bit so
 * that the caller's read or write runs and meets the EOF or the error. 0 means
 * nothing to report. */
static inline int loop_report(int interest, int ready)
{
    int io = interest & (LOOP_READ | LOOP_WRITE);

    if (ready & LOOP_ERROR)
        return LOOP_ERROR | io;
    return ready & io;
}

#endif
