/* The TLS layer as a serve_proto (serve/proto_tls.c): built at start-up for
 * each TLS listener, in front of the server's protocol. */
#ifndef DUCT_SERVE_PROTO_TLS_H
#define DUCT_SERVE_PROTO_TLS_H

#include "serve/proto.h"
#include "tls/server.h"

/* Fills out: the TLS layer over inner, with server's certificates. */
void serve_proto_tls_make(struct serve_proto *out, const struct serve_proto *inner, struct tls_server *server);

/* The layer's own object: what an idle TLS connection holds besides its
 * engine record and OpenSSL's session state. */
size_t serve_proto_tls_idle_bytes(void);

#endif
