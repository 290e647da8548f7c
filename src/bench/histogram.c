#include "bench/histogram.h"

#include <math.h>
#include <string.h>

void hist_init(struct hist *h)
{
    memset(h, 0, sizeof *h);
}

static int hist_log2(uint64_t v)
{
    return 63 - __builtin_clzll(v);
}

int hist_index(uint64_t us)
{
    int shift;

    if (us > HIST_MAX_US)
        us = HIST_MAX_US;
    if (us < HIST_SUB_COUNT)
        return (int)us;
    /* 2^m <= us < 2^(m+1) with m >= 11: keep the top 11 bits, whose leading one
     * is implied, so the next 10 bits pick one of 1024 sub-buckets. */
    shift = hist_log2(us) - 10;
    return HIST_SUB_COUNT + (shift - 1) * HIST_SUB_HALF + (int)((us >> shift) - HIST_SUB_HALF);
}

uint64_t hist_lowest(int index)
{
    int shift;

    if (index < HIST_SUB_COUNT)
        return (uint64_t)index;
    shift = (index - HIST_SUB_COUNT) / HIST_SUB_HALF + 1;
    return (uint64_t)(HIST_SUB_HALF + (index - HIST_SUB_COUNT) % HIST_SUB_HALF) << shift;
}

uint64_t hist_highest(int index)
{
    if (index < HIST_SUB_COUNT)
        return (uint64_t)index;
    return hist_lowest(index) + ((uint64_t)1 << ((index - HIST_SUB_COUNT) / HIST_SUB_HALF + 1)) - 1;
}

void hist_record(struct hist *h, uint64_t us)
{
    double v;

    if (us > HIST_MAX_US)
        us = HIST_MAX_US;
    if (h->count == 0 || us < h->min)
        h->min = us;
    if (us > h->max)
        h->max = us;
    h->count++;
    v = (double)us;
    h->sum += v;
    h->sumsq += v * v;
    h->counts[hist_index(us)]++;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
    int i;

    if (src->count == 0)
        return;
    if (dst->count == 0 || src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    dst->count += src->count;
    dst->sum += src->sum;
    dst->sumsq += src->sumsq;
    for (i = 0; i < HIST_COUNTS; i++)
        dst->counts[i] += src->counts[i];
}

uint64_t hist_percentile(const struct hist *h, double p)
{
    uint64_t rank, seen = 0;
    int i;

    if (h->count == 0)
        return 0;
    if (p <= 0)
        return h->min;
    if (p >= 100)
        return h->max;
    /* The p-th percentile is the smallest value with at least p% of the values at or below it. */
    rank = (uint64_t)ceil(p / 100.0 * (double)h->count);
    if (rank < 1)
        rank = 1;
    for (i = 0; i < HIST_COUNTS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = hist_highest(i);
            return v > h->max ? h->max : v < h->min ? h->min : v;
        }
    }
    return h->max;
}

double hist_mean(const struct hist *h)
{
    return h->count ? h->sum / (double)h->count : 0.0;
}

double hist_stdev(const struct hist *h)
{
    double mean, var;

    if (h->count < 2)
        return 0.0;
    mean = hist_mean(h);
    var = h->sumsq / (double)h->count - mean * mean;
    return var > 0 ? sqrt(var) : 0.0;
}
