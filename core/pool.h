/*
 * pool.h — Umbra's own memory: the frame pool every VM's RAM, page tables
 * and shadow pools come from (core/pool.c owns it), and the staging area
 * where the runner put the images.
 */
#ifndef UMBRA_CORE_POOL_H
#define UMBRA_CORE_POOL_H

#include "mm/frame.h"

extern struct frame_pool umbra_pool;
extern paddr_t umbra_staging;   /* images staged by the runner live above this */

/* One zeroed page of the pool, safe from any hart once they run (a
 * pt_alloc_fn).  `pages`, when not NULL, is the uint64_t page count of the
 * VM the table belongs to (vm->frame_pages), so its report can say what it
 * took from the pool while it ran. */
paddr_t umbra_pool_alloc_page(void *pages);
/* Give back one page umbra_pool_alloc_page (or frame_alloc) handed out,
 * counting it off *pages (a uint64_t, may be NULL). */
void umbra_pool_free_page(void *pages, paddr_t page);

/* The hart has Zicboz with this cache-block size (riscv,cboz-block-size):
 * the pool zeroes with cbo.zero from now on.  A size that is not a power
 * of two from 64 to 4096 changes nothing. */
void umbra_pool_use_cbo_zero(uint32_t block);

#endif
