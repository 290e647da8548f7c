#include "get/url.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "http/parse.h"
#include "http/path.h"

/* A URI reference split as RFC 3986 Appendix B does; a missing component and
 * an empty one differ (has_*). The fragment is dropped: it is never sent. */
struct parts {
    const char *scheme, *auth, *path, *query;
    size_t scheme_len, auth_len, path_len, query_len;
    int has_scheme, has_auth, has_query;
};

__attribute__((format(printf, 4, 5))) static int url_fail(int code, char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

static void split(const char *s, struct parts *p)
{
    memset(p, 0, sizeof *p);
    size_t n = strcspn(s, ":/?#");
    if (s[n] == ':' && n > 0) {
        p->has_scheme = 1;
        p->scheme = s;
        p->scheme_len = n;
        s += n + 1;
    }
    if (s[0] == '/' && s[1] == '/') {
        s += 2;
        p->has_auth = 1;
        p->auth = s;
        p->auth_len = strcspn(s, "/?#");
        s += p->auth_len;
    }
    p->path = s;
    p->path_len = strcspn(s, "?#");
    s += p->path_len;
    if (*s == '?') {
        p->has_query = 1;
        p->query = s + 1;
        p->query_len = strcspn(s + 1, "#");
    }
}

/* Drops the last segment and its '/' from out[0..*len) (RFC 3986 §5.2.4). */
static void pop_segment(const char *out, size_t *len)
{
    while (*len > 0 && out[*len - 1] != '/')
        (*len)--;
    if (*len > 0)
        (*len)--;
}

/* RFC 3986 §5.2.4, with the input rewritten in place: each rule only strips
 * a prefix or turns one into a shorter "/". in is NUL-terminated and mutable. */
static size_t remove_dot_segments(char *in, char *out)
{
    size_t len = 0;
    while (*in) {
        if (strncmp(in, "../", 3) == 0)
            in += 3;
        else if (strncmp(in, "./", 2) == 0 || strncmp(in, "/./", 3) == 0)
            in += 2;
        else if (strcmp(in, "/.") == 0)
            *++in = '/';
        else if (strncmp(in, "/../", 4) == 0) {
            in += 3;
            pop_segment(out, &len);
        } else if (strcmp(in, "/..") == 0) {
            in += 2;
            *in = '/';
            pop_segment(out, &len);
        } else if (strcmp(in, ".") == 0 || strcmp(in, "..") == 0)
            in += strlen(in);
        else {
            do
                out[len++] = *in++;
            while (*in && *in != '/');
        }
    }
    out[len] = '\0';
    return len;
}

/* target = remove_dot_segments(path) ["?" query], "/" when empty, with the
 * bytes a request line cannot carry (space, controls, non-ASCII, quotes...)
 * percent-encoded by http_query_encode, which keeps '%' so that an escape
 * already in the URL is not encoded twice. */
static int build_target(struct get_url *url, const char *path, size_t path_len, const struct parts *q, char *err,
                        size_t errlen)
{
    char in[GET_URL_TARGET_MAX], raw[GET_URL_TARGET_MAX + 1]; /* + 1: the leading "/" */
    if (path_len >= sizeof in)
        return url_fail(GET_URL_BAD, err, errlen, "URL path too long");
    memcpy(in, path, path_len);
    in[path_len] = '\0';
    size_t n = remove_dot_segments(in, raw + 1);
    size_t start = n > 0 && raw[1] == '/';
    raw[0] = '/';
    n += 1 - start;
    if (q->has_query) {
        if (n + 1 + q->query_len >= sizeof raw)
            return url_fail(GET_URL_BAD, err, errlen, "URL too long");
        raw[start + n] = '?';
        memcpy(raw + start + n + 1, q->query, q->query_len);
        n += 1 + q->query_len;
    }
    if (http_query_encode(raw + start, n, url->target, sizeof url->target) < 0)
        return url_fail(GET_URL_BAD, err, errlen, "URL too long");
    return 0;
}

static int parse_port(const char *p, size_t n, struct get_url *url)
{
    unsigned v = 0;
    if (n == 0) /* "host:" means the default port (RFC 3986 §3.2.3) */
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)p[i]) || (v = v * 10 + (unsigned)(p[i] - '0')) > 65535)
            return -1;
    }
    if (v == 0)
        return -1;
    url->port = v;
    url->port_given = 1;
    return 0;
}

