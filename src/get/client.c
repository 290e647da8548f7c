/* The HTTP/1.1 exchange of duct get: one connection kept across URLs on the
 * same host, a request written at once, the response head parsed with
 * http_parse_response and its body framed by http_response_interpret
 * (Content-Length, chunked, or until the close), redirects followed. Reads
 * and writes block, bounded by --timeout through socket timeouts. An https
 * connection runs the same exchange through SSL_read/SSL_write (get/tls.c). */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "get/get.h"
#include "get/output.h"
#include "get/tls.h"
#include "tls/client.h"
#include "get/url.h"
#include "http/chunked.h"
#include "http/parse.h"
#include "http/response.h"
#include "net/sock.h"

#ifndef DUCT_VERSION
#define DUCT_VERSION "0.0.0"
#endif

#define CONN_BUF 65536
#define MAX_HEAD 32768
#define REQUEST_MAX 16384
#define MAX_REDIRECTS 10
#define MAX_ADDRS 8
/* A stale kept connection is noticed on the first read: retry once. */
#define RETRY_STALE 1

struct conn {
    int fd;
    SSL *ssl;     /* an https connection; NULL in clear */
    int reused;   /* the current exchange runs on a kept connection */
    int reusable; /* the last response left the connection fit for another */
    int got_any;  /* a byte of the current response has arrived */
    char key[GET_URL_HOST_MAX + 32]; /* what it is connected to: "https://host:port" or the socket path */
    size_t start, end;               /* received, unconsumed: buf[start..end) */
    char buf[CONN_BUF];
};

struct client {
    const struct get_config *cfg;
    SSL_CTX *tls; /* made at the first https URL */
    struct conn c;
    char req[REQUEST_MAX];
};

/* One request and its response head. */
struct exchange {
    const struct get_url *url;
    const char *method;
    int with_data;
    int is_head;
    uint64_t range_from; /* > 0: ask for bytes from here on (-C) */
    struct http_response res;
    struct http_response_info info;
};

static void say(const struct client *cl, const char *fmt, const char *arg)
{
    if (cl->cfg->verbose) {
        fputs("* ", stderr);
        fprintf(stderr, fmt, arg);
        fputc('\n', stderr);
    }
}

/* A head as curl -v shows it: each line behind "> " or "< ". */
static void show_head(const char *prefix, const char *p, size_t n)
{
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t line = nl ? (size_t)(nl - p) + 1 : n;
        size_t shown = line;
        while (shown > 0 && (p[shown - 1] == '\n' || p[shown - 1] == '\r'))
            shown--;
        fprintf(stderr, "%s%.*s\n", prefix, (int)shown, p);
        p += line;
        n -= line;
    }
}

static void conn_close(struct conn *c)
{
    get_tls_end(c->ssl, c->reusable);
    c->ssl = NULL;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->reusable = 0;
    c->start = c->end = 0;
}

