/* The counters behind /metrics (src/serve/metrics.c): method and status
 * classes, histogram buckets at their bounds, and folding into the shared
 * totals, which starts the worker's counts again. */
#include "serve/metrics.h"

#include <string.h>

#include "test.h"

static struct http_log_entry entry(const char *line, int status, uint64_t body)
{
    struct http_log_entry e = {.peer = "127.0.0.1", .status = status, .body_bytes = body};
    e.request_line.ptr = line;
    e.request_line.len = strlen(line);
    return e;
}

static uint64_t requests(const struct metrics_local *m, enum metrics_method method, int cls)
{
    return m->v[METRICS_REQUESTS + method * METRICS_STATUS_CLASSES + cls];
}

static void test_classes(void)
{
    struct metrics_local m;
    memset(&m, 0, sizeof m);
    struct http_log_entry get = entry("GET / HTTP/1.1", 200, 10), head = entry("HEAD /x HTTP/1.1", 304, 0),
                          post = entry("POST / HTTP/1.1", 405, 5), none = entry("", 400, 7),
                          getx = entry("GETX / HTTP/1.1", 501, 0), odd = entry("GET / HTTP/1.1", 999, 0);
    metrics_count(&m, &get, 50);
    metrics_count(&m, &get, 50);
    metrics_count(&m, &head, 50);
    metrics_count(&m, &post, 50);
    metrics_count(&m, &none, 50);
    metrics_count(&m, &getx, 50);
    metrics_count(&m, &odd, 50);
    CHECK_EQ_INT(requests(&m, METRICS_GET, 2), 2);
    CHECK_EQ_INT(requests(&m, METRICS_HEAD, 3), 1);
    CHECK_EQ_INT(requests(&m, METRICS_OTHER_METHOD, 4), 2); /* POST, and no request line */
    CHECK_EQ_INT(requests(&m, METRICS_OTHER_METHOD, 5), 1); /* "GETX" is not GET */
    CHECK_EQ_INT(requests(&m, METRICS_GET, 0), 1);          /* a status outside 100..599 */
    CHECK_EQ_INT(m.v[METRICS_BODY_BYTES], 32);
    CHECK_EQ_INT(m.v[METRICS_DURATION_SUM_US], 350);
}

static void test_buckets(void)
{
    struct metrics_local m;
    memset(&m, 0, sizeof m);
    struct http_log_entry e = entry("GET / HTTP/1.1", 200, 0);
    metrics_count(&m, &e, 0);
    metrics_count(&m, &e, 100);      /* on the first bound: le="0.0001" */
    metrics_count(&m, &e, 101);      /* just above it */
    metrics_count(&m, &e, 10000000); /* on the last bound */
    metrics_count(&m, &e, 10000001); /* beyond every bound: only +Inf */
    metrics_count(&m, &e, -5);       /* a clock that went back counts as 0 */
    CHECK_EQ_INT(m.v[METRICS_DURATION + 0], 3);
    CHECK_EQ_INT(m.v[METRICS_DURATION + 1], 1);
    CHECK_EQ_INT(m.v[METRICS_DURATION + METRICS_BUCKETS - 1], 1);
    CHECK_EQ_INT(m.v[METRICS_DURATION + METRICS_BUCKETS], 1);
    int ascending = 1;
    for (int i = 1; i < METRICS_BUCKETS; i++)
        ascending &= metrics_bucket_us[i] > metrics_bucket_us[i - 1];
    CHECK(ascending);
}

static void test_fold(void)
{
    static struct metrics_shared total;
    struct metrics_local a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    struct http_log_entry e = entry("GET / HTTP/1.1", 200, 100);
    metrics_count(&a, &e, 10);
    metrics_count(&b, &e, 10);
    metrics_count(&b, &e, 10);
    metrics_fold(&total, &a);
    metrics_fold(&total, &b);
    metrics_fold(&total, &b); /* folding again adds nothing: b started again */
    CHECK_EQ_INT(atomic_load(&total.v[METRICS_REQUESTS + METRICS_GET * METRICS_STATUS_CLASSES + 2]), 3);
    CHECK_EQ_INT(atomic_load(&total.v[METRICS_BODY_BYTES]), 300);
    CHECK_EQ_INT(b.v[METRICS_BODY_BYTES], 0);
}

int main(void)
{
    test_classes();
    test_buckets();
    test_fold();
    return test_report();
}
