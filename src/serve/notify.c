#include "serve/notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "serve/log.h"

int notify_open(void)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    size_t len = path ? strlen(path) : 0;
    if (len == 0)
        return -1;
    if ((path[0] != '/' && path[0] != '@') || len >= sizeof sun.sun_path) {
        log_error("NOTIFY_SOCKET \"%s\" is not a Unix socket path: not notifying systemd", path);
        return -1;
    }
    memcpy(sun.sun_path, path, len);
    if (path[0] == '@')
        sun.sun_path[0] = '\0'; /* the abstract namespace */
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) != 0) {
        log_syscall(fd < 0 ? "socket" : "connect", path, errno);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

void notify_send(int fd, const char *message)
{
    static int failed;
    if (fd < 0)
        return;
    if (send(fd, message, strlen(message), MSG_NOSIGNAL) < 0 && !failed) {
        failed = 1;
        log_syscall("send", "NOTIFY_SOCKET", errno);
    }
}
