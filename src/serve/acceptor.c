#include "serve/acceptor.h"

#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "serve/blocking.h"
#include "serve/fork_gate.h"
#include "serve/log.h"

static void *accept_loop(void *arg)
{
    struct acceptor *a = arg;
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t peer_len;
        int listener = blocking_wait_listener(a->srv, a->stop_fd, a->idle ? 1000 : -1);
        if (listener == -2) {
            a->idle(a->model);
            continue;
        }
        if (listener < 0)
            break;
        /* A successor accepts from the shared queue now (serve/handover.h). */
        if (atomic_load(&a->srv->accept_off))
            break;
        int fd = blocking_accept(a->srv, listener, a->stop_fd, &peer, &peer_len);
        if (fd >= 0)
            a->hand_over(a->model, fd, listener, &peer, peer_len);
    }
    return NULL;
}

int acceptor_start(struct acceptor *a)
{
    a->running = 0;
    a->stop_fd = eventfd(0, EFD_CLOEXEC);
    if (a->stop_fd < 0) {
        log_syscall("eventfd", "acceptor", errno);
        return -1;
    }
    int err = gate_thread_create(&a->thread, accept_loop, a);
    if (err != 0) {
        log_syscall("pthread_create", "acceptor", err);
        close(a->stop_fd);
        a->stop_fd = -1;
        return -1;
    }
    a->running = 1;
    return 0;
}

void acceptor_stop(struct acceptor *a)
{
    uint64_t one = 1;
    if (!a->running)
        return;
    if (write(a->stop_fd, &one, sizeof one) != sizeof one)
        log_syscall("write", "acceptor eventfd", errno);
    /* The accept thread may be busy serving (the iterative model) and unable
     * to close the listeners soon. shutdown on a listening socket stops it
     * listening at once, without racing the thread's poll as close would.
     * Not a socket another process holds: it would stop listening there too. */
    for (int i = 0; i < a->srv->cfg->listen_count; i++)
        if (!a->srv->listen_kept[i])
            shutdown(a->srv->listen_fd[0][i], SHUT_RDWR);
    pthread_join(a->thread, NULL);
    close(a->stop_fd);
    a->running = 0;
    /* Closed listeners make new clients fail fast while the connections
     * already accepted finish. */
    for (int i = 0; i < a->srv->cfg->listen_count; i++) {
        close(a->srv->listen_fd[0][i]);
        a->srv->listen_fd[0][i] = -1;
    }
}
