/* libFuzzer target for the clients' URL readers: duct get's parser and its
 * resolution of a Location against the URL it came from (src/get/url.c), and
 * duct bench's parser (src/bench/url.c). The first byte picks which; for a
 * resolution, a '\n' separates the base URL from the reference.
 *
 * Whatever the text, a URL that parses must be one a request can be built
 * from: a host with no byte that would end the authority, a port in range,
 * and a request-target of visible ASCII with no fragment and no dot segment.
 * get's parser must be idempotent (its URL, written out, parses to itself)
 * and its resolution must agree with RFC 3986 §5.2's shortcuts: a reference
 * with a scheme is parsed as it is, one with an authority as the base's
 * scheme + ":" + ref.
 * Strings are exact-size heap copies, so ASan catches any over-read. */
#include "bench/url.h"
#include "get/url.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int ok)
{
    if (!ok)
        abort();
}

static char *copy_string(const uint8_t *data, size_t n)
{
    char *s = malloc(n + 1);
    require(s != NULL);
    memcpy(s, data, n);
    s[n] = '\0';
    return s;
}

static int visible(unsigned char c)
{
    return c > 0x20 && c < 0x7f;
}

/* No "." or ".." segment in the path part of a target (RFC 3986 §5.2.4). */
static void check_no_dot_segments(const char *target)
{
    size_t end = strcspn(target, "?");
    for (size_t i = 0; i < end; i++) {
        if (target[i] != '/')
            continue;
        size_t seg = strcspn(target + i + 1, "/?");
        require(!(seg == 1 && target[i + 1] == '.'));
        require(!(seg == 2 && target[i + 1] == '.' && target[i + 2] == '.'));
    }
}

static void check_target(const char *target, size_t cap)
{
    size_t len = strnlen(target, cap);
    require(len < cap && len > 0 && target[0] == '/');
    for (size_t i = 0; i < len; i++)
        require(visible((unsigned char)target[i]) && target[i] != '#');
    check_no_dot_segments(target);
}

static int same_get_url(const struct get_url *a, const struct get_url *b)
{
    return strcmp(a->host, b->host) == 0 && a->ipv6 == b->ipv6 && a->port == b->port && a->tls == b->tls &&
           strcmp(a->target, b->target) == 0;
}

/* What holds for every URL get_url_parse or get_url_resolve gives. */
static void check_get_url(const struct get_url *u)
{
    static char text[GET_URL_TARGET_MAX + GET_URL_HOST_MAX + 32];
    static struct get_url again;
    char auth[GET_URL_HOST_MAX + 16], name[256];
    size_t host_len = strnlen(u->host, sizeof u->host);

    require(host_len > 0 && host_len < sizeof u->host);
    for (size_t i = 0; i < host_len; i++) {
        unsigned char c = (unsigned char)u->host[i];
        require(visible(c) && !strchr("/?#[]@\\", c) && !(c >= 'A' && c <= 'Z'));
    }
    require(u->port >= 1 && u->port <= 65535 && (u->port_given || u->port == (u->tls ? 443u : 80u)));
    check_target(u->target, sizeof u->target);
    snprintf(text, sizeof text, "%s://%s%s", u->tls ? "https" : "http", get_url_authority(u, auth, sizeof auth),
             u->target);
    require(get_url_parse(text, &again, NULL, 0) == 0 && same_get_url(u, &again));
    const char *file = get_url_file_name(u, name, sizeof name);
    if (file) {
        require(file == name && name[0] != '\0' && !strchr(name, '/'));
        require(strcmp(name, ".") != 0 && strcmp(name, "..") != 0);
    }
}

static void fuzz_get_parse(const char *text)
{
    static struct get_url u;
    char err[128];
    int rc = get_url_parse(text, &u, err, sizeof err);
    require(rc == 0 || rc == GET_URL_BAD || rc == GET_URL_UNSUPPORTED);
    if (rc == 0)
        check_get_url(&u);
}

/* The base's scheme + ref, on the heap: what a network-path reference must mean. */
static int parse_with_scheme(const char *ref, int tls, struct get_url *out)
{
    size_t n = strlen(ref), s = tls ? 6 : 5;
    char *text = malloc(n + 7);
    require(text != NULL);
    memcpy(text, tls ? "https:" : "http:", s);
    memcpy(text + s, ref, n + 1);
    int rc = get_url_parse(text, out, NULL, 0);
    free(text);
    return rc;
}

static void fuzz_get_resolve(char *text)
{
    static struct get_url base, out, direct;
    char *ref = strchr(text, '\n');
    if (!ref)
        return;
    *ref++ = '\0';
    if (get_url_parse(text, &base, NULL, 0) != 0)
        return;
    int rc = get_url_resolve(&base, ref, &out, NULL, 0);
    require(rc == 0 || rc == GET_URL_BAD || rc == GET_URL_UNSUPPORTED);
    size_t scheme = strcspn(ref, ":/?#");
    if (ref[scheme] == ':' && scheme > 0) {
        require(get_url_parse(ref, &direct, NULL, 0) == rc);
        require(rc != 0 || same_get_url(&out, &direct));
    } else if (ref[0] == '/' && ref[1] == '/') {
        require(parse_with_scheme(ref, base.tls, &direct) == rc);
        require(rc != 0 || same_get_url(&out, &direct));
    } else if (rc == 0) {
        /* A relative reference keeps the base's authority; its result,
         * given again as an absolute-path reference, resolves to itself. */
        require(strcmp(out.host, base.host) == 0 && out.port == base.port);
        if (out.target[1] != '/') {
            require(get_url_resolve(&base, out.target, &direct, NULL, 0) == 0);
            require(same_get_url(&out, &direct));
        }
    }
    if (rc == 0)
        check_get_url(&out);
}

static void fuzz_bench_parse(const char *text)
{
    static struct bench_url u;
    char err[128];
    if (bench_url_parse(text, &u, err, sizeof err) != 0)
        return;
    /* The authority is the text between "://" and the path, as written. */
    const char *auth = strstr(text, "://") + 3;
    size_t auth_len = strcspn(auth, "/?#");
    require(strlen(u.authority) == auth_len && memcmp(u.authority, auth, auth_len) == 0);
    size_t host_len = strnlen(u.host, sizeof u.host);
    require(host_len > 0 && host_len < sizeof u.host);
    for (size_t i = 0; i < host_len; i++)
        require(visible((unsigned char)u.host[i]) && !strchr("/?#@", u.host[i]));
    require(u.port >= 1 && u.port <= 65535);
    require(strnlen(u.addr, sizeof u.addr) < sizeof u.addr - 1);
    size_t path_len = strnlen(u.path, sizeof u.path);
    require(path_len > 0 && path_len < sizeof u.path && u.path[0] == '/');
    for (size_t i = 0; i < path_len; i++)
        require(visible((unsigned char)u.path[i]) && u.path[i] != '#');
    require(u.scheme == BENCH_HTTP || strcmp(u.path, "/") == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    char *text = copy_string(data + 1, size - 1);
    switch (data[0] % 3) {
    case 0:
        fuzz_get_parse(text);
        break;
    case 1:
        fuzz_get_resolve(text);
        break;
    default:
        fuzz_bench_parse(text);
        break;
    }
    free(text);
    return 0;
}
