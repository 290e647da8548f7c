/* duct get: an HTTP/1.1 client in the manner of curl, over TCP or a Unix
 * socket, in clear or over TLS (https), with keep-alive across URLs, redirects, resume and curl's exit
 * statuses. */
#ifndef DUCT_GET_GET_H
#define DUCT_GET_GET_H

#include <stddef.h>
#include <stdint.h>

#define GET_MAX_HEADERS 64

/* Exit statuses: curl's numbers for the same failures. */
enum {
    GET_OK = 0,
    GET_UNSUPPORTED = 1, /* a scheme other than http and https */
    GET_USAGE = 2,
    GET_BAD_URL = 3,
    GET_RESOLVE = 6,
    GET_CONNECT = 7,
    GET_WEIRD = 8,       /* a response that is not HTTP/1.x, or whose framing cannot be trusted */
    GET_PARTIAL = 18,    /* the connection closed before the whole body came */
    GET_HTTP_ERROR = 22, /* --fail and a status >= 400 */
    GET_WRITE = 23,      /* writing the output failed */
    GET_READ = 26,       /* reading -d @FILE failed */
    GET_TIMEOUT = 28,
    GET_RANGE = 33,      /* -C: the server did not resume where asked */
    GET_TLS_HANDSHAKE = 35, /* the TLS handshake failed (the peer does not speak TLS, nothing in common) */
    GET_REDIRECTS = 47,  /* more than 10 redirects */
    GET_EMPTY = 52,      /* the server closed without answering */
    GET_RECV = 56,       /* the connection failed while receiving (reset) */
    GET_TLS_CERT = 60,   /* the server's certificate did not verify (chain or name) */
    GET_CACERT = 77,     /* --cacert FILE could not be loaded */
};

struct get_config {
    const char *method;  /* -X; NULL: GET, or HEAD with -I, or POST with -d */
    int head;            /* -I: HEAD, and the response head goes to stdout */
    const char *headers[GET_MAX_HEADERS]; /* -H "Name: value" as given */
    int header_count;
    const char *data;    /* -d: the request body (a file's bytes for @FILE) */
    size_t data_len;
    int has_data;
    char *data_owned;    /* the buffer of -d @FILE, freed by get_main */
    const char *output;  /* -o FILE; NULL: stdout */
    int remote_name;     /* -O: the file named by the URL's last segment */
    int follow;          /* -L */
    int resume;          /* -C -: continue the output file from its size */
    const char *unix_socket; /* --unix-socket PATH */
    int verbose;
    int fail;            /* --fail */
    int timeout_ms;      /* connect and idle bound; -1: none */
    const char *cacert;  /* --cacert FILE: CAs trusted besides the system store */
    int insecure;        /* -k: https without certificate verification */
};

/* Fetches each URL in turn, reusing one connection while the host stays the
 * same. Returns the exit status of the first failure, or GET_OK. */
int get_run(const struct get_config *cfg, char **urls, int count);

/* `duct get ...`. */
int get_main(int argc, char **argv);

#endif
