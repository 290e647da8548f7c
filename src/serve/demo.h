/* The demo site compiled into the binary (see tools/embed.c), served when
 * `duct serve` is given no DIR. */
#ifndef DUCT_SERVE_DEMO_H
#define DUCT_SERVE_DEMO_H

#include <stddef.h>

struct demo_asset {
    const char *path; /* "/index.html" */
    const unsigned char *data;
    size_t len;
};

/* Terminated by an entry whose path is NULL. */
extern const struct demo_asset demo_assets[];

#endif
