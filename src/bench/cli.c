#include "bench/cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/request.h"
#include "bench/run.h"
#include "bench/units.h"

static void bench_usage(FILE *out)
{
    fprintf(out,
            "usage: duct bench URL [options]\n"
            "\n"
            "Loads an HTTP/1.1 server (or an echo server) and reports latency percentiles,\n"
            "throughput, status classes and errors.\n"
            "\n"
            "URL: http://HOST[:PORT][/PATH], https://HOST[:PORT][/PATH], tcp-echo://HOST:PORT or\n"
            "     udp-echo://HOST:PORT\n"
            "\n"
            "options:\n"
            "  -c, --connections N     connections kept open (default 10)\n"
            "  -t, --threads N         threads, each with its own epoll loop (default 1)\n"
            "  -d, --duration T        measure for T: 10, 10s, 500ms, 2m (default 10s)\n"
            "  -n, --requests N        send exactly N requests instead of a duration\n"
            "      --warmup T          load for T before measuring; not counted anywhere\n"
            "      --rate R            open model: R requests/s over all connections, latency\n"
            "                          counted from when each was due (default: closed model)\n"
            "      --close             Connection: close on every request (a connection each)\n"
            "      --reqs-per-conn N   a new connection after N requests\n"
            "      --pipeline N        write N requests back to back (closed model only)\n"
            "  -H, --header 'N: v'     add a request header; may be repeated\n"
            "  -X, --method M          request method (default GET)\n"
            "      --body FILE         send FILE as the request body\n"
            "      --timeout T         a request not answered within T is an error (default 10s;\n"
            "                          for udp-echo, a datagram not echoed within T is lost: 1s)\n"
            "      --unix-socket PATH  connect to PATH instead of the URL's host\n"
            "      --size BYTES        echo payload per round trip (default 64)\n"
            "      --json FILE         write every figure as JSON\n"
            "      --html FILE         write a self-contained page with latency and throughput plots\n"
            "https (TLS 1.2 or 1.3, SNI, ALPN http/1.1; handshakes are counted and timed apart):\n"
            "      --tls-resume        on reconnecting, resume the connection's last TLS session\n"
            "                          (tickets), so full and resumed handshakes can be measured\n"
            "      --cacert FILE       also trust the CA certificates of FILE (PEM)\n"
            "  -k, --insecure          do not verify the server's certificate\n"
            "  -h, --help              this help\n");
}

enum {
    OPT_WARMUP = 256,
    OPT_RATE,
    OPT_CLOSE,
    OPT_REQS_PER_CONN,
    OPT_PIPELINE,
    OPT_BODY,
    OPT_TIMEOUT,
    OPT_UNIX,
    OPT_JSON,
    OPT_HTML,
    OPT_SIZE,
    OPT_TLS_RESUME,
    OPT_CACERT,
};

static const struct option bench_options[] = {
    {"connections", required_argument, NULL, 'c'},
    {"threads", required_argument, NULL, 't'},
    {"duration", required_argument, NULL, 'd'},
    {"requests", required_argument, NULL, 'n'},
    {"header", required_argument, NULL, 'H'},
    {"method", required_argument, NULL, 'X'},
    {"help", no_argument, NULL, 'h'},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"rate", required_argument, NULL, OPT_RATE},
    {"close", no_argument, NULL, OPT_CLOSE},
    {"reqs-per-conn", required_argument, NULL, OPT_REQS_PER_CONN},
    {"pipeline", required_argument, NULL, OPT_PIPELINE},
    {"body", required_argument, NULL, OPT_BODY},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"unix-socket", required_argument, NULL, OPT_UNIX},
    {"json", required_argument, NULL, OPT_JSON},
    {"html", required_argument, NULL, OPT_HTML},
    {"size", required_argument, NULL, OPT_SIZE},
    {"tls-resume", no_argument, NULL, OPT_TLS_RESUME},
    {"cacert", required_argument, NULL, OPT_CACERT},
    {"insecure", no_argument, NULL, 'k'},
    {NULL, 0, NULL, 0},
};

