/* Unit tests for the timing wheel (src/loop/timer.c). Time is injected: every
 * case drives the wheel with `now` values of its own, and a brute-force model
 * (each timer's armed flag and due time, scanned in full) says what must have
 * fired. Random cases use a seeded xorshift generator, so a failure replays
 * exactly. */
#include "loop/timer.h"
#include "test.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define SECOND 1000LL
#define MINUTE (60 * SECOND)
#define HOUR (60 * MINUTE)
#define DAY (24 * HOUR)

/* An owner of a timer, as a connection is, with the model's view of it. */
struct item {
    struct timer timer;
    int armed;
    int64_t due;
    int64_t since; /* when it was set: one set already due is late only from then */
    long fired;
};

/* Counts of what went wrong over a run, so a broken wheel reports a handful
 * of failures instead of one per timer. */
struct tally {
    long armings, cancels, fired;
    long early;      /* returned before its due time */
    long stray;      /* returned while the model says it is not armed */
    long left_due;   /* still armed after a full pass though due */
    long mismatched; /* timer_armed or timer_count disagrees with the model */
    long bad_wait;   /* timer_wait_ms beyond the cap or more than a slot late */
    int64_t worst_late;
};

static uint64_t rng_state;

static void rng_seed(uint64_t seed)
{
    rng_state = seed * 0x9E3779B97F4A7C15ULL | 1;
}

/* xorshift64*: small, and the same sequence on every platform. */
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static int64_t rng_between(int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rng() % (uint64_t)(hi - lo + 1));
}

static struct item *item_of(struct timer *t)
{
    return (struct item *)(void *)((char *)t - offsetof(struct item, timer));
}

static void items_init(struct item *items, int n)
{
    for (int i = 0; i < n; i++) {
        timer_init(&items[i].timer);
        items[i].armed = 0;
        items[i].fired = 0;
    }
}

static void model_set(struct timer_wheel *w, struct item *it, int64_t due, int64_t now, struct tally *tl)
{
    timer_set(w, &it->timer, due);
    tl->armings += !it->armed;
    it->armed = 1;
    it->due = due;
    it->since = now;
}

static void model_cancel(struct timer_wheel *w, struct item *it, struct tally *tl)
{
    timer_cancel(w, &it->timer);
    tl->cancels += it->armed;
    it->armed = 0;
}

/* A random set, move or cancel of a random item: due in the past, within the
 * current slot, within the wheel's span, beyond it, or hours away. */
static void random_op(struct timer_wheel *w, struct item *items, int n, int64_t now, struct tally *tl)
{
    struct item *it = &items[rng() % (uint64_t)n];
    int r = (int)(rng() % 100);

    if (r < 40)
        model_set(w, it, now + rng_between(1, 70 * SECOND), now, tl);
    else if (r < 55)
        model_set(w, it, now + rng_between(-500, 0), now, tl);
    else if (r < 65)
        model_set(w, it, now + rng_between(70 * SECOND, 4 * HOUR), now, tl);
    else if (r < 75)
        model_set(w, it, now + rng_between(1, TIMER_SLOT_MS), now, tl);
    else
        model_cancel(w, it, tl);
}

/* One expiry pass at now, each timer checked against the model. With
 * `meddle`, handlers set and cancel random timers, this one included. */
static void drain(struct timer_wheel *w, struct item *items, int n, int64_t now, int meddle, struct tally *tl)
{
    struct timer *t;

    while ((t = timer_expired(w, now))) {
        struct item *it = item_of(t);
        int64_t from = it->due > it->since ? it->due : it->since;

        tl->fired++;
        it->fired++;
        tl->stray += !it->armed;
        tl->early += it->due > now;
        if (now - from > tl->worst_late)
            tl->worst_late = now - from;
        it->armed = 0;
        if (meddle && rng() % 4 == 0)
            random_op(w, items, n, now, tl);
    }
}

static int64_t earliest_due(const struct item *items, int n)
{
    int64_t earliest = INT64_MAX;

    for (int i = 0; i < n; i++)
        if (items[i].armed && items[i].due < earliest)
            earliest = items[i].due;
    return earliest;
}

