#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "loop/loop.h"
#include "test.h"

#define MAX_FDS 1024
#define PAIRS 200

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The mask reported for fd among n events, 0 when absent, -1 when reported twice. */
static int mask_of(const struct loop_event *ev, int n, int fd)
{
    int i, mask = 0, seen = 0;

    for (i = 0; i < n; i++) {
        if (ev[i].fd == fd) {
            mask = ev[i].mask;
            seen++;
        }
    }
    return seen > 1 ? -1 : mask;
}

static void test_pipe(const char *name)
{
    struct loop *loop = loop_create(name, MAX_FDS);
    struct loop_event ev[8];
    int p[2], n;
    char c;

    CHECK(loop != NULL);
    CHECK_EQ_INT(pipe2(p, O_CLOEXEC), 0);
    if (!loop)
        return;
    CHECK_EQ_STR(loop_backend_name(loop), name);
    CHECK_EQ_INT(loop_watch(loop, p[0], LOOP_READ), 0);
    CHECK_EQ_INT(loop_wait(loop, ev, 8, 0), 0);
    CHECK_EQ_INT(write(p[1], "x", 1), 1);
    n = loop_wait(loop, ev, 8, 1000);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(ev[0].fd, p[0]);
    CHECK_EQ_INT(ev[0].mask, LOOP_READ);
    /* Level-triggered: still readable until read. */
    CHECK_EQ_INT(loop_wait(loop, ev, 8, 0), 1);
    CHECK_EQ_INT(read(p[0], &c, 1), 1);
    CHECK_EQ_INT(loop_wait(loop, ev, 8, 0), 0);

    CHECK_EQ_INT(loop_watch(loop, p[1], LOOP_WRITE), 0);
    n = loop_wait(loop, ev, 8, 1000);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(mask_of(ev, n, p[1]), LOOP_WRITE);

    /* Interest 0 stops reports, even with data waiting. */
    CHECK_EQ_INT(write(p[1], "y", 1), 1);
    CHECK_EQ_INT(loop_watch(loop, p[0], 0), 0);
    CHECK_EQ_INT(loop_watch(loop, p[1], 0), 0);
    CHECK_EQ_INT(loop_wait(loop, ev, 8, 50), 0);
    /* And watching again brings them back. */
    CHECK_EQ_INT(loop_watch(loop, p[0], LOOP_READ), 0);
    n = loop_wait(loop, ev, 8, 1000);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(mask_of(ev, n, p[0]), LOOP_READ);
    CHECK_EQ_INT(loop_watch(loop, p[0], 0), 0);
    loop_destroy(loop);
    close(p[0]);
    close(p[1]);
}

/* Read and write interest on one descriptor, changed in place. */
static void test_change(const char *name)
{
    struct loop *loop = loop_create(name, MAX_FDS);
    struct loop_event ev[8];
    int sv[2], n;

    CHECK(loop != NULL);
    CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    if (!loop)
        return;
    CHECK_EQ_INT(loop_watch(loop, sv[0], LOOP_READ), 0);
    CHECK_EQ_INT(loop_wait(loop, ev, 8, 0), 0);
    CHECK_EQ_INT(loop_watch(loop, sv[0], LOOP_READ | LOOP_WRITE), 0);
    n = loop_wait(loop, ev, 8, 1000);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(mask_of(ev, n, sv[0]), LOOP_WRITE);
    CHECK_EQ_INT(write(sv[1], "z", 1), 1);
    n = loop_wait(loop, ev, 8, 1000);
    CHECK_EQ_INT(mask_of(ev, n, sv[0]), LOOP_READ | LOOP_WRITE);
    CHECK_EQ_INT(loop_watch(loop, sv[0], LOOP_READ), 0);
    n = loop_wait(loop, ev, 8, 1000);
    CHECK_EQ_INT(mask_of(ev, n, sv[0]), LOOP_READ);
    /* Setting the same interest again is accepted and changes nothing. */
    CHECK_EQ_INT(loop_watch(loop, sv[0], LOOP_READ), 0);
    CHECK_EQ_INT(loop_wait(loop, ev, 8, 0), 1);
    CHECK_EQ_INT(loop_watch(loop, sv[0], 0), 0);
    loop_destroy(loop);
    close(sv[0]);
    close(sv[1]);
}

static void test_timeout(const char *name)
{
    struct loop *loop = loop_create(name, MAX_FDS);
    struct loop_event ev[4];
    long long start, took;
    int p[2];

    CHECK(loop != NULL);
    CHECK_EQ_INT(pipe2(p, O_CLOEXEC), 0);
    if (!loop)
        return;
    CHECK_EQ_INT(loop_watch(loop, p[0], LOOP_READ), 0);
    start = now_ms();
    CHECK_EQ_INT(loop_wait(loop, ev, 4, 120), 0);
    took = now_ms() - start;
    CHECK(took >= 110);
    CHECK(took < 1000);
    if (took < 110 || took >= 1000)
        fprintf(stderr, "     %s: 120 ms timeout took %lld ms\n", name, took);
    CHECK_EQ_INT(loop_watch(loop, p[0], 0), 0);
    /* With nothing watched the wait still sleeps. */
    start = now_ms();
    CHECK_EQ_INT(loop_wait(loop, ev, 4, 60), 0);
    CHECK(now_ms() - start >= 50);
    loop_destroy(loop);
    close(p[0]);
    close(p[1]);
}