static int bad(const char *flag, const char *value, const char *want)
{
    fprintf(stderr, "duct bench: %s wants %s, not \"%s\"\n", flag, want, value);
    return 2;
}

static int set_count(const char *flag, const char *arg, uint64_t min, uint64_t max, uint64_t *out)
{
    char want[96];

    if (units_parse_count(arg, min, max, out) == 0)
        return 0;
    snprintf(want, sizeof want, "a number from %llu to %llu", (unsigned long long)min, (unsigned long long)max);
    return bad(flag, arg, want);
}

static int set_seconds(const char *flag, const char *arg, double *out)
{
    return units_parse_duration(arg, out) == 0 ? 0 : bad(flag, arg, "a duration such as 10, 10s, 250ms or 2m");
}

/* Requests per second, with an optional k or M; above 0 and at most 1e8. */
static int parse_rate(const char *arg, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(arg, &end);
    if (errno || end == arg || !isfinite(v))
        return -1;
    if (*end == 'k' || *end == 'K' || *end == 'M')
        v *= *end++ == 'M' ? 1e6 : 1e3;
    if (*end || !(v > 0) || v > 1e8)
        return -1;
    *out = v;
    return 0;
}

/* Options with a numeric value. Returns 0 or 2. */
static int set_number(struct bench_config *cfg, int opt, const char *arg)
{
    uint64_t v;
    int st;

    switch (opt) {
    case 'c':
        st = set_count("-c", arg, 1, 1000000, &v);
        cfg->conns = (int)v;
        return st;
    case 't':
        st = set_count("-t", arg, 1, BENCH_MAX_THREADS, &v);
        cfg->threads = (int)v;
        return st;
    case 'n':
        return set_count("-n", arg, 1, UINT64_MAX / 2, &cfg->requests);
    case OPT_REQS_PER_CONN:
        return set_count("--reqs-per-conn", arg, 1, UINT64_MAX / 2, &cfg->reqs_per_conn);
    case OPT_PIPELINE:
        st = set_count("--pipeline", arg, 1, BENCH_MAX_PIPELINE, &v);
        cfg->pipeline = (int)v;
        return st;
    case OPT_SIZE:
        st = set_count("--size", arg, 1, 1 << 20, &v);
        cfg->size = (size_t)v;
        return st;
    case 'd':
        return set_seconds("-d", arg, &cfg->duration);
    case OPT_WARMUP:
        return set_seconds("--warmup", arg, &cfg->warmup);
    case OPT_TIMEOUT:
        return set_seconds("--timeout", arg, &cfg->timeout);
    default:
        return parse_rate(arg, &cfg->rate) == 0 ? 0 : bad("--rate", arg, "requests per second (2500, 2.5k, 1M)");
    }
}

/* *given collects 1 for -d and 2 for --timeout. */
static int set_option(struct bench_config *cfg, int opt, const char *arg, int *have_d)
{
    switch (opt) {
    case 'H':
        if (cfg->header_count == BENCH_MAX_HEADERS)
            return bad("-H", arg, "at most 64 headers");
        if (!bench_header_valid(arg))
            return bad("-H", arg, "'Name: value'");
        cfg->headers[cfg->header_count++] = arg;
        return 0;
    case 'X':
        for (const char *p = arg; *p; p++)
            if (!(*p >= 'A' && *p <= 'Z') && *p != '-' && *p != '_')
                return bad("-X", arg, "an upper-case method name");
        cfg->method = *arg ? arg : "GET";
        return 0;
    case OPT_CLOSE: cfg->close = 1; return 0;
    case OPT_BODY: cfg->body_file = arg; return 0;
    case OPT_UNIX: cfg->unix_socket = arg; return 0;
    case OPT_JSON: cfg->json_path = arg; return 0;
    case OPT_HTML: cfg->html_path = arg; return 0;
    case OPT_TLS_RESUME: cfg->tls_resume = 1; return 0;
    case OPT_CACERT: cfg->cacert = arg; return 0;
    case 'k': cfg->insecure = 1; return 0;
    case 'd': *have_d |= 1; break;
    case OPT_TIMEOUT: *have_d |= 2; break;
    default: break;
    }
    return set_number(cfg, opt, arg);
}

