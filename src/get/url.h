/* http:// and https:// URLs for duct get: parsing (RFC 3986 §3) and resolving a
 * reference such as a Location header against the URL it came from (RFC 3986
 * §5.2). Pure: no I/O, no allocation, no resolver. */
#ifndef DUCT_GET_URL_H
#define DUCT_GET_URL_H

#include <stddef.h>

#define GET_URL_HOST_MAX 256
#define GET_URL_TARGET_MAX 8192

struct get_url {
    char host[GET_URL_HOST_MAX]; /* a name, an IPv4 literal, or an IPv6 literal without brackets */
    int ipv6;                    /* host is an IPv6 literal: it takes brackets in the authority */
    int tls;                     /* https: */
    unsigned port;               /* 80 (443 for https) unless the URL names one */
    int port_given;
    char target[GET_URL_TARGET_MAX]; /* path and query for the request line, at least "/"; no fragment */
};

enum {
    GET_URL_BAD = -1,         /* malformed, or too long */
    GET_URL_UNSUPPORTED = -2, /* a scheme other than http and https */
};

/* Parses an absolute http or https URL ("http://host:port/path?query#fragment"; the
 * scheme and host are case-insensitive and the host is kept in lower case).
 * Dot segments are removed from the path and bytes that cannot appear in a
 * request line (space, controls, non-ASCII, ...) are percent-encoded.
 * Returns 0, GET_URL_BAD or GET_URL_UNSUPPORTED with a one-line reason in err. */
int get_url_parse(const char *text, struct get_url *url, char *err, size_t errlen);

/* Resolves ref (absolute, "//host/p", "/p", "p", "?q", "../p", ...) against
 * base into out, as RFC 3986 §5.2 says. Same returns as get_url_parse. */
int get_url_resolve(const struct get_url *base, const char *ref, struct get_url *out, char *err, size_t errlen);

/* The authority as a Host header carries it: "host", "host:8080", "[::1]:8080";
 * the scheme's default port is left out. */
char *get_url_authority(const struct get_url *url, char *out, size_t outlen);

/* The last path segment, percent-decoded, for -O; NULL when it is empty or
 * unusable as a file name ("", ".", "..", or holding '/' or NUL once decoded). */
const char *get_url_file_name(const struct get_url *url, char *out, size_t outlen);

#endif
