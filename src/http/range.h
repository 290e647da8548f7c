/* Byte ranges (RFC 9110 §14): parsing a Range field value against a
 * representation's length into a short, sorted list of disjoint ranges. */
#ifndef DUCT_HTTP_RANGE_H
#define DUCT_HTTP_RANGE_H

#include <stddef.h>
#include <stdint.h>

/* Parts a multipart/byteranges answer may hold after coalescing. Beyond it
 * the Range field is ignored and the whole representation is sent (200), as
 * nginx does: a full answer is always correct, while 416 would fail a client
 * whose request was valid. */
#define HTTP_RANGE_MAX 16

struct http_range {
    uint64_t first; /* inclusive */
    uint64_t last;  /* inclusive, < the representation's length */
};

enum http_range_result {
    HTTP_RANGE_IGNORE,        /* answer 200 with the whole representation */
    HTTP_RANGE_PARTIAL,       /* answer 206 with out[0..*count) */
    HTTP_RANGE_UNSATISFIABLE, /* answer 416 with Content-Range: bytes * / size */
};

/* Parses value[0..len) (the Range field value, OWS trimmed) for a
 * representation of size bytes. Ranges come out sorted, with overlapping or
 * adjacent ones merged, in out[0..*count), at most cap of them (the caller's
 * array; HTTP_RANGE_MAX for an answer).
 *
 * IGNORE when the unit is not "bytes", the syntax is invalid (RFC 9110
 * §14.2 lets a server ignore it), more than cap disjoint ranges would be
 * needed, or the requested ranges add up to more than size bytes (overlap
 * used to amplify the answer). UNSATISFIABLE when no range is satisfiable
 * (§14.1.1). Numbers of any length are accepted: they saturate. */
enum http_range_result http_range_parse(const char *value, size_t len, uint64_t size, struct http_range *out,
                                        size_t cap, size_t *count);

#endif
