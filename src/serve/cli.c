/* `duct serve`: flags into a serve_config, then serve_run. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "net/addr.h"
#include "serve/filecache.h"
#include "serve/activation.h"
#include "serve/privileges.h"
#include "serve/server.h"
#include "serve/site.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: duct serve [DIR] [options]\n"
                 "\n"
                 "Serves the files under DIR (or the built-in demo site) over HTTP/1.1.\n"
                 "\n"
                 "options:\n"
                 "  -l, --listen ADDR       listen on ADDR; may be repeated (default 127.0.0.1:8080)\n"
                 "                          ADDR: 127.0.0.1:8080, [::1]:8080, :8080, unix:/path;\n"
                 "                          proxy:ADDR wants a PROXY protocol header (v1 or v2, as\n"
                 "                          HAProxy's send-proxy sends) first on each connection and\n"
                 "                          logs the client it names; no valid header: closed\n"
                 "                          https://ADDR (or tls://ADDR) serves HTTPS there, and\n"
                 "                          proxy:https://ADDR a PROXY header then HTTPS (default\n"
                 "                          with a certificate and no --listen: https://127.0.0.1:8443)\n"
                 "      --tls-cert FILE     PEM certificate (then its chain) of the https:// listeners;\n"
                 "                          may be repeated: the first is the default, the others are\n"
                 "                          chosen by the name the client asks for (SNI)\n"
                 "      --tls-key FILE      PEM private key of the --tls-cert before it\n"
                 "      --tls-self-signed   no files: a certificate for localhost, 127.0.0.1 and ::1\n"
                 "                          made in memory at start; its SHA-256 fingerprint is printed\n"
                 "  -m, --model M           concurrency model (default epoll), one of:\n");
    for (int i = 0; serve_models[i]; i++)
        fprintf(out, "                            %-9s %s\n", serve_models[i]->name, serve_models[i]->summary);
    fprintf(out, "  -w, --workers N         event loops for select, poll, epoll and uring (default: CPUs)\n"
                 "  -t, --threads N         threads of the pool model (default: 4 x CPUs)\n"
                 "      --access-log FILE   Combined Log Format access log; '-' for stdout\n"
                 "      --max-conns N       live connections at most (default 10000)\n"
                 "      --max-body BYTES    largest request body accepted and discarded (default 1048576)\n"
                 "      --max-head BYTES    largest request line and header section (default 16384)\n"
                 "      --header-timeout S  seconds to receive a request head (default 30)\n"
                 "      --idle-timeout S    seconds a keep-alive connection may idle (default 60)\n"
                 "      --send-timeout S    seconds a client may stall a response (default 60)\n"
                 "      --drain-timeout S   seconds a graceful stop waits for responses in flight,\n"
                 "                          then cuts them (default 30; a second signal stops at once)\n"
                 "      --max-age S         send Cache-Control: max-age=S with files (default: none)\n"
                 "      --cache-max-file BYTES  files up to BYTES are kept in memory, checked against\n"
                 "                          the disk once a second (default 65536; 0: none)\n"
                 "      --cache-max-bytes BYTES  memory for kept files, per worker (default 33554432;\n"
                 "                          thread and fork: per connection, 262144 at most)\n"
                 "      --cache-entries N   files a worker's cache holds at most (default 1024)\n"
                 "      --list-dirs         list directories that have no index.html (default: 403)\n"
                 "      --list-max N        entries a listing shows at most; a note counts the rest\n"
                 "                          (default 10000)\n"
                 "      --compress on|off   compress text on the fly with zstd, br or gzip, as the\n"
                 "                          client prefers, when the file has no precompressed\n"
                 "                          .zst/.br/.gz sibling (default on); compressed once per\n"
                 "                          version of a file, outside the event loops, kept in memory\n"
                 "      --compress-types L  media types to compress, comma-separated, type/* for a\n"
                 "                          whole type (default text/*, JavaScript, JSON, XML, SVG,\n"
                 "                          WebAssembly)\n"
                 "      --compress-min B    smallest file compressed, in bytes (default 256)\n"
                 "      --compress-max B    largest file compressed, in bytes (default 8388608)\n"
                 "      --compress-cache B  bytes of compressed variants kept (default 67108864)\n"
                 "      --auth FILE         require HTTP Basic authentication against an htpasswd\n"
                 "                          file (bcrypt from htpasswd -B, or SHA-512-crypt), read at\n"
                 "                          start; answers 401 otherwise (default: no authentication)\n"
                 "      --auth-realm R      the realm the 401 names (default \"duct\")\n"
                 "      --status-listen ADDR\n"
                 "                          serve /healthz (200, or 503 once a stop began) and\n"
                 "                          /metrics (Prometheus text) on ADDR, a listener of its\n"
                 "                          own (default: off)\n"
                 "      --index NAME        a directory's index file; repeat for more, tried in order\n"
                 "                          (default index.html)\n"
                 "\n"
                 "site options (all off by default; docs/HTTP.md gives the nginx and Caddy twins):\n"
                 "      --header 'N: V'     add a header to answers about a file and to redirects\n"
                 "                          (repeatable; nginx add_header)\n"
                 "      --header-always 'N: V'\n"
                 "                          the same, and on error answers too (add_header ... always)\n"
                 "      --cors [ORIGIN]     Access-Control-Allow-Origin: ORIGIN (default *) on every\n"
                 "                          answer; a CORS preflight OPTIONS gets 204 with GET, HEAD\n"
                 "      --fallback PATH     a missing path with no extension gets the file PATH\n"
                 "                          under the root with status 200 (single-page apps)\n"
                 "      --try-html          /about is answered by /about.html, and /about.html\n"
                 "                          redirects to /about (try_files $uri $uri.html)\n"
                 "      --error-page CODE=PATH\n"
                 "                          the body of error CODE (4xx, 5xx) is the file PATH under\n"
                 "                          the root (repeatable; nginx error_page)\n"
                 "      --vhosts DIR        instead of DIR: serve DIR/HOST/ for the Host HOST,\n"
                 "                          DIR/_default/ for an unknown one, else 404; access-log\n"
                 "                          lines then start with host:port (GoAccess VCOMBINED)\n"
                 "\n"
                 "      --no-sandbox        do not confine the process (default: once started, read\n"
                 "                          only DIR, write only the access log, no new privileges)\n"
                 "      --user NAME         once the sockets and files are open, run as NAME\n"
                 "                          (its uid and group, no other groups)\n"
                 "      --allow-root        serve as root without --user (otherwise refused;\n"
                 "                          DUCT_ALLOW_ROOT=1 in the environment says the same)\n"
                 "      --handover PATH     restarts without loss: a server started with the same\n"
                 "                          PATH takes over this one's listening sockets over the\n"
                 "                          Unix socket PATH, then this one finishes and exits\n"
                 "  -q, --quiet             no start-up or stop messages\n"
                 "  -h, --help              this help\n"
                 "\n"
                 "SIGINT or SIGTERM stops accepting, closes idle connections, finishes responses\n"
                 "in flight and exits 0; what still runs after --drain-timeout is cut (exit 1), and a\n"
                 "second signal stops at once (exit 1). SIGUSR1 reopens the access log (after\n"
                 "logrotate renamed it).\n"
                 "\n"
                 "Under systemd, sockets passed by socket activation (LISTEN_FDS) are served in\n"
                 "place of --listen, and NOTIFY_SOCKET gets READY=1 and STOPPING=1 (Type=notify).\n");
}

/* A whole decimal number in [min, max]; anything else is a usage error. */
static int parse_count(const char *flag, const char *text, long long min, long long max, long long *out)
{
    if (args_count(text, min, max, out) == 0)
        return 0;
    fprintf(stderr, "duct serve: %s wants a number from %lld to %lld, not \"%s\"\n", flag, min, max, text);
    return -1;
}

