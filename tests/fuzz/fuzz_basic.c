/* libFuzzer target for the Basic credentials reader (src/http/basic.c). The
 * input is an Authorization value; the first byte picks the size of the
 * decoding buffer.
 *
 * Whatever the value: no read past it (an exact-size heap copy, so ASan
 * catches one) and no write past the buffer (also an exact-size heap block);
 * on success the user-id and password lie inside the buffer, the user-id
 * holds no ':' and neither holds a control character; and the same value
 * with "Basic" in another case says the same. */
#include "http/basic.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int ok)
{
    if (!ok)
        abort();
}

static int read_creds(const char *value, size_t len, size_t cap, struct http_span *user, struct http_span *pass,
                      char **buf)
{
    struct http_request req;
    memset(&req, 0, sizeof req);
    req.headers[0].name = (struct http_span){"Authorization", 13};
    req.headers[0].value = (struct http_span){value, len};
    req.header_count = 1;
    *buf = malloc(cap ? cap : 1);
    require(*buf != NULL);
    return http_basic_credentials(&req, *buf, cap, user, pass);
}

static void check_span(struct http_span s, const char *buf, size_t cap, int colon_ok)
{
    require(s.ptr >= buf && s.ptr + s.len <= buf + cap);
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        require(c >= 0x20 && c != 0x7f);
        require(colon_ok || c != ':');
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t cap = data[0];
    char *value = malloc(size - 1 ? size - 1 : 1);
    require(value != NULL);
    memcpy(value, data + 1, size - 1);
    struct http_span user, pass, user2, pass2;
    char *buf, *buf2;
    int rc = read_creds(value, size - 1, cap, &user, &pass, &buf);
    require(rc == HTTP_BASIC_OK || rc == HTTP_BASIC_MALFORMED);
    if (rc == HTTP_BASIC_OK) {
        check_span(user, buf, cap, 0);
        check_span(pass, buf, cap, 1);
    }
    if (size - 1 >= 5) {
        for (size_t i = 0; i < 5; i++)
            value[i] = (char)(value[i] ^ ((value[i] | 0x20) >= 'a' && (value[i] | 0x20) <= 'z' ? 0x20 : 0));
        int rc2 = read_creds(value, size - 1, cap, &user2, &pass2, &buf2);
        require(rc2 == rc);
        if (rc == HTTP_BASIC_OK)
            require(user2.len == user.len && memcmp(user2.ptr, user.ptr, user.len) == 0 && pass2.len == pass.len &&
                    memcmp(pass2.ptr, pass.ptr, pass.len) == 0);
        free(buf2);
    }
    free(buf);
    free(value);
    return 0;
}
