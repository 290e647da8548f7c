/* Running as root. duct serve binds its sockets and opens its files first
 * (so port 80 and a root-owned log are possible), then takes the identity
 * given with --user: no supplementary groups, the user's group, the user.
 * Serving as root without --user is refused unless the operator says
 * --allow-root (or DUCT_ALLOW_ROOT=1, for test rigs and containers that run
 * everything as root). */
#ifndef DUCT_SERVE_PRIVILEGES_H
#define DUCT_SERVE_PRIVILEGES_H

#include <stddef.h>
#include <sys/types.h>

/* Looks NAME up (getpwnam, or a number as a uid). 0, or -1 with a reason in err. */
int privileges_lookup(const char *name, uid_t *uid, gid_t *gid, char *err, size_t errlen);

/* setgroups(1, {gid}), setgid, setuid, then checks that root cannot be had
 * back. 0, or -1 after logging which step failed. */
int privileges_drop(uid_t uid, gid_t gid, const char *name);

/* 1 when the process runs as root and nothing (--user, --allow-root,
 * DUCT_ALLOW_ROOT=1) says what to do about it. */
int privileges_refuse_root(const char *user, int allow_root);

#endif