enum {
    OPT_ACCESS_LOG = 256,
    OPT_MAX_CONNS,
    OPT_MAX_BODY,
    OPT_MAX_HEAD,
    OPT_HEADER_TIMEOUT,
    OPT_IDLE_TIMEOUT,
    OPT_SEND_TIMEOUT,
    OPT_DRAIN_TIMEOUT,
    OPT_MAX_AGE,
    OPT_LIST_DIRS,
    OPT_LIST_MAX,
    OPT_NO_SANDBOX,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_TLS_SELF_SIGNED,
    OPT_CACHE_MAX_FILE,
    OPT_CACHE_MAX_BYTES,
    OPT_CACHE_ENTRIES,
    OPT_STATUS_LISTEN,
    OPT_USER,
    OPT_ALLOW_ROOT,
    OPT_HANDOVER,
    OPT_COMPRESS,
    OPT_COMPRESS_TYPES,
    OPT_COMPRESS_MIN,
    OPT_COMPRESS_MAX,
    OPT_COMPRESS_CACHE,
    OPT_AUTH,
    OPT_AUTH_REALM,
};

static const struct option serve_options[] = {
    {"listen", required_argument, NULL, 'l'},
    {"model", required_argument, NULL, 'm'},
    {"workers", required_argument, NULL, 'w'},
    {"threads", required_argument, NULL, 't'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"access-log", required_argument, NULL, OPT_ACCESS_LOG},
    {"max-conns", required_argument, NULL, OPT_MAX_CONNS},
    {"max-body", required_argument, NULL, OPT_MAX_BODY},
    {"max-head", required_argument, NULL, OPT_MAX_HEAD},
    {"header-timeout", required_argument, NULL, OPT_HEADER_TIMEOUT},
    {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
    {"send-timeout", required_argument, NULL, OPT_SEND_TIMEOUT},
    {"drain-timeout", required_argument, NULL, OPT_DRAIN_TIMEOUT},
    {"max-age", required_argument, NULL, OPT_MAX_AGE},
    {"list-dirs", no_argument, NULL, OPT_LIST_DIRS},
    {"list-max", required_argument, NULL, OPT_LIST_MAX},
    {"no-sandbox", no_argument, NULL, OPT_NO_SANDBOX},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"tls-self-signed", no_argument, NULL, OPT_TLS_SELF_SIGNED},
    {"cache-max-file", required_argument, NULL, OPT_CACHE_MAX_FILE},
    {"cache-max-bytes", required_argument, NULL, OPT_CACHE_MAX_BYTES},
    {"cache-entries", required_argument, NULL, OPT_CACHE_ENTRIES},
    {"user", required_argument, NULL, OPT_USER},
    {"allow-root", no_argument, NULL, OPT_ALLOW_ROOT},
    {"handover", required_argument, NULL, OPT_HANDOVER},
    {"compress", required_argument, NULL, OPT_COMPRESS},
    {"compress-types", required_argument, NULL, OPT_COMPRESS_TYPES},
    {"compress-min", required_argument, NULL, OPT_COMPRESS_MIN},
    {"compress-max", required_argument, NULL, OPT_COMPRESS_MAX},
    {"compress-cache", required_argument, NULL, OPT_COMPRESS_CACHE},
    {"auth", required_argument, NULL, OPT_AUTH},
    {"auth-realm", required_argument, NULL, OPT_AUTH_REALM},
    {"status-listen", required_argument, NULL, OPT_STATUS_LISTEN},
    SERVE_SITE_OPTIONS,
    {NULL, 0, NULL, 0},
};

