/* udp-echo:// targets: round trips of datagrams, and the share that never
 * comes back.
 *
 * Each "connection" is a connected UDP socket. A datagram carries its
 * sequence number in its first 8 bytes; the socket remembers, in a ring of
 * UDP_WINDOW slots, when each datagram in flight was sent and when it was due.
 * An echo whose number is in the ring completes that datagram; a datagram
 * still unanswered after --timeout is lost. Closed model: up to --pipeline
 * datagrams in flight per socket. Open model (--rate): a datagram is sent at
 * each due time whatever is in flight, since UDP has no order to wait for. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"

#define UDP_WINDOW 256
#define UDP_MAX_EVENTS 256
#define UDP_CHECK_NS 10000000ULL /* how often lost datagrams are looked for */

struct udp_slot {
    uint64_t seq;       /* the datagram this slot holds; 0: free */
    uint64_t origin_ns; /* latency counts from here: sent (closed) or due (open) */
    uint64_t sent_ns;
    int counted;
};

struct udp_sock {
    int fd;
    uint64_t next_seq;
    uint64_t next_due_ns;
    int inflight;
    struct udp_slot ring[UDP_WINDOW];
};

struct udp_worker {
    struct bench_thread *t;
    const struct bench_shared *sh;
    const struct bench_config *cfg;
    int epfd;
    struct udp_sock *socks;
    char *buf;
    int measuring;
    uint64_t issued, inflight, interval_ns, timeout_ns, last_done_ns, cpu_start_ns, stop_ns, next_check_ns;
};

static uint64_t udp_cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Frees a slot: its datagram came back (echoed) or is given up (lost). */
static void udp_end(struct udp_worker *w, struct udp_sock *s, struct udp_slot *slot, int echoed, uint64_t now)
{
    struct bench_stats *st = &w->t->stats;

    if (slot->counted && now < w->sh->end_ns) {
        if (echoed) {
            uint64_t sec = (now - w->sh->measure_ns) / 1000000000ULL;
            hist_record(&st->latency, now > slot->origin_ns ? (now - slot->origin_ns) / 1000 : 0);
            st->responses++;
            st->status[2]++;
            if (sec < st->timeline_len)
                st->timeline[sec]++;
        } else {
            st->lost++;
        }
        w->last_done_ns = now;
        atomic_store_explicit(&w->t->done, st->responses + st->lost, memory_order_relaxed);
        atomic_store_explicit(&w->t->failed, st->lost, memory_order_relaxed);
    }
    slot->seq = 0;
    s->inflight--;
    w->inflight--;
}

static int udp_can_send(const struct udp_worker *w)
{
    return !w->measuring || w->issued < w->t->quota;
}

static void udp_send(struct udp_worker *w, struct udp_sock *s, uint64_t origin, uint64_t now)
{
    struct udp_slot *slot = &s->ring[s->next_seq % UDP_WINDOW];

    if (slot->seq)
        udp_end(w, s, slot, 0, now); /* the ring wrapped: that one is not coming back */
    memcpy(w->buf, &s->next_seq, sizeof s->next_seq);
    if (w->measuring) {
        w->issued++;
        w->t->stats.sent++;
    }
    if (send(s->fd, w->buf, w->cfg->size, 0) != (ssize_t)w->cfg->size) {
        if (w->measuring)
            bench_stats_error(&w->t->stats, BENCH_ERR_WRITE, errno, 1);
        s->next_seq++;
        return;
    }
    *slot = (struct udp_slot){.seq = s->next_seq++, .origin_ns = origin, .sent_ns = now, .counted = w->measuring};
    s->inflight++;
    w->inflight++;
}

/* Sends what is due (open model) or what the window allows (closed model). */
static void udp_fill(struct udp_worker *w, struct udp_sock *s, uint64_t now)
{
    if (w->cfg->rate > 0) {
        while (s->next_due_ns <= now && udp_can_send(w)) {
            udp_send(w, s, s->next_due_ns, now);
            s->next_due_ns += w->interval_ns;
        }
    } else {
        while (s->inflight < w->cfg->pipeline && udp_can_send(w))
            udp_send(w, s, now, now);
    }
}

static void udp_receive(struct udp_worker *w, struct udp_sock *s)
{
    for (;;) {
        ssize_t n = recv(s->fd, w->buf, w->cfg->size, MSG_TRUNC);
        uint64_t seq;
        struct udp_slot *slot;

        if (n < 0) {
            /* An ICMP "port unreachable" arrives as ECONNREFUSED: note it; the datagram times out as lost. */
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && w->measuring)
                w->t->stats.errnos[errno < BENCH_ERRNO_MAX ? errno : BENCH_ERRNO_MAX - 1]++;
            if (errno != EINTR)
                return;
            continue;
        }
        if (w->measuring)
            w->t->stats.bytes += (uint64_t)n;
        if ((size_t)n != w->cfg->size)
            continue; /* not one of ours */
        memcpy(&seq, w->buf, sizeof seq);
        slot = &s->ring[seq % UDP_WINDOW];
        if (seq && slot->seq == seq) {
            uint64_t now = bench_now_ns();
            udp_end(w, s, slot, 1, now);
            if (w->cfg->rate <= 0)
                udp_fill(w, s, now);
        }
    }
}

