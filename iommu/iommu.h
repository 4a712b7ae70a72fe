/*
 * iommu.h — Umbra's driver for the machine's RISC-V IOMMU (QEMU virt with
 * iommu-sys=on): brought up at boot with every device blocked, its command
 * queue used with completion waits.  The encodings live in riscv_iommu.h.
 *
 * Built so far: discovery, capability checks, the device directory (all
 * entries invalid, so no device may DMA anywhere), the command and fault
 * queues, and commands with IOFENCE.C completion.  Not yet: device
 * contexts for assigned devices, second-stage tables for VMs, fault
 * accounting per VM (issue 6).
 */
#ifndef UMBRA_IOMMU_IOMMU_H
#define UMBRA_IOMMU_IOMMU_H

#include "core/base.h"
#include "iommu/riscv_iommu.h"

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
};

extern struct iommu_state iommu;

/* Bring up the IOMMU at `base` (registers), blocking every device.  0, or
 * -1 with a sentence in err (no usable IOMMU: Umbra goes on without one). */
int iommu_init(paddr_t base, char *err, size_t errlen);
/* Queue cmd and wait until the IOMMU has completed it and every earlier
 * one (IOFENCE.C).  0, or -1 with the command-queue error in err. */
int iommu_run(const struct iommu_cmd *cmd, char *err, size_t errlen);

#endif
