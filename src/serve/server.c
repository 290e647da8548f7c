#include "serve/server.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/un.h>
#include <unistd.h>

#include "net/sock.h"
#include "serve/auth.h"
#include "serve/engine.h"
#include "serve/fork_gate.h"
#include "serve/handover.h"
#include "serve/log.h"
#include "serve/notify.h"
#include "serve/privileges.h"
#include "serve/sandbox.h"
#include "serve/stack.h"
#include "serve/status.h"

#define LISTEN_BACKLOG 4096
/* How long the kernel holds a silent client before accept sees it (tune_listener). */
#define DEFER_ACCEPT_SECONDS 1
/* Unsent bytes a connection's socket may queue (tune_listener). */
#define NOTSENT_LOWAT (64 * 1024)

extern const struct serve_model serve_model_iterative, serve_model_fork, serve_model_thread, serve_model_pool,
    serve_model_select, serve_model_poll, serve_model_epoll, serve_model_uring;

const struct serve_model *const serve_models[] = {
    &serve_model_iterative,
    &serve_model_fork,
    &serve_model_thread,
    &serve_model_pool,
    &serve_model_select,
    &serve_model_poll,
    &serve_model_epoll,
    &serve_model_uring,
    NULL,
};

static const char *command_name(const struct server *srv)
{
    return srv->cfg->command ? srv->cfg->command : "duct serve";
}

static const struct serve_model *find_model(const char *name)
{
    for (int i = 0; serve_models[i]; i++)
        if (strcmp(serve_models[i]->name, name) == 0)
            return serve_models[i];
    return NULL;
}

/* Descriptors beyond the connections: listeners, files being sent, logs. */
#define FD_RESERVE 64

/* Every connection costs a descriptor: take all the kernel allows, and more
 * when --max-conns asks for it and the process may (root may raise the hard
 * limit up to fs.nr_open). Says so when the limit stays below --max-conns. */
static int raise_fd_limit(const struct serve_config *cfg)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)cfg->max_conns + FD_RESERVE;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
        struct rlimit more = {want, want};
        if (setrlimit(RLIMIT_NOFILE, &more) == 0)
            rl = more;
    }
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    int limit = rl.rlim_cur > (1 << 20) ? (1 << 20) : (int)rl.rlim_cur;
    if (rl.rlim_cur < want && !cfg->quiet)
        log_error("the descriptor limit is %d, below --max-conns %d: at most about %d connections will be held "
                  "(raise it with ulimit -Hn or LimitNOFILE=)",
                  limit, cfg->max_conns, limit > FD_RESERVE ? limit - FD_RESERVE : 0);
    return limit;
}

/* SO_REUSEPORT would let duct share a port with another duct run by the same
 * user, splitting its traffic silently. A plain bind tells whether anyone
 * holds the port before the workers' listeners are made. */
