/*
 * pinning.h — which pages of a VM its passthrough devices may DMA to
 * (dma_pinning=, design brief §6).  A page is pinned while a device may
 * reach it, and reclaim (core/memory.c) never takes a pinned page.
 *
 *   static   all RAM, mapped in the VM's IOMMU second stage at creation
 *            (paged RAM is backed whole for it): what a VFIO user gets;
 *   viommu   the pages the guest maps through its vIOMMU (viommu=shadow):
 *            pinned while a shadow IOVA leaf reaches them;
 *   coiommu  the pages the guest announces in its coIOMMU DMA tracking
 *            table (iommu/coiommu/): pinned on the guest's notification,
 *            mapped in the second stage, unpinned by a periodic scan.
 *
 * A DMA to a page that is not pinned finds no translation: the IOMMU
 * blocks it and Umbra counts the fault (mm_iommu_faults).
 */
#ifndef UMBRA_IOMMU_PINNING_H
#define UMBRA_IOMMU_PINNING_H

#include "core/vm.h"

struct guest_dtb_params;
struct ioshadow_pinner;

/* The RAM part of the VM's DMA table (vm->vpci->dma, GSCID not yet known)
 * for its policy, and the coIOMMU's registers.  0, or -1 with a message. */
int pinning_vm_init(struct vm *vm, char *err, size_t errlen);
/* The GSCID the VM's DMA table got (for coIOMMU's invalidations). */
void pinning_set_gscid(struct vm *vm, uint16_t gscid);
/* For the vIOMMU's shadow IOVA tables: NULL unless dma_pinning=viommu. */
const struct ioshadow_pinner *pinning_ioshadow_pinner(struct vm *vm);
/* Does the policy need the periodic scan (coiommu's lazy unpinning)? */
bool pinning_wants_scans(const struct vm *vm);
/* The periodic scan (from core/memory.c's timer on vCPU 0). */
void pinning_scan(struct vm *vm);
void pinning_dtb_params(const struct vm *vm, struct guest_dtb_params *dtb);
void pinning_report(const struct vm *vm, struct exit_stats *total);

#endif
