#include "loop/timer.h"

#include <time.h>

enum {
    SLOT_MASK = TIMER_SLOTS - 1,
};

_Static_assert((TIMER_SLOTS & SLOT_MASK) == 0 && TIMER_SLOTS % 64 == 0, "slots: a power of two, whole bitmap words");

/* The slot-sized tick that holds ms, rounded towards minus infinity so that
 * the times just before 0 share a tick instead of joining 0's. */
static int64_t tick_of(int64_t ms)
{
    return ms >= 0 ? ms / TIMER_SLOT_MS : -1 - (-1 - ms) / TIMER_SLOT_MS;
}

static unsigned slot_of_tick(int64_t tick)
{
    return (unsigned)((uint64_t)tick & SLOT_MASK);
}

static void link_head(struct timer **head, struct timer *t)
{
    t->next = *head;
    if (t->next)
        t->next->pprev = &t->next;
    *head = t;
    t->pprev = head;
}

static void unlink_timer(struct timer *t)
{
    *t->pprev = t->next;
    if (t->next)
        t->next->pprev = t->pprev;
}

/* Takes an armed t out of its list. Its slot follows from its due time, and
 * clearing that slot's bit when the slot is empty is right even when t was in
 * the due list instead. */
static void detach(struct timer_wheel *w, struct timer *t)
{
    unsigned slot = slot_of_tick(tick_of(t->due_ms));

    unlink_timer(t);
    if (!w->slot[slot])
        w->busy[slot / 64] &= ~((uint64_t)1 << (slot % 64));
}

/* How many slots after `from` (with wrap-around, 0 for `from` itself) the
 * next busy slot lies, or TIMER_SLOTS when none is. */
static unsigned busy_after(const struct timer_wheel *w, unsigned from)
{
    unsigned word = from / 64, k;
    uint64_t bits = w->busy[word] & (~(uint64_t)0 << (from % 64));

    /* The first word comes round again last, for the bits before `from`. */
    for (k = 0; k <= TIMER_BUSY_WORDS; k++) {
        if (bits) {
            unsigned slot = ((word + k) % TIMER_BUSY_WORDS) * 64 + (unsigned)__builtin_ctzll(bits);
            return (slot - from) & SLOT_MASK;
        }
        bits = w->busy[(word + k + 1) % TIMER_BUSY_WORDS];
    }
    return TIMER_SLOTS;
}

/* Moves the timers of one slot that are due by now_ms to the due list; those
 * of a later round stay. */
static void collect_slot(struct timer_wheel *w, unsigned slot, int64_t now_ms)
{
    struct timer *t, *next;

    for (t = w->slot[slot]; t; t = next) {
        next = t->next;
        if (t->due_ms <= now_ms) {
            unlink_timer(t);
            link_head(&w->due, t);
        }
    }
    if (!w->slot[slot])
        w->busy[slot / 64] &= ~((uint64_t)1 << (slot % 64));
}

/* Visits the busy slots of the ticks from the wheel's time to now_ms, each
 * slot at most once however far time leapt. The wheel's own tick is among
 * them: it may hold timers due later within it, passed over last time. */
static void collect(struct timer_wheel *w, int64_t now_ms)
{
    int64_t from = tick_of(w->now_ms), ticks = tick_of(now_ms) - from;
    unsigned first = slot_of_tick(from), n, d;

    n = ticks >= TIMER_SLOTS - 1 ? TIMER_SLOTS : (unsigned)ticks + 1;
    for (d = busy_after(w, first); d < n; d += 1 + busy_after(w, (first + d + 1) & SLOT_MASK))
        collect_slot(w, (first + d) & SLOT_MASK, now_ms);
}

void timer_wheel_init(struct timer_wheel *w, int64_t now_ms)
{
    unsigned i;

    for (i = 0; i < TIMER_SLOTS; i++)
        w->slot[i] = NULL;
    for (i = 0; i < TIMER_BUSY_WORDS; i++)
        w->busy[i] = 0;
    w->due = NULL;
    w->now_ms = now_ms;
    w->count = 0;
}

void timer_init(struct timer *t)
{
    t->next = NULL;
    t->pprev = NULL;
    t->due_ms = 0;
}

int timer_armed(const struct timer *t)
{
    return t->pprev != NULL;
}

void timer_set(struct timer_wheel *w, struct timer *t, int64_t due_ms)
{
    unsigned slot;

    if (t->pprev)
        detach(w, t);
    else
        w->count++;
    t->due_ms = due_ms;
    /* Slots behind the wheel's time are not visited again until a round
     * later, so a timer already due waits in the due list instead. */
    if (due_ms <= w->now_ms) {
        link_head(&w->due, t);
        return;
    }
    slot = slot_of_tick(tick_of(due_ms));
    link_head(&w->slot[slot], t);
    w->busy[slot / 64] |= (uint64_t)1 << (slot % 64);
}

void timer_cancel(struct timer_wheel *w, struct timer *t)
{
    if (!t->pprev)
        return;
    detach(w, t);
    t->next = NULL;
    t->pprev = NULL;
    w->count--;
}

struct timer *timer_expired(struct timer_wheel *w, int64_t now_ms)
{
    struct timer *t;

    /* The due list holds timers due by the latest time; an earlier one would
     * return some of them early. */
    if (now_ms < w->now_ms)
        return NULL;
    if (now_ms > w->now_ms) {
        collect(w, now_ms);
        w->now_ms = now_ms;
    }
    t = w->due;
    if (!t)
        return NULL;
    unlink_timer(t);
    t->next = NULL;
    t->pprev = NULL;
    w->count--;
    return t;
}

int timer_wait_ms(const struct timer_wheel *w, int64_t now_ms, int cap_ms)
{
    int64_t tick = tick_of(w->now_ms), left;
    unsigned d;

    if (cap_ms < 0)
        cap_ms = 0;
    if (w->due)
        return 0;
    d = busy_after(w, slot_of_tick(tick));
    if (d == TIMER_SLOTS)
        return cap_ms;
    /* Every timer in a slot is due within its tick or a round later, and no
     * timer lies in a tick before the wheel's: the end of the earliest busy
     * slot is at most one slot after the earliest due time. */
    left = (tick + d + 1) * TIMER_SLOT_MS - now_ms;
    if (left <= 0)
        return 0;
    return left < cap_ms ? (int)left : cap_ms;
}

size_t timer_count(const struct timer_wheel *w)
{
    return w->count;
}

int64_t timer_clock_ms(void)
{
    struct timespec ts;

    /* A kernel without the coarse clock (before 2.6.32) rejects it; the plain
     * one fails only for a bad clock id. */
    if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) != 0 && clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
