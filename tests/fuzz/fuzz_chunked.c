/* libFuzzer target for the chunked decoder. The first byte picks how the rest
 * is cut into pieces; decoding in pieces must agree with decoding it whole
 * (same verdict, same bytes consumed, same body), every data span must lie in
 * the bytes the call consumed, and the decoder must never consume more than it
 * was given. Pieces are exact-size heap copies, so ASan catches over-reads. */
#include "http/chunked.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int ok)
{
    if (!ok)
        abort();
}

struct outcome {
    int error;
    int done;
    size_t consumed;
    uint64_t body_len;
    uint64_t body_hash;
};

static uint64_t hash_bytes(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211u;
    return h;
}

/* One decode call on an exact-size copy of in[0..n). */
static long step(struct http_chunked *d, const char *in, size_t n, struct outcome *o)
{
    char *copy = malloc(n ? n : 1);
    struct http_span span;
    long r;

    require(copy != NULL);
    memcpy(copy, in, n);
    r = http_chunked_decode(d, copy, n, &span);
    require(r >= -1 && r <= (long)n);
    if (r > 0 && span.len) {
        require(span.ptr >= copy && span.ptr + span.len <= copy + r);
        o->body_len += span.len;
        o->body_hash = hash_bytes(o->body_hash, span.ptr, span.len);
    } else {
        require(span.len == 0);
    }
    free(copy);
    return r;
}

static struct outcome decode(const char *in, size_t n, size_t piece)
{
    struct http_chunked d;
    struct outcome o = {0, 0, 0, 0, 14695981039346656037u};

    http_chunked_init(&d, 64, 512);
    while (o.consumed < n && !http_chunked_done(&d)) {
        size_t avail = piece && n - o.consumed > piece ? piece : n - o.consumed;
        long r = step(&d, in + o.consumed, avail, &o);

        if (r < 0) {
            o.error = 1;
            break;
        }
        if (r == 0) {
            require(avail == 0);
            break;
        }
        o.consumed += (size_t)r;
    }
    o.done = http_chunked_done(&d);
    require(o.body_len == d.body_len);
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    struct outcome whole = decode(in, n, 0);
    struct outcome cut = decode(in, n, (size_t)data[0] % 16 + 1);

    require(whole.error == cut.error && whole.done == cut.done);
    require(whole.consumed == cut.consumed || whole.error);
    require(whole.body_len == cut.body_len || whole.error);
    require(whole.body_hash == cut.body_hash || whole.error);
    require(!whole.done || whole.consumed <= n);
    return 0;
}
