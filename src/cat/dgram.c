/* Datagram sockets: no connection, so no accept, no half-close and no end
 * of stream. Each stdin line (its newline included) goes out as one
 * datagram, and each datagram received is printed as it comes. A listener
 * answers whoever sent it the latest datagram; the echo server answers each
 * datagram to its own sender, so it serves any number of clients with one
 * socket and one recvfrom/sendto loop (no concurrency model applies). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cat/cat.h"
#include "net/sock.h"

/* The largest UDP payload over IPv4; longer lines go out in pieces. */
#define DGRAM_MAX 65507
/* After stdin ends, replies are awaited until none came for this long. */
#define DGRAM_LINGER_MS 1000

struct dgram {
    const struct cat_config *cfg;
    int sock;
    int in_eof;
    int connected;      /* connect mode: send, not sendto */
    int have_peer;      /* listen mode: a datagram told whom to answer */
    struct sockaddr_storage peer;
    socklen_t peer_len;
    size_t in_len;      /* stdin bytes of an unfinished line */
    char in[DGRAM_MAX];
    char buf[DGRAM_MAX + 1];
};

static int send_one(struct dgram *d, const char *p, size_t n)
{
    ssize_t w;
    do {
        w = d->connected ? send(d->sock, p, n, 0)
                         : sendto(d->sock, p, n, 0, (const struct sockaddr *)&d->peer, d->peer_len);
    } while (w < 0 && errno == EINTR);
    if (w >= 0)
        return 0;
    fprintf(stderr, "duct cat: send to %s: %s\n", d->cfg->text, strerror(errno));
    return -1;
}

/* Sends every complete line buffered, and at the end of stdin the unfinished one. */
static int send_lines(struct dgram *d)
{
    size_t start = 0;
    for (size_t i = 0; i < d->in_len; i++) {
        if (d->in[i] != '\n')
            continue;
        if (send_one(d, d->in + start, i + 1 - start) != 0)
            return -1;
        start = i + 1;
    }
    int flush = start == 0 && d->in_len == sizeof d->in; /* one line longer than a datagram */
    if ((d->in_eof || flush) && start < d->in_len) {
        if (send_one(d, d->in + start, d->in_len - start) != 0)
            return -1;
        start = d->in_len;
    }
    memmove(d->in, d->in + start, d->in_len - start);
    d->in_len -= start;
    return 0;
}

static int read_stdin(struct dgram *d)
{
    ssize_t n = read(STDIN_FILENO, d->in + d->in_len, sizeof d->in - d->in_len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n <= 0)
        d->in_eof = 1;
    else
        d->in_len += (size_t)n;
    return send_lines(d);
}

static int print_datagram(struct dgram *d)
{
    d->peer_len = sizeof d->peer;
    ssize_t n = recvfrom(d->sock, d->buf, sizeof d->buf, 0, (struct sockaddr *)&d->peer, &d->peer_len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n < 0) {
        fprintf(stderr, "duct cat: recv from %s: %s\n", d->cfg->text, strerror(errno));
        return -1;
    }
    /* An unbound unix client has no address to answer. */
    d->have_peer = d->peer_len > sizeof(sa_family_t);
    for (ssize_t off = 0; off < n;) {
        ssize_t w = write(STDOUT_FILENO, d->buf + off, (size_t)(n - off));
        if (w < 0 && errno != EINTR)
            return -1;
        off += w > 0 ? w : 0;
    }
    return 0;
}

/* Connect mode and listen mode share this loop: stdin is read once there is
 * someone to send to. Ends at a stop signal, at --timeout without traffic,
 * or (connect mode) when the replies stop coming after stdin ended. */