static void serve_defaults(struct serve_config *cfg)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    memset(cfg, 0, sizeof *cfg);
    cfg->workers = cpus > 0 ? (int)(cpus > SERVE_MAX_WORKERS ? SERVE_MAX_WORKERS : cpus) : 1;
    cfg->threads = cpus > 0 ? (int)(4 * cpus) : 4;
    cfg->model = "epoll";
    /* RFC 9112 §3: request lines of at least 8,000 octets; the rest leaves
     * room for the fields of a browser with its cookies. */
    cfg->max_head = 16384;
    cfg->max_body = 1 << 20;
    cfg->max_conns = 10000;
    cfg->header_timeout = 30;
    cfg->idle_timeout = 60;
    cfg->send_timeout = 60;
    cfg->drain_timeout = 30;
    cfg->max_age = -1;
    cfg->list_max = 10000;
    cfg->cache_max_file = FILE_CACHE_MAX_FILE;
    cfg->cache_max_bytes = FILE_CACHE_MAX_BYTES;
    cfg->cache_entries = FILE_CACHE_ENTRIES;
    cfg->sandbox = 1;
    cfg->compress = 1;
    cfg->compress_min = 256;
    cfg->compress_max = 8 << 20;
    cfg->compress_cache = 64 << 20;
    cfg->auth_realm = "duct";
}