/* After a pass: nothing due may be left, and the wheel agrees with the model. */
static void check_model(const struct timer_wheel *w, const struct item *items, int n, int64_t now, struct tally *tl)
{
    size_t armed = 0;

    for (int i = 0; i < n; i++) {
        tl->mismatched += timer_armed(&items[i].timer) != items[i].armed;
        armed += (size_t)items[i].armed;
        tl->left_due += items[i].armed && items[i].due <= now;
    }
    tl->mismatched += timer_count(w) != armed;
}

/* timer_wait_ms at now: within [0, cap], the cap when nothing is armed, and
 * never past the earliest due time plus one slot. */
static int checked_wait(const struct timer_wheel *w, int64_t now, int cap, int64_t earliest, struct tally *tl)
{
    int wait = timer_wait_ms(w, now, cap);
    int64_t bound = (earliest > now ? earliest : now) + TIMER_SLOT_MS;

    if (wait < 0 || wait > cap || (earliest == INT64_MAX && wait != cap) ||
        (earliest != INT64_MAX && wait != cap && now + wait > bound))
        tl->bad_wait++;
    return wait;
}

static int64_t random_step(void)
{
    int r = (int)(rng() % 100);

    if (r < 60)
        return rng_between(0, 100);
    if (r < 85)
        return rng_between(100, 2 * SECOND);
    if (r < 97)
        return rng_between(60 * SECOND, 70 * SECOND);
    return rng_between(HOUR, 3 * DAY);
}

/* Random operations between expiry passes, and inside them. With use_wait,
 * time advances by what timer_wait_ms says, as an event loop's does; without,
 * by random steps, leaps of hours among them. */
static void simulate(uint64_t seed, struct item *items, int n, int steps, int use_wait, struct tally *tl)
{
    struct timer_wheel w;
    int64_t now;

    rng_seed(seed);
    /* Odd seeds start just before 0, so time crosses it. */
    now = seed % 2 ? -rng_between(0, 30 * SECOND) : rng_between(0, 30 * DAY);
    timer_wheel_init(&w, now);
    items_init(items, n);
    for (int step = 0; step < steps; step++) {
        for (int k = 0; k < 8; k++)
            random_op(&w, items, n, now, tl);
        if (use_wait)
            now += checked_wait(&w, now, 5 * (int)SECOND, earliest_due(items, n), tl);
        else
            now += random_step();
        drain(&w, items, n, now, 1, tl);
        check_model(&w, items, n, now, tl);
    }
}

static void check_tally(const struct tally *tl, int use_wait)
{
    CHECK_EQ_INT(tl->early, 0);
    CHECK_EQ_INT(tl->stray, 0);
    CHECK_EQ_INT(tl->left_due, 0);
    CHECK_EQ_INT(tl->mismatched, 0);
    CHECK_EQ_INT(tl->bad_wait, 0);
    CHECK(tl->fired > 0);
    if (use_wait)
        CHECK(tl->worst_late <= TIMER_SLOT_MS);
}

static void test_model(void)
{
    static struct item items[1000];

    for (uint64_t seed = 1; seed <= 4; seed++) {
        struct tally jumps = {0}, waits = {0};

        simulate(seed, items, 1000, 2000, 0, &jumps);
        check_tally(&jumps, 0);
        simulate(seed, items, 1000, 2000, 1, &waits);
        check_tally(&waits, 1);
    }
}

/* One expiry pass at now over a small array: the bits of the items returned. */
static unsigned pass(struct timer_wheel *w, const struct item *items, int64_t now)
{
    struct timer *t;
    unsigned mask = 0;

    while ((t = timer_expired(w, now)))
        mask |= 1u << (item_of(t) - items);
    return mask;
}

static void test_basics(void)
{
    struct timer_wheel w;
    struct item it[2];
    struct timer *a, *b;

    CHECK(sizeof(struct timer) <= 24);
    items_init(it, 2);
    a = &it[0].timer;
    b = &it[1].timer;
    timer_wheel_init(&w, 1000);
    CHECK(!timer_armed(a));
    CHECK_EQ_INT(timer_count(&w), 0);
    CHECK(timer_expired(&w, 1000) == NULL);
    timer_cancel(&w, a);
    CHECK_EQ_INT(timer_count(&w), 0);
    CHECK(!timer_armed(a));

    /* An armed timer moved later, then another moved earlier. */
    timer_set(&w, a, 1500);
    timer_set(&w, a, 1700);
    CHECK(timer_armed(a));
    CHECK_EQ_INT(timer_count(&w), 1);
    CHECK_EQ_INT(pass(&w, it, 1699), 0);
    CHECK_EQ_INT(pass(&w, it, 1700), 1);
    CHECK(!timer_armed(a));
    CHECK_EQ_INT(timer_count(&w), 0);
    timer_set(&w, a, 3000);
    timer_set(&w, b, 2500);
    timer_set(&w, a, 2000);
    CHECK_EQ_INT(timer_count(&w), 2);
    CHECK_EQ_INT(pass(&w, it, 2000), 1);
    CHECK_EQ_INT(pass(&w, it, 2499), 0);

    /* An armed timer cancelled, then cancelled again. */
    timer_cancel(&w, b);
    CHECK(!timer_armed(b));
    timer_cancel(&w, b);
    CHECK_EQ_INT(timer_count(&w), 0);
    CHECK_EQ_INT(pass(&w, it, 5000), 0);
}

