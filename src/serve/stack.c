#include "serve/stack.h"

#include <stdlib.h>

#include "serve/log.h"
#include "serve/proto_proxy.h"

/* The layers made for the stacks, freed with them. */
struct stack_layers {
    int count;
    struct serve_proto *made[SERVE_MAX_LISTEN];
};

/* Listener i's stack, innermost first: the server's protocol, then the PROXY
 * layer outermost (a balancer's header comes before anything the client sent). */
static int build_one(struct server *srv, struct stack_layers *layers, int i)
{
    const struct serve_listen_opts *opts = &srv->cfg->listen_opts[i];
    srv->stack[i] = srv->proto;
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
    for (int i = 0; i < srv->cfg->listen_count; i++) {
        if (build_one(srv, layers, i) != 0) {
            log_error("out of memory for the protocol stacks");
            return -1;
        }
    }
    return 0;
}

void serve_stacks_free(struct server *srv)
{
    struct stack_layers *layers = srv->layers;
    if (layers) {
        for (int i = 0; i < layers->count; i++)
            proto_proxy_free(layers->made[i]);
        free(layers);
    }
    srv->layers = NULL;
}
