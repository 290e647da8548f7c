/* --auth: HTTP Basic authentication (RFC 7617) against an htpasswd file.
 *
 * The file is read once, at start (before the sandbox): lines "user:hash",
 * the hash bcrypt ($2y$, as `htpasswd -B` writes it, or $2b$/$2a$) or
 * SHA-512-crypt ($6$), verified with libxcrypt's crypt_rn. Other hashes
 * (htpasswd's default MD5 "$apr1$", "{SHA}", plain text) are refused at
 * start rather than accepted weakly.
 *
 * A hash is slow on purpose (bcrypt at cost 10: ~60 ms), and a browser sends
 * the credentials again with every request. So a verified pair is
 * remembered for AUTH_CACHE_SECONDS in a table of AUTH_CACHE_SLOTS,
 * shared by the workers: not the password, but its HMAC-SHA256 under a key
 * drawn at start. A request thus costs its event loop at most one hash, and
 * only when its pair is not remembered. Every comparison of secrets is
 * constant-time; an unknown user costs a hash too, so that timing does not
 * tell which users exist. */
#ifndef DUCT_SERVE_AUTH_H
#define DUCT_SERVE_AUTH_H

#include <stddef.h>

#include "http/conn.h"

#define AUTH_CACHE_SLOTS 256
#define AUTH_CACHE_SECONDS 60

struct auth;

/* Reads the htpasswd file at path. NULL with a one-line reason in err. */
struct auth *auth_load(const char *path, const char *realm, char *err, size_t errlen);
void auth_free(struct auth *auth);

/* The hook of struct http_auth (ctx is the struct auth). */
int auth_check(void *ctx, const struct http_request *req, char *user, size_t cap);

/* "WWW-Authenticate: Basic realm=..., charset=\"UTF-8\"\r\n". */
const char *auth_challenge(const struct auth *auth);

/* Hashes verified so far (not remembered pairs), for tests. */
unsigned long auth_hashes(struct auth *auth);

#endif
