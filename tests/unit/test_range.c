/* Unit tests for the Range parser (src/http/range.c): each case gives the
 * field value, the representation length and the expected outcome written as
 * "200" (ignored), "416", or the ranges "first-last,..." after coalescing. */
#include "http/range.h"
#include "test.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static void outcome(const char *value, size_t len, uint64_t size, size_t cap, char *out, size_t outsize)
{
    struct http_range r[HTTP_RANGE_MAX];
    size_t n = 99;
    enum http_range_result res = http_range_parse(value, len, size, r, cap, &n);
    if (res == HTTP_RANGE_IGNORE) {
        snprintf(out, outsize, "200%s", n == 0 ? "" : "(count set)");
        return;
    }
    if (res == HTTP_RANGE_UNSATISFIABLE) {
        snprintf(out, outsize, "416%s", n == 0 ? "" : "(count set)");
        return;
    }
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && o < outsize; i++)
        o += (size_t)snprintf(out + o, outsize - o, "%s%llu-%llu", i ? "," : "", (unsigned long long)r[i].first,
                              (unsigned long long)r[i].last);
}

static void expect(const char *value, uint64_t size, const char *want)
{
    char got[512];
    outcome(value, strlen(value), size, HTTP_RANGE_MAX, got, sizeof got);
    if (strcmp(got, want) != 0)
        fprintf(stderr, "     Range: %s (size %llu)\n", value, (unsigned long long)size);
    CHECK_EQ_STR(got, want);
}

static void test_single(void)
{
    expect("bytes=0-9", 100, "0-9");
    expect("bytes=10-", 100, "10-99");
    expect("bytes=-10", 100, "90-99");
    expect("bytes=-1000", 100, "0-99");  /* a suffix longer than the file: all of it */
    expect("bytes=90-1000", 100, "90-99"); /* last clamped */
    expect("bytes=99-99", 100, "99-99");
    expect("bytes=0-0", 1, "0-0");
    expect("BYTES=0-9", 100, "0-9"); /* the unit is case-insensitive */
    expect("bytes= 0-9 ", 100, "0-9");
    expect("bytes=0-18446744073709551615", 100, "0-99");
    expect("bytes=0-99999999999999999999999999", 100, "0-99"); /* saturates, no overflow */
}

static void test_unsatisfiable(void)
{
    expect("bytes=100-", 100, "416");
    expect("bytes=100-200", 100, "416");
    expect("bytes=-0", 100, "416");
    expect("bytes=0-", 0, "416");
    expect("bytes=-5", 0, "416");
    expect("bytes=99999999999999999999999-", 100, "416");
    expect("bytes=200-300,-0", 100, "416");
    expect("bytes=200-300,5-6", 100, "5-6"); /* the unsatisfiable one is dropped */
}

static void test_ignored(void)
{
    expect("", 100, "200");
    expect("bytes=", 100, "200");
    expect("bytes=,", 100, "200");
    expect("bits=0-9", 100, "200");
    expect("bytes 0-9", 100, "200");
    expect("bytes=9-0", 100, "200"); /* last before first: invalid */
    expect("bytes=-", 100, "200");
    expect("bytes=a-9", 100, "200");
    expect("bytes=0-9;x", 100, "200");
    expect("bytes=0-9,junk", 100, "200");
    expect("bytes=1-2-3", 100, "200");
    expect("bytes=0 -9", 100, "200");
    expect("bytes=\x1d" "0-9", 100, "200");
    expect("bytes\x1d" "0-9", 100, "200");
}

static void test_lists(void)
{
    expect("bytes=0-9,20-29", 100, "0-9,20-29");
    expect("bytes=20-29,0-9", 100, "0-9,20-29"); /* sorted */
    expect("bytes=0-9, 20-29 ,, ,40-", 100, "0-9,20-29,40-99");
    expect("bytes=,0-9", 100, "0-9");
    expect("bytes=0-9,10-19", 100, "0-19");        /* adjacent: merged */
    expect("bytes=0-9,5-14", 100, "0-14");         /* overlapping: merged */
    expect("bytes=0-1,4-5,8-9,2-7", 100, "0-9");   /* one range joins three */
    expect("bytes=0-1,9-9,-1", 10, "0-1,9-9");
    expect("bytes=50-59,0-9,30-39,20-25", 100, "0-9,20-25,30-39,50-59");
}

static void test_amplification(void)
{
    char value[8192];
    size_t o = (size_t)snprintf(value, sizeof value, "bytes=0-");
    for (int i = 1; i < 1000; i++)
        o += (size_t)snprintf(value + o, sizeof value - o, ",0-");
    expect(value, 100, "200"); /* 1000 whole copies */
    expect("bytes=0-,0-", 100, "200");
    expect("bytes=0-60,40-99", 100, "200"); /* 121 bytes asked of 100 */
    expect("bytes=0-50,50-99", 100, "200"); /* 101 bytes asked of 100 */
    expect("bytes=0-49,50-99", 100, "0-99");
}

static void test_cap(void)
{
    char value[1024];
    size_t o = (size_t)snprintf(value, sizeof value, "bytes=");
    for (int i = 0; i < HTTP_RANGE_MAX; i++)
        o += (size_t)snprintf(value + o, sizeof value - o, "%s%d-%d", i ? "," : "", i * 10, i * 10);
    char want[1024];
    size_t w = 0;
    for (int i = 0; i < HTTP_RANGE_MAX; i++)
        w += (size_t)snprintf(want + w, sizeof want - w, "%s%d-%d", i ? "," : "", i * 10, i * 10);
    expect(value, 1000, want); /* exactly the cap */
    snprintf(value + o, sizeof value - o, ",999-999");
    expect(value, 1000, "200"); /* one more disjoint range */
    snprintf(value + o, sizeof value - o, ",5-5");
    expect(value, 1000, "200");
    snprintf(value + o, sizeof value - o, ",0-0");
    expect(value, 1000, want); /* a duplicate that merges still fits */

    char got[64];
    outcome("bytes=0-0,5-5,9-9", 17, 10, 2, got, sizeof got);
    CHECK_EQ_STR(got, "200"); /* the caller's cap holds */
    outcome("bytes=0-0,1-1,9-9", 17, 10, 2, got, sizeof got);
    CHECK_EQ_STR(got, "0-1,9-9");
}

/* Every prefix of every input at the very end of a readable page, followed
 * by an unreadable one: reading one byte too far crashes. */
static void test_guard_page(void)
{
    static const char *inputs[] = {"bytes=0-9,20-29", "bytes=-5", "bytes=5-", "bytes= 1-2 , 3-4 ,", "bytes=0-"};
    long page = sysconf(_SC_PAGESIZE);
    char *mem = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(mem != MAP_FAILED);
    if (mem == MAP_FAILED)
        return;
    CHECK(mprotect(mem + page, (size_t)page, PROT_NONE) == 0);
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        size_t len = strlen(inputs[i]);
        for (size_t n = 0; n <= len; n++) {
            char *at = mem + page - n;
            memcpy(at, inputs[i], n);
            struct http_range r[HTTP_RANGE_MAX];
            size_t count;
            enum http_range_result res = http_range_parse(at, n, 100, r, HTTP_RANGE_MAX, &count);
            CHECK(res == HTTP_RANGE_IGNORE || res == HTTP_RANGE_PARTIAL || res == HTTP_RANGE_UNSATISFIABLE);
        }
    }
    munmap(mem, (size_t)page * 2);
}

int main(void)
{
    test_single();
    test_unsatisfiable();
    test_ignored();
    test_lists();
    test_amplification();
    test_cap();
    test_guard_page();
    return test_report();
}
