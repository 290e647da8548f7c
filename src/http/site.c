#include "http/site.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/path.h"

/* RFC 9110 §5.6.2 tchar. */
static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Visible characters, obs-text, spaces and tabs: what a field value may hold
 * (RFC 9110 §5.5); CR, LF, NUL and other controls never. */
static int is_value_char(unsigned char c)
{
    return c == ' ' || c == '\t' || (c > 0x20 && c != 0x7f);
}

static int append(char *buf, size_t *len, const char *bytes, size_t n)
{
    if (*len + n > HTTP_SITE_FIELDS_MAX)
        return -1;
    memcpy(buf + *len, bytes, n);
    *len += n;
    return 0;
}

/* name: value\r\n into one field set. */
static int append_field(char *buf, size_t *len, const char *name, size_t name_len, const char *value,
                        size_t value_len)
{
    size_t before = *len;
    if (append(buf, len, name, name_len) || append(buf, len, ": ", 2) || append(buf, len, value, value_len) ||
        append(buf, len, "\r\n", 2)) {
        *len = before;
        return -1;
    }
    return 0;
}

/* Fields the server itself writes: a second copy would contradict it, or
 * break the framing. */
static int reserved(const char *name, size_t len)
{
    static const char *const names[] = {"content-length", "transfer-encoding", "connection", "date",
                                        "content-range", "content-type", "content-encoding", "location", NULL};
    for (int i = 0; names[i]; i++)
        if (strlen(names[i]) == len && strncasecmp(names[i], name, len) == 0)
            return 1;
    return 0;
}

int http_site_add_header(struct http_site *site, const char *text, int always, char *err, size_t errlen)
{
    const char *colon = strchr(text, ':');
    size_t name_len = colon ? (size_t)(colon - text) : 0;
    if (!colon || name_len == 0) {
        snprintf(err, errlen, "\"%s\" is not Name: value", text);
        return -1;
    }
    for (size_t i = 0; i < name_len; i++)
        if (!is_tchar((unsigned char)text[i])) {
            snprintf(err, errlen, "the header name \"%.*s\" is not a token (RFC 9110 5.6.2)", (int)name_len, text);
            return -1;
        }
    if (reserved(text, name_len)) {
        snprintf(err, errlen, "duct writes %.*s itself", (int)name_len, text);
        return -1;
    }
    const char *value = colon + 1;
    size_t value_len = strlen(value);
    while (value_len && (*value == ' ' || *value == '\t'))
        value++, value_len--;
    while (value_len && (value[value_len - 1] == ' ' || value[value_len - 1] == '\t'))
        value_len--;
    for (size_t i = 0; i < value_len; i++)
        if (!is_value_char((unsigned char)value[i])) {
            snprintf(err, errlen, "the value of %.*s holds a control character (CR, LF or another)", (int)name_len,
                     text);
            return -1;
        }
    if (append_field(site->file_fields, &site->file_fields_len, text, name_len, value, value_len) != 0 ||
        (always && append_field(site->error_fields, &site->error_fields_len, text, name_len, value, value_len))) {
        snprintf(err, errlen, "the added headers exceed %d bytes", HTTP_SITE_FIELDS_MAX);
        return -1;
    }
    return 0;
}

/* An origin (RFC 6454 §6.1): scheme "://" host [":" port], no path. */
static int valid_origin(const char *o)
{
    if (strcmp(o, "*") == 0 || strcmp(o, "null") == 0)
        return 1;
    const char *sep = strstr(o, "://");
    if (!sep || sep == o)
        return 0;
    for (const char *p = o; p < sep; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '+' ||
              *p == '-' || *p == '.'))
            return 0;
    const char *host = sep + 3;
    if (*host == '\0')
        return 0;
    for (const char *p = host; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("-._:[]", *p)))
            return 0;
    return 1;
}

int http_site_set_cors(struct http_site *site, const char *origin, char *err, size_t errlen)
{
    static const char name[] = "Access-Control-Allow-Origin";
    if (!origin)
        origin = "*";
    if (site->cors) {
        snprintf(err, errlen, "--cors is given once");
        return -1;
    }
    if (!valid_origin(origin)) {
        snprintf(err, errlen, "\"%s\" is not an origin (*, null or scheme://host[:port])", origin);
        return -1;
    }
    site->cors = 1;
    site->cors_vary = strcmp(origin, "*") != 0;
    size_t n = strlen(origin);
    int bad = append_field(site->file_fields, &site->file_fields_len, name, sizeof name - 1, origin, n) ||
              append_field(site->error_fields, &site->error_fields_len, name, sizeof name - 1, origin, n);
    /* A named origin: a cache must not hand this answer to another origin. */
    if (!bad && site->cors_vary)
        bad = append_field(site->file_fields, &site->file_fields_len, "Vary", 4, "Origin", 6) ||
              append_field(site->error_fields, &site->error_fields_len, "Vary", 4, "Origin", 6);
    if (bad) {
        snprintf(err, errlen, "the added headers exceed %d bytes", HTTP_SITE_FIELDS_MAX);
        return -1;
    }
    return 0;
}

/* A path under the root, normalised, naming a file (no trailing '/' unless
 * it is a directory whose index answers). */
