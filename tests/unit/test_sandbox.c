/* Unit tests for the confined process (src/serve/sandbox.c). Each case forks:
 * the child confines itself with sandbox_apply, as duct serve does, tries
 * what the sandbox allows and forbids, and sends its counts back through a
 * pipe; the parent stays free to clean up. Every ABI from 1 to the kernel's
 * runs the same checks, so each step of the best-effort ladder is seen. */
#include "serve/sandbox.h"
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* A temporary directory: tree/ (served), logs/ (the access log's own
 * directory), and outside.txt beside them. */
struct fixture {
    char dir[64];
    char tree[128];
    char logs[128];
    char log[160];
};

static char *path(char *out, size_t len, const char *dir, const char *name)
{
    snprintf(out, len, "%s/%s", dir, name);
    return out;
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char p[256];
    FILE *f = fopen(path(p, sizeof p, dir, name), "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static int fixture_make(struct fixture *fx)
{
    char sub[160];
    snprintf(fx->dir, sizeof fx->dir, "/tmp/duct-sandbox-XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    path(fx->tree, sizeof fx->tree, fx->dir, "tree");
    path(fx->logs, sizeof fx->logs, fx->dir, "logs");
    path(fx->log, sizeof fx->log, fx->logs, "access.log");
    if (mkdir(fx->tree, 0755) != 0 || mkdir(fx->logs, 0755) != 0 ||
        mkdir(path(sub, sizeof sub, fx->tree, "sub"), 0755) != 0)
        return -1;
    write_file(fx->tree, "inside.txt", "inside\n");
    write_file(sub, "deeper.txt", "deeper\n");
    write_file(fx->dir, "outside.txt", "outside\n");
    return 0;
}

static int remove_one(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    return remove(p);
}

static void fixture_remove(const struct fixture *fx)
{
    nftw(fx->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Opens dir/name with flags; 0 when it opened, else the errno. */
static int try_open(const char *dir, const char *name, int flags)
{
    char p[256];
    int fd = open(path(p, sizeof p, dir, name), flags | O_CLOEXEC, 0644);
    if (fd < 0)
        return errno;
    close(fd);
    return 0;
}

/* "NoNewPrivs:\t1" from a /proc/self/status opened before confinement. */
static int no_new_privs(int status_fd)
{
    char text[4096];
    ssize_t n = pread(status_fd, text, sizeof text - 1, 0);
    if (n <= 0)
        return -1;
    text[n] = '\0';
    const char *line = strstr(text, "NoNewPrivs:");
    return line ? atoi(line + strlen("NoNewPrivs:")) : -1;
}

/* 0 when a TCP socket binds to 127.0.0.1:0, else the errno. */
static int try_bind(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int err = fd < 0 ? errno : bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0 ? 0 : errno;
    if (fd >= 0)
        close(fd);
    return err;
}

static int list_dir(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d)
        return -errno;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* Runs body(fx, arg) in a child and adds the child's counts to ours. */
static void in_child(void (*body)(const struct fixture *, int), const struct fixture *fx, int arg)
{
    int pipe_fd[2], status = 0, counts[2] = {0, 0};
    fflush(stdout);
    CHECK(pipe(pipe_fd) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(pipe_fd[0]);
        test_passed = test_failed = 0;
        body(fx, arg);
        counts[0] = test_passed;
        counts[1] = test_failed;
        ssize_t ignored = write(pipe_fd[1], counts, sizeof counts);
        (void)ignored;
        _exit(0); /* no atexit: a sanitizer's leak check would read /proc */
    }
    close(pipe_fd[1]);
    ssize_t n = read(pipe_fd[0], counts, sizeof counts);
    close(pipe_fd[0]);
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_EQ_INT(n, (long long)sizeof counts);
    if (n == (ssize_t)sizeof counts) {
        test_passed += counts[0];
        test_failed += counts[1];
    }
}

/* What any confined process shows: no new privileges, nothing else readable
 * or writable, no exec. */
static void check_confined(const struct fixture *fx, int status_fd, const char *note)
{
    CHECK_EQ_INT(no_new_privs(status_fd), 1);
    CHECK_EQ_INT(try_open(fx->dir, "outside.txt", O_RDONLY), EACCES);
    CHECK_EQ_INT(try_open(fx->dir, "outside.txt", O_WRONLY), EACCES);
    CHECK_EQ_INT(try_open("/etc", "passwd", O_RDONLY), EACCES);
    CHECK_EQ_INT(try_open(fx->dir, "new.txt", O_WRONLY | O_CREAT), EACCES);
    CHECK_EQ_INT(list_dir(fx->dir), -EACCES);
    char *argv[] = {"true", NULL};
    execv("/bin/true", argv); /* were it allowed, the child would report nothing */
    CHECK_EQ_INT(errno, EACCES);
    /* A sanitizer build may read /proc, and the note says so. */
    if (!strstr(note, "/proc"))
        CHECK_EQ_INT(try_open("/proc/self", "status", O_RDONLY), EACCES);
}

/* The tree readable, the log and its own directory writable, at ABI abi. */
static void served_tree(const struct fixture *fx, int abi)
{
    char note[512], want[64];
    int status_fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    int tree_fd = open(fx->tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int log_fd = open(fx->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    struct sandbox_rules rules = {tree_fd, fx->tree, log_fd, fx->log, abi, {NULL}, 0};
    CHECK_EQ_INT(sandbox_apply(&rules, note, sizeof note), abi);
    snprintf(want, sizeof want, "landlock ABI %d", abi);
    CHECK(strncmp(note, want, strlen(want)) == 0);
    CHECK(strstr(note, "no new privileges") != NULL);
    check_confined(fx, status_fd, note);

    CHECK_EQ_INT(try_open(fx->tree, "inside.txt", O_RDONLY), 0);
    CHECK_EQ_INT(try_open(fx->tree, "sub/deeper.txt", O_RDONLY), 0);
    int fd = openat(tree_fd, "inside.txt", O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    if (fd >= 0)
        close(fd);
    CHECK_EQ_INT(list_dir(fx->tree), 4); /* ".", "..", inside.txt, sub */
    CHECK_EQ_INT(try_open(fx->tree, "inside.txt", O_WRONLY), EACCES);
    CHECK_EQ_INT(try_open(fx->tree, "new.txt", O_WRONLY | O_CREAT), EACCES);
    CHECK_EQ_INT(mkdirat(tree_fd, "newdir", 0755) == 0 ? 0 : errno, EACCES);
    CHECK_EQ_INT(unlinkat(tree_fd, "inside.txt", 0) == 0 ? 0 : errno, EACCES);

    CHECK_EQ_INT(write(log_fd, "line\n", 5), 5);
    CHECK_EQ_INT(try_open(fx->logs, "access.log", O_WRONLY | O_APPEND), 0);
    CHECK_EQ_INT(try_open(fx->logs, "access.log", O_RDONLY), EACCES);
    /* A log reopened after a rotation is created anew in its directory. */
    char fresh[32];
    snprintf(fresh, sizeof fresh, "fresh-%d.log", abi);
    CHECK_EQ_INT(try_open(fx->logs, fresh, O_WRONLY | O_APPEND | O_CREAT), 0);
    /* Truncation is forbidden from ABI 3 on; before it, a write grant allows it. */
    CHECK_EQ_INT(try_open(fx->logs, fresh, O_WRONLY | O_TRUNC), abi >= 3 ? EACCES : 0);
    /* New TCP binds and connects are forbidden from ABI 4 on. */
    CHECK_EQ_INT(try_bind(), abi >= 4 ? EACCES : 0);
    /* From ABI 6 on, no signal leaves the domain (kill 0 only checks). */
    CHECK_EQ_INT(kill(getppid(), 0) == 0 ? 0 : errno, abi >= 6 ? EPERM : 0);
}

/* The demo site: no tree at all, nothing to read. */
static void demo_site(const struct fixture *fx, int unused)
{
    char note[512];
    (void)unused;
    int status_fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    int tree_fd = open(fx->tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* open, but not granted */
    int log_fd = open(fx->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    struct sandbox_rules rules = {-1, NULL, log_fd, fx->log, 0, {NULL}, 0};
    CHECK(sandbox_apply(&rules, note, sizeof note) >= 1);
    CHECK(strstr(note, "no files to read") != NULL);
    CHECK(strstr(note, "(the access log's directory)") != NULL);
    check_confined(fx, status_fd, note);
    CHECK_EQ_INT(try_open(fx->tree, "inside.txt", O_RDONLY), EACCES);
    CHECK(openat(tree_fd, "inside.txt", O_RDONLY | O_CLOEXEC) < 0 && errno == EACCES);
    CHECK_EQ_INT(list_dir(fx->tree), -EACCES);
    CHECK_EQ_INT(write(log_fd, "demo\n", 5), 5);
    CHECK_EQ_INT(try_open(fx->logs, "access.log", O_WRONLY | O_APPEND), 0);
}

/* A TLS certificate's directory: its files stay readable (SIGHUP reads a
 * renewed one), nothing there can be listed or written. */
static void certificate_dir(const struct fixture *fx, int unused)
{
    char note[512], cert[192];
    (void)unused;
    snprintf(cert, sizeof cert, "%s/cert.pem", fx->logs);
    int fd = open(cert, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    CHECK(fd >= 0);
    if (fd >= 0)
        close(fd);
    struct sandbox_rules rules = {-1, NULL, -1, NULL, 0, {cert}, 1};
    CHECK(sandbox_apply(&rules, note, sizeof note) >= 1);
    CHECK(strstr(note, "readable certificate directories") != NULL);
    CHECK_EQ_INT(try_open(fx->logs, "cert.pem", O_RDONLY), 0);
    CHECK_EQ_INT(try_open(fx->logs, "cert.pem", O_WRONLY), EACCES);
    CHECK_EQ_INT(try_open(fx->logs, "other.pem", O_WRONLY | O_CREAT), EACCES);
    CHECK_EQ_INT(list_dir(fx->logs), -EACCES);
    CHECK_EQ_INT(try_open(fx->tree, "inside.txt", O_RDONLY), EACCES);
}

/* A log in the directory above the tree: a grant on that directory would
 * make the tree writable, so only the log file itself is. */
static void log_above_tree(const struct fixture *fx, int unused)
{
    char note[512], log[192];
    (void)unused;
    int status_fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    int tree_fd = open(fx->tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int log_fd = open(path(log, sizeof log, fx->dir, "above.log"), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    struct sandbox_rules rules = {tree_fd, fx->tree, log_fd, log, 0, {NULL}, 0};
    CHECK(sandbox_apply(&rules, note, sizeof note) >= 1);
    CHECK(strstr(note, "directory") == NULL);
    check_confined(fx, status_fd, note);
    CHECK_EQ_INT(write(log_fd, "above\n", 6), 6);
    CHECK_EQ_INT(try_open(fx->dir, "above.log", O_WRONLY | O_APPEND), 0);
    CHECK_EQ_INT(try_open(fx->dir, "other.log", O_WRONLY | O_APPEND | O_CREAT), EACCES);
    CHECK_EQ_INT(try_open(fx->tree, "inside.txt", O_WRONLY), EACCES);
    CHECK_EQ_INT(try_open(fx->tree, "inside.txt", O_RDONLY), 0);
}

/* A log inside the served tree: the tree stays read-only but for that file. */
static void log_in_tree(const struct fixture *fx, int unused)
{
    char note[512], log[192];
    (void)unused;
    int status_fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    int tree_fd = open(fx->tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int log_fd = open(path(log, sizeof log, fx->tree, "in-tree.log"), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    struct sandbox_rules rules = {tree_fd, fx->tree, log_fd, log, 0, {NULL}, 0};
    CHECK(sandbox_apply(&rules, note, sizeof note) >= 1);
    CHECK(strstr(note, "directory") == NULL);
    check_confined(fx, status_fd, note);
    CHECK_EQ_INT(try_open(fx->tree, "in-tree.log", O_WRONLY | O_APPEND), 0);
    CHECK_EQ_INT(try_open(fx->tree, "in-tree.log", O_RDONLY), 0);
    CHECK_EQ_INT(try_open(fx->tree, "inside.txt", O_WRONLY), EACCES);
    CHECK_EQ_INT(try_open(fx->tree, "new.log", O_WRONLY | O_CREAT), EACCES);
}

/* A log named through a symbolic link (say /dev/stdout redirected to a file):
 * the link's directory is not the log's, so only the log file is writable. */
static void log_via_symlink(const struct fixture *fx, int unused)
{
    char note[512], link[192];
    (void)unused;
    int status_fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    path(link, sizeof link, fx->logs, "link.log");
    CHECK(symlink(fx->log, link) == 0 || errno == EEXIST);
    int log_fd = open(link, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    struct sandbox_rules rules = {-1, NULL, log_fd, link, 0, {NULL}, 0};
    CHECK(sandbox_apply(&rules, note, sizeof note) >= 1);
    CHECK(strstr(note, "directory") == NULL);
    check_confined(fx, status_fd, note);
    CHECK_EQ_INT(write(log_fd, "link\n", 5), 5);
    CHECK_EQ_INT(try_open(fx->logs, "access.log", O_WRONLY | O_APPEND), 0);
    CHECK_EQ_INT(try_open(fx->logs, "other.log", O_WRONLY | O_APPEND | O_CREAT), EACCES);
}

/* A kernel without Landlock: sandbox_apply still sets no_new_privs and
 * says the process goes on unconfined. */
static void no_landlock(const struct fixture *fx, int unused)
{
    char note[512];
    (void)unused;
    int status_fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    struct sandbox_rules rules = {-1, NULL, -1, NULL, 0, {NULL}, 0};
    CHECK_EQ_INT(sandbox_apply(&rules, note, sizeof note), 0);
    CHECK(strncmp(note, "not available (", 15) == 0);
    CHECK(strstr(note, "continuing unconfined") != NULL);
    CHECK_EQ_INT(no_new_privs(status_fd), 1);
    CHECK_EQ_INT(try_open(fx->dir, "outside.txt", O_RDONLY), 0);
}

int main(void)
{
    struct fixture fx;
    CHECK(fixture_make(&fx) == 0);
    int abi = sandbox_abi();
    if (abi == 0) {
        printf("SKIP test_sandbox: Landlock is not available (%s); only no_new_privs is checked\n",
               strerror(errno));
        in_child(no_landlock, &fx, 0);
    }
    for (int a = 1; a <= abi && a <= SANDBOX_ABI_KNOWN; a++)
        in_child(served_tree, &fx, a);
    if (abi > 0) {
        in_child(demo_site, &fx, 0);
        in_child(certificate_dir, &fx, 0);
        in_child(log_above_tree, &fx, 0);
        in_child(log_in_tree, &fx, 0);
        in_child(log_via_symlink, &fx, 0);
    }
    fixture_remove(&fx);
    return test_report();
}
