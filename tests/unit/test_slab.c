/* Records from slabs: distinct, aligned, reused after they are given back,
 * and many of them across slabs (under ASan, any overlap or overrun shows). */
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "serve/slab.h"
#include "test.h"

struct record {
    char bytes[40];
};

static void test_distinct_and_aligned(void)
{
    struct slab_set s;
    static struct record *taken[1000];
    slab_init(&s, sizeof(struct record), 64);
    CHECK_EQ_INT(s.size % alignof(max_align_t), 0);
    for (int i = 0; i < 1000; i++) {
        taken[i] = slab_take(&s);
        CHECK(taken[i] != NULL);
        CHECK_EQ_INT((uintptr_t)taken[i] % alignof(max_align_t), 0);
        memset(taken[i], i & 0xff, sizeof *taken[i]);
    }
    int intact = 1;
    for (int i = 0; i < 1000; i++)
        for (size_t b = 0; b < sizeof taken[i]->bytes; b++)
            intact &= (unsigned char)taken[i]->bytes[b] == (unsigned)(i & 0xff);
    CHECK(intact); /* no record overlaps another */
    slab_destroy(&s);
}

static void test_reuse(void)
{
    struct slab_set s;
    slab_init(&s, 8, 4);
    void *a = slab_take(&s), *b = slab_take(&s);
    CHECK(a != b);
    slab_give(&s, a);
    CHECK(slab_take(&s) == a); /* a freed record comes back before a new one */
    slab_give(&s, b);
    slab_give(&s, a);
    CHECK(slab_take(&s) == a);
    CHECK(slab_take(&s) == b);
    void *c = slab_take(&s);
    CHECK(c != a && c != b);
    slab_destroy(&s);
    CHECK(s.slabs == NULL);
}

int main(void)
{
    test_distinct_and_aligned();
    test_reuse();
    return test_report();
}