/* The flags of compression on the fly and authentication. Returns 0, or 2
 * for a usage error. */
static int set_site_option(struct serve_config *cfg, int opt, const char *arg)
{
    char err[256];
    long long v;
    switch (opt) {
    case OPT_COMPRESS:
        if (strcmp(arg, "on") != 0 && strcmp(arg, "off") != 0) {
            fprintf(stderr, "duct serve: --compress wants on or off, not \"%s\"\n", arg);
            return 2;
        }
        cfg->compress = arg[1] == 'n';
        return 0;
    case OPT_COMPRESS_TYPES:
        if (compress_types_check(arg, err, sizeof err) != 0) {
            fprintf(stderr, "duct serve: %s\n", err);
            return 2;
        }
        cfg->compress_types = arg;
        return 0;
    case OPT_COMPRESS_MIN:
    case OPT_COMPRESS_MAX:
        if (parse_count(opt == OPT_COMPRESS_MIN ? "--compress-min" : "--compress-max", arg, 0, 1LL << 30, &v) != 0)
            return 2;
        *(opt == OPT_COMPRESS_MIN ? &cfg->compress_min : &cfg->compress_max) = (uint64_t)v;
        return 0;
    case OPT_COMPRESS_CACHE:
        if (parse_count("--compress-cache", arg, 0, 1LL << 40, &v) != 0)
            return 2;
        cfg->compress_cache = (size_t)v;
        return 0;
    case OPT_AUTH:
        cfg->auth_file = arg;
        return 0;
    default:
        for (const unsigned char *c = (const unsigned char *)arg; *c; c++)
            if (*c < 0x20 || *c == 0x7f || *c == '"' || *c == '\\') {
                fprintf(stderr, "duct serve: --auth-realm takes no control character, '\"' or '\\'\n");
                return 2;
            }
        cfg->auth_realm = arg;
        return 0;
    }
}

/* "https://ADDR" or "tls://ADDR": a TLS listener. Returns ADDR alone. */
static const char *strip_tls(const char *text, int *tls)
{
    static const char *const schemes[] = {"https://", "tls://"};
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
        if (strncmp(text, schemes[i], strlen(schemes[i])) == 0) {
            *tls = 1;
            return text + strlen(schemes[i]);
        }
    *tls = 0;
    return text;
}

static int add_listen(struct serve_config *cfg, const char *text)
{
    char err[256];
    const char *arg = text;
    struct serve_listen_opts opts = {0};
    int tls;
    if (strncmp(text, "proxy:", 6) == 0) {
        opts.proxy = 1;
        text += 6;
    }
    text = strip_tls(text, &tls);
    opts.tls = (unsigned)tls;
    if (cfg->listen_count == SERVE_MAX_LISTEN) {
        fprintf(stderr, "duct serve: at most %d --listen addresses\n", SERVE_MAX_LISTEN);
        return 2;
    }
    if (net_addr_parse(text, &cfg->listen[cfg->listen_count], err, sizeof err) != 0) {
        fprintf(stderr, "duct serve: bad --listen \"%s\": %s\n", arg, err);
        return 1;
    }
    cfg->listen_opts[cfg->listen_count++] = opts;
    return 0;
}

static int set_status_listen(struct serve_config *cfg, const char *text)
{
    char err[256];
    if (net_addr_parse(text, &cfg->status_listen, err, sizeof err) != 0) {
        fprintf(stderr, "duct serve: bad --status-listen \"%s\": %s\n", text, err);
        return 1; /* as a bad --listen address */
    }
    cfg->status_listen_set = 1;
    return 0;
}

