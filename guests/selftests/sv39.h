/*
 * sv39.h — the Sv39 vocabulary of the selftests guest: PTE and satp bits,
 * the sstatus bits that change what a translation permits, the three
 * sfence.vma forms, and a bump allocator that builds page tables in free
 * guest RAM.  Page tables are written through the identity map of RAM, so
 * a table's physical address is also the pointer the guest uses.
 */
#ifndef UMBRA_GUESTS_SELFTESTS_SV39_H
#define UMBRA_GUESTS_SELFTESTS_SV39_H

#include "guests/common/platform.h"
#include "core/lib/pte.h"
#include "core/lib/riscv.h"   /* SSTATUS_SPP, SSTATUS_SUM, SSTATUS_MXR */

#define MEGAPAGE MIB(2)
#define GIGAPAGE GIB(1)

/* Leaf levels: 0 = 4 KiB page, 1 = 2 MiB megapage, 2 = 1 GiB gigapage. */
#define SV39_LEVELS 3


static inline uint64_t sv39_level_size(unsigned level)
{
    return PAGE_SIZE << (9 * level);
}

static inline unsigned sv39_vpn(uint64_t va, unsigned level)
{
    return (unsigned)(va >> (12 + 9 * level)) & (PTES_PER_TABLE - 1);
}

/* A leaf for physical address pa (aligned to its level) with `flags`. */
static inline pte_t sv39_leaf(uint64_t pa, uint64_t flags)
{
    return (pa >> 12) << PTE_PPN_SHIFT | flags | PTE_V;
}

/* A non-leaf PTE pointing at the next-level table. */
static inline pte_t sv39_pointer(const pte_t *table)
{
    return (ptr_to_pa(table) >> 12) << PTE_PPN_SHIFT | PTE_V;
}

static inline pte_t *sv39_table_of(pte_t pte)
{
    return pa_to_ptr((pte >> PTE_PPN_SHIFT) << 12);
}

static inline uint64_t sv39_satp(const pte_t *root, uint64_t asid)
{
    return SATP_MODE_SV39 | (asid & SATP_ASID_MASK) << SATP_ASID_SHIFT |
           (ptr_to_pa(root) >> 12 & SATP_PPN_MASK);
}

/* The four sfence.vma forms, named by what rs1/rs2 hold. */
static inline void sv39_fence_all(void)
{
    __asm__ volatile("sfence.vma zero, zero" ::: "memory");
}

static inline void sv39_fence_asid(uint64_t asid)
{
    __asm__ volatile("sfence.vma zero, %0" ::"r"(asid) : "memory");
}

static inline void sv39_fence_va(uint64_t va)
{
    __asm__ volatile("sfence.vma %0, zero" ::"r"(va) : "memory");
}

static inline void sv39_fence_va_asid(uint64_t va, uint64_t asid)
{
    __asm__ volatile("sfence.vma %0, %1" ::"r"(va), "r"(asid) : "memory");
}

/* Start handing out free RAM: from the image end to the RAM end, never the
 * DTB.  Each suite starts over; satp must be Bare while it does. */
void sv39_pool_init(const struct platform *p);
/* Zeroed physical memory of `size` bytes aligned to `align`. */
uint64_t sv39_alloc(uint64_t size, uint64_t align);
pte_t *sv39_table_new(void);

/* The slot for va's entry at `level` under root, creating the missing
 * (non-global) tables above it. */
pte_t *sv39_slot(pte_t *root, uint64_t va, unsigned level);

/* The kernel's own mapping, the same in every address space: guest RAM's
 * gigapage identity-mapped RWX, global, with A and D preset. */
void sv39_map_ram(pte_t *root);

/* Back to satp = Bare and an empty TLB: how every suite ends. */
void sv39_off(void);

#endif
