/* udp-echo:// targets: placeholder until the UDP loop is written. */
#include <errno.h>

#include "bench/bench.h"

void *bench_udp_thread(void *arg)
{
    struct bench_thread *t = arg;

    t->error = ENOSYS;
    t->error_what = "udp-echo";
    return NULL;
}
