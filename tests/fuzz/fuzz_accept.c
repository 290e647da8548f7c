/* libFuzzer target for the Accept-Encoding reader (src/http/accept.c). The
 * input is cut at '\n' into field values; the first byte says which of them
 * are named Accept-Encoding (in some case) and which are other fields.
 *
 * Whatever the values, the answer holds only the documented bits, its order
 * ranks exactly the accepted codings, and it does not change when the same
 * list is written differently: as one field line instead of several (RFC
 * 9110 §5.3), with the letters in upper case (codings and parameter names
 * are case-insensitive), with other fields between, or with an element
 * about another coding added. Values are exact-size heap copies, so ASan
 * catches any over-read. */
#include "http/accept.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int ok)
{
    if (!ok)
        abort();
}

static const char *const NAMES[] = {"Accept-Encoding", "accept-encoding", "ACCEPT-ENCODING"};

struct fields {
    struct http_request req;
    char *copies[HTTP_MAX_HEADERS];
};

static void add(struct fields *f, const char *name, const char *value, size_t len)
{
    size_t i = f->req.header_count;
    if (i == HTTP_MAX_HEADERS)
        return;
    f->copies[i] = malloc(len ? len : 1);
    require(f->copies[i] != NULL);
    memcpy(f->copies[i], value, len);
    f->req.headers[i].name = (struct http_span){name, strlen(name)};
    f->req.headers[i].value = (struct http_span){f->copies[i], len};
    f->req.header_count++;
}

static unsigned answer(struct fields *f)
{
    unsigned bits = http_accept_encoding(&f->req);
    for (size_t i = 0; i < f->req.header_count; i++)
        free(f->copies[i]);
    f->req.header_count = 0;
    /* The order holds exactly the accepted codings, each once. */
    unsigned seen = 0, avail = HTTP_ACCEPT_CODINGS;
    for (unsigned c; (c = http_accept_pick(bits, avail)) != 0; avail &= ~c)
        seen |= c;
    require(seen == (bits & HTTP_ACCEPT_CODINGS));
    require(bits < (1u << 10));
    return bits;
}

/* The pieces of in[0..n) between '\n's, each an Accept-Encoding value when
 * its bit in `mask` is clear and some other field when set. */
static unsigned split_answer(const char *in, size_t n, unsigned mask, int upper)
{
    static struct fields f;
    size_t start = 0, k = 0;
    char *copy = malloc(n ? n : 1);
    require(copy != NULL);
    memcpy(copy, in, n);
    for (size_t i = 0; upper && i < n; i++)
        if (copy[i] >= 'a' && copy[i] <= 'z')
            copy[i] = (char)(copy[i] - 'a' + 'A');
    for (size_t i = 0; i <= n; i++) {
        if (i < n && copy[i] != '\n')
            continue;
        int other = (mask >> (k % 8)) & 1;
        add(&f, other ? "X-Accept-Encoding" : NAMES[k % 3], copy + start, i - start);
        start = i + 1;
        k++;
    }
    free(copy);
    return answer(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned mask = data[0];
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    size_t lines = 1;
    for (size_t i = 0; i < n; i++)
        lines += in[i] == '\n';
    if (lines > HTTP_MAX_HEADERS)
        return 0;

    unsigned bits = split_answer(in, n, 0, 0);
    require(split_answer(in, n, 0, 1) == bits);
    /* Another field between the values changes nothing. */
    unsigned masked = split_answer(in, n, mask, 0);

    /* One field line, the values joined by commas, says the same. */
    static struct fields f;
    char *joined = malloc(n + 32);
    require(joined != NULL);
    for (size_t i = 0; i < n; i++)
        joined[i] = in[i] == '\n' ? ',' : in[i];
    add(&f, "Accept-Encoding", joined, n);
    require(answer(&f) == bits);
    /* An element about another coding is no answer about these. */
    memcpy(joined + n, ", deflate;q=0.5, compress", 25);
    add(&f, "Accept-Encoding", joined, n + 25);
    require(answer(&f) == bits);
    free(joined);

    /* The values named otherwise are ignored: the others alone say the same. */
    size_t start = 0, k = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && in[i] != '\n')
            continue;
        if (!((mask >> (k % 8)) & 1))
            add(&f, "Accept-Encoding", in + start, i - start);
        start = i + 1;
        k++;
    }
    require(answer(&f) == masked);
    return 0;
}
