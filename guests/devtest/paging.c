/*
 * paging.c — builds the identity map of paging.h in one root table.  With
 * 1 GiB leaves the root is the whole page table: entry i maps
 * [i GiB, (i + 1) GiB) onto itself.
 */
#include "guests/devtest/paging.h"

#include "guests/common/csr.h"
#include "core/lib/pte.h"

/* Only the lower half of Sv39 is an identity map: VA bit 38 must be 0 so
 * the sign-extended address equals the physical one. */
#define PAGING_IDENTITY_LIMIT GIB(256)
#define PAGING_LEAF_FLAGS (PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D)

static pte_t paging_root[PTES_PER_TABLE] __attribute__((aligned(4096)));

bool paging_map_identity(uint64_t start, uint64_t size)
{
    uint64_t first = ALIGN_DOWN(start, GIB(1));
    uint64_t end = ALIGN_UP(start + size, GIB(1));
    if (size == 0 || end > PAGING_IDENTITY_LIMIT || end < start)
        return false;
    for (uint64_t giga = first; giga < end; giga += GIB(1))
        paging_root[giga >> 30] = ((giga >> 12) << PTE_PPN_SHIFT) | PAGING_LEAF_FLAGS;
    return true;
}

void paging_enable(void)
{
    /* The table's stores must be visible to the walker before satp names
     * it; sfence.vma after the write drops any stale Bare translations. */
    __asm__ volatile("sfence.vma" ::: "memory");
    csr_write(satp, SATP_MODE_SV39 | (ptr_to_pa(paging_root) >> 12));
    __asm__ volatile("sfence.vma" ::: "memory");
}
