/*
 * pool.c — Umbra's frame pool (pool.h).
 */
#include "core/pool.h"
#include "arch/riscv/cbo.h"
#include "core/lib/fmt.h"
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

void umbra_pool_free_page(void *pages, paddr_t page)
{
    spin_lock(&umbra_pool_lock);
    frame_free_page(&umbra_pool, page);
    if (pages)
        (*(uint64_t *)pages)--;
    spin_unlock(&umbra_pool_lock);
}

static uint64_t cboz_block;

static void pool_cbo_zero(void *p, uint64_t bytes)
{
    if (IS_ALIGNED((uintptr_t)p | bytes, cboz_block))
        cbo_zero_range(p, bytes, cboz_block);
    else
        memset(p, 0, bytes);
}

void umbra_pool_use_cbo_zero(uint32_t block)
{
    if (block < 64 || block > PAGE_SIZE || (block & (block - 1)))
        return;
    cboz_block = block;
    umbra_pool.zero = pool_cbo_zero;
}
