/* `duct cat`: flags into a cat_config, then the stream, datagram or echo
 * path. A stream echo server is `duct serve`'s machinery with the echo
 * protocol in place of HTTP, so every concurrency model serves it. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cat/cat.h"
#include "cli/args.h"
#include "serve/proto.h"
#include "serve/server.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: duct cat [options] ADDR\n"
            "       duct cat --listen [options] ADDR\n"
            "\n"
            "Copies stdin to a socket and the socket to stdout, both at once.\n"
            "\n"
            "ADDR:  tcp://HOST:PORT    TCP (HOST: a name, 127.0.0.1, [::1])\n"
            "       udp://HOST:PORT    UDP: each stdin line is one datagram\n"
            "       unix:/path         Unix stream socket (unix:@name: abstract namespace)\n"
            "       unixgram:/path     Unix datagram socket (unixgram:@name too)\n"
            "       tls://HOST:PORT    TLS over TCP: a client like openssl s_client (verifies the\n"
            "                          certificate against the system CA store, sends SNI); with\n"
            "                          --listen a server like openssl s_server (--tls-cert, --tls-key)\n"
            "\n"
            "options:\n"
            "  -l, --listen         wait for a client (stream) or for datagrams, instead of connecting\n"
            "  -k, --keep-open      stream: after a client leaves, wait for the next one\n"
            "  -e, --echo           with --listen: an echo server (RFC 862) until SIGINT or SIGTERM;\n"
            "                       a stream echo server serves many clients at once with --model,\n"
            "                       over TLS too (--listen --echo tls://ADDR --tls-cert C --tls-key K);\n"
            "                       a datagram echo server is one recvfrom/sendto loop (no models)\n"
            "  -m, --model M        concurrency model of a stream echo server (default epoll):\n");
    for (int i = 0; serve_models[i]; i++)
        fprintf(out, "                         %-9s %s\n", serve_models[i]->name, serve_models[i]->summary);
    fprintf(out,
            "  -w, --workers N      event loops of the select, poll, epoll and uring models (default 1)\n"
            "      --threads N      threads of the pool model (default 16)\n"
            "      --no-shutdown    stream: at the end of stdin keep the write side open (no half-close)\n"
            "  -t, --timeout T      seconds (fractions allowed) to connect, and that the connection may\n"
            "                       stay idle; datagram connect mode waits this long for replies after\n"
            "                       stdin ends (default 1 s); an echo server closes clients idle this long\n"
            "  -v, --verbose        say what happens on stderr (\"listening on ...\" once ready)\n"
            "      --cacert FILE    tls:// client: also trust the CA certificates of FILE (PEM)\n"
            "      --insecure       tls:// client: do not verify the server's certificate\n"
            "      --tls-cert FILE  --listen tls://: the certificate chain to present (PEM)\n"
            "      --tls-key FILE   --listen tls://: its private key (PEM)\n"
            "  -h, --help           this help\n"
            "\n"
            "Exit status: 0 done; 1 I/O error or connection reset; 2 usage error; 6 host name not\n"
            "resolved; 7 connect, bind or listen failed, or nobody answers (UDP port unreachable);\n"
            "28 --timeout expired; 35 TLS handshake failed; 60 the server's certificate did not verify.\n");
}

enum { OPT_NO_SHUTDOWN = 256, OPT_THREADS, OPT_CACERT, OPT_INSECURE, OPT_TLS_CERT, OPT_TLS_KEY };

static const struct option options[] = {
    {"listen", no_argument, NULL, 'l'},
    {"keep-open", no_argument, NULL, 'k'},
    {"echo", no_argument, NULL, 'e'},
    {"model", required_argument, NULL, 'm'},
    {"workers", required_argument, NULL, 'w'},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"no-shutdown", no_argument, NULL, OPT_NO_SHUTDOWN},
    {"timeout", required_argument, NULL, 't'},
    {"verbose", no_argument, NULL, 'v'},
    {"cacert", required_argument, NULL, OPT_CACERT},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

struct cat_args {
    struct cat_config cfg;
    const char *model; /* NULL: not given */
    int workers;
    int threads;
};

static int parse_timeout(const char *text, int *ms)
{
    if (args_timeout_ms(text, ms) == 0)
        return 0;
    fprintf(stderr, "duct cat: --timeout wants seconds (0 < T <= 86400), not \"%s\"\n", text);
    return -1;
}

