/* systemd's readiness protocol (Type=notify, sd_notify(3)): datagrams such
 * as "READY=1" sent to the Unix socket named in NOTIFY_SOCKET.
 *
 * libsystemd's sd_notify opens a new socket and sends to the path for every
 * message. duct instead connects one socket before it confines itself and
 * keeps it: a Landlock domain (ABI 6 and later) may not send to an abstract
 * socket outside it ("@/org/freedesktop/..." is abstract), except through a
 * socket connected before the domain began, and STOPPING=1 is sent long
 * after that. */
#ifndef DUCT_SERVE_NOTIFY_H
#define DUCT_SERVE_NOTIFY_H

/* The connected socket, -1 when NOTIFY_SOCKET is unset (not under
 * Type=notify), or -1 after logging why it could not be reached. */
int notify_open(void);

/* Sends one message ("READY=1\nSTATUS=..."); a failure is logged, once. */
void notify_send(int fd, const char *message);

#endif
