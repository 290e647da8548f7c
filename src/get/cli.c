/* `duct get`: flags into a get_config, in curl's spelling. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "get/get.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: duct get [options] URL...\n"
            "\n"
            "Fetches each http:// or https:// URL over HTTP/1.1 and writes the body, byte for byte,\n"
            "to stdout. https verifies the server's certificate against the system CA store and\n"
            "its name (or IP address), and sends SNI and ALPN http/1.1.\n"
            "URLs on the same host share one keep-alive connection; the first failure ends the run.\n"
            "\n"
            "options:\n"
            "  -I, --head              HEAD request; the response head goes to stdout\n"
            "  -X, --request METHOD    the request method (default GET, or POST with -d)\n"
            "  -H, --header 'N: v'     add a header, or replace a default one; 'N:' removes it\n"
            "  -d, --data DATA         request body DATA, or the bytes of FILE with @FILE (@- is stdin),\n"
            "                          sent as they are, as application/x-www-form-urlencoded unless -H says\n"
            "  -o, --output FILE       write the body to FILE (one URL only)\n"
            "  -O, --remote-name       write the body to the file named by the URL's last segment\n"
            "  -L, --location          follow redirects (at most 10); a relative Location is resolved\n"
            "  -C, --continue-at -     resume the output file from its size with a Range request\n"
            "      --unix-socket PATH  connect to the Unix socket PATH instead of the URL's host\n"
            "      --cacert FILE       https: also trust the CA certificates of FILE (PEM)\n"
            "  -k, --insecure          https: do not verify the server's certificate\n"
            "  -f, --fail              a status >= 400 prints nothing and exits 22\n"
            "  -m, --timeout T         seconds (fractions allowed) to connect, and that no byte may arrive\n"
            "  -v, --verbose           the request and response heads, and connections, on stderr\n"
            "  -h, --help              this help\n"
            "\n"
            "A progress bar is drawn on stderr when it is a terminal and the body is over 1 MiB.\n"
            "\n"
            "Exit status (curl's numbers): 0 ok; 1 unsupported scheme; 2 usage error; 3 malformed\n"
            "URL; 6 host not resolved; 7 connect failed; 8 not an HTTP/1.x reply; 18 body cut short;\n"
            "22 HTTP status >= 400 with --fail; 23 write error; 26 -d @FILE unreadable; 28 timeout;\n"
            "33 the server cannot resume (-C -); 35 TLS handshake failed; 47 more than 10\n"
            "redirects; 52 empty reply; 56 connection reset while receiving; 60 the server's\n"
            "certificate did not verify; 77 --cacert FILE unreadable.\n");
}

enum { OPT_UNIX_SOCKET = 256, OPT_CACERT };

static const struct option options[] = {
    {"head", no_argument, NULL, 'I'},
    {"request", required_argument, NULL, 'X'},
    {"header", required_argument, NULL, 'H'},
    {"data", required_argument, NULL, 'd'},
    {"output", required_argument, NULL, 'o'},
    {"remote-name", no_argument, NULL, 'O'},
    {"location", no_argument, NULL, 'L'},
    {"continue-at", required_argument, NULL, 'C'},
    {"unix-socket", required_argument, NULL, OPT_UNIX_SOCKET},
    {"cacert", required_argument, NULL, OPT_CACERT},
    {"insecure", no_argument, NULL, 'k'},
    {"fail", no_argument, NULL, 'f'},
    {"timeout", required_argument, NULL, 'm'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* The whole of FILE ("-": stdin) as the request body. */
static int read_data_file(const char *path, struct get_config *cfg)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    if (!f || !buf) {
        fprintf(stderr, "duct get: -d @%s: %s\n", path, strerror(f ? ENOMEM : errno));
        free(buf);
        return GET_READ;
    }
    for (size_t n; (n = fread(buf + len, 1, cap - len, f)) > 0;) {
        len += n;
        char *bigger = len == cap ? realloc(buf, cap *= 2) : buf;
        if (!bigger) {
            free(buf);
            return GET_READ;
        }
        buf = bigger;
    }
    int failed = ferror(f);
    if (f != stdin)
        fclose(f);
    if (failed) {
        fprintf(stderr, "duct get: -d @%s: read error\n", path);
        free(buf);
        return GET_READ;
    }
    free(cfg->data_owned); /* a second -d replaces the first */
    cfg->data = cfg->data_owned = buf;
    cfg->data_len = len;
    return GET_OK;
}