static int exchange(struct dgram *d)
{
    int linger = d->cfg->timeout_ms >= 0 ? d->cfg->timeout_ms : DGRAM_LINGER_MS;
    for (;;) {
        int read_in = !d->in_eof && (d->connected || d->have_peer);
        struct pollfd fds[2] = {{.fd = d->sock, .events = POLLIN},
                                {.fd = read_in ? STDIN_FILENO : -1, .events = POLLIN}};
        int n = cat_poll(fds, 2, d->connected && d->in_eof ? linger : d->cfg->timeout_ms);
        if (n < 0 && errno == EINTR && cat_stop_requested)
            return CAT_OK;
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "duct cat: poll: %s\n", strerror(errno));
            return CAT_FAILED;
        }
        if (n == 0 && d->connected && d->in_eof)
            return CAT_OK;
        if (n == 0) {
            fprintf(stderr, "duct cat: nothing moved for %d ms (--timeout)\n", d->cfg->timeout_ms);
            return CAT_TIMEOUT;
        }
        if (n > 0 && fds[0].revents && print_datagram(d) != 0)
            return errno == ECONNREFUSED ? CAT_CONNECT : CAT_FAILED;
        if (n > 0 && fds[1].revents && read_stdin(d) != 0)
            return errno == ECONNREFUSED ? CAT_CONNECT : CAT_FAILED;
    }
}

/* RFC 862 over datagrams: each datagram goes back to its own sender. A
 * sender that vanished costs only its reply. */
static int echo(struct dgram *d)
{
    for (;;) {
        struct pollfd p = {.fd = d->sock, .events = POLLIN};
        int n = cat_poll(&p, 1, d->cfg->timeout_ms);
        if (n < 0 && errno == EINTR && cat_stop_requested)
            return CAT_OK;
        if (n == 0) {
            fprintf(stderr, "duct cat: no datagram for %d ms (--timeout)\n", d->cfg->timeout_ms);
            return CAT_TIMEOUT;
        }
        if (n < 0)
            continue;
        d->peer_len = sizeof d->peer;
        ssize_t got = recvfrom(d->sock, d->buf, sizeof d->buf, MSG_DONTWAIT, (struct sockaddr *)&d->peer,
                               &d->peer_len);
        if (got < 0 || d->peer_len <= sizeof(sa_family_t))
            continue;
        if (sendto(d->sock, d->buf, (size_t)got, MSG_DONTWAIT, (const struct sockaddr *)&d->peer, d->peer_len) < 0 &&
            d->cfg->verbose)
            fprintf(stderr, "duct cat: echo reply: %s\n", strerror(errno));
    }
}

static void announce(const struct cat_config *cfg, int fd)
{
    struct net_addr bound = {.len = sizeof bound.sa, .family = cfg->addr.family};
    char text[NET_ADDR_TEXT_MAX + 16];
    if (getsockname(fd, (struct sockaddr *)&bound.sa, &bound.len) != 0)
        bound = cfg->addr;
    fprintf(stderr, "duct cat: %s on %s\n", cfg->echo ? "echo" : "listening",
            net_endpoint_format(&bound, SOCK_DGRAM, text, sizeof text));
}

int cat_dgram_run(const struct cat_config *cfg)
{
    static struct dgram d;
    const char *failed = cfg->listen ? "bind" : "connect";
    const struct sockaddr_un *un = (const struct sockaddr_un *)&cfg->addr.sa;
    memset(&d, 0, sizeof d);
    d.cfg = cfg;
    d.connected = !cfg->listen;
    d.sock = cfg->listen ? net_bind_dgram(&cfg->addr, 0, &failed) : net_connect_dgram(&cfg->addr, 0, &failed);
    if (d.sock < 0) {
        fprintf(stderr, "duct cat: %s %s: %s\n", failed, cfg->text, strerror(errno));
        return CAT_CONNECT;
    }
    if (cfg->listen && (cfg->verbose || cfg->echo))
        announce(cfg, d.sock);
    int status = cfg->echo ? echo(&d) : exchange(&d);
    close(d.sock);
    if (cfg->listen && cfg->addr.family == AF_UNIX && un->sun_path[0] != '\0')
        unlink(un->sun_path);
    return status;
}