/* Due at or before the wheel's time: the next pass, even at the same now,
 * unless cancelled or moved on first. */
static void test_due_now(void)
{
    struct timer_wheel w;
    struct item it[2];
    struct timer *a, *b;

    items_init(it, 2);
    a = &it[0].timer;
    b = &it[1].timer;
    timer_wheel_init(&w, 5000);
    timer_set(&w, a, 4000);
    timer_set(&w, b, 5000);
    CHECK_EQ_INT(pass(&w, it, 5000), 3);
    timer_set(&w, a, 4000);
    timer_cancel(&w, a);
    timer_set(&w, b, 4000);
    timer_set(&w, b, 6000);
    CHECK_EQ_INT(pass(&w, it, 5000), 0);
    CHECK_EQ_INT(pass(&w, it, 6000), 2);
    /* Due in the past of a caller whose wheel has not seen that time yet. */
    timer_set(&w, a, 9000);
    CHECK_EQ_INT(pass(&w, it, 10000), 1);
    /* A time below one given before returns nothing, not even a due timer. */
    timer_set(&w, a, 9900);
    CHECK_EQ_INT(pass(&w, it, 9950), 0);
    CHECK_EQ_INT(pass(&w, it, 10000), 1);
    CHECK_EQ_INT(timer_count(&w), 0);
}

/* Handlers that set and cancel timers the expiry loop has not returned yet:
 * four timers are due at once, and the first one returned moves itself later,
 * cancels one of the other three, moves another later and makes a fifth due. */
static void test_reset_in_loop(void)
{
    struct timer_wheel w;
    struct item it[5], *x = NULL, *y = NULL, *z = NULL;
    struct timer *t;
    int popped = 0;

    items_init(it, 5);
    timer_wheel_init(&w, 0);
    for (int i = 0; i < 4; i++)
        timer_set(&w, &it[i].timer, 100);
    timer_set(&w, &it[4].timer, 5000);
    while ((t = timer_expired(&w, 100))) {
        popped++;
        item_of(t)->fired++;
        if (x)
            continue;
        x = item_of(t);
        timer_set(&w, t, 200);
        for (int i = 0; i < 4; i++) {
            if (&it[i] == x || !timer_armed(&it[i].timer))
                continue;
            if (!y)
                timer_cancel(&w, &(y = &it[i])->timer);
            else if (!z)
                timer_set(&w, &(z = &it[i])->timer, 300);
        }
        timer_set(&w, &it[4].timer, 50);
    }
    CHECK(x && y && z);
    if (!x || !y || !z)
        return;
    CHECK_EQ_INT(popped, 3);
    CHECK_EQ_INT(y->fired + z->fired, 0);
    CHECK_EQ_INT(it[4].fired, 1);
    CHECK(!timer_armed(&y->timer));
    CHECK_EQ_INT(timer_count(&w), 2);
    CHECK(timer_expired(&w, 199) == NULL);
    CHECK(timer_expired(&w, 200) == &x->timer);
    CHECK(timer_expired(&w, 299) == NULL);
    CHECK(timer_expired(&w, 300) == &z->timer);
    CHECK(timer_expired(&w, HOUR) == NULL);

    /* A handler that sets its own timer due again gets it back in the same loop. */
    popped = 0;
    timer_set(&w, &it[0].timer, 2 * HOUR);
    while ((t = timer_expired(&w, 2 * HOUR)))
        if (++popped < 3)
            timer_set(&w, t, 2 * HOUR - popped);
    CHECK_EQ_INT(popped, 3);
    CHECK_EQ_INT(timer_count(&w), 0);
}

