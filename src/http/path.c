/* Request-target to document-root-relative path (RFC 3986 §3.3, §5.2.4).
 *
 * The target is decoded and normalised in a single left-to-right pass straight
 * into the caller's buffer: each segment is decoded, then dropped ("."),
 * popped (".."), or kept. Because dot-segment removal runs on decoded bytes,
 * "%2e%2e" is recognised as "..", and because the input is decoded exactly
 * once, "%252e" can only ever become the literal name "%2e". */
#include "http/path.h"

#include "http/parse.h"

#include <stdbool.h>
#include <string.h>

enum { PATH_BAD = -400, PATH_LONG = -414 };

/* Where the pass stands: the input cursor and the output written so far. The
 * output always ends with '/' while a segment is about to start. */
struct norm {
    const char *in;
    size_t len;
    size_t pos;
    char *out;
    size_t outsize;
    size_t olen;
};

/* RFC 3986 §3.3: the path ends at the query ('?') or fragment ('#'). */
static bool at_path_end(const struct norm *n)
{
    return n->pos >= n->len || n->in[n->pos] == '?' || n->in[n->pos] == '#';
}

/* Reads one byte of the segment, decoding a percent-escape (RFC 3986 §2.1).
 * Returns the byte, or PATH_BAD for a malformed escape or a byte no file name
 * below the root may hold: NUL would truncate the name for the kernel, a
 * decoded '/' would create a segment boundary that dot-segment removal never
 * saw, a backslash is a separator on other systems, and control bytes have
 * no business in a URL path (§2 allows none of them raw). */
static int next_byte(struct norm *n)
{
    unsigned char c = (unsigned char)n->in[n->pos++];
    bool escaped = c == '%';

    if (escaped) {
        if (n->len - n->pos < 2)
            return PATH_BAD;
        int hi = http_hex_value((unsigned char)n->in[n->pos]);
        int lo = http_hex_value((unsigned char)n->in[n->pos + 1]);
        if (hi < 0 || lo < 0)
            return PATH_BAD;
        n->pos += 2;
        c = (unsigned char)(hi << 4 | lo);
    }
    if (c < 0x20 || c == 0x7F || c == '\\' || (escaped && c == '/'))
        return PATH_BAD;
    return c;
}

static int put_byte(struct norm *n, char c)
{
    /* One byte stays reserved for the terminating NUL. */
    if (n->olen + 1 >= n->outsize)
        return PATH_LONG;
    n->out[n->olen++] = c;
    return 0;
}

/* Removes the last kept segment together with the '/' that follows it, so the
 * output again ends with '/'. At the root there is nothing left to remove:
 * climbing above it is an attack, not a path, so it is refused instead of
 * being clamped to "/" the way §5.2.4 does for relative references. */
static int pop_segment(struct norm *n)
{
    if (n->olen <= 1)
        return PATH_BAD;
    size_t i = n->olen - 1;
    while (i > 0 && n->out[i - 1] != '/')
        i--;
    n->olen = i;
    return 0;
}

/* Decodes one segment (up to a raw '/' or the end of the path) into out, then
 * resolves it if it turns out to be a dot-segment. */
static int segment(struct norm *n)
{
    size_t start = n->olen;

    while (!at_path_end(n) && n->in[n->pos] != '/') {
        int c = next_byte(n);
        if (c < 0)
            return c;
        int rc = put_byte(n, (char)c);
        if (rc < 0)
            return rc;
    }
    size_t seglen = n->olen - start;
    if (seglen == 1 && n->out[start] == '.') {
        n->olen = start;
        return 0;
    }
    if (seglen == 2 && n->out[start] == '.' && n->out[start + 1] == '.') {
        n->olen = start;
        return pop_segment(n);
    }
    if (seglen > 0 && !at_path_end(n))
        return put_byte(n, '/');
    return 0;
}

long http_path_normalize(const char *target, size_t len, char *out, size_t outsize)
{
    struct norm n = { .in = target, .len = len, .out = out, .outsize = outsize };

    if (outsize > 0)
        out[0] = '\0';
    /* RFC 9112 §3.2.1: only origin-form names a path; the caller turns an
     * absolute-form target into one before calling. */
    if (len == 0 || target[0] != '/')
        return PATH_BAD;
    int rc = put_byte(&n, '/');
    n.pos = 1;
    while (rc == 0 && !at_path_end(&n)) {
        rc = segment(&n);
        /* The raw '/' ending a segment: kept ones already appended theirs, and
         * an empty segment from "//" is dropped by not appending one. */
        if (rc == 0 && !at_path_end(&n))
            n.pos++;
    }
    if (rc < 0) {
        if (outsize > 0)
            out[0] = '\0';
        return rc;
    }
    out[n.olen] = '\0';
    return (long)n.olen;
}

/* RFC 3986 §2.3 unreserved characters, plus '/' which separates segments. */
static bool keep_raw(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == '/';
}

/* Percent-encodes every byte that `raw` does not allow as it is. */
static long percent_encode(const char *src, size_t len, char *out, size_t outsize, bool (*raw)(unsigned char))
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        size_t need = raw(c) ? 1 : 3;
        if (o + need >= outsize) {
            /* Empty rather than truncated: half a URL is a different URL. */
            if (outsize > 0)
                out[0] = '\0';
            return -1;
        }
        if (need == 1) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 0x0F];
        }
    }
    if (outsize == 0)
        return -1;
    out[o] = '\0';
    return (long)o;
}

long http_path_encode(const char *src, size_t len, char *out, size_t outsize)
{
    return percent_encode(src, len, out, outsize, keep_raw);
}

/* query = *( pchar / "/" / "?" ), pchar = unreserved / pct-encoded /
 * sub-delims / ":" / "@" (RFC 3986 §3.3, §3.4). */
static bool query_raw(unsigned char c)
{
    return keep_raw(c) || (c != '\0' && strchr("!$&'()*+,;=:@?%", c) != NULL);
}

long http_query_encode(const char *src, size_t len, char *out, size_t outsize)
{
    return percent_encode(src, len, out, outsize, query_raw);
}
