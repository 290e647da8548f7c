#include "serve/privileges.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "serve/log.h"

int privileges_lookup(const char *name, uid_t *uid, gid_t *gid, char *err, size_t errlen)
{
    long long n;
    struct passwd *pw = getpwnam(name);
    if (!pw && args_count(name, 0, 0x7fffffff, &n) == 0)
        pw = getpwuid((uid_t)n);
    if (!pw) {
        snprintf(err, errlen, "no user \"%s\"", name);
        return -1;
    }
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    return 0;
}

int privileges_drop(uid_t uid, gid_t gid, const char *name)
{
    /* Groups first: once the uid is not root, they can no longer change. */
    if (getuid() == 0 && setgroups(1, &gid) != 0) {
        log_syscall("setgroups", name, errno);
        return -1;
    }
    if (setgid(gid) != 0) {
        log_syscall("setgid", name, errno);
        return -1;
    }
    if (setuid(uid) != 0) {
        log_syscall("setuid", name, errno);
        return -1;
    }
    if (uid != 0 && (setuid(0) == 0 || geteuid() == 0)) {
        log_error("--user %s: root could be taken back after setuid", name);
        return -1;
    }
    return 0;
}

int privileges_refuse_root(const char *user, int allow_root)
{
    const char *env = getenv("DUCT_ALLOW_ROOT");
    if (geteuid() != 0 || user || allow_root)
        return 0;
    return !(env && strcmp(env, "1") == 0);
}
