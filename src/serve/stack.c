#include "serve/stack.h"

int serve_stacks_build(struct server *srv)
{
    for (int i = 0; i < srv->cfg->listen_count; i++)
        srv->stack[i] = srv->proto;
    return 0;
}

void serve_stacks_free(struct server *srv)
{
    srv->layers = NULL;
}
