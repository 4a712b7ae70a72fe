/*
 * viommu.h — the RISC-V IOMMU a VM programs itself (issue 13, design brief
 * §6): the guest-visible register file, the guest's command and fault
 * queues, and the guest's device directory, all as the RISC-V IOMMU
 * specification 1.0 describes them, so that the driver a guest runs on bare
 * QEMU (`-M virt,iommu-sys=on`) runs here unchanged.
 *
 * This is the portable half: it decides what the guest's structures say and
 * keeps the guest-visible state; what the physical IOMMU must do about it is
 * asked of the host through struct viommu_host_ops (iommu/viommu/vm.c does
 * it for Umbra, a fake does it in the host unit tests).  Guest memory is
 * reached only through the VM's guest-memory map, and every value the guest
 * controls (register values, queue bases, commands, DDT entries, device
 * contexts) is checked before it is used.
 *
 * What the guest's IOMMU has (its CAP): version 1.0, Sv39 first stage, no
 * second stage, base-format (32-byte) device contexts (no MSI translation),
 * 1- and 2-level directories, no PASIDs (no PD8), no ATS, no A/D updating,
 * little-endian only, wired interrupts (fctl.WSI reads 1) that are never
 * raised: the guest polls, as Umbra's guests do for every device.
 * Portable: built for the hypervisor and for host unit tests.
 */
#ifndef UMBRA_IOMMU_VIOMMU_H
#define UMBRA_IOMMU_VIOMMU_H

#include "core/lib/base.h"
#include "core/portable/config.h"
#include "iommu/riscv/riscv_iommu.h"
#include "mm/guest_mem.h"

/* Where the guest finds it: QEMU virt's iommu-sys address. */
#define VIOMMU_GPA 0x3010000ull
#define VIOMMU_SIZE 0x1000ull
#define VIOMMU_MAX_DEVICES 4          /* = CONFIG_MAX_PCI_PER_VM */
#define VIOMMU_PAS_BITS 41            /* guest-physical addresses the VM's second stage covers */

/* enum viommu_mode and viommu_mode_name are in core/portable/config.h. */

/* What the guest's directory says one device's DMA gets. */
enum viommu_dc_kind {
    VIOMMU_DC_BLOCKED,     /* every DMA faults with `cause` */
    VIOMMU_DC_BARE,        /* IOVA = guest-physical address */
    VIOMMU_DC_SV39,        /* IOVA translated by the guest's Sv39 table at `root` */
};

struct viommu_dc_view {
    enum viommu_dc_kind kind;
    unsigned cause;        /* BLOCKED: an IOMMU_CAUSE_* of the 256.. range */
    gpaddr_t root;         /* SV39: the guest's root table (a GPA, 4 KiB aligned) */
    uint32_t pscid;        /* SV39: its address-space tag */
    bool dtf;              /* DC.tc.DTF: translation faults are not recorded */
};

/* What the host is asked to do.  Each returns 0, or -1 if the physical
 * IOMMU failed (then the command that caused it completes all the same:
 * the guest cannot be told, and Umbra has logged it). */
struct viommu_host_ops {
    /* Device `index` (into viommu.dids) must now translate as `view` says:
     * called when the guest's directory is (re)read for it. */
    int (*device_changed)(void *arg, unsigned index, const struct viommu_dc_view *view);
    /* The guest's IOTINVAL.VMA: addresses of address space `pscid` (or
     * every one, !pscv), the page at `addr` (or all, !av). */
    int (*invalidate)(void *arg, bool pscv, uint32_t pscid, bool av, uint64_t addr);
    /* The guest's IOFENCE.C: every earlier command's effect on the physical
     * IOMMU is complete when this returns. */
    int (*fence)(void *arg);
};

/* The guest-visible registers. */
struct viommu_regs {
    uint64_t caps;
    uint32_t fctl;
    uint64_t ddtp;
    uint64_t cqb, fqb;
    uint32_t cqh, cqt, cqcsr;
    uint32_t fqh, fqt, fqcsr;
    uint32_t ipsr;
};