static int parse_authority(const char *a, size_t n, struct get_url *url, char *err, size_t errlen)
{
    const char *host = a, *end = a + n, *colon;
    struct in6_addr ip6;
    if (memchr(a, '@', n))
        return url_fail(GET_URL_BAD, err, errlen, "user names and passwords in URLs are not supported");
    if (n > 0 && a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (!close || (close + 1 < end && close[1] != ':'))
            return url_fail(GET_URL_BAD, err, errlen, "bad IPv6 literal in \"%.*s\"", (int)n, a);
        host = a + 1;
        colon = close + 1 < end ? close + 1 : NULL;
        end = close;
        url->ipv6 = 1;
    } else {
        colon = memchr(a, ':', n);
        if (colon)
            end = colon;
    }
    size_t host_len = (size_t)(end - host);
    if (host_len == 0 || host_len >= sizeof url->host)
        return url_fail(GET_URL_BAD, err, errlen, "%s host in URL", host_len ? "too long a" : "no");
    for (size_t i = 0; i < host_len; i++) {
        unsigned char c = (unsigned char)host[i];
        if (c <= 0x20 || c >= 0x7f || strchr("/?#[]@\\", c))
            return url_fail(GET_URL_BAD, err, errlen, "bad character in host \"%.*s\"", (int)host_len, host);
        url->host[i] = (char)tolower(c);
    }
    url->host[host_len] = '\0';
    if (url->ipv6 && inet_pton(AF_INET6, url->host, &ip6) != 1)
        return url_fail(GET_URL_BAD, err, errlen, "bad IPv6 literal \"%s\"", url->host);
    if (colon && parse_port(colon + 1, (size_t)(a + n - colon - 1), url) != 0)
        return url_fail(GET_URL_BAD, err, errlen, "bad port \"%.*s\"", (int)(a + n - colon - 1), colon + 1);
    return 0;
}

/* The URL of an http reference that has an authority: the authority, the
 * path without dot segments, the query (RFC 3986 §5.2.2). */
static int from_parts(const struct parts *p, int tls, struct get_url *url, char *err, size_t errlen)
{
    memset(url, 0, sizeof *url);
    url->tls = tls;
    url->port = tls ? 443 : 80;
    int rc = parse_authority(p->auth, p->auth_len, url, err, errlen);
    return rc ? rc : build_target(url, p->path, p->path_len, p, err, errlen);
}

int get_url_parse(const char *text, struct get_url *url, char *err, size_t errlen)
{
    struct parts p;
    split(text, &p);
    memset(url, 0, sizeof *url);
    url->port = 80;
    if (!p.has_scheme || !p.has_auth)
        return url_fail(GET_URL_BAD, err, errlen, "\"%s\" is not an absolute URL (http://host/path)", text);
    int tls = p.scheme_len == 5 && strncasecmp(p.scheme, "https", 5) == 0;
    if (!tls && (p.scheme_len != 4 || strncasecmp(p.scheme, "http", 4) != 0))
        return url_fail(GET_URL_UNSUPPORTED, err, errlen, "scheme \"%.*s\" is not supported (http and https only)",
                        (int)p.scheme_len, p.scheme);
    return from_parts(&p, tls, url, err, errlen);
}

/* The base path up to its last '/', then ref (RFC 3986 §5.2.3). */
static int merge(const struct get_url *base, const struct parts *r, char *out, size_t outsize)
{
    size_t base_len = strcspn(base->target, "?");
    while (base_len > 0 && base->target[base_len - 1] != '/')
        base_len--;
    if (base_len + r->path_len >= outsize)
        return -1;
    memcpy(out, base->target, base_len);
    memcpy(out + base_len, r->path, r->path_len);
    out[base_len + r->path_len] = '\0';
    return 0;
}

int get_url_resolve(const struct get_url *base, const char *ref, struct get_url *out, char *err, size_t errlen)
{
    struct parts r, bq;
    char path[GET_URL_TARGET_MAX];
    split(ref, &r);
    if (r.has_scheme)
        return get_url_parse(ref, out, err, errlen);
    if (r.has_auth) /* "//host/p": the base's scheme, all the rest the reference's */
        return from_parts(&r, base->tls, out, err, errlen);
    *out = *base;
    split(base->target, &bq);
    if (r.path_len == 0)
        return build_target(out, bq.path, bq.path_len, r.has_query ? &r : &bq, err, errlen);
    if (r.path[0] == '/')
        return build_target(out, r.path, r.path_len, &r, err, errlen);
    if (merge(base, &r, path, sizeof path) != 0)
        return url_fail(GET_URL_BAD, err, errlen, "URL too long");
    return build_target(out, path, strlen(path), &r, err, errlen);
}

char *get_url_authority(const struct get_url *url, char *out, size_t outlen)
{
    const char *open = url->ipv6 ? "[" : "", *close = url->ipv6 ? "]" : "";
    if (url->port_given && url->port != (url->tls ? 443u : 80u))
        snprintf(out, outlen, "%s%s%s:%u", open, url->host, close, url->port);
    else
        snprintf(out, outlen, "%s%s%s", open, url->host, close);
    return out;
}

const char *get_url_file_name(const struct get_url *url, char *out, size_t outlen)
{
    size_t end = strcspn(url->target, "?"), start = end, n = 0;
    while (start > 0 && url->target[start - 1] != '/')
        start--;
    for (size_t i = start; i < end && n + 1 < outlen; i++) {
        int hi = i + 2 < end && url->target[i] == '%' ? http_hex_value((unsigned char)url->target[i + 1]) : -1;
        int lo = hi >= 0 ? http_hex_value((unsigned char)url->target[i + 2]) : -1;
        if (lo >= 0) {
            out[n++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[n++] = url->target[i];
        }
    }
    out[n] = '\0';
    if (n == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0 || strlen(out) != n || strchr(out, '/'))
        return NULL;
    return out;
}
