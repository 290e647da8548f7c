#include "serve/metrics.h"

#include <string.h>
#include <time.h>

const uint32_t metrics_bucket_us[METRICS_BUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000, 2500000, 10000000,
};

int64_t metrics_now_us(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

enum metrics_method metrics_method_of(const char *line, size_t len)
{
    if (len >= 4 && memcmp(line, "GET ", 4) == 0)
        return METRICS_GET;
    if (len >= 5 && memcmp(line, "HEAD ", 5) == 0)
        return METRICS_HEAD;
    return METRICS_OTHER_METHOD;
}

static int bucket_of(int64_t us)
{
    int i = 0;
    while (i < METRICS_BUCKETS && us > (int64_t)metrics_bucket_us[i])
        i++;
    return i;
}

void metrics_count(struct metrics_local *m, const struct http_log_entry *entry, int64_t elapsed_us)
{
    int cls = entry->status >= 100 && entry->status < 600 ? entry->status / 100 : 0;
    enum metrics_method method = metrics_method_of(entry->request_line.ptr, entry->request_line.len);
    if (elapsed_us < 0)
        elapsed_us = 0;
    m->v[METRICS_REQUESTS + method * METRICS_STATUS_CLASSES + cls]++;
    m->v[METRICS_BODY_BYTES] += entry->body_bytes;
    m->v[METRICS_DURATION + bucket_of(elapsed_us)]++;
    m->v[METRICS_DURATION_SUM_US] += (uint64_t)elapsed_us;
}

void metrics_fold(struct metrics_shared *total, struct metrics_local *m)
{
    for (int i = 0; i < METRICS_SLOTS; i++) {
        if (m->v[i]) {
            atomic_fetch_add_explicit(&total->v[i], m->v[i], memory_order_relaxed);
            m->v[i] = 0;
        }
    }
}