static long site_path(const char *text, char *out, size_t cap, const char *flag, char *err, size_t errlen)
{
    if (text[0] != '/') {
        snprintf(err, errlen, "%s wants a path under the root starting with '/', not \"%s\"", flag, text);
        return -1;
    }
    long n = http_path_normalize(text, strlen(text), out, cap);
    if (n < 0 || strchr(text, '?') || strchr(text, '#')) {
        snprintf(err, errlen, "%s: \"%s\" is not a path under the root", flag, text);
        return -1;
    }
    return n;
}

int http_site_set_fallback(struct http_site *site, const char *path, char *err, size_t errlen)
{
    long n = site_path(path, site->fallback, sizeof site->fallback, "--fallback", err, errlen);
    if (n < 0) {
        site->fallback[0] = '\0';
        return -1;
    }
    site->fallback_len = (size_t)n;
    return 0;
}

int http_site_add_error_page(struct http_site *site, const char *spec, char *err, size_t errlen)
{
    char *end;
    long status = strtol(spec, &end, 10);
    if (end == spec || *end != '=' || status < 400 || status > 599 || spec[0] < '0' || spec[0] > '9') {
        snprintf(err, errlen, "--error-page wants CODE=PATH with CODE from 400 to 599, not \"%s\"", spec);
        return -1;
    }
    if (site->page_count == HTTP_SITE_PAGES_MAX) {
        snprintf(err, errlen, "at most %d --error-page", HTTP_SITE_PAGES_MAX);
        return -1;
    }
    if (http_site_page_for(site, (int)status) >= 0) {
        snprintf(err, errlen, "--error-page %ld given twice", status);
        return -1;
    }
    struct http_error_page *p = &site->pages[site->page_count];
    const char *path = end + 1;
    long n = site_path(path, p->path, sizeof p->path, "--error-page", err, errlen);
    if (n < 0)
        return -1;
    if (path[strlen(path) - 1] == '/') { /* normalising keeps a trailing '/' */
        snprintf(err, errlen, "--error-page %ld: \"%s\" names a directory, not a file", status, end + 1);
        return -1;
    }
    p->status = (int)status;
    p->len = (size_t)n;
    site->page_count++;
    return 0;
}

int http_site_page_for(const struct http_site *site, int status)
{
    for (int i = 0; i < site->page_count; i++)
        if (site->pages[i].status == status)
            return i;
    return -1;
}

int http_site_active(const struct http_site *site)
{
    return site->file_fields_len || site->error_fields_len || site->cors || site->fallback_len || site->try_html ||
           site->page_count || site->vhosts;
}

static int host_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

static size_t ipv6_literal(const char *v, size_t len, char *out)
{
    const char *close = memchr(v, ']', len);
    if (!close || close - v < 3 || (size_t)(close - v) + 1 >= HTTP_SITE_HOST_MAX)
        return 0;
    size_t n = (size_t)(close - v) + 1;
    for (size_t i = 1; i + 1 < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.') ||
            (c == '.' && v[i - 1] == '.'))
            return 0;
    }
    for (size_t i = n; i < len; i++) /* only ":port" may follow */
        if (!(i == n ? v[i] == ':' : v[i] >= '0' && v[i] <= '9'))
            return 0;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)(v[i] >= 'A' && v[i] <= 'Z' ? v[i] + 32 : v[i]);
    out[n] = '\0';
    return n;
}

size_t http_site_host(const char *v, size_t len, char *out)
{
    out[0] = '\0';
    if (len == 0)
        return 0;
    if (v[0] == '[')
        return ipv6_literal(v, len, out);
    const char *colon = memchr(v, ':', len);
    size_t n = colon ? (size_t)(colon - v) : len;
    for (size_t i = n + 1; colon && i < len; i++)
        if (v[i] < '0' || v[i] > '9')
            return 0;
    if (n > 0 && v[n - 1] == '.')
        n--; /* "example.com." is the same host */
    if (n == 0 || n >= HTTP_SITE_HOST_MAX || v[n - 1] == '.')
        return 0; /* "a.." is an empty last label */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        c = c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
        /* No empty label: that rules out "", ".", ".." and "a..b". */
        if (!host_char(c) || (c == '.' && (i == 0 || out[i - 1] == '.')))
            return 0;
        out[i] = (char)c;
    }
    out[n] = '\0';
    return n;
}

size_t http_site_request_headers(const char *v, size_t len, char *out, size_t cap)
{
    size_t n = 0, i = 0;
    while (i < len) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t start = i;
        while (i < len && is_tchar((unsigned char)v[i]))
            i++;
        if (i == start) {
            if (i < len)
                return 0; /* neither a token nor a separator */
            break;
        }
        if (n + (n ? 2 : 0) + (i - start) > cap)
            return 0;
        if (n) {
            out[n++] = ',';
            out[n++] = ' ';
        }
        for (size_t k = start; k < i; k++)
            out[n++] = (char)(v[k] >= 'A' && v[k] <= 'Z' ? v[k] + 32 : v[k]);
        while (i < len && (v[i] == ' ' || v[i] == '\t'))
            i++;
        if (i < len && v[i] != ',')
            return 0;
    }
    return n;
}

int http_site_looks_like_file(const char *path, size_t len)
{
    size_t i = len;
    while (i > 0 && path[i - 1] != '/') {
        if (path[i - 1] == '.')
            return 1;
        i--;
    }
    return 0;
}
