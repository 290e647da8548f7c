/* The results of a run and the three ways they are written: a text summary,
 * JSON with every figure, and one self-contained HTML page with SVG plots. */
#ifndef DUCT_BENCH_REPORT_H
#define DUCT_BENCH_REPORT_H

#include <stdio.h>

#include "bench/bench.h"

#define BENCH_BUSY_LIMIT 0.95 /* a thread busier than this measured itself, not the server */

struct bench_result {
    const struct bench_config *cfg;
    struct bench_stats total; /* merged over the threads */
    int threads;
    double seconds;           /* measured wall time */
    double busy[BENCH_MAX_THREADS]; /* CPU time over wall time, per thread */
    double max_busy;
    int interrupted;          /* SIGINT ended the run early */
};

/* The figures every output shares, computed so that none is NaN or infinite:
 * a rate over zero seconds is 0. */
double bench_per_second(double count, double seconds);
uint64_t bench_errors(const struct bench_stats *s);
double bench_success_rate(const struct bench_stats *s);
double bench_loss_rate(const struct bench_stats *s);
const char *bench_model_name(const struct bench_config *cfg);

/* The percentiles every output reports, in this order. */
extern const double bench_percentiles[];
extern const int bench_percentile_count;

void bench_report_text(FILE *out, const struct bench_result *r);
int bench_report_json(FILE *out, const struct bench_result *r);
int bench_report_html(FILE *out, const struct bench_result *r);

#endif