static void set_all(struct timer_wheel *w, struct item *it, const int64_t *after, int n, int64_t start)
{
    items_init(it, n);
    timer_wheel_init(w, start);
    for (int i = 0; i < n; i++) {
        it[i].due = start + after[i];
        timer_set(w, &it[i].timer, it[i].due);
    }
}

/* Timers a round or many rounds ahead stay in their slot until their round. */
static void test_far(void)
{
    static const int64_t after[] = {65535, 65536, 65537, 65600, 131072, 5 * MINUTE, HOUR, 25 * HOUR, 10 * DAY};
    enum { N = sizeof after / sizeof after[0] };
    const int64_t start = 123456789;
    const unsigned all = (1u << N) - 1;
    struct timer_wheel w;
    struct item it[N];
    int64_t now = start;
    long early = 0, late = 0, steps = 0;
    unsigned fired = 0;

    /* Woken by timer_wait_ms, each fires within a slot of its time. */
    set_all(&w, it, after, N, start);
    while (fired != all && steps++ < 1000000) {
        struct timer *t;

        now += timer_wait_ms(&w, now, (int)DAY);
        while ((t = timer_expired(&w, now))) {
            fired |= 1u << (item_of(t) - it);
            early += now < item_of(t)->due;
            late += now > item_of(t)->due + TIMER_SLOT_MS;
        }
    }
    CHECK_EQ_INT(fired, all);
    CHECK_EQ_INT(early, 0);
    CHECK_EQ_INT(late, 0);
    /* No busy waiting: a far timer's slot wakes the loop once a round, and
     * after the first few minutes at most two far timers are left. */
    CHECK(steps <= 2 * (10 * DAY / (TIMER_SLOTS * TIMER_SLOT_MS) + N));

    /* Leaps to just before each due time, then to it. */
    set_all(&w, it, after, N, start);
    for (int i = 0; i < N; i++) {
        CHECK_EQ_INT(pass(&w, it, start + after[i] - 1), 0);
        CHECK_EQ_INT(pass(&w, it, start + after[i]), 1u << i);
    }
    /* One leap past them all. */
    set_all(&w, it, after, N, start);
    CHECK_EQ_INT(pass(&w, it, start + 11 * DAY), all);
    CHECK_EQ_INT(timer_count(&w), 0);
}

/* The same schedule from times around 0 to near the documented limit of 2^62. */
static void test_time_range(void)
{
    static const int64_t bases[] = {0, -100, -(1LL << 40), 1LL << 31, 1LL << 40, 1LL << 61, (1LL << 62) - 2 * DAY};
    static const int64_t after[] = {-5, 10, 100, 70 * SECOND, HOUR};
    struct timer_wheel w;
    struct item it[5];

    for (size_t b = 0; b < sizeof bases / sizeof bases[0]; b++) {
        int64_t base = bases[b];

        set_all(&w, it, after, 5, base);
        CHECK_EQ_INT(pass(&w, it, base + 9), 1);
        CHECK_EQ_INT(pass(&w, it, base + 10), 2);
        CHECK_EQ_INT(pass(&w, it, base + 99), 0);
        CHECK_EQ_INT(pass(&w, it, base + 100), 4);
        CHECK(timer_wait_ms(&w, base + 100, (int)DAY) <= 70 * SECOND - 100 + TIMER_SLOT_MS);
        CHECK_EQ_INT(pass(&w, it, base + 70 * SECOND - 1), 0);
        CHECK_EQ_INT(pass(&w, it, base + 70 * SECOND), 8);
        CHECK_EQ_INT(pass(&w, it, base + HOUR - 1), 0);
        CHECK_EQ_INT(pass(&w, it, base + HOUR), 16);
        CHECK_EQ_INT(timer_count(&w), 0);
    }
}

/* From 0 to 2^61 in one leap and on from there; then in doublings. */
static void test_leaps(void)
{
    const int64_t big = 1LL << 61;
    const int64_t after[] = {10, 70 * SECOND, HOUR, big};
    struct timer_wheel w;
    struct item it[4], items[64];
    struct tally tl = {0};

    set_all(&w, it, after, 4, 0);
    CHECK_EQ_INT(pass(&w, it, big - 1), 7);
    CHECK_EQ_INT(pass(&w, it, big), 8);
    timer_set(&w, &it[0].timer, big + 100);
    CHECK_EQ_INT(pass(&w, it, big + 99), 0);
    CHECK_EQ_INT(pass(&w, it, big + 100), 1);

    /* Time doubling from 1 ms to 2^61, random timers set at each step. */
    rng_seed(3);
    items_init(items, 64);
    timer_wheel_init(&w, 1);
    for (int64_t now = 1; now <= big; now *= 2) {
        for (int k = 0; k < 16; k++)
            random_op(&w, items, 64, now, &tl);
        drain(&w, items, 64, now, 1, &tl);
        check_model(&w, items, 64, now, &tl);
    }
    check_tally(&tl, 0);
}

