#include "serve/stack.h"

#include <stdio.h>
#include <stdlib.h>

#include "serve/log.h"
#include "serve/proto_proxy.h"
#include "serve/proto_tls.h"

/* The layers made for the stacks, freed with them. */
struct stack_layers {
    int count;
    struct serve_proto *made[SERVE_MAX_LISTEN]; /* PROXY layers */
    struct tls_server *tls;                     /* the TLS listeners' certificates */
    struct serve_proto tls_proto;               /* TLS in front of srv->proto */
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
    const char *name = srv->cfg->command ? srv->cfg->command : "duct serve";
    char fp[TLS_FINGERPRINT_MAX];
    tls_server_fingerprint(ts, fp);
    fprintf(stderr,
            "%s: TLS certificate made for localhost, 127.0.0.1 and ::1 (self-signed, in memory)\n"
            "%s: its SHA-256 fingerprint: %s\n",
            name, name, fp);
}

/* Listener i's stack, innermost first: the server's protocol, TLS over it,
 * then the PROXY layer outermost (a balancer's header comes before anything
 * the client sent, its TLS handshake included). */
static int build_one(struct server *srv, struct stack_layers *layers, int i)
{
    const struct serve_listen_opts *opts = &srv->cfg->listen_opts[i];
    srv->stack[i] = srv->proto;
    if (opts->tls)
        srv->stack[i] = &layers->tls_proto;
    if (opts->proxy) {
        struct serve_proto *p = proto_proxy_new(srv->stack[i]);
        if (!p)
            return -1;
        layers->made[layers->count++] = p;
        srv->stack[i] = p;
    }
    return 0;
}

int serve_stacks_build(struct server *srv)
{
    struct stack_layers *layers = calloc(1, sizeof *layers);
    if (!layers) {
        log_error("out of memory for the protocol stacks");
        return -1;
    }
    srv->layers = layers;
    if (any_tls(srv->cfg)) {
        if (!(layers->tls = load_tls(srv)))
            return -1;
        serve_proto_tls_make(&layers->tls_proto, srv->proto, layers->tls);
        if (srv->cfg->tls_self_signed)
            announce_self_signed(layers->tls, srv);
    }
    for (int i = 0; i < srv->cfg->listen_count; i++) {
        if (build_one(srv, layers, i) != 0) {
            log_error("out of memory for the protocol stacks");
            return -1;
        }
    }
    return 0;
}

int serve_stacks_reloadable(const struct server *srv)
{
    const struct stack_layers *layers = srv->layers;
    return layers && layers->tls;
}

int serve_stacks_reload(const struct server *srv)
{
    struct stack_layers *layers = srv->layers;
    char err[512];
    if (!layers || !layers->tls)
        return 0;
    if (tls_server_reload(layers->tls, err, sizeof err) != 0) {
        log_error("SIGHUP: certificates not reloaded, the ones in use stay: %s", err);
        return -1;
    }
    log_error("SIGHUP: certificates reloaded; new connections use them");
    return 0;
}

void serve_stacks_free(struct server *srv)
{
    struct stack_layers *layers = srv->layers;
    if (layers) {
        for (int i = 0; i < layers->count; i++)
            proto_proxy_free(layers->made[i]);
        tls_server_free(layers->tls);
        free(layers);
    }
    srv->layers = NULL;
}