static void on_alarm(int sig)
{
    (void)sig;
}

static void test_eintr(const char *name)
{
    struct loop *loop = loop_create(name, MAX_FDS);
    struct loop_event ev[4];
    struct sigaction sa, old;
    struct itimerval timer = {.it_value = {.tv_usec = 50000}};
    long long start;
    int p[2];

    CHECK(loop != NULL);
    CHECK_EQ_INT(pipe2(p, O_CLOEXEC), 0);
    if (!loop)
        return;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    CHECK_EQ_INT(sigemptyset(&sa.sa_mask), 0);
    CHECK_EQ_INT(sigaction(SIGALRM, &sa, &old), 0);
    CHECK_EQ_INT(loop_watch(loop, p[0], LOOP_READ), 0);
    CHECK_EQ_INT(setitimer(ITIMER_REAL, &timer, NULL), 0);
    start = now_ms();
    CHECK_EQ_INT(loop_wait(loop, ev, 4, 3000), 0);
    CHECK(now_ms() - start < 2000);
    CHECK_EQ_INT(sigaction(SIGALRM, &old, NULL), 0);
    CHECK_EQ_INT(loop_watch(loop, p[0], 0), 0);
    loop_destroy(loop);
    close(p[0]);
    close(p[1]);
}

static void test_peer_closed(const char *name)
{
    struct loop *loop = loop_create(name, MAX_FDS);
    struct loop_event ev[4];
    int sv[2], n;
    char c;

    CHECK(loop != NULL);
    CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    if (!loop)
        return;
    CHECK_EQ_INT(loop_watch(loop, sv[0], LOOP_READ), 0);
    CHECK_EQ_INT(loop_wait(loop, ev, 4, 0), 0);
    close(sv[1]);
    n = loop_wait(loop, ev, 4, 1000);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(ev[0].fd, sv[0]);
    CHECK((ev[0].mask & (LOOP_READ | LOOP_ERROR)) != 0);
    /* Whatever the backend, a hang-up also carries the read interest, so the read runs and sees EOF. */
    CHECK((ev[0].mask & LOOP_READ) != 0);
    CHECK((ev[0].mask & LOOP_WRITE) == 0);
    CHECK_EQ_INT(read(sv[0], &c, 1), 0);
    CHECK_EQ_INT(loop_watch(loop, sv[0], 0), 0);
    loop_destroy(loop);
    close(sv[0]);
}

static int make_pairs(int (*sv)[2])
{
    int i;

    for (i = 0; i < PAIRS; i++) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv[i]) != 0)
            return i;
    }
    return PAIRS;
}

static void test_many(const char *name)
{
    struct loop *loop = loop_create(name, MAX_FDS);
    static struct loop_event ev[2 * PAIRS];
    int sv[PAIRS][2];
    int made = make_pairs(sv), i, n, all = 1;

    CHECK_EQ_INT(made, PAIRS);
    CHECK(loop != NULL);
    for (i = 0; loop && i < made; i++) {
        all &= loop_watch(loop, sv[i][0], LOOP_READ) == 0;
        all &= write(sv[i][1], "m", 1) == 1;
    }
    CHECK(all);
    n = loop ? loop_wait(loop, ev, 2 * PAIRS, 1000) : -1;
    CHECK_EQ_INT(n, PAIRS);
    for (i = 0; i < made; i++)
        all &= mask_of(ev, n, sv[i][0]) == LOOP_READ;
    CHECK(all);
    n = loop ? loop_wait(loop, ev, 7, 0) : -1;
    CHECK_EQ_INT(n, 7);
    /* Removing every other one, from the front, moves the rest around inside the backend. */
    for (i = 0; loop && i < made; i += 2)
        all &= loop_watch(loop, sv[i][0], 0) == 0;
    n = loop ? loop_wait(loop, ev, 2 * PAIRS, 1000) : -1;
    CHECK_EQ_INT(n, PAIRS / 2);
    for (i = 0; i < made; i++)
        all &= mask_of(ev, n, sv[i][0]) == (i % 2 ? LOOP_READ : 0);
    CHECK(all);
    for (i = 1; loop && i < made; i += 2)
        all &= loop_watch(loop, sv[i][0], 0) == 0;
    CHECK(all);
    CHECK_EQ_INT(loop ? loop_wait(loop, ev, 2 * PAIRS, 0) : -1, 0);
    for (i = 0; i < made; i++) {
        close(sv[i][0]);
        close(sv[i][1]);
    }
    loop_destroy(loop);
}