static void test_wait_bounds(void)
{
    struct timer_wheel w;
    struct item it[8];
    struct tally tl = {0};
    int wait;

    items_init(it, 8);
    timer_wheel_init(&w, 5000);
    CHECK_EQ_INT(timer_wait_ms(&w, 5000, 1000), 1000);
    CHECK_EQ_INT(timer_wait_ms(&w, 5000, 0), 0);
    CHECK_EQ_INT(timer_wait_ms(&w, 5000, -1), 0);
    /* Due soon: a short sleep, but a sleep. */
    timer_set(&w, &it[0].timer, 5010);
    wait = timer_wait_ms(&w, 5000, 1000);
    CHECK(wait >= 1 && wait <= 10 + TIMER_SLOT_MS);
    /* A header timeout: neither a spin nor an oversleep, and the cap holds. */
    timer_set(&w, &it[0].timer, 5000 + 30 * SECOND);
    wait = timer_wait_ms(&w, 5000, (int)MINUTE);
    CHECK(wait >= 1 && wait <= 30 * SECOND + TIMER_SLOT_MS);
    CHECK_EQ_INT(timer_wait_ms(&w, 5000, 1000), 1000);
    /* Already due. */
    timer_set(&w, &it[0].timer, 4000);
    CHECK_EQ_INT(timer_wait_ms(&w, 5000, 1000), 0);
    /* Beyond the span: a round at most. */
    timer_set(&w, &it[0].timer, 5000 + HOUR);
    wait = timer_wait_ms(&w, 5000, (int)DAY);
    CHECK(wait >= 1 && wait <= TIMER_SLOTS * TIMER_SLOT_MS);
    timer_cancel(&w, &it[0].timer);
    CHECK_EQ_INT(timer_wait_ms(&w, 5000, 777), 777);

    /* Random wheels asked at random times up to the earliest due time, the
     * wheel's own time left behind as a loop that has not run expiry yet. */
    rng_seed(7);
    for (int trial = 0; trial < 20000; trial++) {
        int64_t base = rng_between(0, 1LL << 40), earliest, now;
        int n = (int)rng_between(0, 8);

        items_init(it, 8);
        timer_wheel_init(&w, base);
        for (int k = 0; k < n; k++)
            random_op(&w, it, 8, base, &tl);
        earliest = earliest_due(it, 8);
        now = base + rng_between(0, earliest == INT64_MAX || earliest <= base ? 100 : earliest - base);
        checked_wait(&w, now, (int)rng_between(0, 100 * SECOND), earliest, &tl);
    }
    CHECK_EQ_INT(tl.bad_wait, 0);
}

/* 100,000 timers, each set, then moved, a quarter cancelled, then run down by
 * an event loop that keeps re-arming some for ten minutes. */
static void test_many(void)
{
    enum { MANY = 100000 };
    static struct item items[MANY];
    static struct timer_wheel w;
    struct tally tl = {0};
    int64_t now = 1000000000, end = now + 10 * MINUTE;
    long steps = 0, bad_wait = 0;

    rng_seed(42);
    items_init(items, MANY);
    timer_wheel_init(&w, now);
    for (int i = 0; i < MANY; i++)
        model_set(&w, &items[i], now + rng_between(1, 10 * MINUTE), now, &tl);
    for (int i = 0; i < MANY; i++)
        model_set(&w, &items[i], now + rng_between(1, 10 * MINUTE), now, &tl);
    for (int i = 0; i < MANY; i += 4)
        model_cancel(&w, &items[i], &tl);
    CHECK_EQ_INT(timer_count(&w), MANY - MANY / 4);
    while (timer_count(&w) > 0 && steps++ < 1000000) {
        int wait = timer_wait_ms(&w, now, (int)SECOND);

        bad_wait += wait < 0 || wait > SECOND;
        now += wait;
        drain(&w, items, MANY, now, 0, &tl);
        for (int k = 0; k < 20 && now < end; k++)
            model_set(&w, &items[rng() % MANY], now + rng_between(1, MINUTE), now, &tl);
        if (steps % 1000 == 0)
            check_model(&w, items, MANY, now, &tl);
    }
    check_model(&w, items, MANY, now, &tl);
    CHECK_EQ_INT(bad_wait, 0);
    CHECK_EQ_INT(timer_count(&w), 0);
    CHECK_EQ_INT(tl.fired, tl.armings - tl.cancels);
    check_tally(&tl, 1);
}