static int parse_timeout(const char *text, int *ms)
{
    if (args_timeout_ms(text, ms) == 0)
        return GET_OK;
    fprintf(stderr, "duct get: --timeout wants seconds (0 < T <= 86400), not \"%s\"\n", text);
    return GET_USAGE;
}

static int add_header(struct get_config *cfg, const char *h)
{
    const char *colon = strchr(h, ':');
    if (!colon || colon == h || strpbrk(h, "\r\n")) {
        fprintf(stderr, "duct get: -H wants \"Name: value\", not \"%s\"\n", h);
        return GET_USAGE;
    }
    if (cfg->header_count == GET_MAX_HEADERS) {
        fprintf(stderr, "duct get: at most %d -H headers\n", GET_MAX_HEADERS);
        return GET_USAGE;
    }
    cfg->headers[cfg->header_count++] = h;
    return GET_OK;
}

/* One option. Returns GET_OK, -1 after --help, or an exit status. */
static int apply_option(struct get_config *cfg, int opt, const char *arg)
{
    switch (opt) {
    case 'I': cfg->head = 1; return GET_OK;
    case 'X': cfg->method = arg; return GET_OK;
    case 'H': return add_header(cfg, arg);
    case 'o': cfg->output = arg; return GET_OK;
    case 'O': cfg->remote_name = 1; return GET_OK;
    case 'L': cfg->follow = 1; return GET_OK;
    case 'f': cfg->fail = 1; return GET_OK;
    case 'v': cfg->verbose = 1; return GET_OK;
    case 'm': return parse_timeout(arg, &cfg->timeout_ms);
    case OPT_UNIX_SOCKET: cfg->unix_socket = arg; return GET_OK;
    case OPT_CACERT: cfg->cacert = arg; return GET_OK;
    case 'k': cfg->insecure = 1; return GET_OK;
    case 'd':
        cfg->has_data = 1;
        if (arg[0] == '@')
            return read_data_file(arg + 1, cfg);
        cfg->data = arg;
        cfg->data_len = strlen(arg);
        return GET_OK;
    case 'C':
        if (strcmp(arg, "-") != 0) {
            fprintf(stderr, "duct get: only -C - (resume from the file's size) is supported\n");
            return GET_USAGE;
        }
        cfg->resume = 1;
        return GET_OK;
    case 'h': usage(stdout); return -1;
    default: fprintf(stderr, "duct get: see duct get --help\n"); return GET_USAGE;
    }
}

static int check_config(const struct get_config *cfg, int url_count)
{
    const char *why = NULL;
    if (url_count == 0)
        why = "no URL given";
    else if (cfg->output && (cfg->remote_name || url_count > 1))
        why = "-o FILE takes one URL and no -O";
    else if (cfg->resume && !cfg->output && !cfg->remote_name)
        why = "-C - resumes a file: give -o FILE or -O";
    if (why)
        fprintf(stderr, "duct get: %s (see duct get --help)\n", why);
    return why ? GET_USAGE : GET_OK;
}

int get_main(int argc, char **argv)
{
    static struct get_config cfg;
    int opt, status = GET_OK;
    memset(&cfg, 0, sizeof cfg);
    cfg.timeout_ms = -1;
    optind = 1;
    while (status == GET_OK && (opt = getopt_long(argc, argv, "IX:H:d:o:OLC:fm:vkh", options, NULL)) != -1)
        status = apply_option(&cfg, opt, optarg);
    if (status == GET_OK)
        status = check_config(&cfg, argc - optind);
    if (status == GET_OK)
        status = get_run(&cfg, argv + optind, argc - optind);
    free(cfg.data_owned);
    return status < 0 ? GET_OK : status;
}