/* Applies one numeric option. Returns 0, or 2 for a usage error. */
static int set_number(struct serve_config *cfg, int opt, const char *arg)
{
    long long v;
    switch (opt) {
    case 'w':
        if (parse_count("--workers", arg, 1, SERVE_MAX_WORKERS, &v) != 0)
            return 2;
        cfg->workers = (int)v;
        return 0;
    case 't':
        if (parse_count("--threads", arg, 1, 100000, &v) != 0)
            return 2;
        cfg->threads = (int)v;
        return 0;
    case OPT_MAX_CONNS:
        if (parse_count("--max-conns", arg, 1, 10000000, &v) != 0)
            return 2;
        cfg->max_conns = (int)v;
        return 0;
    case OPT_MAX_BODY:
        if (parse_count("--max-body", arg, 0, 1LL << 50, &v) != 0)
            return 2;
        cfg->max_body = (uint64_t)v;
        return 0;
    case OPT_MAX_HEAD:
        if (parse_count("--max-head", arg, 256, 1 << 20, &v) != 0)
            return 2;
        cfg->max_head = (size_t)v;
        return 0;
    case OPT_MAX_AGE:
        /* RFC 9111 §1.2.2: delta-seconds need not exceed 2^31. */
        if (parse_count("--max-age", arg, 0, 2147483648LL, &v) != 0)
            return 2;
        cfg->max_age = (long)v;
        return 0;
    case OPT_CACHE_MAX_FILE:
    case OPT_CACHE_MAX_BYTES:
        if (parse_count(opt == OPT_CACHE_MAX_FILE ? "--cache-max-file" : "--cache-max-bytes", arg, 0, 1LL << 40,
                        &v) != 0)
            return 2;
        *(opt == OPT_CACHE_MAX_FILE ? &cfg->cache_max_file : &cfg->cache_max_bytes) = (size_t)v;
        return 0;
    case OPT_CACHE_ENTRIES:
        if (parse_count("--cache-entries", arg, 1, 1 << 24, &v) != 0)
            return 2;
        cfg->cache_entries = (size_t)v;
        return 0;
    case OPT_LIST_MAX:
        if (parse_count("--list-max", arg, 1, 10000000, &v) != 0)
            return 2;
        cfg->list_max = (size_t)v;
        return 0;
    default:
        break;
    }
    if (opt == OPT_DRAIN_TIMEOUT) {
        if (parse_count("--drain-timeout", arg, 0, 86400, &v) != 0)
            return 2;
        cfg->drain_timeout = (int)v;
        return 0;
    }
    int *timeout = opt == OPT_HEADER_TIMEOUT ? &cfg->header_timeout
                   : opt == OPT_IDLE_TIMEOUT ? &cfg->idle_timeout
                                             : &cfg->send_timeout;
    if (parse_count("timeout", arg, 1, 86400, &v) != 0)
        return 2;
    *timeout = (int)v;
    return 0;
}

/* --tls-cert, --tls-key (each key after its certificate), --tls-self-signed.
 * Returns 0, or 2 for a usage error. */
static int add_tls(struct serve_config *cfg, int opt, const char *arg)
{
    if (opt == OPT_TLS_SELF_SIGNED) {
        cfg->tls_self_signed = 1;
        return 0;
    }
    if (opt == OPT_TLS_CERT) {
        if (cfg->tls_certs == SERVE_MAX_CERTS) {
            fprintf(stderr, "duct serve: at most %d --tls-cert\n", SERVE_MAX_CERTS);
            return 2;
        }
        cfg->tls_cert[cfg->tls_certs++] = arg;
        return 0;
    }
    if (cfg->tls_certs == 0 || cfg->tls_key[cfg->tls_certs - 1]) {
        fprintf(stderr, "duct serve: --tls-key %s: each --tls-key follows its --tls-cert\n", arg);
        return 2;
    }
    cfg->tls_key[cfg->tls_certs - 1] = arg;
    return 0;
}

/* TLS listeners and certificates go together. 0, or 2 for a usage error. */
static int check_tls(const struct serve_config *cfg)
{
    int listeners = 0;
    for (int i = 0; i < cfg->listen_count; i++)
        listeners += cfg->listen_opts[i].tls;
    if (cfg->tls_certs && !cfg->tls_key[cfg->tls_certs - 1]) {
        fprintf(stderr, "duct serve: --tls-cert %s has no --tls-key after it\n", cfg->tls_cert[cfg->tls_certs - 1]);
        return 2;
    }
    if (cfg->tls_certs && cfg->tls_self_signed) {
        fprintf(stderr, "duct serve: --tls-self-signed or --tls-cert, not both\n");
        return 2;
    }
    if (listeners && !cfg->tls_certs && !cfg->tls_self_signed) {
        fprintf(stderr, "duct serve: an https:// listener needs --tls-cert and --tls-key, or --tls-self-signed\n");
        return 2;
    }
    if (!listeners && (cfg->tls_certs || cfg->tls_self_signed)) {
        fprintf(stderr, "duct serve: a certificate but no https:// listener (--listen https://ADDR)\n");
        return 2;
    }
    return 0;
}

