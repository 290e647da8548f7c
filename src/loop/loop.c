#include "loop/loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "loop/backend.h"

struct loop {
    const struct loop_backend *backend;
    void *state;
    int max_fds;
    unsigned char *masks; /* current interest of each descriptor, so backends see old and new */
};

/* In order of preference; the names below must follow the same order. */
static const struct loop_backend *const loop_table[] = {
    &loop_backend_epoll,
    &loop_backend_poll,
    &loop_backend_select,
};

static const char *const loop_names[] = {"epoll", "poll", "select", NULL};

_Static_assert(sizeof loop_names / sizeof loop_names[0] == sizeof loop_table / sizeof loop_table[0] + 1,
               "one name per backend, then NULL");

static const struct loop_backend *loop_find(const char *name)
{
    size_t i;

    if (!name)
        return NULL;
    for (i = 0; i < sizeof loop_table / sizeof loop_table[0]; i++)
        if (strcmp(loop_table[i]->name, name) == 0)
            return loop_table[i];
    return NULL;
}

struct loop *loop_create(const char *backend, int max_fds)
{
    const struct loop_backend *be = loop_find(backend);
    struct loop *loop;

    if (!be || max_fds <= 0) {
        errno = EINVAL;
        return NULL;
    }
    loop = calloc(1, sizeof *loop);
    if (!loop)
        return NULL;
    loop->backend = be;
    loop->max_fds = max_fds;
    loop->masks = calloc((size_t)max_fds, sizeof *loop->masks);
    if (loop->masks)
        loop->state = be->create(max_fds);
    if (!loop->state) {
        int saved = errno;

        free(loop->masks);
        free(loop);
        errno = saved;
        return NULL;
    }
    return loop;
}

void loop_destroy(struct loop *loop)
{
    if (!loop)
        return;
    loop->backend->destroy(loop->state);
    free(loop->masks);
    free(loop);
}

const char *loop_backend_name(const struct loop *loop)
{
    return loop->backend->name;
}

const char *const *loop_backends(void)
{
    return loop_names;
}

int loop_backend_fd_limit(const char *backend)
{
    const struct loop_backend *be = loop_find(backend);

    if (!be) {
        errno = EINVAL;
        return -1;
    }
    return be->fd_limit;
}

int loop_watch(struct loop *loop, int fd, int mask)
{
    int old;

    if (fd < 0) {
        errno = EBADF;
        return -1;
    }
    if (fd >= loop->max_fds) {
        errno = ERANGE;
        return -1;
    }
    /* LOOP_ERROR is reported whatever the interest; asking for it is a caller's mistake. */
    if (mask & ~(LOOP_READ | LOOP_WRITE)) {
        errno = EINVAL;
        return -1;
    }
    old = loop->masks[fd];
    if (old == mask)
        return 0;
    if (loop->backend->watch(loop->state, fd, old, mask) != 0)
        return -1;
    loop->masks[fd] = (unsigned char)mask;
    return 0;
}

int loop_wait(struct loop *loop, struct loop_event *events, int max, int timeout_ms)
{
    int n;

    if (!events || max <= 0) {
        errno = EINVAL;
        return -1;
    }
    n = loop->backend->wait(loop->state, loop->masks, events, max, timeout_ms);
    if (n < 0 && errno == EINTR)
        return 0;
    return n;
}
