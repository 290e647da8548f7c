/* libFuzzer target for http_range_parse. The first byte picks the
 * representation length, the rest is the Range value. Whatever the input, a
 * partial answer must be a short, sorted list of disjoint, non-adjacent
 * ranges inside the representation that asks for no more than its length,
 * and parsing again (the multipart plan does) must give the same list. */
#include "http/range.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int ok)
{
    if (!ok)
        abort();
}

static const uint64_t LENGTHS[] = {0, 1, 2, 10, 100, 1000, 65536, UINT64_MAX / 2, UINT64_MAX - 1, UINT64_MAX};

static void check_ranges(const struct http_range *r, size_t n, size_t cap, uint64_t length)
{
    require(n >= 1 && n <= cap);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        require(r[i].first <= r[i].last && r[i].last < length);
        if (i > 0)
            require(r[i - 1].last + 1 < r[i].first);
        total += r[i].last - r[i].first + 1;
    }
    require(total <= length);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint64_t length = LENGTHS[data[0] % (sizeof LENGTHS / sizeof LENGTHS[0])];
    size_t len = size - 1;
    /* An exact-size heap copy lets ASan catch a read past the value. */
    char *value = malloc(len ? len : 1);
    require(value != NULL);
    memcpy(value, data + 1, len);

    struct http_range a[HTTP_RANGE_MAX], b[HTTP_RANGE_MAX];
    size_t na = 0, nb = 0;
    enum http_range_result ra = http_range_parse(value, len, length, a, HTTP_RANGE_MAX, &na);
    enum http_range_result rb = http_range_parse(value, len, length, b, HTTP_RANGE_MAX, &nb);
    require(ra == rb && na == nb);
    if (ra == HTTP_RANGE_PARTIAL) {
        check_ranges(a, na, HTTP_RANGE_MAX, length);
        require(memcmp(a, b, na * sizeof a[0]) == 0);
    } else {
        require(na == 0 && (ra == HTTP_RANGE_IGNORE || ra == HTTP_RANGE_UNSATISFIABLE));
    }
    /* What fits under a smaller cap comes out the same under the full one
     * (the converse fails by design: the cap holds at every step). */
    struct http_range c[4];
    size_t nc = 0;
    if (http_range_parse(value, len, length, c, 4, &nc) == HTTP_RANGE_PARTIAL)
        require(ra == HTTP_RANGE_PARTIAL && nc == na && memcmp(a, c, na * sizeof a[0]) == 0);
    free(value);
    return 0;
}
