/* Moving one connection's bytes between its socket and its protocol object
 * (an http_conn, an echo buffer): the two syscall sites every driver shares,
 * blocking or not. */
#ifndef DUCT_SERVE_IO_H
#define DUCT_SERVE_IO_H

#include <time.h>

#include "serve/proto.h"

enum io_result {
    IO_CLOSE = -1,   /* end the connection; errno says why (ENODATA: a file shrank, ENOMEM: no buffer) */
    IO_AGAIN = 0,    /* the socket is not ready (or, blocking, its timeout expired) */
    IO_PROGRESS = 1, /* bytes moved; there may be more to move */
    IO_DRY = 2,      /* fewer bytes than asked moved: recv read the socket dry, or a send
                        filled its buffer (wait for room before sending again) */
};

/* Sends the next piece of p->output(conn): the head (held back with
 * MSG_MORE when a file follows, so both leave in one segment), a memory body
 * with it in one sendmsg, or a file range with sendfile. */
enum io_result io_send(int fd, const struct serve_proto *p, void *conn, time_t now);

/* Receives into p->read_space(conn) and reports it. */
enum io_result io_recv(int fd, const struct serve_proto *p, void *conn, time_t now);

#endif
