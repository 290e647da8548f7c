#include "http/head.h"

#include <string.h>

#include "http/status.h"

void http_head_append(struct http_head *h, const char *bytes, size_t len)
{
    if (h->overflow || len > h->cap - h->len) {
        h->overflow = 1;
        return;
    }
    memcpy(h->buf + h->len, bytes, len);
    h->len += len;
}

size_t http_u64_to_dec(uint64_t value, char *out)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return n;
}

void http_head_start(struct http_head *h, char *buf, size_t cap, int status)
{
    char code[24];
    const char *reason = http_status_text(status);
    h->buf = buf;
    h->cap = cap;
    h->len = 0;
    h->overflow = 0;
    http_head_append(h, "HTTP/1.1 ", 9);
    size_t code_len = http_u64_to_dec((uint64_t)status, code);
    http_head_append(h, code, code_len);
    http_head_append(h, " ", 1);
    http_head_append(h, reason, strlen(reason));
    http_head_append(h, "\r\n", 2);
}

void http_head_field(struct http_head *h, const char *name, const char *value, size_t value_len)
{
    http_head_append(h, name, strlen(name));
    http_head_append(h, ": ", 2);
    http_head_append(h, value, value_len);
    http_head_append(h, "\r\n", 2);
}

void http_head_field_str(struct http_head *h, const char *name, const char *value)
{
    http_head_field(h, name, value, strlen(value));
}

void http_head_field_u64(struct http_head *h, const char *name, uint64_t value)
{
    char digits[24];
    size_t len = http_u64_to_dec(value, digits);
    http_head_field(h, name, digits, len);
}

size_t http_head_finish(struct http_head *h)
{
    http_head_append(h, "\r\n", 2);
    return h->overflow ? 0 : h->len;
}