static void set_timeouts(int fd, int timeout_ms)
{
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    if (timeout_ms < 0)
        return;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* Non-blocking connect bounded by timeout_ms; the socket is made blocking
 * again. The descriptor, or -1 with errno (ETIMEDOUT when the bound hit). */
static int connect_one(const struct net_addr *addr, int timeout_ms)
{
    struct pollfd p = {.events = POLLOUT};
    int err = 0, n;
    socklen_t len = sizeof err;
    p.fd = net_connect(addr, NET_NONBLOCK, NULL);
    if (p.fd < 0)
        return -1;
    do
        n = poll(&p, 1, timeout_ms);
    while (n < 0 && errno == EINTR);
    if (n > 0 && getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0 && net_set_nonblock(p.fd, 0) == 0)
        return p.fd;
    err = n == 0 ? ETIMEDOUT : err ? err : errno;
    close(p.fd);
    errno = err;
    return -1;
}

/* Tries each address the name resolved to, in the resolver's order. */
static int connect_tcp(struct client *cl, const struct get_url *url)
{
    struct net_addr addrs[MAX_ADDRS];
    char err[300], text[NET_ADDR_TEXT_MAX];
    int n = net_resolve(url->host, url->port, addrs, MAX_ADDRS, err, sizeof err);
    if (n < 0) {
        fprintf(stderr, "duct get: %s\n", err);
        return GET_RESOLVE;
    }
    for (int i = 0; i < n; i++) {
        say(cl, "Trying %s...", net_addr_format(&addrs[i], text, sizeof text));
        cl->c.fd = connect_one(&addrs[i], cl->cfg->timeout_ms);
        if (cl->c.fd >= 0)
            return GET_OK;
    }
    fprintf(stderr, "duct get: cannot connect to %s port %u: %s\n", url->host, url->port, strerror(errno));
    return errno == ETIMEDOUT ? GET_TIMEOUT : GET_CONNECT;
}

static int connect_unix(struct client *cl)
{
    struct net_addr addr;
    char text[300], err[300];
    snprintf(text, sizeof text, "unix:%s", cl->cfg->unix_socket);
    if (net_addr_parse(text, &addr, err, sizeof err) != 0) {
        fprintf(stderr, "duct get: --unix-socket: %s\n", err);
        return GET_USAGE;
    }
    cl->c.fd = connect_one(&addr, cl->cfg->timeout_ms);
    if (cl->c.fd >= 0)
        return GET_OK;
    fprintf(stderr, "duct get: cannot connect to %s: %s\n", cl->cfg->unix_socket, strerror(errno));
    return errno == ETIMEDOUT ? GET_TIMEOUT : GET_CONNECT;
}

/* Keeps the open connection when it leads to the same place and the last
 * response allowed it; otherwise opens a new one. */
static int conn_open(struct client *cl, const struct get_url *url)
{
    struct conn *c = &cl->c;
    char key[sizeof c->key];
    if (cl->cfg->unix_socket)
        snprintf(key, sizeof key, "%s%s%s", url->tls ? "https://" : "", url->tls ? url->host : "", cl->cfg->unix_socket);
    else
        snprintf(key, sizeof key, "%s%s:%u", url->tls ? "https://" : "", url->host, url->port);
    c->got_any = 0;
    c->reused = c->fd >= 0 && c->reusable && strcmp(key, c->key) == 0;
    if (c->reused) {
        say(cl, "Re-using the connection to %s", key);
        return GET_OK;
    }
    conn_close(c);
    int status = url->tls ? get_tls_context(&cl->tls, cl->cfg) : GET_OK;
    if (status == GET_OK)
        status = cl->cfg->unix_socket ? connect_unix(cl) : connect_tcp(cl, url);
    if (status != GET_OK)
        return status;
    say(cl, "Connected to %s", key);
    set_timeouts(c->fd, cl->cfg->timeout_ms);
    net_set_nodelay(c->fd);
    if (url->tls && (status = get_tls_start(&cl->tls, cl->cfg, c->fd, url->host, &c->ssl)) != GET_OK) {
        conn_close(c);
        return status;
    }
    snprintf(c->key, sizeof c->key, "%s", key);
    return GET_OK;
}

/* Reads more into the buffer. 1 when bytes came, 0 at the end of the
 * stream, or an exit status negated. */
static int fill(struct client *cl)
{
    struct conn *c = &cl->c;
    if (c->start > 0) {
        memmove(c->buf, c->buf + c->start, c->end - c->start);
        c->end -= c->start;
        c->start = 0;
    }
    if (c->end == sizeof c->buf)
        return -GET_WEIRD;
    ssize_t n;
    do
        n = c->ssl ? tls_client_recv(c->ssl, c->buf + c->end, sizeof c->buf - c->end, "duct get")
                   : recv(c->fd, c->buf + c->end, sizeof c->buf - c->end, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        fprintf(stderr, "duct get: no data for %d ms (--timeout)\n", cl->cfg->timeout_ms);
        return -GET_TIMEOUT;
    }
    if (n < 0) {
        if (!(c->reused && !c->got_any) && errno != EPROTO)
            fprintf(stderr, "duct get: recv: %s\n", strerror(errno));
        return -GET_RECV;
    }
    c->got_any |= n > 0;
    c->end += (size_t)n;
    return n > 0;
}

static int send_all(struct client *cl, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = cl->c.ssl ? tls_client_send(cl->c.ssl, p, n, "duct get") : send(cl->c.fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            if (errno != EPROTO)
                fprintf(stderr, "duct get: send: %s\n", strerror(errno));
            return errno == EAGAIN || errno == EWOULDBLOCK ? GET_TIMEOUT : GET_RECV;
        }
        p += w;
        n -= (size_t)w;
    }
    return GET_OK;
}

