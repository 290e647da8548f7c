/* Waiting in duct cat's stream and datagram modes: the one poll that lets
 * the stop signals in. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "cat/cat.h"

volatile sig_atomic_t cat_stop_requested;

static void on_stop(int sig)
{
    (void)sig;
    cat_stop_requested = 1;
}

static sigset_t wait_mask; /* the signal mask while waiting: stop signals let through */

/* The stop signals stay blocked except inside cat_poll, so one that comes
 * between two waits is held for the next wait instead of being missed
 * (a flag tested before poll would leave that window open). */
void cat_catch_stop_signals(void)
{
    struct sigaction sa;
    sigset_t stop_set;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGTERM);
    sigprocmask(SIG_BLOCK, &stop_set, &wait_mask);
    sigdelset(&wait_mask, SIGINT);
    sigdelset(&wait_mask, SIGTERM);
}

int cat_poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
    struct timespec ts = {.tv_sec = timeout_ms / 1000, .tv_nsec = (long)(timeout_ms % 1000) * 1000000L};
    if (cat_stop_requested) {
        errno = EINTR;
        return -1;
    }
    return ppoll(fds, n, timeout_ms < 0 ? NULL : &ts, &wait_mask);
}

