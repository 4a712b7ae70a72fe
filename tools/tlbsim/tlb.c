/*
 * tlb.c — the LRU TLB of tlb.h.  Lookups hash (tag, page number, size) so
 * a 2,048-entry TLB costs a few probes per access, not a scan; flushes
 * scan, as they are rare next to accesses.
 */
#include "tools/tlbsim/tlb.h"

#include <stdlib.h>
#include <string.h>

#define NONE (-1)

static uint64_t tag_key(struct tlb_tag tag, bool global)
{
    /* A global entry keeps V and VMID but no ASID. */
    return (uint64_t)global << 40 | (uint64_t)tag.virt << 39 | (uint64_t)tag.vmid << 16 |
           (global ? 0 : tag.asid);
}

static unsigned bucket_of(const struct tlb *t, uint64_t vpn, uint64_t key, unsigned shift)
{
    uint64_t h = (vpn ^ (key * 0x9e3779b97f4a7c15ull) ^ shift) * 0xff51afd7ed558ccdull;
    return (unsigned)(h >> 32) & (t->nbuckets - 1);
}

bool tlb_init(struct tlb *t, unsigned capacity)
{
    memset(t, 0, sizeof(*t));
    t->capacity = capacity;
    t->nbuckets = 16;
    while (t->nbuckets < 2 * capacity)
        t->nbuckets *= 2;
    t->entries = calloc(capacity ? capacity : 1, sizeof(*t->entries));
    t->buckets = malloc(t->nbuckets * sizeof(*t->buckets));
    if (!t->entries || !t->buckets)
        return false;
    tlb_flush_all(t);
    return true;
}

void tlb_free(struct tlb *t)
{
    free(t->entries);
    free(t->buckets);
    memset(t, 0, sizeof(*t));
}

void tlb_flush_all(struct tlb *t)
{
    for (unsigned i = 0; i < t->nbuckets; i++)
        t->buckets[i] = NONE;
    for (unsigned i = 0; i < t->capacity; i++) {
        t->entries[i].used = false;
        t->entries[i].hash_next = i + 1 < t->capacity ? (int32_t)i + 1 : NONE;
    }
    t->free_head = t->capacity ? 0 : NONE;
    t->lru_head = t->lru_tail = NONE;
    t->count = t->globals = 0;
    memset(t->per_shift, 0, sizeof(t->per_shift));
}

static void lru_unlink(struct tlb *t, int32_t i)
{
    struct tlb_entry *e = &t->entries[i];
    if (e->lru_prev != NONE)
        t->entries[e->lru_prev].lru_next = e->lru_next;
    else
        t->lru_head = e->lru_next;
    if (e->lru_next != NONE)
        t->entries[e->lru_next].lru_prev = e->lru_prev;
    else
        t->lru_tail = e->lru_prev;
}

static void lru_push_front(struct tlb *t, int32_t i)
{
    struct tlb_entry *e = &t->entries[i];
    e->lru_prev = NONE;
    e->lru_next = t->lru_head;
    if (t->lru_head != NONE)
        t->entries[t->lru_head].lru_prev = i;
    t->lru_head = i;
    if (t->lru_tail == NONE)
        t->lru_tail = i;
}

static int32_t find(const struct tlb *t, uint64_t vpn, uint64_t key, unsigned shift)
{
    for (int32_t i = t->buckets[bucket_of(t, vpn, key, shift)]; i != NONE; i = t->entries[i].hash_next) {
        const struct tlb_entry *e = &t->entries[i];
        if (e->vpn == vpn && e->key == key && e->shift == shift)
            return i;
    }
    return NONE;
}

static void remove_entry(struct tlb *t, int32_t i)
{
    struct tlb_entry *e = &t->entries[i];
    int32_t *link = &t->buckets[bucket_of(t, e->vpn, e->key, e->shift)];
    while (*link != i)
        link = &t->entries[*link].hash_next;
    *link = e->hash_next;
    lru_unlink(t, i);
    t->per_shift[e->shift]--;
    t->globals -= e->global;
    t->count--;
    e->used = false;
    e->hash_next = t->free_head;
    t->free_head = i;
}

bool tlb_lookup(struct tlb *t, uint64_t va, struct tlb_tag tag, struct tlb_hit *hit)
{
    static const unsigned shifts[TLB_SHIFTS] = { 12, 21, 30 };
    for (unsigned s = 0; s < TLB_SHIFTS; s++) {
        unsigned sh = shifts[s];
        if (!t->per_shift[sh])
            continue;
        int32_t i = find(t, va >> sh, tag_key(tag, false), sh);
        if (i == NONE && t->globals)
            i = find(t, va >> sh, tag_key(tag, true), sh);
        if (i != NONE) {
            lru_unlink(t, i);
            lru_push_front(t, i);
            if (hit) {
                hit->shift = sh;
                hit->global = t->entries[i].global;
            }
            return true;
        }
    }
    return false;
}

bool tlb_lookup_size(struct tlb *t, uint64_t va, unsigned shift, struct tlb_tag tag)
{
    if (!t->per_shift[shift])
        return false;
    int32_t i = find(t, va >> shift, tag_key(tag, false), shift);
    if (i == NONE)
        return false;
    lru_unlink(t, i);
    lru_push_front(t, i);
    return true;
}

void tlb_insert(struct tlb *t, uint64_t va, unsigned shift, struct tlb_tag tag, bool global)
{
    if (!t->capacity)
        return;
    uint64_t key = tag_key(tag, global), vpn = va >> shift;
    if (find(t, vpn, key, shift) != NONE)
        return;
    if (t->free_head == NONE) {
        remove_entry(t, t->lru_tail);
        t->evictions++;
    }
    int32_t i = t->free_head;
    struct tlb_entry *e = &t->entries[i];
    t->free_head = e->hash_next;
    e->vpn = vpn;
    e->key = key;
    e->shift = (uint8_t)shift;
    e->global = global;
    e->used = true;
    unsigned b = bucket_of(t, vpn, key, shift);
    e->hash_next = t->buckets[b];
    t->buckets[b] = i;
    lru_push_front(t, i);
    t->per_shift[shift]++;
    t->globals += global;
    t->count++;
}

static bool flush_covers(const struct tlb_entry *e, const struct tlb_flush *f)
{
    bool virt = (e->key >> 39) & 1;
    uint16_t vmid = (uint16_t)(e->key >> 16), asid = (uint16_t)e->key;
    if (virt != f->virt || (!f->any_vmid && vmid != f->vmid))
        return false;
    if (f->by_asid && (e->global || asid != f->asid))
        return false;
    return !f->by_va || (f->va >> e->shift) == e->vpn;
}

unsigned tlb_flush(struct tlb *t, const struct tlb_flush *f)
{
    unsigned gone = 0;
    for (unsigned i = 0; i < t->capacity; i++) {
        if (t->entries[i].used && flush_covers(&t->entries[i], f)) {
            remove_entry(t, (int32_t)i);
            gone++;
        }
    }
    return gone;
}