/* Repeated small waits must not keep returning the same few descriptors. */
static void test_fairness(const char *name)
{
    struct loop *loop = loop_create(name, MAX_FDS);
    struct loop_event ev[3];
    int sv[PAIRS][2];
    int seen[MAX_FDS] = {0};
    int made = make_pairs(sv), i, round, count = 0;

    CHECK(loop != NULL);
    for (i = 0; loop && i < 12 && i < made; i++) {
        CHECK_EQ_INT(loop_watch(loop, sv[i][0], LOOP_WRITE), 0);
    }
    for (round = 0; loop && round < 4; round++) {
        int n = loop_wait(loop, ev, 3, 1000);

        CHECK_EQ_INT(n, 3);
        for (i = 0; i < n; i++)
            count += ev[i].fd >= 0 && ev[i].fd < MAX_FDS && seen[ev[i].fd]++ == 0;
    }
    CHECK_EQ_INT(count, 12);
    loop_destroy(loop);
    for (i = 0; i < made; i++) {
        close(sv[i][0]);
        close(sv[i][1]);
    }
}

static void test_bounds(const char *name)
{
    struct loop *loop = loop_create(name, 16);
    struct loop_event ev[1];
    int p[2];

    CHECK(loop != NULL);
    if (!loop)
        return;
    errno = 0;
    CHECK_EQ_INT(loop_watch(loop, 16, LOOP_READ), -1);
    CHECK_EQ_INT(errno, ERANGE);
    errno = 0;
    CHECK_EQ_INT(loop_watch(loop, -1, LOOP_READ), -1);
    CHECK_EQ_INT(errno, EBADF);
    CHECK_EQ_INT(pipe2(p, O_CLOEXEC), 0);
    errno = 0;
    CHECK_EQ_INT(loop_watch(loop, p[0], LOOP_ERROR), -1);
    CHECK_EQ_INT(errno, EINVAL);
    errno = 0;
    CHECK_EQ_INT(loop_wait(loop, ev, 0, 0), -1);
    CHECK_EQ_INT(errno, EINVAL);
    close(p[0]);
    close(p[1]);
    loop_destroy(loop);
}

static void test_create_errors(void)
{
    const char *const *names = loop_backends();
    int count = 0;

    for (; names[count]; count++)
        ;
    CHECK_EQ_INT(count, 3);
    errno = 0;
    CHECK(loop_create("kqueue", MAX_FDS) == NULL);
    CHECK_EQ_INT(errno, EINVAL);
    errno = 0;
    CHECK(loop_create("EPOLL", MAX_FDS) == NULL);
    CHECK_EQ_INT(errno, EINVAL);
    errno = 0;
    CHECK(loop_create(NULL, MAX_FDS) == NULL);
    CHECK_EQ_INT(errno, EINVAL);
    errno = 0;
    CHECK(loop_create("poll", 0) == NULL);
    CHECK_EQ_INT(errno, EINVAL);
    CHECK_EQ_INT(loop_backend_fd_limit("select"), FD_SETSIZE);
    CHECK(loop_backend_fd_limit("epoll") > FD_SETSIZE);
    CHECK(loop_backend_fd_limit("poll") > FD_SETSIZE);
    errno = 0;
    CHECK_EQ_INT(loop_backend_fd_limit("nope"), -1);
    CHECK_EQ_INT(errno, EINVAL);
    loop_destroy(NULL);
}

/* fd 1100 is past FD_SETSIZE (1024): select must refuse it, the others take it. */
static void test_select_limit(void)
{
    const int high = 1100;
    struct rlimit rl;
    int p[2];
    const char *const *name;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || (rl.rlim_cur <= (rlim_t)high && rl.rlim_max <= (rlim_t)high)) {
        printf("note: skipping the FD_SETSIZE test, cannot open descriptor %d\n", high);
        return;
    }
    if (rl.rlim_cur <= (rlim_t)high) {
        rl.rlim_cur = (rlim_t)high + 1;
        CHECK_EQ_INT(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    CHECK_EQ_INT(pipe2(p, O_CLOEXEC), 0);
    CHECK_EQ_INT(dup2(p[0], high), high);
    for (name = loop_backends(); *name; name++) {
        struct loop *loop = loop_create(*name, 2048);

        CHECK(loop != NULL);
        if (!loop)
            continue;
        errno = 0;
        if (strcmp(*name, "select") == 0) {
            CHECK_EQ_INT(loop_watch(loop, high, LOOP_READ), -1);
            CHECK_EQ_INT(errno, ERANGE);
        } else {
            CHECK_EQ_INT(loop_watch(loop, high, LOOP_READ), 0);
            CHECK_EQ_INT(loop_watch(loop, high, 0), 0);
        }
        loop_destroy(loop);
    }
    close(high);
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    const char *const *name;

    for (name = loop_backends(); *name; name++) {
        printf("backend %s\n", *name);
        test_pipe(*name);
        test_change(*name);
        test_timeout(*name);
        test_eintr(*name);
        test_peer_closed(*name);
        test_many(*name);
        test_fairness(*name);
        test_bounds(*name);
    }
    test_create_errors();
    test_select_limit();
    return test_report();
}
