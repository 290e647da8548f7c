/* The threads that live beside a forking thread, and the fork itself.
 *
 * glibc's fork takes malloc's locks, so a child forked while another thread
 * allocates finds them free. The allocator of AddressSanitizer in gcc 12 and
 * clang 14 does not: a child forked while another thread of the parent held
 * one of its locks waits forever on it, in its first allocation. CI caught
 * it twice in the fork model: the compressor mid-job, and a thread still
 * starting (ASan's own start-up allocates) when the first connection came.
 *
 * So under ASan a fork waits until no other thread is in a gated section and
 * keeps them out while it forks; a thread made by gate_thread_create counts
 * as in one from before it is created until it runs its own code. Without
 * ASan every call here is plain pthread_create and fork, or nothing.
 *
 * Every thread that can run in the fork model's parent (the acceptor, the
 * reaper, the compressor, the status listener, the handover thread, the
 * signal waiters) is made with gate_thread_create, and wraps work that
 * allocates in fork_gate_enter/fork_gate_leave. A thread's exit is not
 * covered: such threads end only after the acceptor has stopped. */
#ifndef DUCT_SERVE_FORK_GATE_H
#define DUCT_SERVE_FORK_GATE_H

#include <pthread.h>
#include <sys/types.h>

int gate_thread_create(pthread_t *thread, void *(*fn)(void *), void *arg);
void fork_gate_enter(void);
void fork_gate_leave(void);

/* Around a fork: close before taking the caller's own locks, open after
 * fork returns, in the parent and the child alike. */
void fork_gate_close(void);
void fork_gate_open(void);

#endif