/* Checks the combinations and fills in what follows from them. Returns 0, 1 or 2. */
static int finish_config(struct bench_config *cfg, int have_d)
{
    char err[256], text[NET_ADDR_TEXT_MAX + 8];
    int http;

    if (bench_url_parse(cfg->target, &cfg->url, err, sizeof err) != 0) {
        fprintf(stderr, "duct bench: bad URL \"%s\": %s\n", cfg->target, err);
        return 2;
    }
    http = cfg->url.scheme == BENCH_HTTP;
    if ((have_d & 1) && cfg->requests) {
        fprintf(stderr, "duct bench: give -d or -n, not both\n");
        return 2;
    }
    if (cfg->close && cfg->reqs_per_conn) {
        fprintf(stderr, "duct bench: give --close or --reqs-per-conn, not both\n");
        return 2;
    }
    if (cfg->close && cfg->pipeline > 1) {
        fprintf(stderr, "duct bench: --close ends the connection after one response: no room for --pipeline\n");
        return 2;
    }
    if (cfg->rate > 0 && cfg->pipeline > 1) {
        fprintf(stderr, "duct bench: --pipeline is for the closed model; --rate sends one request at a time\n");
        return 2;
    }
    if (!http && (cfg->header_count || cfg->body_file || cfg->close || cfg->unix_socket || cfg->method[0] != 'G')) {
        fprintf(stderr, "duct bench: -H, -X, --body, --close and --unix-socket are for http:// targets\n");
        return 2;
    }
    if (!cfg->url.tls && (cfg->tls_resume || cfg->insecure || cfg->cacert)) {
        fprintf(stderr, "duct bench: --tls-resume, -k and --cacert are for https:// targets\n");
        return 2;
    }
    if (cfg->url.scheme == BENCH_UDP_ECHO && (cfg->size < 8 || cfg->size > 65507)) {
        fprintf(stderr, "duct bench: udp-echo wants --size from 8 (the sequence number) to 65507\n");
        return 2;
    }
    /* A datagram is not retransmitted: one second without its echo means it is lost. */
    if (cfg->url.scheme == BENCH_UDP_ECHO && !(have_d & 2))
        cfg->timeout = 1;
    if (cfg->threads > cfg->conns)
        cfg->threads = cfg->conns; /* a thread without a connection would have nothing to do */
    snprintf(text, sizeof text, cfg->unix_socket ? "unix:%s" : "%s", cfg->unix_socket ? cfg->unix_socket : cfg->url.addr);
    if (net_addr_parse(text, &cfg->addr, err, sizeof err) != 0) {
        fprintf(stderr, "duct bench: cannot reach \"%s\": %s\n", text, err);
        return 1;
    }
    cfg->progress = isatty(STDOUT_FILENO);
    return 0;
}

static void bench_defaults(struct bench_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->conns = 10;
    cfg->threads = 1;
    cfg->duration = 10;
    cfg->pipeline = 1;
    cfg->method = "GET";
    cfg->timeout = 10;
    cfg->size = 64;
}

int bench_main(int argc, char **argv)
{
    static struct bench_config cfg;
    int opt, have_d = 0, status;

    bench_defaults(&cfg);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:t:d:n:H:X:kh", bench_options, NULL)) != -1) {
        if (opt == 'h') {
            bench_usage(stdout);
            return 0;
        }
        if (opt == '?') {
            fprintf(stderr, "duct bench: see duct bench --help\n");
            return 2;
        }
        if ((status = set_option(&cfg, opt, optarg, &have_d)) != 0)
            return status;
    }
    if (argc - optind != 1) {
        fprintf(stderr, "%s", argc > optind ? "duct bench: one URL only\n" : "duct bench: which URL? (see duct bench --help)\n");
        return 2;
    }
    cfg.target = argv[optind];
    if ((status = finish_config(&cfg, have_d)) != 0)
        return status;
    return bench_run(&cfg);
}
