#include "http/log.h"

#include <string.h>
#include <time.h>

#include "http/head.h"
#include "http/site.h"

size_t http_log_escape(const char *src, size_t len, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)src[i];
        if (b == '"' || b == '\\') {
            if (n + 2 > cap)
                break;
            out[n++] = '\\';
            out[n++] = (char)b;
        } else if (b < 0x20 || b >= 0x7F) {
            if (n + 4 > cap)
                break;
            out[n++] = '\\';
            out[n++] = 'x';
            out[n++] = hex[b >> 4];
            out[n++] = hex[b & 15];
        } else {
            if (n + 1 > cap)
                break;
            out[n++] = (char)b;
        }
    }
    return n;
}

/* "[25/Nov/2026:12:00:00 +0000]": UTC, so that no time zone lookup is needed. */
static size_t format_log_time(time_t t, char *out)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        memset(&tm, 0, sizeof tm);
    char *p = out;
    *p++ = '[';
    *p++ = (char)('0' + tm.tm_mday / 10);
    *p++ = (char)('0' + tm.tm_mday % 10);
    *p++ = '/';
    memcpy(p, months + 3 * tm.tm_mon, 3);
    p += 3;
    *p++ = '/';
    p += http_u64_to_dec((uint64_t)tm.tm_year + 1900, p);
    const int parts[3] = {tm.tm_hour, tm.tm_min, tm.tm_sec};
    for (int i = 0; i < 3; i++) {
        *p++ = ':';
        *p++ = (char)('0' + parts[i] / 10);
        *p++ = (char)('0' + parts[i] % 10);
    }
    memcpy(p, " +0000]", 7);
    p += 7;
    return (size_t)(p - out);
}

/* A quoted field, or "-" when empty (CLF's mark for "not present"). */
static size_t quoted(char *out, struct http_span field, size_t cap)
{
    size_t n = 0;
    out[n++] = '"';
    if (field.len == 0)
        out[n++] = '-';
    else
        n += http_log_escape(field.ptr, field.len, out + n, cap - 2);
    out[n++] = '"';
    return n;
}

/* %u: the authenticated user, escaped, with a space as \x20 so that the
 * field stays one word; "-" when none. */
static size_t user_field(char *out, const char *user)
{
    size_t n = 0;
    if (!user || !*user) {
        out[0] = '-';
        return 1;
    }
    for (; *user && n < 200; user++) {
        if (*user == ' ') {
            memcpy(out + n, "\\x20", 4);
            n += 4;
        } else {
            n += http_log_escape(user, 1, out + n, 4);
        }
    }
    return n;
}

size_t http_log_combined(char *out, const struct http_log_entry *e)
{
    size_t n = http_log_escape(e->peer, strlen(e->peer), out, 64);
    memcpy(out + n, " - ", 3);
    n += 3;
    n += user_field(out + n, e->user);
    out[n++] = ' ';
    n += format_log_time(e->now, out + n);
    out[n++] = ' ';
    /* The cuts keep every line below HTTP_LOG_READER_MAX (GoAccess reads
     * 4096-byte lines): the request line, then the client's two headers. */
    n += quoted(out + n, e->request_line, 2000);
    out[n++] = ' ';
    n += http_u64_to_dec((uint64_t)e->status, out + n);
    out[n++] = ' ';
    n += http_u64_to_dec(e->body_bytes, out + n);
    out[n++] = ' ';
    n += quoted(out + n, e->referer, 800);
    out[n++] = ' ';
    n += quoted(out + n, e->user_agent, 1000);
    out[n++] = '\n';
    return n;
}

size_t http_log_vhost_combined(char *out, const struct http_log_entry *e)
{
    char host[HTTP_SITE_HOST_MAX];
    size_t n = http_site_host(e->host.ptr, e->host.len, host);
    if (n == 0)
        host[n++] = '-';
    if (n > HTTP_LOG_VHOST_MAX)
        n = HTTP_LOG_VHOST_MAX; /* the line stays within what GoAccess reads */
    memcpy(out, host, n);
    out[n++] = ':';
    /* The port as the client named it; only digits reach the line. */
    const char *colon = e->host.len ? memrchr(e->host.ptr, ':', e->host.len) : NULL;
    size_t digits = 0;
    if (colon) {
        const char *p = colon + 1, *end = e->host.ptr + e->host.len;
        while (p + digits < end && digits < 5 && p[digits] >= '0' && p[digits] <= '9')
            digits++;
        if (p + digits != end)
            digits = 0;
        memcpy(out + n, p, digits);
    }
    if (digits == 0)
        out[n++] = '-';
    n += digits;
    out[n++] = ' ';
    return n + http_log_combined(out + n, e);
}
