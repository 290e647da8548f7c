/* Runs a configured benchmark: threads, progress line, reports. */
#ifndef DUCT_BENCH_RUN_H
#define DUCT_BENCH_RUN_H

#include "bench/bench.h"

/* Returns the exit status: 0, or 1 when the run could not be made (and says why on stderr). */
int bench_run(const struct bench_config *cfg);

/* The descriptors a run needs: one per connection plus the threads' own and a margin. */
long bench_fds_needed(const struct bench_config *cfg);

#endif
