/*
 * viommu_vm.h — how Umbra provides a VM's own IOMMU (`--viommu MODE`,
 * issue 13) on the machine's IOMMU: the register page as an emulated device
 * in the VM's registry, and the guest's device contexts carried out on the
 * physical side.
 *
 *   shadow  every register access traps (exit cause viommu_mmio); commands
 *           run when the guest writes cqt; a device whose context names a
 *           first-stage table gets a shadow of it (iommu/viommu/ioshadow.c)
 *           as its physical second stage, synced on the guest's
 *           IOTINVAL.VMA and complete whenever a context is loaded.
 *   sidecore the work of shadow, done by a hart that runs no vCPU
 *           (iommu/provider/sidecore.c): the register page is ordinary
 *           memory to the guest (mapped on its first access), which that
 *           hart polls; a write the guest makes there is seen on the next
 *           poll and given to the model, which runs the commands, and the
 *           page then gets the model's registers back.
 *   nested  the same register and command path as shadow, but the physical context
 *           holds the guest's own first-stage root (a GPA) and the VM's DMA
 *           table as second stage, so the machine's IOMMU walks both;
 *           invalidations are forwarded under the VM's GSCID, the guest's
 *           PSCIDs used as they are (they are tagged by that GSCID, so no
 *           two VMs' can meet).
 *
 * Either way the physical IOMMU's commands are waited for before the guest
 * command that needed them completes, so an IOFENCE.C of the guest's has
 * nothing left to wait for.  Faults the machine's IOMMU records for the
 * VM's devices are queued here (under the IOMMU's lock) and written into
 * the guest's fault queue the next time the guest reads its fault-queue or
 * interrupt registers, with the cause its own tables give.
 */
#ifndef UMBRA_IOMMU_VIOMMU_VM_H
#define UMBRA_IOMMU_VIOMMU_VM_H

#include "core/lib/base.h"
#include "iommu/riscv/riscv_iommu.h"

struct vm;
struct exit_stats;
struct guest_dtb_params;
struct viommu_vm;

/* After the VM's functions are assigned (vpci_vm_init): its vIOMMU, with
 * every device blocked until the guest programs it.  0, or -1 with a
 * sentence in err. */
int viommu_vm_init(struct vm *vm, char *err, size_t errlen);

/* A fault record of the machine's IOMMU for the VM's device `index`.
 * Called with the IOMMU's queue lock held. */
void viommu_vm_fault(struct viommu_vm *vv, unsigned index, const struct iommu_fault *f);

void viommu_vm_dtb_params(const struct vm *vm, struct guest_dtb_params *dtb);
void viommu_vm_report(const struct vm *vm, struct exit_stats *total);
/* The VM has ended: give back its shadow tables. */
void viommu_vm_end(struct vm *vm);

/* `--viommu sidecore`: one look, from the sidecore's hart, at the register
 * page of every running sidecore VM (and at the machine's fault queue).
 * True if any VM had work. */
bool viommu_sidecore_poll(void);

#endif
