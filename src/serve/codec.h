/* One-shot compression of a buffer with the Debian libraries: libzstd,
 * libbrotli and zlib (gzip format). No codec is written here. */
#ifndef DUCT_SERVE_CODEC_H
#define DUCT_SERVE_CODEC_H

#include <stddef.h>

/* Compresses src[0..len) in the coding (HTTP_ACCEPT_ZSTD, _BR or _GZIP)
 * into a malloc'd buffer. 0 with *out and *out_len set, or -1 (out of
 * memory, a library error). */
int codec_compress(unsigned coding, const void *src, size_t len, void **out, size_t *out_len);

#endif
