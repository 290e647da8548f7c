/* duct: the command line's dispatcher. Each subcommand's cli.c (src/serve,
 * src/bench, src/get, src/cat) parses its flags into a config and hands it to
 * its module; only this file exits. Exit status 2 is a usage error, 1 a
 * runtime failure. */
#include <stdio.h>
#include <string.h>

#include "bench/cli.h"
#include "cat/cat.h"
#include "get/get.h"
#include "serve/server.h"

#ifndef DUCT_VERSION
#define DUCT_VERSION "0.0.0"
#endif

static void usage_main(FILE *out)
{
    fprintf(out,
            "duct %s: the socket programming model made real\n"
            "\n"
            "usage: duct <command> [options]\n"
            "\n"
            "commands:\n"
            "  serve [DIR]   HTTP/1.1 static-file server (the built-in demo site without DIR)\n"
            "  bench URL     HTTP/1.1 load generator: latency percentiles, throughput, errors\n"
            "  get URL...    HTTP/1.1 client in the manner of curl (keep-alive, -L, -C -, --fail)\n"
            "  cat ADDR      stdin/stdout to a TCP, UDP or Unix socket; --listen; --echo server\n"
            "\n"
            "  duct --help | duct --version | duct <command> --help\n",
            DUCT_VERSION);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage_main(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage_main(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("duct %s\n", DUCT_VERSION);
        return 0;
    }
    if (strcmp(cmd, "serve") == 0)
        return serve_main(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0)
        return bench_main(argc - 1, argv + 1);
    if (strcmp(cmd, "get") == 0)
        return get_main(argc - 1, argv + 1);
    if (strcmp(cmd, "cat") == 0)
        return cat_main(argc - 1, argv + 1);
    fprintf(stderr, "duct: unknown command \"%s\" (see duct --help)\n", cmd);
    return 2;
}
