/*
 * iommu.h — Umbra's driver for the machine's RISC-V IOMMU (QEMU virt with
 * iommu-sys=on): brought up at boot with every device blocked, its command
 * queue used with completion waits.  The encodings live in riscv_iommu.h.
 *
 * Discovery and capability checks, the device directory (every entry
 * invalid until a device is assigned, so no device may DMA anywhere), the
 * command queue (every command followed by IOFENCE.C and waited for), one
 * GSCID per distinct second-stage table, device contexts pointing an
 * assigned device at its VM's table, and the fault queue, drained by
 * polling (Umbra wires no IOMMU interrupt).
 */
#ifndef UMBRA_IOMMU_IOMMU_H
#define UMBRA_IOMMU_IOMMU_H

#include "core/lib/base.h"
#include "core/spinlock.h"
#include "iommu/riscv/riscv_iommu.h"

struct iommu_state {
    bool ready;
    paddr_t base;
    struct iommu_caps caps;
    enum iommu_dc_format dc_format;
    enum iommu_ddtp_mode ddt_mode;
    paddr_t ddt_root;
    paddr_t cq, fq;
    uint32_t cq_tail;
    uint64_t commands;           /* commands submitted since boot */
    volatile uint32_t *fence_word; /* IOFENCE.C completion writes land here */
    uint32_t fence_seq;
    struct iommu_gscids gscids;
    uint32_t fq_head;            /* next fault record to read */
    uint64_t fq_errors;          /* fqcsr overflow/memory-fault events seen (records lost) */
    struct spinlock lock;        /* the queues and directory are shared by every hart */
};

extern struct iommu_state iommu;

/* Bring up the IOMMU at `base` (registers), blocking every device.  0, or
 * -1 with a sentence in err (no usable IOMMU: Umbra goes on without one). */
int iommu_init(paddr_t base, char *err, size_t errlen);
/* Queue cmd and wait until the IOMMU has completed it and every earlier
 * one (IOFENCE.C).  0, or -1 with the command-queue error in err. */
int iommu_run(const struct iommu_cmd *cmd, char *err, size_t errlen);

/* The GSCID for a second-stage table (the same one every time for the same
 * root), or -1 when none is left. */
int iommu_gscid(paddr_t gstage_root);

/* Point device_id's device context at the Sv39x4 table `gstage_root`
 * tagged `gscid`, first stage Bare, faults reported; then invalidate the
 * cached DC and the GSCID's translations.  Adds the commands issued to
 * *commands.  0, or -1 with a sentence in err. */
int iommu_attach(uint32_t device_id, paddr_t gstage_root, uint16_t gscid, uint64_t *commands,
                 char *err, size_t errlen);

/* The same with any DC parameters (a first stage too: nested translation
 * for a vIOMMU's guest). */
int iommu_attach_dc(uint32_t device_id, const struct iommu_dc_params *p, uint64_t *commands,
                    char *err, size_t errlen);
/* Point device_id's context at another second stage that has been
 * attached before under its own GSCID, whose table has not changed since
 * (a device shared by VMs, iommu/share/): the IOMMU's cached translations
 * for that GSCID are still right, so only the old context is dropped —
 * IODIR.INVAL_DDT and IOFENCE.C, two commands. */
int iommu_switch_gstage(uint32_t device_id, paddr_t gstage_root, uint16_t gscid, uint64_t *commands,
                        char *err, size_t errlen);
/* Make device_id's context invalid (every DMA it makes faults) and drop
 * the cached one. */
int iommu_detach(uint32_t device_id, uint64_t *commands, char *err, size_t errlen);
/* iommu_run, adding the commands it issued (cmd and its fence) to *commands. */
int iommu_run_counted(const struct iommu_cmd *cmd, uint64_t *commands, char *err, size_t errlen);

/* Drain the fault queue, handing each record to `report` (decoded).  From
 * any hart; one drains at a time, and the others return at once unless
 * `wait` (then they drain after it).  Returns the number of records read. */
typedef void (*iommu_fault_fn)(const struct iommu_fault *fault);
unsigned iommu_poll_faults(iommu_fault_fn report, bool wait);

#endif
