/* The confined process. Once duct serve has bound its sockets and opened its
 * logs, it gives up what it will never need again, as OpenBSD's httpd does
 * with pledge and unveil: no_new_privs (no set-user-ID or file capability
 * can grant anything more), and a Landlock domain in which the only files it
 * may open are the served tree (read-only) and its access log (write-only),
 * with no TCP bind or connect, no exec, and no signal or abstract Unix socket
 * reaching outside its own processes.
 *
 * Landlock checks a file when it is opened: descriptors opened before (the
 * listeners, the access log, the document root) keep working. Each kernel
 * offers an ABI version; duct restricts what that version knows and no more
 * (best effort, as the kernel's documentation advises), and a kernel without
 * Landlock leaves the process unconfined but for no_new_privs. */
#ifndef DUCT_SERVE_SANDBOX_H
#define DUCT_SERVE_SANDBOX_H

#include <stddef.h>

/* The Landlock ABI that duct knows in full: what a later one adds is left as
 * it is (the note says so). */
#define SANDBOX_ABI_KNOWN 7

/* What the confined process may still open. */
struct sandbox_rules {
    int tree_fd;          /* the served tree, readable; -1: none (the built-in demo site) */
    const char *tree;     /* its name, for the note */
    int log_fd;           /* the access log as opened; -1: none */
    const char *log_path; /* the path it was opened with; NULL or "-": not a file of its own */
    int max_abi;          /* 0: all the kernel offers; N > 0: at most ABI N (tests) */
    /* Files read again later (TLS certificates and keys on SIGHUP): their
     * directories stay readable, and those of the files they link to, so that
     * a renewal that replaces a file or moves a link is read too. */
    const char *read_paths[32];
    int read_count;
};

/* The highest Landlock ABI the running kernel offers, or 0 with errno ENOSYS
 * (a kernel built without it) or EOPNOTSUPP (disabled at boot). */
int sandbox_abi(void);

/* Sets no_new_privs, then confines the calling thread and every thread and
 * process it starts later to rules. Call it before any thread starts:
 * Landlock confines the calling thread only, and threads inherit it.
 * Returns the Landlock ABI in use (>= 1); 0 when the kernel has none (only
 * no_new_privs then applies); -1 after logging which step failed. note gets
 * one line saying what applies, e.g. "landlock ABI 7, read-only /srv/site,
 * writable /var/log/duct (the access log's directory), no TCP bind or
 * connect, no new privileges". */
int sandbox_apply(const struct sandbox_rules *rules, char *note, size_t len);

#endif
