#include "serve/activation.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#ifdef DUCT_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>

/* 0 when fd is a listening stream socket duct can serve; its address in addr. */
static int check_socket(int fd, struct net_addr *addr, char *err, size_t errlen)
{
    int r = sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1);
    if (r <= 0) {
        snprintf(err, errlen, "descriptor %d is not a listening stream socket%s%s", fd, r < 0 ? ": " : "",
                 r < 0 ? strerror(-r) : "");
        return -1;
    }
    addr->len = sizeof addr->sa;
    if (getsockname(fd, (struct sockaddr *)&addr->sa, &addr->len) != 0) {
        snprintf(err, errlen, "getsockname on descriptor %d: %s", fd, strerror(errno));
        return -1;
    }
    addr->family = addr->sa.ss_family;
    if (addr->family != AF_INET && addr->family != AF_INET6 && addr->family != AF_UNIX) {
        snprintf(err, errlen, "descriptor %d is a socket of family %d, not IPv4, IPv6 or Unix", fd, addr->family);
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
        snprintf(err, errlen, "fcntl on descriptor %d: %s", fd, strerror(errno));
        return -1;
    }
    return 0;
}

int activation_take(struct serve_config *cfg, char *err, size_t errlen)
{
    char **names = NULL;
    int n = sd_listen_fds_with_names(1, &names);
    if (n < 0) {
        snprintf(err, errlen, "LISTEN_FDS: %s", strerror(-n));
        return -1;
    }
    int rc = n;
    if (n > SERVE_MAX_LISTEN) {
        snprintf(err, errlen, "LISTEN_FDS: %d sockets, at most %d", n, SERVE_MAX_LISTEN);
        rc = -1;
    }
    for (int i = 0; rc > 0 && i < n; i++) {
        if (check_socket(SD_LISTEN_FDS_START + i, &cfg->listen[i], err, errlen) != 0) {
            rc = -1;
            break;
        }
        cfg->inherited_fd[i] = SD_LISTEN_FDS_START + i;
        /* Kept for the process's life: the start-up lines name them. */
        cfg->inherited_name[i] = names && names[i] ? names[i] : "unknown";
    }
    if (rc > 0)
        cfg->listen_count = cfg->inherited = n;
    else if (names) {
        for (int i = 0; i < n; i++)
            free(names[i]);
    }
    free(names);
    return rc;
}

#else

/* Built without libsystemd: passed sockets are an error, not silently unused. */
int activation_take(struct serve_config *cfg, char *err, size_t errlen)
{
    (void)cfg;
    if (!getenv("LISTEN_FDS"))
        return 0;
    snprintf(err, errlen, "LISTEN_FDS is set, but this duct was built without libsystemd (socket activation)");
    return -1;
}

#endif
