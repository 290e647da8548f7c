/* A minimal unit-test harness: each test binary counts its checks and ends with
 * one line "RESULT passed=N failed=M" that tests/run sums into the closing line. */
#ifndef DUCT_TEST_H
#define DUCT_TEST_H

#include <stdio.h>
#include <string.h>

static int test_passed;
static int test_failed;

#define CHECK(cond) test_check((cond) != 0, #cond, __FILE__, __LINE__)
#define CHECK_EQ_INT(a, b) test_check_int((long long)(a), (long long)(b), #a " == " #b, __FILE__, __LINE__)
#define CHECK_EQ_STR(a, b) test_check_str((a), (b), #a " == " #b, __FILE__, __LINE__)
#define CHECK_EQ_MEM(a, alen, b, blen) \
    test_check_mem((a), (alen), (b), (blen), #a " == " #b, __FILE__, __LINE__)

static inline void test_check(int ok, const char *what, const char *file, int line)
{
    if (ok) {
        test_passed++;
    } else {
        test_failed++;
        fprintf(stderr, "FAIL %s:%d: %s\n", file, line, what);
    }
}

static inline void test_check_int(long long a, long long b, const char *what, const char *file, int line)
{
    test_check(a == b, what, file, line);
    if (a != b)
        fprintf(stderr, "     got %lld, want %lld\n", a, b);
}

static inline void test_check_str(const char *a, const char *b, const char *what, const char *file, int line)
{
    int ok = a && b && strcmp(a, b) == 0;
    test_check(ok, what, file, line);
    if (!ok)
        fprintf(stderr, "     got \"%s\", want \"%s\"\n", a ? a : "(null)", b ? b : "(null)");
}

static inline void test_check_mem(const void *a, size_t alen, const void *b, size_t blen, const char *what,
                                  const char *file, int line)
{
    int ok = alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
    test_check(ok, what, file, line);
    if (!ok)
        fprintf(stderr, "     got \"%.*s\", want \"%.*s\"\n", (int)alen, (const char *)a, (int)blen,
                (const char *)b);
}

static inline int test_report(void)
{
    printf("RESULT passed=%d failed=%d\n", test_passed, test_failed);
    return test_failed ? 1 : 0;
}

#endif