static int port_is_free(const struct net_addr *addr)
{
    int fd = socket(addr->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1, free_port;
    if (fd < 0)
        return 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (addr->family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    free_port = bind(fd, (const struct sockaddr *)&addr->sa, addr->len) == 0 || errno != EADDRINUSE;
    close(fd);
    return free_port;
}

static int listen_error(const struct net_addr *addr, const char *failed)
{
    char text[NET_ADDR_TEXT_MAX];
    net_addr_format(addr, text, sizeof text);
    if (errno == EADDRINUSE)
        log_error("cannot listen on %s: address already in use", text);
    else
        log_error("cannot listen on %s: %s: %s", text, failed ? failed : "listen", strerror(errno));
    return -1;
}

/* The options of a listener duct opened itself, which the connections
 * accepted from it inherit (one inherited from systemd keeps its unit's
 * DeferAcceptSec= and the like).
 *
 * TCP_DEFER_ACCEPT: every protocol duct serves has the client speak first
 * (a request, a ClientHello, a PROXY header), so a connection is worth
 * accepting only once its first bytes are in, and the kernel then hands it
 * over with them. Without it, a worker faster than its clients accepts each
 * connection before its request comes: a recv that finds nothing, an
 * epoll_ctl to watch, a second wake-up and an epoll_ctl to forget, twice the
 * syscalls of a `Connection: close` exchange. A client that stays silent
 * reaches accept about a second late; its --header-timeout runs from then.
 *
 * TCP_NOTSENT_LOWAT: a sendfile queues at most about NOTSENT_LOWAT bytes
 * beyond what the peer's window lets out, instead of filling a send buffer
 * the kernel grows to megabytes. The rest of a large body then goes out
 * from the worker's own sendfile calls, rather than from the softirq of
 * each ACK on whichever CPU the receiver runs, which over loopback took
 * the client's CPU away from reading it.
 * docs/BENCHMARKS.md, "profiles (issue 12)", has the measurements. */
static int tune_listener(int fd, const char **what)
{
    *what = "setsockopt(TCP_DEFER_ACCEPT)";
    if (net_set_defer_accept(fd, DEFER_ACCEPT_SECONDS) != 0)
        return -1;
    *what = "setsockopt(TCP_NOTSENT_LOWAT)";
    return net_set_notsent_lowat(fd, NOTSENT_LOWAT);
}

/* A TCP address gets one SO_REUSEPORT listener per worker; the first one
 * fixes the port when the address asked for any port (":0"). */
static int open_tcp_listeners(struct server *srv, int i)
{
    struct net_addr addr = srv->cfg->listen[i];
    const char *failed = NULL;
    if (!port_is_free(&addr)) {
        errno = EADDRINUSE;
        return listen_error(&addr, "bind");
    }
    for (int w = 0; w < srv->listen_sets; w++) {
        int fd = net_listen(&addr, LISTEN_BACKLOG, NET_REUSEPORT | NET_NONBLOCK, &failed);
        if (fd < 0)
            return listen_error(&addr, failed);
        srv->listen_fd[w][i] = fd;
        /* An accepted socket inherits TCP_NODELAY from its listener (Linux
         * copies the listener's options), which saves a setsockopt per
         * connection: answers leave whole, and a part that waits for an ACK
         * (Nagle) would stall a keep-alive client for its delayed ACK. */
        if (net_set_nodelay(fd) != 0)
            return listen_error(&addr, "setsockopt(TCP_NODELAY)");
        if (tune_listener(fd, &failed) != 0)
            return listen_error(&addr, failed);
        if (w == 0 && getsockname(fd, (struct sockaddr *)&addr.sa, &addr.len) != 0)
            return listen_error(&addr, "getsockname");
    }
    return 0;
}

/* A socket someone else holds too (systemd's, or a predecessor's): shared
 * by every worker and never shut down. -1 when there is none for address i. */
static int inherited_socket(struct server *srv, int i)
{
    if (i < srv->cfg->inherited)
        return srv->cfg->inherited_fd[i];
    return srv->handover ? handover_claim(srv->handover, &srv->cfg->listen[i]) : -1;
}

static int open_listeners(struct server *srv)
{
    for (int i = 0; i < srv->cfg->listen_count; i++) {
        const struct net_addr *addr = &srv->cfg->listen[i];
        int fd = inherited_socket(srv, i);
        srv->listen_kept[i] = fd >= 0;
        /* With --handover a TCP address has one socket, which can be handed on whole. */
        if (fd < 0 && addr->family != AF_UNIX && !srv->handover) {
            if (open_tcp_listeners(srv, i) != 0)
                return -1;
            continue;
        }
        const char *failed = NULL;
        if (fd < 0) {
            if ((fd = net_listen(addr, LISTEN_BACKLOG, NET_NONBLOCK, &failed)) < 0)
                return listen_error(addr, failed);
            if (tune_listener(fd, &failed) != 0)
                log_syscall(failed, "a listener", errno);
        }
        /* Inherited and shared TCP listeners too: no connection sets it itself. */
        if (net_set_nodelay(fd) != 0)
            log_syscall("setsockopt", "TCP_NODELAY on a listener", errno);
        srv->listen_shared[i] = 1;
        for (int w = 0; w < srv->listen_sets; w++)
            srv->listen_fd[w][i] = fd;
    }
    return srv->handover ? handover_listen(srv) : 0;
}

static void close_listeners(struct server *srv)
{
    for (int i = 0; i < srv->cfg->listen_count; i++) {
        int workers = srv->listen_shared[i] ? 1 : srv->listen_sets;
        for (int w = 0; w < workers; w++)
            if (srv->listen_fd[w][i] >= 0)
                close(srv->listen_fd[w][i]);
        const struct net_addr *addr = &srv->cfg->listen[i];
        const struct sockaddr_un *un = (const struct sockaddr_un *)&addr->sa;
        if (addr->family == AF_UNIX && un->sun_path[0] != '\0' && srv->listen_shared[i] && !srv->listen_kept[i])
            unlink(un->sun_path);
    }
}

/* Runs once prepare has opened every socket and file the server needs, and
 * before the model starts a thread: from here on the process reads only the
 * served tree and writes only its logs (serve/sandbox.h). */
static int confine(struct server *srv)
{
    const struct serve_config *cfg = srv->cfg;
    struct sandbox_rules rules = {
        .tree_fd = srv->files.root_fd,
        .tree = cfg->dir,
        .log_fd = srv->access_fd,
        .log_path = cfg->access_log,
        .max_abi = 0,
    };
    /* SIGHUP reads the certificates again. */
    for (int i = 0; i < cfg->tls_certs; i++) {
        rules.read_paths[2 * i] = cfg->tls_cert[i];
        rules.read_paths[2 * i + 1] = cfg->tls_key[i];
    }
    rules.read_count = 2 * cfg->tls_certs;
    if (!cfg->sandbox) {
        snprintf(srv->sandbox_note, sizeof srv->sandbox_note, "off (--no-sandbox)");
        return 0;
    }
    if (sandbox_apply(&rules, srv->sandbox_note, sizeof srv->sandbox_note) >= 0)
        return 0;
    log_error("cannot confine the process; %s --no-sandbox would run unconfined", command_name(srv));
    return -1;
}

static int is_loopback(const struct net_addr *addr)
{
    if (addr->family == AF_UNIX)
        return 1;
    if (addr->family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&addr->sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&addr->sa;
    return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
}

/* Basic credentials are a password in base64: readable by anyone on the
 * path unless the connection is encrypted or never leaves the host. */
static void warn_auth_exposed(const struct server *srv)
{
    for (int i = 0; i < srv->cfg->listen_count && srv->auth; i++) {
        char text[NET_ADDR_TEXT_MAX];
        if (is_loopback(&srv->cfg->listen[i]))
            continue;
        net_addr_format(&srv->cfg->listen[i], text, sizeof text);
        log_error("warning: --auth on %s, which is not TLS and not loopback: passwords cross the network "
                  "readable by anyone on the path",
                  text);
    }
}

static void announce(const struct server *srv)
{
    warn_auth_exposed(srv);
    for (int i = 0; i < srv->cfg->listen_count && !srv->cfg->quiet; i++) {
        struct net_addr bound = {.len = sizeof bound.sa, .family = srv->cfg->listen[i].family};
        char text[NET_ADDR_TEXT_MAX];
        int http = srv->proto == &serve_proto_http;
        int tls = srv->stack[i] != srv->proto;
        if (getsockname(srv->listen_fd[0][i], (struct sockaddr *)&bound.sa, &bound.len) != 0)
            bound = srv->cfg->listen[i];
        net_addr_format(&bound, text, sizeof text);
        char origin[96] = "";
        if (i < srv->cfg->inherited)
            snprintf(origin, sizeof origin, ", systemd socket \"%s\"", srv->cfg->inherited_name[i]);
        else if (srv->listen_kept[i])
            snprintf(origin, sizeof origin, ", taken over");
        fprintf(stderr, "%s: listening on %s%s%s (model %s, %d %s, %s%s)\n", command_name(srv),
                bound.family == AF_UNIX ? (tls ? "tls+" : "") : http ? (tls ? "https://" : "http://") : tls ? "tls://" : "tcp://",
                text,
                bound.family == AF_UNIX || !http ? "" : "/", srv->model->name,
                srv->model->event_loops ? srv->cfg->workers : srv->cfg->threads,
                srv->model->event_loops ? "workers" : "threads",
                !http ? srv->proto->name : srv->cfg->dir ? srv->cfg->dir : "built-in demo site", origin);
    }
    if (srv->proto == &serve_proto_http && !srv->cfg->quiet)
        fprintf(stderr, "%s: sandbox: %s\n", command_name(srv), srv->sandbox_note);
    if (srv->status_fd >= 0 && !srv->cfg->quiet) {
        struct net_addr bound = {.len = sizeof bound.sa, .family = srv->cfg->status_listen.family};
        char text[NET_ADDR_TEXT_MAX];
        if (getsockname(srv->status_fd, (struct sockaddr *)&bound.sa, &bound.len) != 0)
            bound = srv->cfg->status_listen;
        net_addr_format(&bound, text, sizeof text);
        fprintf(stderr, "%s: status on %s%s (/healthz, /metrics)\n", command_name(srv),
                bound.family == AF_UNIX ? "" : "http://", text);
    }
}

/* SIGINT and SIGTERM (stop), SIGUSR1 (reopen the access log) and, with TLS
 * listeners, SIGHUP (reload the certificates) are taken synchronously by the
 * main thread with sigwait; workers inherit the blocked mask and never see
 * them. SIGPIPE is ignored so that a client hanging up costs only its
 * connection. */
static int block_stop_signals(const struct server *srv, sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGUSR1);
    if (serve_stacks_reloadable(srv))
        sigaddset(set, SIGHUP);
    signal(SIGPIPE, SIG_IGN);
    /* SIGUSR2 asks a forked child to drain (only the child unblocks it),
     * and is the handover thread's word to main (serve/handover.h). */
    sigset_t blocked = *set;
    sigaddset(&blocked, SIGUSR2);
    int err = pthread_sigmask(SIG_BLOCK, &blocked, NULL);
    if (err != 0)
        log_syscall("pthread_sigmask", NULL, err);
    return err ? -1 : 0;
}

/* SIGUSR1, as nginx does: logrotate renames the log, then signals; the
 * log is opened again under its name, and forked children do the same. */
static void reopen_log(const struct server *srv)
{
    const char *path = srv->cfg->access_log;
    if (!path || strcmp(path, "-") == 0 || srv->access_fd < 0)
        return;
    if (access_log_reopen(path, srv->access_fd) != 0) {
        log_error("SIGUSR1: cannot reopen access log %s: %s (still writing to the old file)", path, strerror(errno));
        return;
    }
    if (srv->model->reopened)
        srv->model->reopened();
    if (!srv->cfg->quiet)
        log_error("SIGUSR1: access log %s reopened", path);
}

/* Waits for a stop signal, reopening the log at each SIGUSR1 and reloading
 * the certificates at each SIGHUP meanwhile. */
static int wait_for_stop(const struct server *srv, const sigset_t *set)
{
    for (;;) {
        int sig = 0;
        if (sigwait(set, &sig) != 0)
            continue;
        if (sig != SIGHUP && sig != SIGUSR1)
            return sig;
        fork_gate_enter();
        if (sig == SIGHUP)
            serve_stacks_reload(srv);
        else
            reopen_log(srv);
        fork_gate_leave();
    }
}

struct second_signal {
    sigset_t signals;
    const struct server *srv;
};

/* While the first stop signal drains, a second one ends the process at once:
 * the operator has chosen not to wait. */
static void *stop_at_second_signal(void *arg)
{
    const struct second_signal *ss = arg;
    int sig = wait_for_stop(ss->srv, &ss->signals);
    log_error("%s received again: stopping at once, connections in flight are cut", strsignal(sig));
    if (ss->srv->model->cut)
        ss->srv->model->cut();
    _exit(1);
}

static int prepare(struct server *srv, const struct serve_config *cfg)
{
    char err[256];
    memset(srv->listen_fd, -1, sizeof srv->listen_fd);
    srv->files.root_fd = -1;
    srv->cfg = cfg;
    srv->access_fd = -1;
    srv->status_fd = -1;
    srv->notify_fd = -1;
    srv->model = find_model(cfg->model);
    if (!srv->model) {
        log_error("unknown model \"%s\" (see %s --help)", cfg->model, command_name(srv));
        return -1;
    }
    srv->proto = cfg->proto ? cfg->proto : &serve_proto_http;
    if (srv->proto->uses_files && files_open(&srv->files, cfg->dir, err, sizeof err) != 0) {
        log_error("%s", err);
        return -1;
    }
    srv->files.index = cfg->index_count ? cfg->index : NULL;
    srv->files.index_count = cfg->index_count;
    srv->files.vhosts = cfg->site.vhosts;
    if (srv->proto->uses_files && cfg->list_dirs && cfg->dir && files_list_dirs(&srv->files, cfg->list_max) != 0) {
        log_error("out of memory for the listing cache");
        return -1;
    }
    if (srv->proto->uses_files && cfg->compress && cfg->dir) {
        struct compress_settings cs = {cfg->compress_types ? cfg->compress_types : COMPRESS_DEFAULT_TYPES,
                                       cfg->compress_min, cfg->compress_max, cfg->compress_cache};
        if (files_compress(&srv->files, &cs) != 0) {
            log_error("out of memory for the compression cache");
            return -1;
        }
    }
    if (srv->proto->uses_files && cfg->auth_file) {
        srv->auth = auth_load(cfg->auth_file, cfg->auth_realm, err, sizeof err);
        if (!srv->auth) {
            log_error("%s", err);
            return -1;
        }
    }
    srv->access_fd = access_log_open(cfg->access_log);
    if (srv->access_fd == -1) {
        log_error("cannot open access log %s: %s", cfg->access_log, strerror(errno));
        return -1;
    }
    if (srv->access_fd == -2)
        srv->access_fd = -1;
    srv->max_fds = raise_fd_limit(cfg);
    if (engine_totals_open(srv) != 0)
        return -1;
    srv->listen_sets = srv->model->event_loops ? cfg->workers : 1;
    if (serve_stacks_build(srv) != 0 || status_open(srv) != 0)
        return -1;
    if (cfg->handover && handover_begin(srv, cfg->handover) != 0)
        return -1;
    if (open_listeners(srv) != 0)
        return -1;
    /* Before the sandbox: see serve/notify.h. */
    srv->notify_fd = notify_open();
    if (cfg->user && privileges_drop(cfg->uid, cfg->gid, cfg->user) != 0)
        return -1;
    return 0;
}

/* READY=1 for systemd, with the addresses as STATUS. */
static void notify_ready(const struct server *srv)
{
    char msg[512] = "READY=1\nSTATUS=serving on";
    for (int i = 0; i < srv->cfg->listen_count && srv->notify_fd >= 0; i++) {
        struct net_addr bound = {.len = sizeof bound.sa, .family = srv->cfg->listen[i].family};
        char text[NET_ADDR_TEXT_MAX];
        size_t used = strlen(msg);
        if (getsockname(srv->listen_fd[0][i], (struct sockaddr *)&bound.sa, &bound.len) != 0)
            bound = srv->cfg->listen[i];
        snprintf(msg + used, sizeof msg - used, " %s", net_addr_format(&bound, text, sizeof text));
    }
    notify_send(srv->notify_fd, msg);
}

/* After a successor took the listeners: no more accepts, every answer
 * closes its connection, so keep-alive clients move to the successor after
 * their next response. Waits for the connections to end by themselves, at
 * most --drain-timeout or until a stop signal; the stop that follows closes
 * only what stayed idle all that time. */
static void retire(struct server *srv, const sigset_t *stop_signals)
{
    const struct timespec slice = {0, 20 * 1000 * 1000};
    int64_t until = timer_clock_ms() + (int64_t)srv->cfg->drain_timeout * 1000;
    if (!srv->cfg->quiet)
        fprintf(stderr, "%s: handed the listeners over to pid %d; finishing the connections held (at most %d s)\n",
                command_name(srv), handover_successor(srv), srv->cfg->drain_timeout);
    notify_send(srv->notify_fd, "STATUS=handed over, finishing its connections");
    while (atomic_load(&srv->live) > 0 && timer_clock_ms() < until) {
        int sig = sigtimedwait(stop_signals, NULL, &slice);
        if (sig == SIGUSR1)
            reopen_log(srv);
        else if (sig == SIGHUP)
            serve_stacks_reload(srv);
        else if (sig > 0)
            break;
    }
}

/* Waits for SIGINT or SIGTERM, or for a successor to take over. */
static void serve_until_stop(struct server *srv, const sigset_t *stop_signals)
{
    sigset_t waits = *stop_signals;
    sigaddset(&waits, SIGUSR2);
    for (;;) {
        int sig = wait_for_stop(srv, &waits);
        if (sig == SIGUSR2 && !handover_given(srv))
            continue; /* not from the handover thread */
        atomic_store(&srv->draining, 1);
        notify_send(srv->notify_fd, "STOPPING=1");
        if (sig == SIGUSR2) {
            retire(srv, stop_signals);
            return;
        }
        if (!srv->cfg->quiet)
            fprintf(stderr, "%s: %s received, finishing %s in flight (at most %d s)\n", command_name(srv),
                    strsignal(sig), srv->proto == &serve_proto_http ? "responses" : "connections",
                    srv->cfg->drain_timeout);
        return;
    }
}

/* The model and what runs beside it. The fork model's acceptor may fork
 * while this thread still allocates here: the start-up is a gated section. */
static int start_serving(struct server *srv)
{
    fork_gate_enter();
    int ok = srv->model->start(srv) == 0 && status_start(srv) == 0;
    if (ok) {
        announce(srv);
        notify_ready(srv);
        handover_complete(srv);
        ok = handover_serve(srv, pthread_self()) == 0;
    }
    fork_gate_leave();
    return ok ? 0 : -1;
}

int serve_run(const struct serve_config *cfg)
{
    static struct server srv;
    sigset_t stop_signals;
    int status = 1;
    if (prepare(&srv, cfg) != 0 || confine(&srv) != 0 || block_stop_signals(&srv, &stop_signals) != 0 ||
        files_start(&srv.files) != 0)
        goto out;
    if (start_serving(&srv) != 0) {
        srv.model->stop(&srv);
        goto out;
    }
    serve_until_stop(&srv, &stop_signals);
    static struct second_signal second_signal;
    second_signal = (struct second_signal){stop_signals, &srv};
    pthread_t second;
    if (gate_thread_create(&second, stop_at_second_signal, &second_signal) == 0)
        pthread_detach(second);
    srv.model->stop(&srv);
    status_stop(&srv);
    log_limits_flush(timer_clock_ms(), 1);
    engine_report(&srv);
    /* A stop that had to cut responses did not finish its work. */
    status = engine_drain_cut(&srv) ? 1 : 0;
out:
    status_stop(&srv);
    handover_end(&srv);
    engine_totals_close(&srv);
    close_listeners(&srv);
    if (srv.notify_fd >= 0)
        close(srv.notify_fd);
    if (srv.access_fd > STDERR_FILENO)
        close(srv.access_fd);
    files_close(&srv.files);
    serve_stacks_free(&srv);
    auth_free(srv.auth);
    srv.auth = NULL;
    return status;
}
