/* The PROXY protocol as a layer in front of a listener's protocol (HTTP,
 * or TLS then HTTP): a load balancer such as HAProxy sends a header naming
 * the client before the client's bytes. The layer reads it (net/proxy.h),
 * bounded in size by PROXY_MAX and in time by --header-timeout (a
 * connection waiting for it is in the header phase), then runs the inner
 * protocol with the client's address as the peer the access log sees, and
 * hands it what followed the header. A connection without a valid header is
 * closed and counted as "proxy-header". */
#ifndef DUCT_SERVE_PROTO_PROXY_H
#define DUCT_SERVE_PROTO_PROXY_H

#include "serve/proto.h"

/* A layer over inner, for the listeners that ask for it; NULL when out of
 * memory. Free it with proto_proxy_free once no connection uses it. */
struct serve_proto *proto_proxy_new(const struct serve_proto *inner);
void proto_proxy_free(struct serve_proto *layer);

#endif
