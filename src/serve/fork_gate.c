#include "serve/fork_gate.h"

#include <errno.h>
#include <stdlib.h>

#include "serve/asan.h"

#define GATED SERVE_ASAN

static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t emptied = PTHREAD_COND_INITIALIZER;
static int inside; /* threads in a gated section */

void fork_gate_enter(void)
{
    if (!GATED)
        return;
    pthread_mutex_lock(&gate);
    inside++;
    pthread_mutex_unlock(&gate);
}

void fork_gate_leave(void)
{
    if (!GATED)
        return;
    pthread_mutex_lock(&gate);
    if (--inside == 0)
        pthread_cond_broadcast(&emptied);
    pthread_mutex_unlock(&gate);
}

void fork_gate_close(void)
{
    if (!GATED)
        return;
    pthread_mutex_lock(&gate);
    while (inside > 0)
        pthread_cond_wait(&emptied, &gate);
}

void fork_gate_open(void)
{
    if (!GATED)
        return;
    pthread_mutex_unlock(&gate);
}

struct start {
    void *(*fn)(void *);
    void *arg;
};

static void *run_gated(void *arg)
{
    struct start s = *(struct start *)arg;
    free(arg);
    fork_gate_leave();
    return s.fn(s.arg);
}

int gate_thread_create(pthread_t *thread, void *(*fn)(void *), void *arg)
{
    if (!GATED)
        return pthread_create(thread, NULL, fn, arg);
    struct start *s = malloc(sizeof *s);
    if (!s)
        return ENOMEM;
    *s = (struct start){fn, arg};
    fork_gate_enter();
    int err = pthread_create(thread, NULL, run_gated, s);
    if (err != 0) {
        fork_gate_leave();
        free(s);
    }
    return err;
}
