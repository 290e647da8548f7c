#include "serve/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/landlock.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "serve/asan.h"
#include "serve/log.h"

/* The installed <linux/landlock.h> may predate the later ABIs; these values
 * are the kernel's interface and never change. */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP (1ULL << 0)
#define LANDLOCK_ACCESS_NET_CONNECT_TCP (1ULL << 1)
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1)
#endif

/* A sanitizer reads /proc/self/maps and /proc/self/task when it checks for
 * leaks at exit or writes a report: a sanitizer build may read /proc. */
#define SANDBOX_SANITIZED SERVE_ASAN

/* struct landlock_ruleset_attr as ABI 6 defines it (the installed header may
 * know only the first field). A kernel takes a longer struct than it knows
 * when the fields it does not know are zero. */
struct ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
};

/* ABI 1: EXECUTE, WRITE_FILE, READ_FILE, READ_DIR, REMOVE_DIR, REMOVE_FILE
 * and MAKE_CHAR to MAKE_SYM: bits 0 to 12. */
#define FS_ABI1 ((LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1)

#define GRANT_TREE (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define GRANT_LOG_DIR (LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_MAKE_REG)

/* What each ABI added to what a ruleset can forbid. duct forbids all of it
 * and then grants back only its rules. ABI 7 added audit logging only, which
 * stays at the kernel's default. */
static const struct abi_rights {
    int abi;
    uint64_t fs, net, scoped;
} abi_rights[] = {
    {1, FS_ABI1, 0, 0},
    {2, LANDLOCK_ACCESS_FS_REFER, 0, 0},
    {3, LANDLOCK_ACCESS_FS_TRUNCATE, 0, 0},
    {4, 0, LANDLOCK_ACCESS_NET_BIND_TCP | LANDLOCK_ACCESS_NET_CONNECT_TCP, 0},
    {5, LANDLOCK_ACCESS_FS_IOCTL_DEV, 0, 0},
    {6, 0, 0, LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL},
};

static struct ruleset_attr handled_by(int abi)
{
    struct ruleset_attr attr = {0, 0, 0};
    for (size_t i = 0; i < sizeof abi_rights / sizeof abi_rights[0] && abi_rights[i].abi <= abi; i++) {
        attr.handled_access_fs |= abi_rights[i].fs;
        attr.handled_access_net |= abi_rights[i].net;
        attr.scoped |= abi_rights[i].scoped;
    }
    return attr;
}

int sandbox_abi(void)
{
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    return abi > 0 ? (int)abi : 0;
}

static void note_add(char *note, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void note_add(char *note, size_t len, const char *fmt, ...)
{
    size_t used = strnlen(note, len);
    va_list ap;
    if (used + 1 >= len)
        return;
    va_start(ap, fmt);
    vsnprintf(note + used, len - used, fmt, ap);
    va_end(ap);
}

static int add_rule(int ruleset, int fd, uint64_t allowed, const char *what)
{
    struct landlock_path_beneath_attr rule = {.allowed_access = allowed, .parent_fd = fd};
    if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) == 0)
        return 0;
    log_syscall("landlock_add_rule", what, errno);
    return -1;
}

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* 1 when directory a is directory b or lies below it, following ".." up to
 * the root as the kernel's path walk would; 1 as well when that cannot be
 * told, since the answer decides whether a write grant is safe. */
static int dir_within(int a, int b)
{
    struct stat target, cur, up;
    int at = a, within = 1;
    if (fstat(b, &target) != 0 || fstat(a, &cur) != 0)
        return 1;
    for (int depth = 0; depth < PATH_MAX / 2 && !same_file(&cur, &target); depth++) {
        int parent = openat(at, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (at != a)
            close(at);
        at = parent;
        if (parent < 0 || fstat(parent, &up) != 0)
            break;
        if (same_file(&up, &cur)) { /* ".." of the root is the root */
            within = 0;
            break;
        }
        cur = up;
    }
    if (at != a && at >= 0)
        close(at);
    return within;
}

/* Whether a write grant on dir_fd, the directory of the log named base,
 * is safe: base there is the open log itself (not a symbolic link such as
 * /dev/stdout, nor a file swapped in since), the directory is not the root,
 * and it is neither the served tree, nor above it, nor in it (the grant
 * would make the tree writable). */
static int log_dir_safe(int dir_fd, const char *base, const struct stat *log, int tree_fd)
{
    struct stat st, up;
    if (fstatat(dir_fd, base, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) || !same_file(&st, log))
        return 0;
    if (fstat(dir_fd, &st) != 0 || fstatat(dir_fd, "..", &up, 0) != 0 || same_file(&st, &up))
        return 0;
    return tree_fd < 0 || (!dir_within(dir_fd, tree_fd) && !dir_within(tree_fd, dir_fd));
}

/* The access log's directory, opened O_PATH, named in dir, when a write
 * grant there is safe: then a reopen after a rotation may create the log
 * anew. -1 otherwise. */
static int log_dir_open(const struct sandbox_rules *rules, const struct stat *log, char *dir, size_t dirlen)
{
    const char *slash = strrchr(rules->log_path, '/');
    const char *base = slash ? slash + 1 : rules->log_path;
    size_t n = slash ? (size_t)(slash - rules->log_path) : 1;
    if (n >= dirlen)
        return -1;
    memcpy(dir, slash ? rules->log_path : ".", n);
    dir[n] = '\0';
    if (n == 0)
        strcpy(dir, "/");
    int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0 && !log_dir_safe(fd, base, log, rules->tree_fd)) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* The log file stays writable (a reopen of the same file works); its
 * directory too when log_dir_open finds that safe. A log on stdout, a pipe or
 * a terminal is written through its open descriptor and needs no rule. */
static int add_log_rules(int ruleset, const struct sandbox_rules *rules, uint64_t handled, char *note, size_t len)
{
    struct stat log;
    char dir[PATH_MAX];
    if (rules->log_fd < 0 || !rules->log_path || strcmp(rules->log_path, "-") == 0)
        return 0;
    if (fstat(rules->log_fd, &log) != 0 || !S_ISREG(log.st_mode))
        return 0;
    if (add_rule(ruleset, rules->log_fd, LANDLOCK_ACCESS_FS_WRITE_FILE & handled, rules->log_path) != 0)
        return -1;
    int dir_fd = log_dir_open(rules, &log, dir, sizeof dir);
    if (dir_fd < 0) {
        note_add(note, len, ", writable %s", rules->log_path);
        return 0;
    }
    int rc = add_rule(ruleset, dir_fd, GRANT_LOG_DIR & handled, dir);
    close(dir_fd);
    if (rc == 0)
        note_add(note, len, ", writable %s (the access log's directory)", dir);
    return rc;
}

/* Read access (files only, no listing) to the directory holding path. */
static int grant_dir_of(int ruleset, const char *path, uint64_t handled)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (n >= sizeof dir)
        return -1;
    memcpy(dir, path, n);
    dir[n] = '\0';
    if (!slash)
        strcpy(dir, ".");
    else if (n == 0)
        strcpy(dir, "/");
    int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        log_syscall("open", dir, errno);
        return -1;
    }
    int rc = add_rule(ruleset, fd, LANDLOCK_ACCESS_FS_READ_FILE & handled, dir);
    close(fd);
    return rc;
}

