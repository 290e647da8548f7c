/* libFuzzer target for the PROXY protocol parser (src/net/proxy.c).
 *
 * Whatever the input: the answer is "incomplete", "bad" or a length within
 * the input and the size bound; a header found is found again, with the same
 * result, when the input ends right after it; every shorter prefix of it is
 * "incomplete" (so a header split across reads is never refused); and a v1
 * header is no longer than 107 bytes. The input is an exact-size heap copy,
 * so ASan catches any over-read. */
#include "net/proxy.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int ok)
{
    if (!ok)
        abort();
}

static int parse_copy(const uint8_t *data, size_t size, struct proxy_header *h)
{
    uint8_t *copy = malloc(size ? size : 1);
    require(copy != NULL);
    memcpy(copy, data, size);
    int r = proxy_parse(copy, size, h);
    free(copy);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proxy_header h, again;
    int r = parse_copy(data, size, &h);
    require(r == PROXY_INCOMPLETE || r == PROXY_BAD || (r > 0 && (size_t)r <= size && r <= PROXY_MAX));
    if (r <= 0)
        return 0;
    require(h.version == 1 || h.version == 2);
    require(h.version != 1 || r <= PROXY_V1_MAX);
    require(h.family == 0 || h.family == 2 /* AF_INET */ || h.family == 10 /* AF_INET6 */);
    require(parse_copy(data, (size_t)r, &again) == r && memcmp(&h, &again, sizeof h) == 0);
    for (size_t cut = 0; cut < (size_t)r; cut += 1 + cut / 4)
        require(parse_copy(data, cut, &again) == PROXY_INCOMPLETE);
    return 0;
}
