/*
 * iommu.h — the devtest guest's driver for a RISC-V IOMMU (RISC-V IOMMU
 * Architecture Specification 1.0), written as a kernel on bare QEMU virt
 * (-M virt,iommu-sys=on) would write it, so the same image later runs
 * under Umbra's emulated IOMMU.  Polling only: no wired or message
 * interrupts are ever enabled.
 *
 * What it sets up in its own RAM: a 1- or 2-level device directory, a
 * command queue and a fault queue.  Each device it is asked to translate
 * gets a device context with first-stage Sv39 translation (iosatp = Sv39 |
 * root), its own PSCID, second stage Bare, no process directory (PDTV=0)
 * and faults reported (DTF=0).  The device ID is the function's BDF.
 *
 * Without a "riscv,iommu" node in the DTB nothing here is used and DMA
 * addresses stay physical (dma.c's identity case).
 */
#ifndef UMBRA_GUESTS_DEVTEST_IOMMU_H
#define UMBRA_GUESTS_DEVTEST_IOMMU_H

#include "core/lib/base.h"

/* Register offsets (spec chapter 5). */
#define IOMMU_CAP 0x000
#define IOMMU_FCTL 0x008
#define IOMMU_DDTP 0x010
#define IOMMU_CQB 0x018
#define IOMMU_CQH 0x020
#define IOMMU_CQT 0x024
#define IOMMU_FQB 0x028
#define IOMMU_FQH 0x030
#define IOMMU_FQT 0x034
#define IOMMU_PQB 0x038
#define IOMMU_PQH 0x040
#define IOMMU_PQT 0x044
#define IOMMU_CQCSR 0x048
#define IOMMU_FQCSR 0x04c
#define IOMMU_PQCSR 0x050
#define IOMMU_IPSR 0x054
#define IOMMU_REG_PAGE 0x1000

/* cqcsr / fqcsr / pqcsr bits. */
#define IOMMU_QCSR_EN (1u << 0)
#define IOMMU_QCSR_IE (1u << 1)
#define IOMMU_CQCSR_CQMF (1u << 8)
#define IOMMU_CQCSR_CMD_TO (1u << 9)
#define IOMMU_CQCSR_CMD_ILL (1u << 10)
#define IOMMU_CQCSR_FENCE_W_IP (1u << 11)
#define IOMMU_FQCSR_FQMF (1u << 8)
#define IOMMU_FQCSR_FQOF (1u << 9)
#define IOMMU_QCSR_ON (1u << 16)
#define IOMMU_QCSR_BUSY (1u << 17)

/* Command opcodes and functions (spec 3.1). */
#define IOMMU_OP_IOTINVAL 1
#define IOMMU_OP_IOFENCE 2
#define IOMMU_OP_IODIR 3
#define IOMMU_OP_ATS 4
#define IOMMU_FUNC_VMA 0
#define IOMMU_FUNC_GVMA 1
#define IOMMU_FUNC_FENCE_C 0
#define IOMMU_FUNC_INVAL_DDT 0
#define IOMMU_FUNC_INVAL_PDT 1

struct iommu_cmd {
    uint64_t dw0, dw1;
};

/* A decoded fault record (spec 3.2). */
struct iommu_fault {
    unsigned cause;
    unsigned ttyp;
    uint32_t did;
    uint64_t iotval;
};

/* One device's translation: its device context and first-stage table. */
struct iommu_dev {
    uint32_t device_id;               /* the BDF */
    uint32_t pscid;
    uint64_t root;                    /* Sv39 root table (physical) */
};

/* Bootarg iommu_ddt=1|2 (0 = default, 2). */
struct iommu_config {
    unsigned ddt_levels;
    /* iommu_wait=sleep: between polls of a fence that is not done yet,
     * sleep 20 us on a timer instead of spinning (for measuring a vIOMMU
     * sidecore under QEMU -icount, where a spinning hart holds the one
     * host thread every hart shares; docs/viommu.md). */
    bool wait_sleep;
};

/* Finds the node and maps nothing; false if there is none (identity DMA).
 * Called before paging is on, so the caller can add the register page to
 * its identity map. */
bool iommu_find(const void *dtb, uint64_t *regs_out);

/* Brings the IOMMU up at `regs`: checks CAP, builds the directory and the
 * queues, turns translation on.  False (with a line saying why) if it
 * cannot; then every DMA stays blocked or physical, as the IOMMU allows. */
bool iommu_init(uint64_t regs, const struct iommu_config *cfg);
bool iommu_active(void);
/* Turns everything off and on again from scratch (the fuzz ends with it);
 * device contexts given out before are rewritten. */
bool iommu_reinit(void);

/* Gives device_id a device context translating through a new empty Sv39
 * table; invalidated and fenced before it returns. */
bool iommu_dev_attach(struct iommu_dev *d, uint32_t device_id);
/* Rewrites d's device context with `root` as its first-stage root (for the
 * bad-table test), invalidated and fenced. */
bool iommu_dev_set_root(const struct iommu_dev *d, uint64_t root);

/* A zeroed 4 KiB page for tables; 0 when the pool is empty. */
uint64_t iommu_page_alloc(void);

/* Commands.  *_queue only append; iommu_sync appends IOFENCE.C (AV) and
 * waits for its completion word, checking cqcsr.  False on any error. */
bool iommu_queue_cmd(const struct iommu_cmd *c);
bool iommu_queue_inval_page(uint32_t pscid, uint64_t iova);
bool iommu_queue_inval_pscid(uint32_t pscid);
bool iommu_queue_inval_all(void);
bool iommu_queue_inval_ddt(uint32_t device_id);
bool iommu_sync(void);
/* Wait up to `ms` milliseconds for a fault record to be pending; true if
 * one is.  Records of a blocked DMA may come after the device says it is
 * done (an emulated IOMMU on another hart writes them later). */
bool iommu_wait_fault(unsigned ms);

/* Faults: takes every record in the fault queue (checking fqcsr), prints
 * each on a line "iommu fault ...", and returns how many there were. */
unsigned iommu_drain_faults(void);
/* The last record drained (valid if iommu_drain_faults returned > 0). */
struct iommu_fault iommu_last_fault(void);

/* For the fuzz: raw register access, the queue geometry and a command
 * that runs alone (the queue is reset around it); returns cqcsr after. */
uint64_t iommu_regs(void);
uint32_t iommu_run_lone_cmd(const struct iommu_cmd *c);
uint64_t iommu_cap(void);

#endif
