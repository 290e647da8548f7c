/* Each listener's protocol stack: the server's protocol (HTTP or echo), with
 * the layers that listener's options ask for stacked in front of it. A
 * driver runs a stack like any protocol and never learns it is one. */
#ifndef DUCT_SERVE_STACK_H
#define DUCT_SERVE_STACK_H

#include "serve/server.h"

/* Fills srv->stack for every listener. 0, or -1 after logging why. */
int serve_stacks_build(struct server *srv);

/* Frees what serve_stacks_build made. Safe after a failed build. */
void serve_stacks_free(struct server *srv);

#endif
