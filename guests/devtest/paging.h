/*
 * paging.h — the devtest guest's one address space: an Sv39 identity map
 * made only of 1 GiB leaves (kernel-only, RWX, A and D preset so no access
 * ever needs an A/D update).  Config space, BARs, DMA buffers and the
 * kernel itself are all reached through it once it is on, so under a
 * shadow-paging hypervisor every device access goes through a shadow.
 */
#ifndef UMBRA_GUESTS_DEVTEST_PAGING_H
#define UMBRA_GUESTS_DEVTEST_PAGING_H

#include "core/lib/base.h"

/* Add [start, start + size), widened to whole gigabytes, to the map.  False
 * if it reaches beyond Sv39's lower half (256 GiB), which identity mapping
 * cannot cover. */
bool paging_map_identity(uint64_t start, uint64_t size);

/* Write satp (Sv39, ASID 0) and flush the TLB. */
void paging_enable(void);

#endif
