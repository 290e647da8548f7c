/* What every concurrency model is given: the configuration, the document root
 * handler, the access log and the listening sockets, already set up. A model
 * only decides who accepts, who reads and writes, and when. */
#ifndef DUCT_SERVE_SERVER_H
#define DUCT_SERVE_SERVER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "http/site.h"
#include "net/addr.h"
#include "serve/files.h"
#include "serve/proto.h"

#define SERVE_MAX_LISTEN 16
#define SERVE_MAX_WORKERS 256
#define SERVE_MAX_CERTS 16
#define SERVE_MAX_INDEX 8

/* What one listener adds in front of the server's protocol: each flag is a
 * layer stacked over it (serve/stack.c builds the stack). */
struct serve_listen_opts {
    unsigned tls : 1;   /* TLS: the server's certificates (serve/proto_tls.c) */
    unsigned proxy : 1; /* a PROXY protocol header first, outermost (serve/proto_proxy.c) */
};

struct serve_config {
    const char *dir; /* NULL: the built-in demo site */
    struct net_addr listen[SERVE_MAX_LISTEN];
    struct serve_listen_opts listen_opts[SERVE_MAX_LISTEN]; /* of listen[i] */
    int listen_count;
    /* The TLS listeners' certificates: pairs of PEM files, the first the
     * default, the others chosen by the name the client asks for (SNI). */
    const char *tls_cert[SERVE_MAX_CERTS];
    const char *tls_key[SERVE_MAX_CERTS];
    int tls_certs;
    int tls_self_signed; /* instead: a certificate for localhost made at start */
    int workers;         /* event loops, for the event-driven models */
    int threads;         /* threads of the pool model */
    const char *model;
    const char *access_log; /* NULL: none; "-": stdout */
    int quiet;
    size_t max_head;
    uint64_t max_body;
    int max_conns;       /* live connections per server; beyond it new ones are closed */
    int header_timeout;  /* seconds to receive a whole request head */
    int idle_timeout;    /* seconds a keep-alive connection may wait for its next request */
    int send_timeout;    /* seconds a client may take to accept more response bytes */
    int drain_timeout;   /* seconds a graceful stop waits for responses in flight */
    long max_age;        /* Cache-Control: max-age of file answers; < 0: none */
    size_t cache_max_file;  /* files up to this size are served from memory (serve/filecache.h); 0: none */
    size_t cache_max_bytes; /* file bytes one worker keeps in memory at most */
    size_t cache_entries;   /* files one worker's cache holds at most */
    int list_dirs;       /* HTML listings of directories without index.html */
    size_t list_max;     /* entries a listing shows at most; a note counts the others */
    int compress;        /* --compress on (the default): text compressed on the fly */
    const char *compress_types; /* media types compressed; NULL: COMPRESS_DEFAULT_TYPES */
    uint64_t compress_min;      /* smaller files are sent as they are */
    uint64_t compress_max;      /* larger ones too */
    size_t compress_cache;      /* bytes of compressed variants kept */
    const char *auth_file;      /* --auth: htpasswd file; NULL: no authentication */
    const char *auth_realm;     /* --auth-realm */
    int sandbox;         /* confine the process once set up (serve/sandbox.h); 0: --no-sandbox,
                          * and duct cat's echo server, which reads no files */
    const struct serve_proto *proto; /* what connections speak; NULL: HTTP (serve_proto_http) */
    const char *command;  /* names the program in messages: "duct serve" when NULL */
    int status_listen_set; /* --status-listen was given: /healthz and /metrics there */
    struct net_addr status_listen;
    /* Sockets handed over by systemd (serve/activation.h): listen[i] for
     * i < inherited is the address of inherited_fd[i], already listening. */
    int inherited;
    int listen_given;    /* --listen was on the command line */
    int inherited_fd[SERVE_MAX_LISTEN];
    const char *inherited_name[SERVE_MAX_LISTEN]; /* LISTEN_FDNAMES */
    const char *user;     /* --user: the identity taken once everything is open; NULL: keep */
    uid_t uid;
    gid_t gid;
    const char *handover; /* --handover PATH: the control socket of restarts (serve/handover.h) */
    /* --index, in order; none given: index.html. */
    const char *index[SERVE_MAX_INDEX];
    int index_count;
    /* --header, --cors, --fallback, --try-html, --error-page, --vhosts
     * (serve/site.h); dir is the --vhosts DIR under --vhosts. */
    struct http_site site;
};

