#include <math.h>
#include <stdlib.h>

#include "bench/histogram.h"
#include "test.h"

static struct hist h, other;

/* Every counter's range starts right after the previous one's and is at most
 * 1/1024 of its values wide: 3 significant digits everywhere. */
static void test_index_ranges(void)
{
    int ok = 1;

    CHECK_EQ_INT(hist_index(0), 0);
    CHECK_EQ_INT(hist_index(2047), 2047);
    CHECK_EQ_INT(hist_index(2048), 2048);
    CHECK_EQ_INT(hist_index(2049), 2048);
    CHECK_EQ_INT(hist_index(2050), 2049);
    CHECK(hist_index(HIST_MAX_US) < HIST_COUNTS);
    CHECK_EQ_INT(hist_index(HIST_MAX_US * 10), hist_index(HIST_MAX_US));
    for (int i = 1; i <= hist_index(HIST_MAX_US); i++) {
        uint64_t lo = hist_lowest(i), hi = hist_highest(i);
        if (lo != hist_highest(i - 1) + 1 || hist_index(lo) != i || hist_index(hi) != i ||
            (double)(hi - lo + 1) > (double)lo / 1024.0 + 1)
            ok = 0;
    }
    CHECK(ok);
}

static void test_empty(void)
{
    hist_init(&h);
    CHECK_EQ_INT(hist_percentile(&h, 50), 0);
    CHECK_EQ_INT(hist_percentile(&h, 100), 0);
    CHECK(hist_mean(&h) == 0.0);
    CHECK(hist_stdev(&h) == 0.0);
}

static void test_exact_small_values(void)
{
    hist_init(&h);
    for (uint64_t v = 1; v <= 100; v++)
        hist_record(&h, v);
    CHECK_EQ_INT(h.count, 100);
    CHECK_EQ_INT(hist_percentile(&h, 50), 50);
    CHECK_EQ_INT(hist_percentile(&h, 90), 90);
    CHECK_EQ_INT(hist_percentile(&h, 99), 99);
    CHECK_EQ_INT(hist_percentile(&h, 99.9), 100);
    CHECK_EQ_INT(hist_percentile(&h, 0), 1);
    CHECK_EQ_INT(hist_percentile(&h, 100), 100);
    CHECK(fabs(hist_mean(&h) - 50.5) < 1e-9);
    CHECK(fabs(hist_stdev(&h) - 28.866) < 0.001);
}

/* 90% at 1 ms and 10% at 50 ms: p90 is 1 ms, p91 and above 50 ms, within 0.1%. */
static void test_bimodal_within_precision(void)
{
    hist_init(&h);
    for (int i = 0; i < 900; i++)
        hist_record(&h, 1000);
    for (int i = 0; i < 100; i++)
        hist_record(&h, 50000);
    CHECK_EQ_INT(hist_percentile(&h, 50), 1000);
    CHECK_EQ_INT(hist_percentile(&h, 90), 1000);
    CHECK(llabs((long long)hist_percentile(&h, 91) - 50000) <= 50);
    CHECK(llabs((long long)hist_percentile(&h, 99.99) - 50000) <= 50);
    CHECK_EQ_INT(hist_percentile(&h, 100), 50000);
    CHECK(fabs(hist_mean(&h) - 5900.0) < 1e-6);
}

static void test_large_and_clamped(void)
{
    hist_init(&h);
    hist_record(&h, 59999999);
    hist_record(&h, 120000000); /* beyond 60 s: counted as 60 s */
    CHECK_EQ_INT(h.max, HIST_MAX_US);
    CHECK_EQ_INT(hist_percentile(&h, 100), HIST_MAX_US);
    CHECK(llabs((long long)hist_percentile(&h, 50) - 59999999) <= 59999999 / 1000);
}

static void test_merge(void)
{
    hist_init(&h);
    hist_init(&other);
    for (uint64_t v = 1; v <= 500; v++)
        hist_record(&h, v * 10);
    for (uint64_t v = 501; v <= 1000; v++)
        hist_record(&other, v * 10);
    hist_merge(&h, &other);
    CHECK_EQ_INT(h.count, 1000);
    CHECK_EQ_INT(h.min, 10);
    CHECK_EQ_INT(h.max, 10000);
    CHECK(llabs((long long)hist_percentile(&h, 50) - 5000) <= 5);
    CHECK(llabs((long long)hist_percentile(&h, 99) - 9900) <= 10);
    hist_init(&other);
    hist_merge(&h, &other); /* an empty one changes nothing */
    CHECK_EQ_INT(h.min, 10);
    CHECK_EQ_INT(h.count, 1000);
}

/* Against an exact sort of random values: every percentile within 0.1%. */
static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_random_against_sort(void)
{
    static uint64_t values[20000];
    static const double ps[] = {1, 10, 50, 75, 90, 99, 99.9, 99.99};
    uint64_t seed = 12345;
    int ok = 1;

    hist_init(&h);
    for (int i = 0; i < 20000; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        values[i] = (seed >> 33) % 10000000;
        hist_record(&h, values[i]);
    }
    qsort(values, 20000, sizeof values[0], cmp_u64);
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
        uint64_t exact = values[(size_t)ceil(ps[k] / 100 * 20000) - 1], got = hist_percentile(&h, ps[k]);
        if (got < exact || (double)(got - exact) > (double)exact / 1000.0 + 1)
            ok = 0;
    }
    CHECK(ok);
}

int main(void)
{
    test_index_ranges();
    test_empty();
    test_exact_small_values();
    test_bimodal_within_precision();
    test_large_and_clamped();
    test_merge();
    test_random_against_sort();
    return test_report();
}