static int add_read_rules(int ruleset, const struct sandbox_rules *rules, uint64_t handled, char *note, size_t len)
{
    for (int i = 0; i < rules->read_count; i++) {
        char real[PATH_MAX];
        if (grant_dir_of(ruleset, rules->read_paths[i], handled) != 0)
            return -1;
        if (realpath(rules->read_paths[i], real) && grant_dir_of(ruleset, real, handled) != 0)
            return -1;
    }
    if (rules->read_count)
        note_add(note, len, ", readable certificate directories");
    return 0;
}

static int add_rules(int ruleset, const struct sandbox_rules *rules, uint64_t handled, char *note, size_t len)
{
    if (rules->tree_fd < 0) {
        note_add(note, len, ", no files to read (built-in demo site)");
    } else {
        if (add_rule(ruleset, rules->tree_fd, GRANT_TREE & handled, rules->tree) != 0)
            return -1;
        note_add(note, len, ", read-only %s", rules->tree);
    }
    if (add_log_rules(ruleset, rules, handled, note, len) != 0)
        return -1;
    if (add_read_rules(ruleset, rules, handled, note, len) != 0)
        return -1;
#if SANDBOX_SANITIZED
    int proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
    int rc = proc < 0 ? 0 : add_rule(ruleset, proc, GRANT_TREE & handled, "/proc");
    if (proc >= 0)
        close(proc);
    if (rc != 0)
        return -1;
    note_add(note, len, ", read-only /proc (sanitizer build)");
#endif
    return 0;
}

static const char *unavailable_reason(int err)
{
    static char text[96];
    if (err == ENOSYS)
        return "kernel without landlock";
    if (err == EOPNOTSUPP)
        return "landlock disabled at boot";
    snprintf(text, sizeof text, "landlock_create_ruleset: %s", strerror(err));
    return text;
}

int sandbox_apply(const struct sandbox_rules *rules, char *note, size_t len)
{
    note[0] = '\0';
    /* glibc reads /etc/localtime at the first time conversion: let it now. */
    tzset();
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        log_syscall("prctl", "PR_SET_NO_NEW_PRIVS", errno);
        return -1;
    }
    int abi = sandbox_abi();
    if (abi == 0) {
        note_add(note, len, "not available (%s): continuing unconfined, no new privileges",
                 unavailable_reason(errno));
        return 0;
    }
    int kernel_abi = abi;
    if (rules->max_abi > 0 && abi > rules->max_abi)
        abi = rules->max_abi;
    struct ruleset_attr attr = handled_by(abi);
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (ruleset < 0) {
        log_syscall("landlock_create_ruleset", NULL, errno);
        return -1;
    }
    note_add(note, len, "landlock ABI %d", abi);
    if (abi != kernel_abi)
        note_add(note, len, " (the kernel offers %d)", kernel_abi);
    else if (abi > SANDBOX_ABI_KNOWN)
        note_add(note, len, " (duct knows up to ABI %d)", SANDBOX_ABI_KNOWN);
    int rc = add_rules(ruleset, rules, attr.handled_access_fs, note, len);
    if (rc == 0 && syscall(SYS_landlock_restrict_self, ruleset, 0) != 0) {
        log_syscall("landlock_restrict_self", NULL, errno);
        rc = -1;
    }
    close(ruleset);
    if (rc != 0)
        return -1;
    if (attr.handled_access_net)
        note_add(note, len, ", no TCP bind or connect");
    note_add(note, len, ", no new privileges");
    return abi;
}