/* A user header replaces the default of the same name; "Name:" with no
 * value removes it (curl's rules). */
static int user_overrides(const struct get_config *cfg, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < cfg->header_count; i++)
        if (strncasecmp(cfg->headers[i], name, n) == 0 && cfg->headers[i][n] == ':')
            return 1;
    return 0;
}

static int value_is_empty(const char *header)
{
    const char *v = strchr(header, ':') + 1;
    return v[strspn(v, " \t")] == '\0';
}

/* Appends to the request; -1 when it does not fit. */
__attribute__((format(printf, 3, 4))) static int put(char *req, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(req + *len, REQUEST_MAX - *len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= REQUEST_MAX - *len)
        return -1;
    *len += (size_t)n;
    return 0;
}

static long build_request(struct client *cl, const struct exchange *ex)
{
    const struct get_config *cfg = cl->cfg;
    size_t len = 0;
    int bad = put(cl->req, &len, "%s %s HTTP/1.1\r\n", ex->method, ex->url->target);
    if (!user_overrides(cfg, "host")) {
        char authority[GET_URL_HOST_MAX + 16];
        bad |= put(cl->req, &len, "Host: %s\r\n", get_url_authority(ex->url, authority, sizeof authority));
    }
    if (!user_overrides(cfg, "user-agent"))
        bad |= put(cl->req, &len, "User-Agent: duct/%s\r\n", DUCT_VERSION);
    if (!user_overrides(cfg, "accept"))
        bad |= put(cl->req, &len, "Accept: */*\r\n");
    if (ex->range_from > 0 && !user_overrides(cfg, "range"))
        bad |= put(cl->req, &len, "Range: bytes=%llu-\r\n", (unsigned long long)ex->range_from);
    if (ex->with_data && !user_overrides(cfg, "content-length"))
        bad |= put(cl->req, &len, "Content-Length: %zu\r\n", cfg->data_len);
    if (ex->with_data && !user_overrides(cfg, "content-type"))
        bad |= put(cl->req, &len, "Content-Type: application/x-www-form-urlencoded\r\n");
    for (int i = 0; i < cfg->header_count; i++)
        if (!value_is_empty(cfg->headers[i]))
            bad |= put(cl->req, &len, "%s\r\n", cfg->headers[i]);
    bad |= put(cl->req, &len, "\r\n");
    return bad ? -1 : (long)len;
}

/* The final response head; interim 1xx heads (100 Continue) are skipped. */
static int read_head(struct client *cl, struct exchange *ex)
{
    struct conn *c = &cl->c;
    for (;;) {
        int rc = http_parse_response(c->buf + c->start, c->end - c->start, MAX_HEAD, &ex->res);
        if (rc == HTTP_PARSE_ERROR) {
            fprintf(stderr, "duct get: the server's reply is not an HTTP/1.x response head\n");
            return GET_WEIRD;
        }
        if (rc > 0 && ex->res.status >= 200) {
            if (cl->cfg->verbose)
                show_head("< ", c->buf + c->start, (size_t)rc);
            return GET_OK;
        }
        if (rc > 0) {
            c->start += (size_t)rc;
            continue;
        }
        int got = fill(cl);
        if (got == 0 && !c->got_any)
            return GET_EMPTY;
        if (got == 0) {
            fprintf(stderr, "duct get: the connection closed inside the response head\n");
            return GET_WEIRD;
        }
        if (got < 0)
            return -got;
    }
}

