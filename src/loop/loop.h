/* One small event-loop API over select, poll and epoll, the backend chosen by
 * name at run time (lighttpd's fdevent, Redis's ae without the compile-time
 * choice). Each loop belongs to one thread; loops share nothing.
 *
 * The loop knows descriptors and readiness only: no timers, no callbacks. The
 * caller asks loop_wait for the ready descriptors and dispatches them itself. */
#ifndef DUCT_LOOP_LOOP_H
#define DUCT_LOOP_LOOP_H

enum {
    LOOP_READ = 1 << 0,
    LOOP_WRITE = 1 << 1,
    LOOP_ERROR = 1 << 2, /* reported only: hang-up or error on the descriptor */
};

struct loop_event {
    int fd;
    int mask; /* LOOP_READ | LOOP_WRITE | LOOP_ERROR that fired */
};

struct loop;

/* A loop with the named backend ("epoll", "poll", "select") able to watch
 * descriptors 0..max_fds-1. Returns NULL with errno set: EINVAL for an unknown
 * name, or what the backend's set-up failed with. */
struct loop *loop_create(const char *backend, int max_fds);
void loop_destroy(struct loop *loop);
const char *loop_backend_name(const struct loop *loop);

/* The names accepted by loop_create, NULL-terminated, for help texts. */
const char *const *loop_backends(void);

/* The highest descriptor + 1 a backend can watch (FD_SETSIZE for select;
 * INT_MAX for the others), or -1 with EINVAL for an unknown name. */
int loop_backend_fd_limit(const char *backend);

/* Sets the interest of fd to mask (0 removes it). Returns 0, or -1 with errno
 * (ERANGE when fd is beyond the loop's limit). Remove a descriptor before
 * closing it: select fails on a closed one and poll reports it as an error. */
int loop_watch(struct loop *loop, int fd, int mask);

/* Waits up to timeout_ms (-1 for ever) and writes up to max ready descriptors
 * to events. Returns how many, 0 on timeout or EINTR, or -1 with errno. */
int loop_wait(struct loop *loop, struct loop_event *events, int max, int timeout_ms);

#endif