/* Gives up on datagrams older than --timeout, every UDP_CHECK_NS at most. */
static void udp_expire(struct udp_worker *w, uint64_t now)
{
    if (now < w->next_check_ns)
        return;
    for (int i = 0; i < w->t->conns; i++) {
        struct udp_sock *s = &w->socks[i];

        for (int k = 0; k < UDP_WINDOW && s->inflight > 0; k++) {
            struct udp_slot *slot = &s->ring[k];
            if (slot->seq && now > slot->sent_ns && now - slot->sent_ns > w->timeout_ns)
                udp_end(w, s, slot, 0, now);
        }
        udp_fill(w, s, now);
    }
    w->next_check_ns = now + UDP_CHECK_NS;
}

/* The open model's next due time over all sockets, to sleep exactly until it. */
static uint64_t udp_next_due(const struct udp_worker *w)
{
    uint64_t next = UINT64_MAX;

    for (int i = 0; w->cfg->rate > 0 && i < w->t->conns; i++)
        if (w->socks[i].next_due_ns < next)
            next = w->socks[i].next_due_ns;
    return next;
}

static int udp_keep_going(const struct udp_worker *w, uint64_t now)
{
    if (atomic_load_explicit(w->sh->stop, memory_order_relaxed) || now >= w->sh->end_ns)
        return 0;
    return !(w->measuring && w->issued >= w->t->quota && w->inflight == 0);
}

static void udp_loop(struct udp_worker *w)
{
    struct epoll_event ev[UDP_MAX_EVENTS];
    uint64_t now = bench_now_ns();

    for (;;) {
        if (!w->measuring && now >= w->sh->measure_ns) {
            bench_stats_reset(&w->t->stats);
            w->measuring = 1;
            w->last_done_ns = w->sh->measure_ns;
            w->cpu_start_ns = udp_cpu_ns();
        }
        if (!udp_keep_going(w, now)) {
            w->stop_ns = now;
            return;
        }
        udp_expire(w, now);
        for (int i = 0; w->cfg->rate > 0 && i < w->t->conns; i++)
            udp_fill(w, &w->socks[i], now);
        uint64_t wake = udp_next_due(w), left = wake > now ? wake - now : 0;
        struct timespec ts = {0, (long)(left < UDP_CHECK_NS ? left : UDP_CHECK_NS)};
        int n = epoll_pwait2(w->epfd, ev, UDP_MAX_EVENTS, &ts, NULL);
        for (int i = 0; i < n; i++)
            udp_receive(w, ev[i].data.ptr);
        now = bench_now_ns();
    }
}

/* Returns 0, or -1 with errno and the failed call in *what. */
static int udp_setup(struct udp_worker *w, const char **what)
{
    int family = w->cfg->addr.family;

    *what = "epoll_create1";
    if ((w->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
        return -1;
    *what = "calloc(sockets)";
    w->socks = calloc((size_t)w->t->conns, sizeof *w->socks);
    w->buf = calloc(1, w->cfg->size);
    if (!w->socks || !w->buf)
        return -1;
    for (int i = 0; i < w->t->conns; i++)
        w->socks[i].fd = -1; /* so that a failure half-way closes only what was opened */
    w->interval_ns = w->cfg->rate > 0 ? (uint64_t)(1e9 * w->cfg->conns / w->cfg->rate) : 0;
    w->timeout_ns = (uint64_t)(w->cfg->timeout * 1e9);
    for (int i = 0; i < w->t->conns; i++) {
        struct udp_sock *s = &w->socks[i];
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};

        s->next_seq = 1;
        s->next_due_ns = w->sh->start_ns + (uint64_t)(1e9 * (w->t->first_conn + i) / (w->cfg->rate > 0 ? w->cfg->rate : 1));
        *what = "socket(SOCK_DGRAM)";
        if ((s->fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
            return -1;
        *what = "connect(SOCK_DGRAM)";
        if (connect(s->fd, (const struct sockaddr *)&w->cfg->addr.sa, w->cfg->addr.len) != 0)
            return -1;
        *what = "epoll_ctl";
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, s->fd, &ev) != 0)
            return -1;
    }
    return 0;
}

static void udp_teardown(struct udp_worker *w)
{
    for (int i = 0; w->socks && i < w->t->conns; i++)
        if (w->socks[i].fd >= 0)
            close(w->socks[i].fd);
    if (w->epfd >= 0)
        close(w->epfd);
    free(w->socks);
    free(w->buf);
}

void *bench_udp_thread(void *arg)
{
    struct bench_thread *t = arg;
    struct udp_worker w = {.t = t, .sh = t->shared, .cfg = t->shared->cfg, .epfd = -1};

    if (w.cfg->rate > 0)
        prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    if (udp_setup(&w, &t->error_what) != 0) {
        t->error = errno;
    } else {
        uint64_t end;

        udp_loop(&w);
        end = w.sh->end_ns != UINT64_MAX ? (w.stop_ns < w.sh->end_ns ? w.stop_ns : w.sh->end_ns) : w.last_done_ns;
        t->stats.cpu = w.measuring ? (double)(udp_cpu_ns() - w.cpu_start_ns) / 1e9 : 0;
        t->stats.wall = w.measuring && end > w.sh->measure_ns ? (double)(end - w.sh->measure_ns) / 1e9 : 0;
    }
    udp_teardown(&w);
    return NULL;
}
