/* https for duct get: the handshake on a connected blocking socket (bounded
 * by its SO_RCVTIMEO/SO_SNDTIMEO, as every other read and write of duct
 * get), and SSL_read/SSL_write dressed as recv/send so that the HTTP
 * exchange in client.c is the same over TLS and in clear. */
#ifndef DUCT_GET_TLS_H
#define DUCT_GET_TLS_H

#include <sys/types.h>

#include <openssl/ssl.h>

#include "get/get.h"

/* Makes *ctx for the options of cfg unless it exists (the caller frees it),
 * before the first connection, so that a bad --cacert fails at once.
 * Returns GET_OK, or GET_CACERT or GET_TLS_HANDSHAKE having said why. */
int get_tls_context(SSL_CTX **ctx, const struct get_config *cfg);

/* Starts TLS on fd for host with the context of get_tls_context. Returns
 * GET_OK with *ssl set, or, having said why on stderr: GET_TLS_HANDSHAKE,
 * GET_TLS_CERT or GET_TIMEOUT. */
int get_tls_start(SSL_CTX **ctx, const struct get_config *cfg, int fd, const char *host, SSL **ssl);

/* recv and send over ssl: bytes moved, 0 at the end of the stream (recv),
 * or -1 with errno: EAGAIN when the socket's timeout expired, EPROTO for a
 * TLS error (already reported on stderr), the socket's errno otherwise. */

/* Frees ssl; a connection that ended cleanly says close_notify first. */
void get_tls_end(SSL *ssl, int clean);

#endif
