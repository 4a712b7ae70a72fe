/*
 * mmu.c — the mode selector (mmu.h): which interface a VM's mode names.
 */
#include "core/mmu/mmu.h"

#include "core/mmu/modes.h"

const struct mmu_ops *mmu_ops_for(enum mm_mode mode)
{
    switch (mode) {
    case MM_MODE_TSP: return &mmu_tsp_ops;
    case MM_MODE_SSP: return &mmu_ssp_ops;
    default:          return &mmu_hap_ops;
    }
}
