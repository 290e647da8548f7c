#include "http/basic.h"

#include <limits.h>
#include <openssl/evp.h>
#include <string.h>
#include <strings.h>

static int is_b64(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* The one Authorization field, or NULL with *count its number (0 or > 1). */
static const struct http_header *only_authorization(const struct http_request *req, int *count)
{
    const struct http_header *found = NULL;
    *count = 0;
    for (size_t i = 0; i < req->header_count; i++)
        if (http_span_ieq(req->headers[i].name, "authorization")) {
            found = &req->headers[i];
            ++*count;
        }
    return *count == 1 ? found : NULL;
}

/* token68 as base64 with its padding, checked here: OpenSSL's block decoder
 * would skip spaces, which the syntax does not allow, and cannot tell padding
 * from decoded zero bytes. */
static int well_formed(const char *p, size_t len, size_t *pad)
{
    size_t n = 0;
    *pad = 0;
    while (n < len && is_b64(p[n]))
        n++;
    while (n + *pad < len && p[n + *pad] == '=')
        ++*pad;
    return n > 0 && n + *pad == len && *pad <= 2 && (n + *pad) % 4 == 0;
}

int http_basic_credentials(const struct http_request *req, char *buf, size_t cap, struct http_span *user,
                           struct http_span *pass)
{
    int count;
    const struct http_header *h = only_authorization(req, &count);
    if (!h)
        return count == 0 ? HTTP_BASIC_ABSENT : HTTP_BASIC_MALFORMED;
    const char *v = h->value.ptr;
    size_t len = h->value.len, i = 5;
    if (len < 7 || strncasecmp(v, "basic", 5) != 0 || v[5] != ' ')
        return HTTP_BASIC_MALFORMED;
    while (i < len && v[i] == ' ')
        i++;
    size_t pad;
    if (!well_formed(v + i, len - i, &pad) || (len - i) / 4 * 3 > cap || len - i > INT_MAX)
        return HTTP_BASIC_MALFORMED;
    int decoded = EVP_DecodeBlock((unsigned char *)buf, (const unsigned char *)v + i, (int)(len - i));
    if (decoded < 0 || (size_t)decoded < pad)
        return HTTP_BASIC_MALFORMED;
    size_t out = (size_t)decoded - pad;
    const char *colon = memchr(buf, ':', out);
    if (!colon)
        return HTTP_BASIC_MALFORMED;
    for (size_t k = 0; k < out; k++) /* RFC 7617 §2: no control characters */
        if ((unsigned char)buf[k] < 0x20 || buf[k] == 0x7f)
            return HTTP_BASIC_MALFORMED;
    *user = (struct http_span){buf, (size_t)(colon - buf)};
    *pass = (struct http_span){colon + 1, out - (size_t)(colon - buf) - 1};
    return HTTP_BASIC_OK;
}