/* Sends the request on a kept or new connection and reads the head. A kept
 * connection that the server had closed meanwhile fails before the first
 * byte: that is retried once on a new connection. */
static int send_and_read_head(struct client *cl, struct exchange *ex)
{
    long len = build_request(cl, ex);
    if (len < 0) {
        fprintf(stderr, "duct get: the request head is longer than %d bytes\n", REQUEST_MAX);
        return GET_USAGE;
    }
    for (int attempt = 0;; attempt++) {
        int status = conn_open(cl, ex->url);
        if (status != GET_OK)
            return status;
        if (cl->cfg->verbose)
            show_head("> ", cl->req, (size_t)len);
        status = send_all(cl, cl->req, (size_t)len);
        if (status == GET_OK && ex->with_data)
            status = send_all(cl, cl->cfg->data, cl->cfg->data_len);
        if (status == GET_OK)
            status = read_head(cl, ex);
        int stale = cl->c.reused && !cl->c.got_any && status != GET_OK && status != GET_TIMEOUT;
        if (!stale || attempt == RETRY_STALE) {
            if (status == GET_EMPTY)
                fprintf(stderr, "duct get: empty reply from server\n");
            return status;
        }
        say(cl, "%s", "the kept connection was closed by the server: reconnecting");
        conn_close(&cl->c);
    }
}

/* Hands len buffered body bytes to the sink (NULL: discard). */
static int take(struct client *cl, struct get_sink *sink, size_t len)
{
    const char *p = cl->c.buf + cl->c.start;
    cl->c.start += len;
    return sink && len ? get_sink_write(sink, p, len) : GET_OK;
}

static int body_until_close(struct client *cl, struct get_sink *sink)
{
    for (;;) {
        int status = take(cl, sink, cl->c.end - cl->c.start);
        int got = status == GET_OK ? fill(cl) : -status;
        if (got <= 0)
            return -got;
    }
}

static int body_length(struct client *cl, struct get_sink *sink, uint64_t left)
{
    while (left > 0) {
        size_t have = cl->c.end - cl->c.start;
        size_t n = have < left ? have : (size_t)left;
        int status = take(cl, sink, n);
        left -= n;
        int got = status != GET_OK ? -status : left > 0 ? fill(cl) : 1;
        if (got == 0) {
            fprintf(stderr, "duct get: the connection closed with %llu body bytes missing\n",
                    (unsigned long long)left);
            return GET_PARTIAL;
        }
        if (got < 0)
            return -got;
    }
    return GET_OK;
}

static int body_chunked(struct client *cl, struct get_sink *sink)
{
    struct http_chunked d;
    http_chunked_init(&d, 4096, MAX_HEAD);
    while (!http_chunked_done(&d)) {
        struct http_span data = {NULL, 0};
        long n = http_chunked_decode(&d, cl->c.buf + cl->c.start, cl->c.end - cl->c.start, &data);
        if (n < 0) {
            fprintf(stderr, "duct get: malformed chunked body\n");
            return GET_WEIRD;
        }
        cl->c.start += (size_t)n;
        if (data.len > 0 && sink && get_sink_write(sink, data.ptr, data.len) != 0)
            return GET_WRITE;
        if (http_chunked_done(&d) || (n > 0 && cl->c.start < cl->c.end))
            continue;
        int got = fill(cl);
        if (got == 0) {
            fprintf(stderr, "duct get: the connection closed inside a chunked body\n");
            return GET_PARTIAL;
        }
        if (got < 0)
            return -got;
    }
    return GET_OK;
}

/* Reads the body the head announced; the connection stays only when the
 * response said so and nothing unexpected follows it. */