static int parse_int(const char *flag, const char *text, int max, int *out)
{
    long long v;
    if (args_count(text, 1, max, &v) != 0) {
        fprintf(stderr, "duct cat: %s wants a number from 1 to %d, not \"%s\"\n", flag, max, text);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* One option. Returns 0, 1 after --help, or CAT_USAGE. */
static int apply_option(struct cat_args *a, int opt, const char *arg)
{
    switch (opt) {
    case 'l': a->cfg.listen = 1; return 0;
    case 'k': a->cfg.keep_open = 1; return 0;
    case 'e': a->cfg.echo = 1; return 0;
    case 'm': a->model = arg; return 0;
    case 'v': a->cfg.verbose = 1; return 0;
    case OPT_NO_SHUTDOWN: a->cfg.no_shutdown = 1; return 0;
    case OPT_CACERT: a->cfg.cacert = arg; return 0;
    case OPT_INSECURE: a->cfg.insecure = 1; return 0;
    case OPT_TLS_CERT: a->cfg.tls_cert = arg; return 0;
    case OPT_TLS_KEY: a->cfg.tls_key = arg; return 0;
    case 't': return parse_timeout(arg, &a->cfg.timeout_ms) ? CAT_USAGE : 0;
    case 'w': return parse_int("--workers", arg, SERVE_MAX_WORKERS, &a->workers) ? CAT_USAGE : 0;
    case OPT_THREADS: return parse_int("--threads", arg, 100000, &a->threads) ? CAT_USAGE : 0;
    case 'h': usage(stdout); return 1;
    default: fprintf(stderr, "duct cat: see duct cat --help\n"); return CAT_USAGE;
    }
}

static int known_model(const char *name)
{
    for (int i = 0; serve_models[i]; i++)
        if (strcmp(serve_models[i]->name, name) == 0)
            return 1;
    return 0;
}

/* Combinations that make no sense are usage errors, not silently ignored. */
static int check_args(const struct cat_args *a)
{
    const struct cat_config *c = &a->cfg;
    const char *why = NULL;
    if (c->echo && !c->listen)
        why = "--echo needs --listen";
    else if (a->model && !(c->echo && c->socktype == SOCK_STREAM))
        why = "--model applies to a stream echo server only (--listen --echo with tcp:// or unix:)";
    else if (c->keep_open && !c->listen)
        why = "--keep-open needs --listen";
    else if (a->model && !known_model(a->model))
        why = "unknown --model (duct cat --help lists them)";
    else if ((c->cacert || c->insecure) && !(c->tls && !c->listen))
        why = "--cacert and --insecure are for a tls:// client";
    else if ((c->tls_cert || c->tls_key) && !(c->tls && c->listen))
        why = "--tls-cert and --tls-key are for --listen tls://";
    else if (c->tls && c->listen && !(c->tls_cert && c->tls_key))
        why = "--listen tls:// needs --tls-cert FILE and --tls-key FILE";
    if (why)
        fprintf(stderr, "duct cat: %s\n", why);
    return why ? CAT_USAGE : 0;
}

/* "tls://HOST:PORT" is "tcp://HOST:PORT" with TLS on top; HOST (without
 * brackets) is what the server's certificate must name. Other addresses
 * pass through. */
static const char *tls_endpoint(struct cat_config *cfg, char *tcp, size_t len)
{
    const char *rest = cfg->text + 6;
    if (strncmp(cfg->text, "tls://", 6) != 0)
        return cfg->text;
    cfg->tls = 1;
    snprintf(tcp, len, "tcp://%s", rest);
    const char *end = strrchr(rest, ':');
    size_t n = end ? (size_t)(end - rest) : strlen(rest);
    if (n >= 2 && rest[0] == '[' && rest[n - 1] == ']') {
        rest++;
        n -= 2;
    }
    snprintf(cfg->tls_host, sizeof cfg->tls_host, "%.*s", (int)n, rest);
    return tcp;
}

static int parse(int argc, char **argv, struct cat_args *a)
{
    int opt;
    char err[256];
    memset(a, 0, sizeof *a);
    a->cfg.timeout_ms = -1;
    a->workers = 1;
    a->threads = 16;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "lkem:w:t:vh", options, NULL)) != -1) {
        int status = apply_option(a, opt, optarg);
        if (status)
            return status;
    }
    if (argc - optind != 1) {
        fprintf(stderr, "duct cat: %s (see duct cat --help)\n", optind == argc ? "missing ADDR" : "one ADDR only");
        return CAT_USAGE;
    }
    a->cfg.text = argv[optind];
    char tcp[NET_ADDR_TEXT_MAX + 16];
    const char *endpoint = tls_endpoint(&a->cfg, tcp, sizeof tcp);
    if (net_endpoint_parse(endpoint, &a->cfg.addr, &a->cfg.socktype, err, sizeof err) != 0) {
        fprintf(stderr, "duct cat: bad address \"%s\": %s\n", a->cfg.text, err);
        return strstr(err, "cannot resolve") ? CAT_RESOLVE : CAT_USAGE;
    }
    return check_args(a);
}

/* The stream echo server is duct serve with another protocol: the same
 * listeners, models, timeouts and graceful stop. */
static int run_echo_server(const struct cat_args *a)
{
    static struct serve_config sc;
    int timeout = a->cfg.timeout_ms < 0 ? 60 : (a->cfg.timeout_ms + 999) / 1000;
    memset(&sc, 0, sizeof sc);
    sc.listen[0] = a->cfg.addr;
    sc.listen_count = 1;
    if (a->cfg.tls) { /* the same TLS layer as duct serve's https:// listeners */
        sc.listen_opts[0].tls = 1;
        sc.tls_cert[0] = a->cfg.tls_cert;
        sc.tls_key[0] = a->cfg.tls_key;
        sc.tls_certs = 1;
    }
    sc.workers = a->workers;
    sc.threads = a->threads;
    sc.model = a->model ? a->model : "epoll";
    sc.max_head = 8192;
    sc.max_conns = 10000;
    sc.header_timeout = sc.idle_timeout = sc.send_timeout = timeout;
    sc.drain_timeout = 5;
    sc.proto = &serve_proto_echo;
    sc.command = "duct cat";
    return serve_run(&sc) == 0 ? CAT_OK : CAT_CONNECT;
}

int cat_main(int argc, char **argv)
{
    static struct cat_args a;
    int status = parse(argc, argv, &a);
    if (status)
        return status == 1 ? CAT_OK : status;
    if (a.cfg.echo && a.cfg.socktype == SOCK_STREAM)
        return run_echo_server(&a);
    cat_catch_stop_signals();
    return a.cfg.socktype == SOCK_STREAM ? cat_stream_run(&a.cfg) : cat_dgram_run(&a.cfg);
}
