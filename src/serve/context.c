#include "serve/context.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "serve/auth.h"

/* Every exchange is counted for /metrics, and logged when there is a log. */
static void exchange_done(void *opaque, const struct http_log_entry *entry)
{
    struct serve_ctx *ctx = opaque;
    int64_t now_us = metrics_now_us();
    int64_t *started = ctx->started_us;
    metrics_count(&ctx->metrics, entry, started && *started ? now_us - *started : 0);
    if (started)
        *started = now_us; /* a pipelined request behind this one starts now */
    access_log_write(&ctx->log, entry);
}

int serve_ctx_init(struct serve_ctx *ctx, struct server *srv)
{
    memset(ctx, 0, offsetof(struct serve_ctx, log));
    access_log_init(&ctx->log, srv->access_fd);
    if (!srv->proto->uses_files)
        return 0;
    struct file_cache_limits limits = {srv->cfg->cache_max_file, srv->cfg->cache_max_bytes, srv->cfg->cache_entries};
    if (srv->model && srv->model->ctx_per_conn && limits.max_bytes > FILE_CACHE_CONN_BYTES)
        limits.max_bytes = FILE_CACHE_CONN_BYTES;
    ctx->files = file_cache_new(files_handler(&srv->files), NULL, &limits);
    if (!ctx->files) {
        log_syscall("calloc", "file cache", ENOMEM);
        return -1;
    }
    http_ctx_init(&ctx->http, srv->cfg->max_head, srv->cfg->max_body, file_cache_handler(ctx->files));
    ctx->http.reply.max_age = srv->cfg->max_age;
    ctx->http.gather = 1;
    ctx->http.on_log = exchange_done;
    ctx->http.log_ctx = ctx;
    ctx->http.close_all = srv->retiring;
    if (http_site_active(&srv->cfg->site))
        ctx->http.reply.site = &srv->cfg->site;
    ctx->http.log_host = srv->cfg->site.vhosts;
    ctx->log.vhost = srv->cfg->site.vhosts;
    if (srv->auth)
        ctx->http.auth = (struct http_auth){auth_check, srv->auth, auth_challenge(srv->auth)};
    return 0;
}

void serve_ctx_trim(struct serve_ctx *ctx)
{
    http_ctx_trim(&ctx->http);
}

void serve_ctx_destroy(struct serve_ctx *ctx)
{
    if (ctx->log.len)
        access_log_flush(&ctx->log);
    http_ctx_destroy(&ctx->http);
    file_cache_free(ctx->files);
    ctx->files = NULL;
}