static int read_body(struct client *cl, const struct exchange *ex, struct get_sink *sink)
{
    int status = GET_OK;
    cl->c.start += ex->res.head_len;
    cl->c.reusable = 0;
    switch (ex->info.framing) {
    case HTTP_BODY_NONE:
        break;
    case HTTP_BODY_LENGTH:
        status = body_length(cl, sink, ex->info.content_length);
        break;
    case HTTP_BODY_CHUNKED:
        status = body_chunked(cl, sink);
        break;
    case HTTP_BODY_UNTIL_CLOSE:
        return body_until_close(cl, sink);
    }
    cl->c.reusable = status == GET_OK && ex->info.keep_alive && cl->c.start == cl->c.end;
    return status;
}

static int is_redirect(int status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* -I prints every head, as received, to stdout. */
static int print_head(const struct client *cl, const struct exchange *ex)
{
    const char *p = cl->c.buf + cl->c.start;
    if (fwrite(p, 1, ex->res.head_len, stdout) != ex->res.head_len || fflush(stdout) != 0)
        return GET_WRITE;
    return GET_OK;
}

/* Where the redirect goes, and with which method: 303 turns any method
 * into GET, and 301 and 302 turn POST into GET, as browsers and curl do. */
static int next_hop(struct client *cl, struct exchange *ex, struct get_url *next)
{
    const struct http_header *loc = http_find_response_header(&ex->res, "location");
    char ref[GET_URL_TARGET_MAX], err[300];
    if (!loc || loc->value.len >= sizeof ref) {
        fprintf(stderr, "duct get: a %d redirect without a usable Location\n", ex->res.status);
        return GET_WEIRD;
    }
    memcpy(ref, loc->value.ptr, loc->value.len);
    ref[loc->value.len] = '\0';
    if (get_url_resolve(ex->url, ref, next, err, sizeof err) != 0) {
        fprintf(stderr, "duct get: redirect to \"%s\": %s\n", ref, err);
        return GET_UNSUPPORTED;
    }
    if (ex->res.status == 303 || ((ex->res.status == 301 || ex->res.status == 302) && strcmp(ex->method, "POST") == 0)) {
        ex->method = ex->is_head ? "HEAD" : "GET";
        ex->with_data = 0;
    }
    say(cl, "Following the redirect to %s", next->target);
    return GET_OK;
}

/* Whether a response to a Range request may be appended to the file: only
 * a 206 that starts where the file ends. A 200 means the server ignored the
 * Range; the partial file is left alone, as curl does (exit 33). */
static int check_resume(const struct exchange *ex, struct get_sink *sink)
{
    const struct http_header *cr = http_find_response_header(&ex->res, "content-range");
    if (ex->range_from == 0)
        return GET_OK;
    if (ex->res.status == 206) {
        char want[64];
        int n = snprintf(want, sizeof want, "bytes %llu-", (unsigned long long)ex->range_from);
        if (!cr || cr->value.len < (size_t)n || strncasecmp(cr->value.ptr, want, (size_t)n) != 0) {
            fprintf(stderr, "duct get: the server resumed at the wrong place (Content-Range: %.*s)\n",
                    cr ? (int)cr->value.len : 1, cr ? cr->value.ptr : "-");
            return GET_RANGE;
        }
        sink->append = 1;
        return GET_OK;
    }
    fprintf(stderr, "duct get: the server does not support byte ranges (status %d): cannot resume\n",
            ex->res.status);
    return GET_RANGE;
}

/* The file is complete when the server answers 416 to a Range request from its end. */
static int already_complete(const struct exchange *ex)
{
    return ex->range_from > 0 && ex->res.status == 416;
}

static int deliver(struct client *cl, struct exchange *ex, struct get_sink *sink)
{
    int status = GET_OK;
    if (cl->cfg->head)
        status = print_head(cl, ex);
    if (status == GET_OK && cl->cfg->fail && ex->res.status >= 400 && !already_complete(ex)) {
        fprintf(stderr, "duct get: the server answered %d\n", ex->res.status);
        read_body(cl, ex, NULL);
        return GET_HTTP_ERROR;
    }
    if (status == GET_OK && already_complete(ex)) {
        say(cl, "%s", "the file is already complete");
        read_body(cl, ex, NULL);
        return GET_OK;
    }
    if (status == GET_OK)
        status = check_resume(ex, sink);
    if (status != GET_OK) {
        conn_close(&cl->c);
        return status;
    }
    get_sink_begin(sink, ex->info.framing == HTTP_BODY_LENGTH ? ex->info.content_length : 0, cl->cfg->verbose);
    status = read_body(cl, ex, sink);
    int closed = get_sink_finish(sink, status == GET_OK);
    return status != GET_OK ? status : closed;
}

static int fetch(struct client *cl, const struct get_url *first, struct get_sink *sink)
{
    const struct get_config *cfg = cl->cfg;
    struct get_url urls[2];
    struct exchange ex = {.url = first, .is_head = cfg->head, .with_data = cfg->has_data};
    ex.method = cfg->method ? cfg->method : cfg->head ? "HEAD" : cfg->has_data ? "POST" : "GET";
    ex.is_head = strcmp(ex.method, "HEAD") == 0;
    ex.range_from = sink->resume_from;
    for (int hops = 0;; hops++) {
        int status = send_and_read_head(cl, &ex);
        if (status == GET_OK && http_response_interpret(&ex.res, ex.is_head, &ex.info) != 0) {
            fprintf(stderr, "duct get: the response's body framing cannot be trusted\n");
            status = GET_WEIRD;
        }
        if (status != GET_OK) {
            conn_close(&cl->c);
            return status;
        }
        if (!cfg->follow || !is_redirect(ex.res.status))
            return deliver(cl, &ex, sink);
        if (hops == MAX_REDIRECTS) {
            fprintf(stderr, "duct get: more than %d redirects\n", MAX_REDIRECTS);
            return GET_REDIRECTS;
        }
        struct get_url *next = &urls[hops % 2];
        if (cfg->head && print_head(cl, &ex) != GET_OK)
            return GET_WRITE;
        status = next_hop(cl, &ex, next);
        if (status == GET_OK)
            status = read_body(cl, &ex, NULL);
        if (status != GET_OK)
            return status;
        ex.url = next;
    }
}

static int open_sink(const struct get_config *cfg, const struct get_url *url, struct get_sink *sink, char *name,
                     size_t namelen)
{
    const char *path = cfg->remote_name ? get_url_file_name(url, name, namelen) : cfg->output;
    if (cfg->remote_name && !path) {
        fprintf(stderr, "duct get: -O: the URL %s names no file\n", url->target);
        return GET_WRITE;
    }
    return get_sink_init(sink, path, cfg->resume);
}

int get_run(const struct get_config *cfg, char **urls, int count)
{
    static struct client cl;
    struct get_url url;
    struct get_sink sink;
    char err[300], name[GET_URL_TARGET_MAX];
    int status = GET_OK;
    memset(&cl, 0, sizeof cl);
    cl.cfg = cfg;
    cl.c.fd = -1;
    for (int i = 0; i < count && status == GET_OK; i++) {
        int rc = get_url_parse(urls[i], &url, err, sizeof err);
        if (rc != 0) {
            fprintf(stderr, "duct get: %s\n", err);
            status = rc == GET_URL_UNSUPPORTED ? GET_UNSUPPORTED : GET_BAD_URL;
            break;
        }
        status = open_sink(cfg, &url, &sink, name, sizeof name);
        if (status == GET_OK)
            status = fetch(&cl, &url, &sink);
        if (sink.path && sink.fd >= 0)
            close(sink.fd);
    }
    conn_close(&cl.c);
    SSL_CTX_free(cl.tls);
    return status;
}
