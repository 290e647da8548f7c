/* A log-linear latency histogram in the manner of HdrHistogram: values in
 * microseconds from 0 to 60 s kept to 3 significant digits in constant memory.
 *
 * Values below 2048 get one counter each. Above, every power of two is cut into
 * 1024 equal sub-buckets, so a counter spans at most 1/1024 of its value (under
 * 0.1%). Recording is an index computation and an increment: no allocation, no
 * search. Histograms of several threads merge by adding their counters. */
#ifndef DUCT_BENCH_HISTOGRAM_H
#define DUCT_BENCH_HISTOGRAM_H

#include <stdint.h>

#define HIST_MAX_US 60000000ULL /* larger values are recorded as 60 s */
#define HIST_SUB_COUNT 2048     /* exact counters below this value; 3 significant digits */
#define HIST_SUB_HALF 1024      /* sub-buckets per power of two above it */
#define HIST_SHIFTS 15          /* powers of two from 2048 up to 2^26 > HIST_MAX_US */
#define HIST_COUNTS (HIST_SUB_COUNT + HIST_SHIFTS * HIST_SUB_HALF)

struct hist {
    uint64_t count;   /* values recorded */
    uint64_t min, max; /* exact, after clamping to HIST_MAX_US */
    double sum, sumsq; /* for the mean and the standard deviation */
    uint64_t counts[HIST_COUNTS];
};

void hist_init(struct hist *h);
void hist_record(struct hist *h, uint64_t us);
/* Adds the counts of src to dst. */
void hist_merge(struct hist *dst, const struct hist *src);

/* The value at percentile p (0..100): the largest value that the counter holding
 * the p-th percentile stands for, never above the exact maximum; 0 when empty.
 * p = 100 gives the maximum, p = 0 the minimum. */
uint64_t hist_percentile(const struct hist *h, double p);
double hist_mean(const struct hist *h);
double hist_stdev(const struct hist *h);

/* The counter index of a value, and the lowest and highest value of a counter
 * (exposed for the tests). */
int hist_index(uint64_t us);
uint64_t hist_lowest(int index);
uint64_t hist_highest(int index);

#endif
