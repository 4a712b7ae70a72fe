/*
 * sptbuf.c — the SPT base address buffer (see sptbuf.h): a handful of
 * (guest satp -> shadow vsatp) pairs searched linearly, the least recently
 * used one replaced when a new pair does not fit.
 *
 * The assembly fast path performs the same lookup on a hit: it compares key,
 * then stamps last_used with ++clock and counts the hit, exactly as
 * sptbuf_lookup() does here, so both paths keep one LRU order.
 */
#include "mm/sptbuf.h"
#include "core/lib/fmt.h"

void sptbuf_init(struct sptbuf *b, unsigned size)
{
    memset(b, 0, sizeof(*b));
    b->size = MIN(size, SPTBUF_MAX);
}

static struct sptbuf_entry *sptbuf_find(struct sptbuf *b, uint64_t key)
{
    if (key == 0)
        return NULL; /* 0 marks an empty entry */
    for (uint64_t i = 0; i < b->size; i++)
        if (b->entries[i].key == key)
            return &b->entries[i];
    return NULL;
}

struct sptbuf_entry *sptbuf_lookup(struct sptbuf *b, uint64_t key)
{
    struct sptbuf_entry *e = sptbuf_find(b, key);
    if (!e) {
        b->misses++;
        return NULL;
    }
    b->hits++;
    e->last_used = ++b->clock;
    return e;
}

/* An empty entry if there is one, else the least recently used. */
static struct sptbuf_entry *sptbuf_victim(struct sptbuf *b)
{
    struct sptbuf_entry *victim = &b->entries[0];
    for (uint64_t i = 0; i < b->size; i++) {
        struct sptbuf_entry *e = &b->entries[i];
        if (e->key == 0)
            return e;
        if (e->last_used < victim->last_used)
            victim = e;
    }
    return victim;
}

void sptbuf_insert(struct sptbuf *b, uint64_t key, uint64_t shadow_satp, unsigned root_index)
{
    if (b->size == 0 || key == 0)
        return;
    struct sptbuf_entry *e = sptbuf_find(b, key);
    if (!e) {
        e = sptbuf_victim(b);
        if (e->key != 0)
            b->evictions++;
        e->key = key;
    }
    e->shadow_satp = shadow_satp;
    e->root_index = root_index;
    e->last_used = ++b->clock;
}

void sptbuf_keep_if(struct sptbuf *b, bool (*still_valid)(uint64_t key, uint64_t root_index, const void *ctx),
                    const void *ctx)
{
    for (uint64_t i = 0; i < b->size; i++) {
        struct sptbuf_entry *e = &b->entries[i];
        if (e->key != 0 && !still_valid(e->key, e->root_index, ctx))
            *e = (struct sptbuf_entry){ 0 };
    }
}
