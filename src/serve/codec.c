#include "serve/codec.h"

#include <brotli/encode.h>
#include <limits.h>
#include <stdlib.h>
#include <zlib.h>
#include <zstd.h>

#include "http/accept.h"

/* Levels for compressing once and sending many times: well past the
 * libraries' defaults, short of their slowest settings (zstd 19+, brotli 10
 * and 11 cost ten times as much for a few percent). */
#define ZSTD_LEVEL 15
#define BROTLI_QUALITY 9
#define GZIP_LEVEL 9

static int with_zstd(const void *src, size_t len, void *dst, size_t *cap)
{
    size_t n = ZSTD_compress(dst, *cap, src, len, ZSTD_LEVEL);
    if (ZSTD_isError(n))
        return -1;
    *cap = n;
    return 0;
}

static int with_brotli(const void *src, size_t len, void *dst, size_t *cap)
{
    if (!BrotliEncoderCompress(BROTLI_QUALITY, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC, len, src, cap, dst))
        return -1;
    return 0;
}

static int with_gzip(const void *src, size_t len, void *dst, size_t *cap)
{
    z_stream z = {0};
    /* 15 + 16: the largest window, with a gzip header and trailer. */
    if (len > UINT_MAX || *cap > UINT_MAX ||
        deflateInit2(&z, GZIP_LEVEL, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    z.next_in = (Bytef *)(size_t)src; /* zlib's API is not const */
    z.avail_in = (uInt)len;
    z.next_out = dst;
    z.avail_out = (uInt)*cap;
    int rc = deflate(&z, Z_FINISH);
    *cap = z.total_out;
    deflateEnd(&z);
    return rc == Z_STREAM_END ? 0 : -1;
}

static size_t bound(unsigned coding, size_t len)
{
    switch (coding) {
    case HTTP_ACCEPT_ZSTD:
        return ZSTD_compressBound(len);
    case HTTP_ACCEPT_BR:
        return BrotliEncoderMaxCompressedSize(len);
    default:
        return len + len / 1000 + 64; /* deflateBound's worst case with a gzip wrapper, rounded up */
    }
}

int codec_compress(unsigned coding, const void *src, size_t len, void **out, size_t *out_len)
{
    size_t cap = bound(coding, len);
    void *dst = cap ? malloc(cap) : NULL;
    if (!dst)
        return -1;
    int rc = coding == HTTP_ACCEPT_ZSTD ? with_zstd(src, len, dst, &cap)
             : coding == HTTP_ACCEPT_BR ? with_brotli(src, len, dst, &cap)
                                        : with_gzip(src, len, dst, &cap);
    if (rc != 0) {
        free(dst);
        return -1;
    }
    *out = dst;
    *out_len = cap;
    return 0;
}