static int64_t monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_clock(void)
{
    int64_t before = monotonic_ms(), first = timer_clock_ms(), prev = first, after;
    long backwards = 0;

    for (int i = 0; i < 200000; i++) {
        int64_t t = timer_clock_ms();

        backwards += t < prev;
        prev = t;
    }
    after = monotonic_ms();
    CHECK_EQ_INT(backwards, 0);
    /* CLOCK_MONOTONIC's time, behind it by at most a kernel tick (the bound
     * here is generous, for a loaded machine). */
    CHECK(first >= before - SECOND);
    CHECK(prev <= after);
}

/* A world of the wall-clock test: four timers, each re-armed 700 ms after it
 * fires up to three times (a connection re-arms on each request), and a log
 * of which fired at which step. The wall clock reaches a world only as a
 * timestamp for its log lines, as it reaches the server only for logs and the
 * Date header. */
struct world {
    struct timer_wheel w;
    struct item items[4];
    int log[32];
    int logged;
    int64_t wall;
};

static void world_start(struct world *wd, int64_t now)
{
    items_init(wd->items, 4);
    timer_wheel_init(&wd->w, now);
    for (int i = 0; i < 4; i++)
        timer_set(&wd->w, &wd->items[i].timer, now + 300 * (i + 1));
    wd->logged = 0;
}

static void world_step(struct world *wd, int step, int64_t now, int64_t wall)
{
    struct timer *t;

    while ((t = timer_expired(&wd->w, now))) {
        struct item *it = item_of(t);

        if (wd->logged < 32)
            wd->log[wd->logged++] = (int)(it - wd->items) * 1000 + step;
        wd->wall = wall;
        if (++it->fired < 3)
            timer_set(&wd->w, t, now + 700);
    }
}

static int same_log(const struct world *a, const struct world *b)
{
    return a->logged == b->logged && memcmp(a->log, b->log, sizeof a->log[0] * (size_t)a->logged) == 0;
}

/* The wheel takes time only from its caller, so a wall-clock step cannot
 * reach it when the caller passes monotonic time: two worlds get the same
 * monotonic times while one's wall clock jumps +1 h, -1 h and -1 h again, and
 * their expiries match. A third world fed its wall clock as `now` shows what
 * the comparison catches: it fires every pending timer at the +1 h step, three
 * of them early, and none at all after the step back. (Stepping the real clock needs privileges; that
 * timer_clock_ms ignores it is the kernel's promise for CLOCK_MONOTONIC.) */
static void test_wall_clock_step(void)
{
    static struct world steady, stepped, fooled;
    const int64_t mono0 = 5 * DAY, wall0 = 1764000000000;

    world_start(&steady, mono0);
    world_start(&stepped, mono0);
    world_start(&fooled, wall0);
    for (int step = 1; step <= 100; step++) {
        int64_t mono = mono0 + step * 50, wall = wall0 + step * 50;
        int64_t jumped = wall + (step >= 20 ? HOUR : 0) - (step >= 50 ? HOUR : 0) - (step >= 80 ? HOUR : 0);

        world_step(&steady, step, mono, wall);
        world_step(&stepped, step, mono, jumped);
        world_step(&fooled, step, jumped, jumped);
    }
    CHECK_EQ_INT(steady.logged, 12);
    CHECK_EQ_INT(steady.log[0], 0 * 1000 + 6);
    CHECK(same_log(&stepped, &steady));
    CHECK(!same_log(&fooled, &steady));
}

int main(void)
{
    test_basics();
    test_due_now();
    test_reset_in_loop();
    test_model();
    test_far();
    test_time_range();
    test_leaps();
    test_wait_bounds();
    test_many();
    test_clock();
    test_wall_clock_step();
    return test_report();
}
