/* systemd socket activation (sd_listen_fds(3)): a socket unit binds the
 * listeners and passes them as descriptors 3, 4, ... with LISTEN_FDS,
 * LISTEN_PID and LISTEN_FDNAMES in the environment. duct serve then serves
 * on those in place of --listen. Each must be a listening stream socket of
 * IPv4, IPv6 or a Unix path; it is made non-blocking and close-on-exec, and
 * shared by every worker (like a Unix listener), never shut down, since
 * systemd keeps it for the next start. */
#ifndef DUCT_SERVE_ACTIVATION_H
#define DUCT_SERVE_ACTIVATION_H

#include <stddef.h>

#include "serve/server.h"

/* Takes the passed sockets into cfg (listen[], inherited_fd[],
 * inherited_name[], inherited). Returns how many (0: not activated), or -1
 * with a one-line reason in err. Unsets the LISTEN_* variables, so that
 * nothing started later takes them for its own. */
int activation_take(struct serve_config *cfg, char *err, size_t errlen);

#endif
