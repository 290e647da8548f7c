/* The PROXY protocol (HAProxy's proxy-protocol.txt), versions 1 (text) and 2
 * (binary): the header a load balancer sends first on a connection to say
 * whom it carries. A pure parser in the picohttpparser shape: no I/O, no
 * allocation, no state; the caller passes what it has read so far. */
#ifndef DUCT_NET_PROXY_H
#define DUCT_NET_PROXY_H

#include <stddef.h>
#include <stdint.h>

/* A version 1 header is at most 107 bytes, CRLF included (spec §2.1). */
#define PROXY_V1_MAX 107
/* A version 2 header is 16 bytes and a payload whose length it gives; duct
 * takes payloads up to 512 bytes (addresses take 216 at most, the rest is
 * room for TLVs), so a header is bounded in size and memory. */
#define PROXY_V2_PAYLOAD_MAX 512
#define PROXY_MAX (16 + PROXY_V2_PAYLOAD_MAX)

#define PROXY_INCOMPLETE (-2) /* a valid beginning: read more */
#define PROXY_BAD (-1)        /* not a PROXY header, or a malformed one */

struct proxy_header {
    int version;         /* 1 or 2 */
    /* 0: the connection's own addresses stand (v2 LOCAL, as a balancer's
     * health check sends; v1 UNKNOWN; v2 UNSPEC or UNIX). Otherwise AF_INET
     * or AF_INET6, with the client's (src) and the balancer's (dst) side. */
    int family;
    uint8_t src[16], dst[16]; /* 4 bytes used for AF_INET */
    uint16_t src_port, dst_port;
};

/* Parses the header at the start of buf[0..len). Returns its length (the
 * bytes after it belong to the protocol it carries), PROXY_INCOMPLETE, or
 * PROXY_BAD. Never reads past len. */
int proxy_parse(const void *buf, size_t len, struct proxy_header *out);

#endif
