/* Timers for connection timeouts, in place of a once-a-second sweep over every
 * descriptor: a hashed timing wheel (Varghese and Lauck's scheme 6, the shape
 * of the Linux kernel's timer wheel). A connection embeds a struct timer and
 * re-arms it on every request, so setting, moving and cancelling cost O(1),
 * and nothing is allocated: the wheel is a fixed array inside its worker. A
 * wheel belongs to one thread.
 *
 * Time is CLOCK_MONOTONIC in milliseconds, so a step of the wall clock moves
 * no deadline. The wheel never reads a clock: every call takes `now`, so a
 * loop reads the clock once per iteration and tests inject time;
 * timer_clock_ms is the one function that reads it. `now` never decreases and
 * stays within +-2^62; a due time may be any int64_t.
 *
 * The wheel has TIMER_SLOTS slots of TIMER_SLOT_MS (a span of 65.5 s). A timer
 * due beyond the span waits in the slot its due time hashes to and is passed
 * over until its round comes. timer_expired never returns a timer before its
 * due time; a loop that sleeps for timer_wait_ms gets each one at most one
 * slot after it. */
#ifndef DUCT_LOOP_TIMER_H
#define DUCT_LOOP_TIMER_H

#include <stddef.h>
#include <stdint.h>

enum {
    TIMER_SLOT_MS = 64, /* well below the shortest timeout, the 100 ms accept pause */
    TIMER_SLOTS = 1024, /* a span of 65.5 s holds the 60 s idle and send timeouts */
    TIMER_BUSY_WORDS = TIMER_SLOTS / 64,
};

/* Embedded in its owner (a connection), which finds itself from it with
 * offsetof. 24 bytes on x86_64, as it is part of every idle connection. */
struct timer {
    struct timer *next;
    /* The link that points here: a slot's head or the previous timer's next.
     * It lets a timer leave its list in O(1) while a slot costs one pointer,
     * not a whole sentinel node. NULL: not armed. */
    struct timer **pprev;
    int64_t due_ms; /* monotonic milliseconds */
};

/* Fixed size, 8,344 bytes on x86_64; set up by timer_wheel_init. */
struct timer_wheel {
    struct timer *slot[TIMER_SLOTS]; /* armed, not yet collected as due */
    uint64_t busy[TIMER_BUSY_WORDS]; /* bit i set: slot[i] is not empty */
    struct timer *due;               /* collected as due, not yet returned */
    int64_t now_ms;                  /* the latest time timer_expired was given */
    size_t count;                    /* armed timers, in slots or due */
};

void timer_wheel_init(struct timer_wheel *w, int64_t now_ms);

/* Not armed. An owner cancels its timer before it frees itself. */
void timer_init(struct timer *t);
int timer_armed(const struct timer *t);

/* Arms t to fire at due_ms; re-arming an armed timer moves it. O(1). A due
 * time not after the wheel's latest `now` fires on the next timer_expired. */
void timer_set(struct timer_wheel *w, struct timer *t, int64_t due_ms);

/* Disarms t; a no-op when it is not armed. O(1). */
void timer_cancel(struct timer_wheel *w, struct timer *t);

/* Pops one timer whose due_ms <= now_ms, disarmed, or NULL; the caller loops:
 *     while ((t = timer_expired(w, now))) handle(t);
 * The handler may set or cancel any timer, the returned one and others not
 * yet returned included; one it sets due again by now_ms comes back in the
 * same loop. Timers due at once come back in no particular order. NULL when
 * now_ms is below a time given before. Amortised cost O(expired + slots
 * passed), one pass over the busy slots at most when time leaps, plus a look
 * at each timer of a later round in a slot passed. */
struct timer *timer_expired(struct timer_wheel *w, int64_t now_ms);

/* How long a loop may sleep before it calls timer_expired again: 0 when a
 * timer is due, otherwise until the end of the earliest slot that holds one,
 * never more than cap_ms (a negative cap counts as 0), and cap_ms when nothing
 * is armed. Waking early is harmless (timer_expired then returns nothing);
 * waking at the end of the slot makes a timer at most one slot late. Its cost
 * is a scan of the busy bitmap, not of the timers. */
int timer_wait_ms(const struct timer_wheel *w, int64_t now_ms, int cap_ms);

/* Armed timers. */
size_t timer_count(const struct timer_wheel *w);

/* CLOCK_MONOTONIC_COARSE in milliseconds: read in the vDSO without a system
 * call, as precise as a kernel tick (1 to 10 ms), far finer than a slot. A
 * wall-clock step never changes it. */
int64_t timer_clock_ms(void);

#endif
