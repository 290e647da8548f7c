#include "serve/stack.h"

#include <stdio.h>
#include <stdlib.h>

#include "serve/log.h"
#include "serve/proto_tls.h"

struct layers {
    struct tls_server *tls;
    struct serve_proto tls_proto; /* TLS in front of srv->proto */
};

static int any_tls(const struct serve_config *cfg)
{
    for (int i = 0; i < cfg->listen_count; i++)
        if (cfg->listen_opts[i].tls)
            return 1;
    return 0;
}

static struct tls_server *load_tls(const struct server *srv)
{
    const struct serve_config *cfg = srv->cfg;
    struct tls_server_config tc = {
        .count = cfg->tls_certs,
        .self_signed = cfg->tls_self_signed,
        .alpn = srv->proto->uses_files ? "http/1.1" : NULL,
    };
    char err[512];
    for (int i = 0; i < cfg->tls_certs && i < TLS_MAX_CERTS; i++) {
        tc.cert[i] = cfg->tls_cert[i];
        tc.key[i] = cfg->tls_key[i];
    }
    struct tls_server *ts = tls_server_new(&tc, err, sizeof err);
    if (!ts)
        log_error("TLS: %s", err);
    return ts;
}

static void announce_self_signed(struct tls_server *ts, const struct server *srv)
{
    char fp[TLS_FINGERPRINT_MAX];
    tls_server_fingerprint(ts, fp);
    fprintf(stderr,
            "%s: TLS certificate made for localhost, 127.0.0.1 and ::1 (self-signed, in memory)\n"
            "%s: its SHA-256 fingerprint: %s\n",
            srv->cfg->command ? srv->cfg->command : "duct serve", srv->cfg->command ? srv->cfg->command : "duct serve",
            fp);
}

int serve_stacks_build(struct server *srv)
{
    struct layers *l = NULL;
    if (any_tls(srv->cfg)) {
        l = calloc(1, sizeof *l);
        if (!l) {
            log_error("out of memory for the TLS layer");
            return -1;
        }
        srv->layers = l;
        if (!(l->tls = load_tls(srv)))
            return -1;
        serve_proto_tls_make(&l->tls_proto, srv->proto, l->tls);
        if (srv->cfg->tls_self_signed)
            announce_self_signed(l->tls, srv);
    }
    for (int i = 0; i < srv->cfg->listen_count; i++)
        srv->stack[i] = srv->cfg->listen_opts[i].tls ? &l->tls_proto : srv->proto;
    return 0;
}

int serve_stacks_reloadable(const struct server *srv)
{
    const struct layers *l = srv->layers;
    return l && l->tls;
}

int serve_stacks_reload(struct server *srv)
{
    struct layers *l = srv->layers;
    char err[512];
    if (!l || !l->tls)
        return 0;
    if (tls_server_reload(l->tls, err, sizeof err) != 0) {
        log_error("SIGHUP: certificates not reloaded, the ones in use stay: %s", err);
        return -1;
    }
    log_error("SIGHUP: certificates reloaded; new connections use them");
    return 0;
}

void serve_stacks_free(struct server *srv)
{
    struct layers *l = srv->layers;
    if (l)
        tls_server_free(l->tls);
    free(l);
    srv->layers = NULL;
}