static int set_user(struct serve_config *cfg, const char *name)
{
    char err[256];
    if (privileges_lookup(name, &cfg->uid, &cfg->gid, err, sizeof err) != 0) {
        fprintf(stderr, "duct serve: --user: %s\n", err);
        return 2;
    }
    cfg->user = name;
    return 0;
}

static int parse(int argc, char **argv, struct serve_config *cfg, int *allow_root)
{
    int opt;
    serve_defaults(cfg);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "l:m:w:t:qh", serve_options, NULL)) != -1) {
        int status = 0;
        switch (opt) {
        case 'l':
            status = add_listen(cfg, optarg);
            break;
        case 'm':
            cfg->model = optarg;
            break;
        case 'q':
            cfg->quiet = 1;
            break;
        case 'h':
            usage(stdout);
            return -1;
        case OPT_ACCESS_LOG:
            cfg->access_log = optarg;
            break;
        case OPT_LIST_DIRS:
            cfg->list_dirs = 1;
            break;
        case OPT_NO_SANDBOX:
            cfg->sandbox = 0;
            break;
        case OPT_TLS_CERT:
        case OPT_TLS_KEY:
        case OPT_TLS_SELF_SIGNED:
            status = add_tls(cfg, opt, optarg);
            break;
        case OPT_STATUS_LISTEN:
            status = set_status_listen(cfg, optarg);
            break;
        case OPT_USER:
            status = set_user(cfg, optarg);
            break;
        case OPT_ALLOW_ROOT:
            *allow_root = 1;
            break;
        case OPT_HANDOVER:
            cfg->handover = optarg;
            break;
        case '?':
            fprintf(stderr, "duct serve: see duct serve --help\n");
            return 2;
        default:
            if (serve_site_is_option(opt))
                status = serve_site_option(cfg, opt, optarg, argc, argv, &optind);
            else if (opt >= OPT_COMPRESS)
                status = set_site_option(cfg, opt, optarg);
            else
                status = set_number(cfg, opt, optarg);
            break;
        }
        if (status)
            return status;
    }
    if (argc - optind > 1) {
        fprintf(stderr, "duct serve: one DIR at most (got \"%s\" too)\n", argv[optind + 1]);
        return 2;
    }
    int site_status = serve_site_finish(cfg, optind < argc ? argv[optind] : NULL);
    if (site_status)
        return site_status;
    cfg->listen_given = cfg->listen_count > 0;
    if (cfg->compress_min > cfg->compress_max) {
        fprintf(stderr, "duct serve: --compress-min is above --compress-max\n");
        return 2;
    }
    int tls = cfg->tls_certs || cfg->tls_self_signed;
    if (cfg->listen_count == 0) {
        int status = add_listen(cfg, tls ? "https://127.0.0.1:8443" : "127.0.0.1:8080");
        if (status)
            return status;
    }
    return check_tls(cfg);
}

/* Sockets systemd passed replace the --listen addresses. */
static int take_activated(struct serve_config *cfg, int listen_given)
{
    char err[256];
    int n = activation_take(cfg, err, sizeof err);
    if (n < 0) {
        fprintf(stderr, "duct serve: socket activation: %s\n", err);
        return 1;
    }
    if (n > 0 && listen_given && !cfg->quiet)
        fprintf(stderr, "duct serve: serving the %d socket%s systemd passed (LISTEN_FDS), not --listen\n", n,
                n == 1 ? "" : "s");
    return 0;
}

int serve_main(int argc, char **argv)
{
    static struct serve_config cfg;
    int allow_root = 0;
    int status = parse(argc, argv, &cfg, &allow_root);
    if (status == -1)
        return 0;
    if (status)
        return status;
    if (privileges_refuse_root(cfg.user, allow_root)) {
        fprintf(stderr, "duct serve: refusing to serve as root: give --user NAME to run as NAME once the "
                        "sockets are bound, or --allow-root\n");
        return 2;
    }
    if (take_activated(&cfg, cfg.listen_given) != 0)
        return 1;
    return serve_run(&cfg);
}
