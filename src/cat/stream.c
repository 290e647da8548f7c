/* Stream sockets: one poll loop moves stdin to the socket and the socket to
 * stdout at the same time, so neither direction waits for the other (two
 * blocking loops would deadlock once both peers fill their buffers). At the
 * end of stdin the write side is shut down (a half-close) and the rest of the
 * peer's reply is still printed; the peer's end of stream ends the process,
 * whatever stdin is doing. tls:// runs the same relay through SSL_read and
 * SSL_write once the handshake is done (cat/tls.c); its half-close is a
 * close_notify before the TCP one. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cat/cat.h"
#include "net/sock.h"
#include "tls/client.h"

#include <openssl/ssl.h>

#define RELAY_BUF 65536
#define LISTEN_BACKLOG 16

struct relay {
    int sock;
    SSL *ssl;      /* tls://: the connection's TLS, NULL in clear */
    SSL_CTX *tls;  /* tls://: the context every connection's TLS comes from */
    int timeout_ms;
    int no_shutdown;
    int in_eof;    /* stdin is read no further; lasts across --keep-open clients */
    int shut;      /* our write side is shut down */
    int sock_eof;  /* the peer finished sending */
    int broken;    /* the peer stopped reading before stdin ended */
    size_t up_off, up_len; /* stdin bytes not yet sent: up[up_off..up_len) */
    char up[RELAY_BUF];
    char down[RELAY_BUF];
};

/* stdout stays blocking (it may be a terminal shared with others): a slow
 * reader of our output slows us down, which is the back-pressure wanted. */
static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void send_pending(struct relay *r)
{
    while (r->up_off < r->up_len) {
        const char *p = r->up + r->up_off;
        size_t len = r->up_len - r->up_off;
        ssize_t n = r->ssl ? tls_client_send(r->ssl, p, len, "duct cat") : send(r->sock, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0) {
            /* The peer will take nothing more: stop feeding it, keep printing what it sends. */
            if (errno != EPROTO)
                fprintf(stderr, "duct cat: send: %s\n", strerror(errno));
            r->broken = 1;
            r->in_eof = 1;
            r->shut = 1;
            r->up_off = r->up_len = 0;
            return;
        }
        r->up_off += (size_t)n;
    }
    r->up_off = r->up_len = 0;
}

static void read_stdin(struct relay *r)
{
    ssize_t n = read(STDIN_FILENO, r->up, sizeof r->up);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        r->in_eof = 1;
        return;
    }
    r->up_off = 0;
    r->up_len = (size_t)n;
    send_pending(r);
}

