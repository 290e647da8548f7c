/* Fixed-size records carved from slabs: an event driver's per-connection
 * records cost their own size and no allocator header each, which matters
 * when a hundred thousand idle connections are held. Freed records are
 * reused first; slabs are given back only when the whole slab set is. One
 * thread owns a slab set. */
#ifndef DUCT_SERVE_SLAB_H
#define DUCT_SERVE_SLAB_H

#include <stddef.h>

struct slab_set {
    size_t size;      /* of one record, rounded up to hold a pointer and keep alignment */
    size_t per_slab;  /* records in one slab */
    void *free;       /* freed records, linked through their first bytes */
    void *slabs;      /* the slabs, newest first */
    size_t used;      /* records handed out of the newest slab */
};

void slab_init(struct slab_set *s, size_t record_size, size_t per_slab);

/* A record (contents undefined), or NULL when out of memory. */
void *slab_take(struct slab_set *s);

/* Gives a record back for reuse. */
void slab_give(struct slab_set *s, void *record);

/* Frees every slab; every record becomes invalid. */
void slab_destroy(struct slab_set *s);

#endif
