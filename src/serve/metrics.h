/* The counters /metrics shows (serve/status.h), kept where they are cheap.
 *
 * Each worker counts into plain integers of its own (struct metrics_local,
 * in its serve_ctx): a request costs a few increments and no atomic. Once a
 * second (engine_tick) and when it ends, a worker folds what it counted into
 * the server's totals, which live in shared memory beside the closes by
 * reason, so that forked children add theirs too. /metrics is therefore up to
 * about a second behind the requests it counts. */
#ifndef DUCT_SERVE_METRICS_H
#define DUCT_SERVE_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "http/conn.h"

/* Methods are few and fixed in classes, so that a client cannot make the
 * label set grow: GET, HEAD, and every other method. */
enum metrics_method { METRICS_GET, METRICS_HEAD, METRICS_OTHER_METHOD, METRICS_METHODS };

/* Status classes 1xx..5xx; index 0 holds what fits none (never expected). */
#define METRICS_STATUS_CLASSES 6

/* Upper bounds of the response-time buckets, in microseconds: 100 us to 10 s. */
#define METRICS_BUCKETS 14
extern const uint32_t metrics_bucket_us[METRICS_BUCKETS];

/* One slot per counter, so that folding is one loop. */
enum metrics_slot {
    METRICS_REQUESTS = 0, /* [method][status class] */
    METRICS_BODY_BYTES = METRICS_REQUESTS + METRICS_METHODS * METRICS_STATUS_CLASSES,
    METRICS_SENT_BYTES,
    METRICS_DURATION, /* METRICS_BUCKETS + 1 buckets (the last is beyond every bound), not cumulative */
    METRICS_DURATION_SUM_US = METRICS_DURATION + METRICS_BUCKETS + 1,
    METRICS_CACHE_HITS,
    METRICS_CACHE_MISSES,
    METRICS_SLOTS
};

struct metrics_local {
    uint64_t v[METRICS_SLOTS];
};

struct metrics_shared {
    _Atomic uint64_t v[METRICS_SLOTS];
};

/* CLOCK_MONOTONIC in microseconds (through the vDSO). */
int64_t metrics_now_us(void);

/* Counts one finished exchange that took elapsed_us. */
void metrics_count(struct metrics_local *m, const struct http_log_entry *entry, int64_t elapsed_us);

/* Adds what m counted to the totals and starts m again from zero. */
void metrics_fold(struct metrics_shared *total, struct metrics_local *m);

/* The method class of a request line ("GET / HTTP/1.1"). */
enum metrics_method metrics_method_of(const char *line, size_t len);

#endif
