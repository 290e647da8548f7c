/* What every thread (or forked process) that serves connections owns: its
 * open-file cache, its HTTP context (buffer pool, date cache, handler) and
 * its access-log buffer. Owning them per thread keeps locks off the request
 * path in every model. */
#ifndef DUCT_SERVE_CONTEXT_H
#define DUCT_SERVE_CONTEXT_H

#include <time.h>

#include "http/conn.h"
#include "serve/clock.h"
#include "serve/filecache.h"
#include "serve/log.h"
#include "serve/metrics.h"
#include "serve/server.h"

struct serve_ctx {
    struct file_cache *files;
    struct http_ctx http;
    struct metrics_local metrics; /* folded into the server's totals by engine_tick */
    /* When the exchange the connection core is working on began (monotonic
     * us): the protocol adapter points it at its connection's before each
     * call that may finish an exchange, so the log callback can time it. */
    int64_t *started_us;
    struct access_log log; /* last: its 64 KiB buffer is touched only by lines written */
};

/* 0, or -1 after logging why. A protocol that serves no files (echo) gets
 * only the access log; files and http stay zero. */
int serve_ctx_init(struct serve_ctx *ctx, struct server *srv);

/* Gives the pooled read buffers back to the allocator; the context stays usable. */
void serve_ctx_trim(struct serve_ctx *ctx);

/* Flushes the access log and frees the rest. Call once no connection of this
 * context is open. Safe after a failed serve_ctx_init. */
void serve_ctx_destroy(struct serve_ctx *ctx);

#endif
