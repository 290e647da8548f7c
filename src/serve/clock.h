/* The wall clock of serving: the second every driver passes to the
 * connection core for Date and the access log, and the file cache keys on.
 * Timeouts never use it: they run on CLOCK_MONOTONIC (loop/timer.h), so a
 * step of the wall clock moves no deadline. */
#ifndef DUCT_SERVE_CLOCK_H
#define DUCT_SERVE_CLOCK_H

#include <time.h>

/* The coarse real-time clock, read through the vDSO without a syscall. */
time_t serve_clock(void);

#endif
