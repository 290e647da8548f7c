/* The bytes of a request, built once before the run: the connections write
 * them straight from this buffer, so no request is formatted or allocated
 * while the load runs. */
#ifndef DUCT_BENCH_REQUEST_H
#define DUCT_BENCH_REQUEST_H

#include <stddef.h>

#include "bench/bench.h"

/* Builds cfg->pipeline copies of the request back to back into a malloc'd
 * buffer (*out, freed by the caller); *one_len is the length of one copy. For
 * the echo targets the "request" is cfg->size bytes of payload. Returns 0, or
 * -1 with a one-line reason in err. */
int bench_request_build(const struct bench_config *cfg, char **out, size_t *one_len, char *err, size_t errlen);

/* Checks one -H value: "Name: value", a token for a name, no CR or LF. */
int bench_header_valid(const char *header);

#endif
