/* libFuzzer target for http_path_normalize: whatever the target, a successful
 * result must be a clean path below the root, and the function must agree with
 * itself across buffer sizes and through http_path_encode. */
#include "http/path.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int ok)
{
    if (!ok)
        abort();
}

static int has(const char *s, size_t len, const char *needle)
{
    return memmem(s, len, needle, strlen(needle)) != NULL;
}

static void check_clean(const char *out, long rc, size_t outsize)
{
    size_t len = (size_t)rc;

    require(rc > 0 && len < outsize);
    require(out[0] == '/' && out[len] == '\0');
    require(memchr(out, '\0', len) == NULL);
    require(memchr(out, '\\', len) == NULL);
    require(!has(out, len, "/../") && !has(out, len, "/./") && !has(out, len, "//"));
    require(!(len >= 2 && memcmp(out + len - 2, "/.", 2) == 0));
    require(!(len >= 3 && memcmp(out + len - 3, "/..", 3) == 0));
    for (size_t i = 0; i < len; i++)
        require((unsigned char)out[i] >= 0x20 && (unsigned char)out[i] != 0x7F);
}

/* Encoding a normalised path and normalising it again gives the same path. */
static void check_round_trip(const char *out, long rc)
{
    size_t encsize = (size_t)rc * 3 + 1;
    char *enc = malloc(encsize);
    char *back = malloc((size_t)rc + 1);

    require(enc != NULL && back != NULL);
    long le = http_path_encode(out, (size_t)rc, enc, encsize);
    require(le >= rc);
    long lb = http_path_normalize(enc, (size_t)le, back, (size_t)rc + 1);
    require(lb == rc && memcmp(back, out, (size_t)rc + 1) == 0);
    free(back);
    free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *target = (const char *)data;
    /* Decoding never lengthens the path, so size + 1 always fits; heap
     * buffers of exact size let ASan catch a write past outsize. */
    size_t bigsize = size + 1;
    size_t smallsize = size / 2;
    char *big = malloc(bigsize);
    char *small = malloc(smallsize + 1);

    require(big != NULL && small != NULL);
    long rc = http_path_normalize(target, size, big, bigsize);
    require(rc > 0 || rc == -400);
    if (rc > 0) {
        check_clean(big, rc, bigsize);
        check_round_trip(big, rc);
    }

    long rs = http_path_normalize(target, size, small, smallsize);
    if (rs > 0) {
        check_clean(small, rs, smallsize);
        require(rs == rc && memcmp(small, big, (size_t)rc) == 0);
    } else {
        require(rs == -400 || rs == -414);
        require(!(rc > 0 && rs == -400));
    }
    if (rc > 0 && (size_t)rc >= smallsize)
        require(rs == -414);
    free(small);
    free(big);
    return 0;
}
