#include "serve/io.h"

#include <errno.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>

static enum io_result failed(void)
{
    if (errno == EINTR)
        return IO_PROGRESS;
    return errno == EAGAIN || errno == EWOULDBLOCK ? IO_AGAIN : IO_CLOSE;
}

enum io_result io_send(int fd, const struct serve_proto *p, void *conn, time_t now)
{
    struct serve_output out;
    const struct serve_output *o = &out;
    ssize_t n;
    size_t asked;
    p->output(conn, &out);
    if (o->head_len > 0 && o->file_len > 0) {
        asked = o->head_len;
        n = send(fd, o->head, o->head_len, MSG_NOSIGNAL | MSG_MORE);
    } else if (o->head_len > 0 || o->data_len > 0) {
        struct iovec iov[2] = {{(void *)o->head, o->head_len}, {(void *)o->data, o->data_len}};
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
        asked = o->head_len + o->data_len;
        n = sendmsg(fd, &msg, MSG_NOSIGNAL);
    } else {
        /* sendfile moves at most 2 GiB less a page per call: files over 4 GiB
         * go out over many calls, the offset kept in 64 bits. */
        off_t offset = (off_t)o->file_offset;
        size_t count = o->file_len > (1u << 30) ? (1u << 30) : (size_t)o->file_len;
        asked = count;
        n = sendfile(fd, o->file_fd, &offset, count);
        if (n == 0) {
            /* The file shrank: the promised Content-Length cannot be kept,
             * and the next response on this connection would be misread. */
            p->abort(conn);
            errno = ENODATA;
            return IO_CLOSE;
        }
    }
    if (n < 0)
        return failed();
    p->sent(conn, (size_t)n, now);
    /* Fewer bytes than asked: the socket's buffer is full, and another call
     * now would only fail with EAGAIN (a third of a big file's sendfile calls
     * did): the caller waits for room instead. */
    return (size_t)n < asked ? IO_DRY : IO_PROGRESS;
}

enum io_result io_recv(int fd, const struct serve_proto *p, void *conn, time_t now)
{
    size_t room;
    char *space = p->read_space(conn, &room);
    if (!space) {
        errno = ENOMEM;
        return IO_CLOSE;
    }
    ssize_t n = recv(fd, space, room, 0);
    if (n < 0)
        return failed();
    p->received(conn, (size_t)n, now);
    return n > 0 && (size_t)n < room ? IO_DRY : IO_PROGRESS;
}