struct viommu_counters {
    uint64_t reg_reads, reg_writes;
    uint64_t commands;            /* guest commands executed */
    uint64_t cmd_iotinval, cmd_iofence, cmd_iodir;
    uint64_t cmd_illegal;         /* stopped the queue with CMD_ILL */
    uint64_t queue_memory_faults; /* CQMF or FQMF raised */
    uint64_t dc_loads;            /* device contexts read from the guest's directory */
    uint64_t faults_recorded;     /* records written to the guest's fault queue */
    uint64_t faults_lost;         /* records the guest's queue could not take (off, full, error) */
    uint64_t host_errors;         /* the physical IOMMU failed a request */
};

struct viommu {
    enum viommu_mode mode;
    const struct guest_mem *mem;
    struct viommu_regs r;
    unsigned cq_log2, fq_log2;    /* latched when the queue was enabled */
    gpaddr_t cq_base, fq_base;
    unsigned ndevs;
    uint32_t dids[VIOMMU_MAX_DEVICES];          /* the device IDs (BDFs) the guest sees */
    struct viommu_dc_view views[VIOMMU_MAX_DEVICES];
    const struct viommu_host_ops *host;
    void *host_arg;
    struct viommu_counters n;
};

/* The guest's IOMMU comes up as hardware does: DDTP = Off (every DMA
 * refused), queues off.  host->device_changed is called for each device. */
void viommu_init(struct viommu *v, enum viommu_mode mode, const struct guest_mem *mem,
                 const uint32_t *dids, unsigned ndevs, const struct viommu_host_ops *host,
                 void *host_arg);

/* A guest access to offset `off` of the register page, of 1, 2, 4 or 8
 * bytes.  Registers take 4-byte accesses, 64-bit ones also 8-byte ones;
 * anything else reads 0 and is ignored, as are reserved offsets. */
uint64_t viommu_read(struct viommu *v, uint64_t off, unsigned size);
void viommu_write(struct viommu *v, uint64_t off, unsigned size, uint64_t value);

/* Read the guest's directory entry of device_id now (no side effect). */
void viommu_dc_view_of(const struct viommu *v, uint32_t device_id, struct viommu_dc_view *out);

/* The fault the guest's own structures give a DMA of device `index` to
 * `iova` (a write if `write`): 0 if they translate it to guest RAM with the
 * permission (a fault then comes from a translation the guest changed
 * without invalidating), else the cause hardware would record. */
unsigned viommu_fault_cause(const struct viommu *v, unsigned index, uint64_t iova, bool write);

/* The physical IOMMU blocked a DMA of device `index` (its record `phys`):
 * the cause the guest's IOMMU gives it.  To be asked at once, while the
 * guest's tables still say what the DMA met (Umbra asks when it drains the
 * machine's fault queue, before the guest can have seen the DMA end). */
unsigned viommu_cause_for(const struct viommu *v, unsigned index, const struct iommu_fault *phys);

/* Write the record the guest's IOMMU would have written for it, with the
 * guest's device ID, the IOVA and `cause`, unless DTF hides it.  Returns
 * true if a record was written. */
bool viommu_record_fault(struct viommu *v, unsigned index, unsigned cause, const struct iommu_fault *phys);

/* The index of device_id among the VM's devices, or -1. */
int viommu_device_index(const struct viommu *v, uint32_t device_id);

/* The guest's first-stage walk of iova through root: true and the leaf
 * (its GPA base, size and PTE) if it reaches a valid leaf; else false and
 * *cause = the page fault or (a table outside RAM) access fault. */
struct viommu_leaf {
    uint64_t va;           /* the leaf's first IOVA */
    uint64_t size;         /* 4 KiB, 2 MiB or 1 GiB */
    gpaddr_t gpa;          /* where va goes */
    pte_t pte;
};
bool viommu_walk(const struct guest_mem *mem, gpaddr_t root, uint64_t iova, struct viommu_leaf *leaf,
                 bool *table_outside_ram);

#endif
