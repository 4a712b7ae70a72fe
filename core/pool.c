/*
 * pool.c — Umbra's frame pool (pool.h).
 */
#include "core/pool.h"
#include "core/spinlock.h"

struct frame_pool umbra_pool;
paddr_t umbra_staging;
/* The pool has no lock of its own: boot is single-threaded, but once the
 * harts run, G-stage tables for BARs a guest maps come from it on any hart. */
static struct spinlock umbra_pool_lock;

paddr_t umbra_pool_alloc_page(void *pages)
{
    spin_lock(&umbra_pool_lock);
    paddr_t page = frame_alloc_page(&umbra_pool);
    if (page && pages)
        (*(uint64_t *)pages)++;
    spin_unlock(&umbra_pool_lock);
    return page;
}
