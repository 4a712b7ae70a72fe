/*
 * coiommu.h — the guest side of Umbra's coIOMMU (core/lib/coiommu_abi.h):
 * a DMA tracking table the DMA layer (dma.c) keeps up to date, so that
 * the hypervisor pins only the pages really used for DMA.  A map of a page
 * already pinned costs no exit; pages not yet pinned are announced in one
 * notification (a batch when there are several).
 */
#ifndef UMBRA_GUESTS_DEVTEST_COIOMMU_H
#define UMBRA_GUESTS_DEVTEST_COIOMMU_H

#include "core/lib/base.h"

/* The "umbra,coiommu" node's register page, if the DTB has one. */
bool coiommu_find(const void *dtb, uint64_t *regs);
/* Check the device and hand it the (empty) tracking table. */
bool coiommu_init(uint64_t regs);
/* [pa, pa + len) is about to be DMA'd: count it mapped and get every page
 * pinned.  False (nothing counted) if Umbra refused a page. */
bool coiommu_map(uint64_t pa, uint64_t len);
/* The DMA of [pa, pa + len) is over. */
void coiommu_unmap(uint64_t pa, uint64_t len);
/* Notifications sent so far (each one exit). */
unsigned coiommu_notifications(void);

#endif
