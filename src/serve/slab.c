#include "serve/slab.h"

#include <stdalign.h>
#include <stdlib.h>

/* A slab starts with the link to the next one, padded so that records keep
 * the strictest alignment. */
#define SLAB_HEADER ((sizeof(void *) + alignof(max_align_t) - 1) / alignof(max_align_t) * alignof(max_align_t))

void slab_init(struct slab_set *s, size_t record_size, size_t per_slab)
{
    size_t align = alignof(max_align_t);
    if (record_size < sizeof(void *))
        record_size = sizeof(void *);
    s->size = (record_size + align - 1) / align * align;
    s->per_slab = per_slab ? per_slab : 1;
    s->free = NULL;
    s->slabs = NULL;
    s->used = s->per_slab;
}

void *slab_take(struct slab_set *s)
{
    void **record = s->free;
    if (record) {
        s->free = *record;
        return record;
    }
    if (s->used == s->per_slab) {
        void **slab = malloc(SLAB_HEADER + s->size * s->per_slab);
        if (!slab)
            return NULL;
        *slab = s->slabs;
        s->slabs = slab;
        s->used = 0;
    }
    return (char *)s->slabs + SLAB_HEADER + s->size * s->used++;
}

void slab_give(struct slab_set *s, void *record)
{
    *(void **)record = s->free;
    s->free = record;
}

void slab_destroy(struct slab_set *s)
{
    while (s->slabs) {
        void **slab = s->slabs;
        s->slabs = *slab;
        free(slab);
    }
    s->free = NULL;
    s->used = s->per_slab;
}