/* Returns 0, or -1 when the connection failed (already reported). */
static int read_sock(struct relay *r)
{
    ssize_t n = r->ssl ? tls_client_recv(r->ssl, r->down, sizeof r->down, "duct cat") : recv(r->sock, r->down, sizeof r->down, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (n < 0) {
        if (errno != EPROTO)
            fprintf(stderr, "duct cat: recv: %s\n", strerror(errno));
        return -1;
    }
    if (n == 0) {
        r->sock_eof = 1;
        return 0;
    }
    if (write_all(STDOUT_FILENO, r->down, (size_t)n) != 0) {
        fprintf(stderr, "duct cat: write to stdout: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

static void maybe_shut(struct relay *r)
{
    if (!r->in_eof || r->up_len > 0 || r->shut || r->no_shutdown)
        return;
    if (r->ssl)
        cat_tls_shutdown(r->ssl);
    if (shutdown(r->sock, SHUT_WR) != 0 && errno != ENOTCONN)
        fprintf(stderr, "duct cat: shutdown: %s\n", strerror(errno));
    r->shut = 1;
}

/* Runs until the peer's end of stream (everything printed), an error, or
 * --timeout without a byte moving either way. */
static int relay_run(struct relay *r)
{
    while (!r->sock_eof) {
        int pending = r->up_len > 0;
        struct pollfd fds[2] = {
            {.fd = r->sock, .events = (short)(POLLIN | (pending ? POLLOUT : 0))},
            {.fd = r->in_eof || pending ? -1 : STDIN_FILENO, .events = POLLIN},
        };
        int n = cat_poll(fds, 2, r->timeout_ms);
        if (n < 0 && errno == EINTR) {
            if (cat_stop_requested)
                return CAT_OK;
            continue;
        }
        if (n < 0) {
            fprintf(stderr, "duct cat: poll: %s\n", strerror(errno));
            return CAT_FAILED;
        }
        if (n == 0) {
            fprintf(stderr, "duct cat: nothing moved for %d ms (--timeout)\n", r->timeout_ms);
            return CAT_TIMEOUT;
        }
        if (fds[1].revents)
            read_stdin(r);
        if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) && read_sock(r) != 0)
            return CAT_FAILED;
        if (fds[0].revents & POLLOUT)
            send_pending(r);
        maybe_shut(r);
    }
    return r->broken ? CAT_FAILED : CAT_OK;
}

/* Frees the connection's TLS and closes its socket. */
static void relay_close(struct relay *r, int fd)
{
    SSL_free(r->ssl);
    r->ssl = NULL;
    close(fd);
}

/* tls://: the handshake on a new connection. CAT_OK, or why it failed. */
static int relay_tls(const struct cat_config *cfg, struct relay *r, int fd)
{
    r->ssl = NULL;
    return r->tls ? cat_tls_handshake(r->tls, cfg, fd, &r->ssl) : CAT_OK;
}

static void relay_reset(struct relay *r, int sock)
{
    r->sock = sock;
    r->shut = r->sock_eof = r->broken = 0;
    r->up_off = r->up_len = 0;
    maybe_shut(r); /* stdin may have ended with an earlier client */
}

static int wait_fd(int fd, short events, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = events};
    int n;
    do {
        n = cat_poll(&p, 1, timeout_ms);
    } while (n < 0 && errno == EINTR && !cat_stop_requested);
    return n;
}

static int stream_connect(const struct cat_config *cfg, struct relay *r)
{
    const char *failed = "connect";
    int err = 0;
    socklen_t len = sizeof err;
    int fd = net_connect(&cfg->addr, NET_NONBLOCK, &failed);
    int n = fd >= 0 ? wait_fd(fd, POLLOUT, cfg->timeout_ms) : -1;
    if (fd >= 0 && n == 0) {
        fprintf(stderr, "duct cat: connect to %s: timed out after %d ms\n", cfg->text, cfg->timeout_ms);
        close(fd);
        return CAT_TIMEOUT;
    }
    if (n > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0)
        errno = err;
    if (n < 0 || err != 0) {
        fprintf(stderr, "duct cat: %s to %s: %s\n", failed, cfg->text, strerror(errno));
        if (fd >= 0)
            close(fd);
        return cat_stop_requested ? CAT_OK : CAT_CONNECT;
    }
    if (cfg->verbose)
        fprintf(stderr, "duct cat: connected to %s\n", cfg->text);
    int status = relay_tls(cfg, r, fd);
    if (status == CAT_OK) {
        relay_reset(r, fd);
        status = relay_run(r);
    }
    relay_close(r, fd);
    return status;
}

static void announce(const struct cat_config *cfg, int fd)
{
    struct net_addr bound = {.len = sizeof bound.sa, .family = cfg->addr.family};
    char text[NET_ADDR_TEXT_MAX + 16];
    if (getsockname(fd, (struct sockaddr *)&bound.sa, &bound.len) != 0)
        bound = cfg->addr;
    net_endpoint_format(&bound, cfg->socktype, text, sizeof text);
    if (cfg->tls && strncmp(text, "tcp://", 6) == 0)
        memcpy(text, "tls", 3);
    fprintf(stderr, "duct cat: listening on %s\n", text);
}

/* Serves one client at a time; with --keep-open the next one after it.
 * Without it the listener closes once its client is accepted, so that a
 * second client is refused rather than left waiting in the backlog. */
static int serve_clients(const struct cat_config *cfg, struct relay *r, int *lfd)
{
    for (;;) {
        int n = wait_fd(*lfd, POLLIN, cfg->timeout_ms);
        if (n == 0) {
            fprintf(stderr, "duct cat: no client within %d ms (--timeout)\n", cfg->timeout_ms);
            return CAT_TIMEOUT;
        }
        int fd = n > 0 ? net_accept(*lfd, 1, NULL, NULL) : -1;
        if (fd < 0) {
            if (cat_stop_requested)
                return CAT_OK;
            if (n > 0 && (errno == EAGAIN || errno == ECONNABORTED || errno == EINTR))
                continue;
            fprintf(stderr, "duct cat: accept: %s\n", strerror(errno));
            return CAT_FAILED;
        }
        if (!cfg->keep_open) {
            close(*lfd);
            *lfd = -1;
        }
        if (cfg->verbose)
            fprintf(stderr, "duct cat: client connected\n");
        /* A client that fails its handshake is gone; with --keep-open the next one is served. */
        int status = relay_tls(cfg, r, fd);
        if (status == CAT_OK) {
            relay_reset(r, fd);
            status = relay_run(r);
        }
        relay_close(r, fd);
        if (cfg->verbose)
            fprintf(stderr, "duct cat: client left\n");
        if (!cfg->keep_open || cat_stop_requested)
            return status;
    }
}

static int stream_listen(const struct cat_config *cfg, struct relay *r)
{
    const char *failed = "listen";
    const struct sockaddr_un *un = (const struct sockaddr_un *)&cfg->addr.sa;
    int lfd = net_listen(&cfg->addr, LISTEN_BACKLOG, NET_NONBLOCK, &failed);
    if (lfd < 0) {
        fprintf(stderr, "duct cat: %s on %s: %s\n", failed, cfg->text, strerror(errno));
        return CAT_CONNECT;
    }
    if (cfg->verbose)
        announce(cfg, lfd);
    int status = serve_clients(cfg, r, &lfd);
    if (lfd >= 0)
        close(lfd);
    if (cfg->addr.family == AF_UNIX && un->sun_path[0] != '\0')
        unlink(un->sun_path);
    return status;
}

int cat_stream_run(const struct cat_config *cfg)
{
    static struct relay r;
    memset(&r, 0, sizeof r);
    r.timeout_ms = cfg->timeout_ms;
    r.no_shutdown = cfg->no_shutdown;
    if (cfg->tls && !(r.tls = cat_tls_context(cfg)))
        return CAT_FAILED;
    int status = cfg->listen ? stream_listen(cfg, &r) : stream_connect(cfg, &r);
    SSL_CTX_free(r.tls);
    return status;
}
