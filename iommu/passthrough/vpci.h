/*
 * vpci.h — PCI passthrough for one VM: the functions assigned to it (by
 * `pci=` in its configuration), the host bridge it sees, its BARs mapped
 * into its memory in every mode, and their DMA confined to its RAM by the
 * IOMMU.
 *
 * What the VM sees: an ECAM host bridge at VPCI_ECAM_GPA holding bus 0
 * only, in its DTB like QEMU virt's own, with each assigned function at the
 * same device/function number as on the host and nothing else.  Its config
 * space is emulated (iommu/pci/vfunc.c): the ECAM window is an emulated
 * device in the VM's registry (core/mmio.h), so every access traps and is
 * answered here.  BARs are mapped and unmapped through the VM's mode
 * (mmu_ops.map_device), the same call in every mode.  BARs start at
 * addresses Umbra picks in the VM's 32-bit window (VPCI_MEM_GPA), and the
 * guest may move them anywhere inside it, as a driver for bare QEMU
 * assigns BARs itself; a BAR is mapped while the guest has memory decoding
 * on and it lies wholly in the window without overlapping another.
 *
 * A function the VM shares with others (share=, iommu/share/) is in its
 * bus like the others, but its BARs are never mapped and the real
 * device's command register and device context are the share's.
 *
 * DMA: the device's requests are translated by the IOMMU's second stage
 * through a table of the VM's RAM only (GPA -> HPA, one GSCID), the same in
 * every mode; a request anywhere else is refused by the IOMMU, which
 * records a fault that Umbra counts for the VM.  Bus mastering on the real
 * device follows the guest's command register.
 */
#ifndef UMBRA_IOMMU_VPCI_H
#define UMBRA_IOMMU_VPCI_H

#include "core/lib/base.h"
#include "core/portable/config.h"
#include "iommu/pci/vfunc.h"
#include "core/spinlock.h"
#include "mm/pt.h"

#define VPCI_ECAM_GPA 0x30000000ull
#define VPCI_ECAM_SIZE MIB(1)            /* bus 0 */
#define VPCI_MEM_GPA 0x40000000ull       /* the 32-bit BAR window, as on QEMU virt */
#define VPCI_MEM_SIZE GIB(1)

struct vpci_dev {
    const struct pci_func *func;         /* the host's view */
    struct pci_vfunc vf;                 /* the VM's view */
    gpaddr_t mapped[PCI_MAX_BARS];       /* guest address BAR i is mapped at; 0 = not mapped */
};

struct vpci {
    unsigned ndevs;
    struct vpci_dev devs[CONFIG_MAX_PCI_PER_VM];
    struct pt dma;                       /* the IOMMU's second stage: the VM's RAM */
    uint16_t gscid;
    uint64_t iommu_commands;             /* issued to give the VM its devices */
    uint64_t iommu_faults;               /* fault records naming one of its devices */
    uint64_t bar_maps;                   /* BARs mapped into or unmapped from it */
    gpaddr_t last_fault_page;            /* the fault log names each page once */
    unsigned fault_lines;
    struct sleeplock lock;               /* config accesses of several vCPUs */
    struct viommu_vm *viommu;            /* its own IOMMU (iommu/provider/), or NULL */
    paddr_t share_save;                  /* a shared device's buffer saved for it (iommu/share/), or 0 */
};

struct vm;
struct vcpu;
struct viommu_vm;

/* Take the VM's assigned functions from the host bus, build its DMA table
 * and device contexts, and program the devices' host command registers
 * (memory decoding on, bus mastering off until the guest turns it on).
 * 0, or -1 with a sentence in err (a function that is not there, not an
 * endpoint, or no IOMMU to confine its DMA). */
int vpci_vm_init(struct vm *vm, char *err, size_t errlen);

/* The VM's view of its function bdf (its config space, BAR addresses),
 * or NULL. */
const struct pci_vfunc *vpci_vfunc(const struct vm *vm, uint16_t bdf);

/* The VM's devices in its device tree: its host bridge's ECAM and BAR
 * window (nothing for a VM without devices). */
struct guest_dtb_params;
void vpci_dtb_params(const struct vm *vm, struct guest_dtb_params *dtb);

/* Add the VM's passthrough counters (IOMMU commands and faults, BAR maps)
 * to its report. */
struct exit_stats;
void vpci_report(const struct vm *vm, struct exit_stats *total);

/* The VM has ended (its vCPUs are off their harts): silence its devices —
 * bus mastering and decoding off — and count their last faults. */
void vpci_vm_end(struct vm *vm);

/* Drain the IOMMU's fault queue into the owning VMs' counts (and the log).
 * Cheap when empty; called on the exits of VMs that own devices (skipped if
 * another hart is draining) and when a VM ends (waiting for it). */
void vpci_poll_faults(bool wait);

#endif