struct server;
struct engine_totals;

/* A concurrency model: one entry per file under src/serve/models/. */
struct serve_model {
    const char *name;
    const char *summary; /* one line for `duct serve --help` */
    int event_loops;     /* runs --workers loops, each with its own SO_REUSEPORT listener */
    int ctx_per_conn;    /* each connection has a serve_ctx of its own (a thread or process):
                            its file cache keeps at most FILE_CACHE_CONN_BYTES of file bytes */
    /* Starts serving on srv's listeners in the background. 0, or -1 after logging why. */
    int (*start)(struct server *srv);
    /* Stops accepting, finishes responses in flight, and returns when all is done. */
    void (*stop)(struct server *srv);
    /* Optional, from any thread while stop runs: the process is about to end
     * at once; end what would outlive it (the fork model's children). */
    void (*cut)(void);
    /* Optional: the access log was just reopened (SIGUSR1); processes of the
     * model that hold their own copy of its descriptor reopen theirs. */
    void (*reopened)(void);
};

struct server {
    const struct serve_config *cfg;
    const struct serve_model *model;
    const struct serve_proto *proto; /* the innermost protocol (HTTP, echo); never NULL */
    /* What listener i's connections speak: proto, or layers in front of it. */
    const struct serve_proto *stack[SERVE_MAX_LISTEN];
    void *layers; /* what serve/stack.c built for the stacks, freed with them */
    struct files files;
    struct auth *auth;    /* --auth, or NULL */
    int access_fd;        /* -1: no access log */
    int max_fds;          /* the descriptor limit after raising it */
    int listen_fd[SERVE_MAX_WORKERS][SERVE_MAX_LISTEN]; /* worker w's listener for address i */
    int listen_sets;      /* rows of listen_fd in use: --workers, or 1 for blocking models */
    int listen_shared[SERVE_MAX_LISTEN]; /* address i has one socket for all workers */
    /* Another process holds address i's socket too (systemd, or a duct
     * taking over or handing over): it is never shut down, since shutdown
     * acts on the socket every holder shares, and its file never removed. */
    atomic_int listen_kept[SERVE_MAX_LISTEN]; /* set by the handover thread, read by a stop */
    /* Set once the listeners were handed to a successor: accept no more and
     * leave the shared queue to it (read by every accepting thread). */
    atomic_int accept_off;
    /* NULL, or a flag in memory shared with forked children: every answer
     * closes its connection (http_ctx.close_all). */
    volatile int *retiring;
    struct handover *handover; /* --handover's state; NULL without it */
    int notify_fd;        /* systemd's NOTIFY_SOCKET, connected; -1: none */
    atomic_int live;      /* connections being served, for --max-conns */
    struct engine_totals *totals; /* closes by reason, summed over workers (serve/engine.h) */
    void *model_state;
    atomic_int draining;  /* a stop began: /healthz says 503 */
    int status_fd;        /* the --status-listen socket, or -1 */
    struct status_server *status; /* its thread (serve/status.h) */
    char sandbox_note[512]; /* what the sandbox allows, for the start-up message */
};

/* The models, NULL-terminated, in the order `--help` lists them. */
extern const struct serve_model *const serve_models[];

/* Runs `duct serve` until SIGINT or SIGTERM. Returns the exit status. */
int serve_run(const struct serve_config *cfg);

/* `duct serve ...` (src/serve/cli.c): argv[0] is "serve". Returns the exit
 * status: 0, 1 (a bad --listen address, or the server failed) or 2 (usage). */
int serve_main(int argc, char **argv);

#endif
