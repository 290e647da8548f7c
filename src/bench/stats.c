#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"

const char *const bench_stage_names[BENCH_ERR_COUNT] = {
    "connect", "write", "read", "timeout", "parse", "closed_early", "tls",
};

uint64_t bench_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int bench_stats_init(struct bench_stats *s, size_t timeline_len)
{
    memset(s, 0, sizeof *s);
    hist_init(&s->latency);
    hist_init(&s->handshake);
    if (timeline_len > BENCH_TIMELINE_MAX)
        timeline_len = BENCH_TIMELINE_MAX;
    if (timeline_len == 0)
        timeline_len = 1;
    s->timeline = calloc(timeline_len, sizeof *s->timeline);
    if (!s->timeline)
        return -1;
    s->timeline_len = timeline_len;
    return 0;
}

void bench_stats_reset(struct bench_stats *s)
{
    uint64_t *timeline = s->timeline;
    size_t len = s->timeline_len;

    memset(s, 0, sizeof *s);
    hist_init(&s->latency);
    hist_init(&s->handshake);
    memset(timeline, 0, len * sizeof *timeline);
    s->timeline = timeline;
    s->timeline_len = len;
}

void bench_stats_merge(struct bench_stats *dst, const struct bench_stats *src)
{
    size_t i;

    hist_merge(&dst->latency, &src->latency);
    dst->responses += src->responses;
    for (i = 0; i < 6; i++)
        dst->status[i] += src->status[i];
    dst->bytes += src->bytes;
    for (i = 0; i < BENCH_ERR_COUNT; i++)
        dst->errors[i] += src->errors[i];
    for (i = 0; i < BENCH_ERRNO_MAX; i++)
        dst->errnos[i] += src->errnos[i];
    dst->connects += src->connects;
    dst->handshakes += src->handshakes;
    dst->resumed += src->resumed;
    hist_merge(&dst->handshake, &src->handshake);
    dst->lost += src->lost;
    dst->sent += src->sent;
    for (i = 0; i < src->timeline_len && i < dst->timeline_len; i++)
        dst->timeline[i] += src->timeline[i];
    dst->cpu += src->cpu;
    if (src->wall > dst->wall)
        dst->wall = src->wall;
}

void bench_stats_free(struct bench_stats *s)
{
    free(s->timeline);
    s->timeline = NULL;
}

void bench_stats_error(struct bench_stats *s, enum bench_stage stage, int err, uint64_t requests)
{
    s->errors[stage] += requests;
    if (err > 0)
        s->errnos[err < BENCH_ERRNO_MAX ? err : BENCH_ERRNO_MAX - 1] += requests;
}
