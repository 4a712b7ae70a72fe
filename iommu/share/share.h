/*
 * share.h — one PCI device (an `edu`) shared by several VMs: mediated
 * pass-through.  Each sharing VM (share= in its configuration) sees the
 * device in its own host bridge at the same BDF, with registers of its own
 * (iommu/mediator/: every access to its BAR traps, cause `share_mmio`);
 * Umbra forwards one VM's DMA request at a time to the real device, round
 * robin among the VMs that wait.
 *
 * How a request's RAM address reaches the owner's RAM, per share_mode:
 *   switch   (Demon) the address goes to the device unchanged, a guest-
 *            physical one; on each owner switch the device context's second
 *            stage is pointed at the new owner's DMA table (its own GSCID):
 *            IODIR.INVAL_DDT + IOFENCE.C, nothing per address.  A request
 *            outside the owner's RAM is blocked by the IOMMU, the fault
 *            counted for the owner.
 *   rewrite  (gVirt-style) every address is translated to a host address
 *            through the owner's guest-memory map (refused if it is not the
 *            owner's RAM), and the device runs under one table of every
 *            sharer's RAM.
 * The device's buffer is saved to and restored from a page of each VM's
 * (its save page: under switch at SHARE_SAVE_GPA in the VM's DMA table,
 * under rewrite at its host address in the shared table).
 *
 * Progress: the device is looked at whenever a sharer touches its
 * registers (a driver polls for completion) and when a sharer ends.
 */
#ifndef UMBRA_IOMMU_SHARE_H
#define UMBRA_IOMMU_SHARE_H

#include "core/lib/base.h"

/* The save page's address in a sharer's DMA table under switch: above any
 * RAM a VM has, inside the 40-bit DMA mask umbra-run gives edu. */
#define SHARE_SAVE_GPA 0xfffffff000ull

struct vm;
struct exit_stats;

/* For vpci's DMA table of a VM that shares a device: its save page (and,
 * under switch, its mapping at SHARE_SAVE_GPA).  0, or -1 with err. */
int share_save_page_init(struct vm *vm, char *err, size_t errlen);

/* Once every VM exists: gather each shared function's VMs, check it is an
 * edu, point its device context at the first sharer (switch) or at the
 * table of all of them (rewrite), and put its registers in each sharer's
 * device registry.  0, or -1 with err. */
int share_init(char *err, size_t errlen);

/* The VM's virtual command register turned bus mastering on or off. */
void share_bus_master(struct vm *vm, bool on);

/* The VM has ended: its waiting request is dropped and the device goes on
 * with the others. */
void share_vm_end(struct vm *vm);

/* The VM whose DMA the shared device did makes now, or NULL if no VM
 * shares did.  Takes no lock (it runs under the IOMMU's). */
struct vm *share_fault_owner(uint16_t did);

/* Add the VM's share counters to its report. */
void share_report(const struct vm *vm, struct exit_stats *total);

#endif
