/*
 * coiommu_abi.h — the contract between a guest and Umbra's coIOMMU
 * (iommu/pinning/, dma_pinning=coiommu): a register page and a DMA
 * tracking table (DTT) in guest memory that says, per guest page, how many
 * DMA mappings use it, whether one was made since Umbra last looked, and
 * whether Umbra has pinned it.
 *
 * The DTT is a two-level radix tree the guest allocates: a root page of
 * 512 8-byte pointers (GPA of a leaf page | COIOMMU_DTT_VALID), each leaf a
 * page of 1024 32-bit entries.  Entry n covers guest page n counted from
 * the base of RAM (COIOMMU_REG_RAM_BASE), so one tree covers 2 GiB.
 *
 * Guest side, per page of a DMA buffer:
 *   map:   atomically entry = (entry + 1) | ACCESSED; if the old entry had
 *          no PINNED, write the page's number to NOTIFY_PIN (one exit;
 *          Umbra pins it and sets PINNED before the store completes);
 *   unmap: atomically entry -= 1.
 * Umbra's unpin scan clears PINNED with a compare-and-swap only on an
 * entry with count 0 and no ACCESSED (clearing ACCESSED otherwise: a
 * second chance), so a page being mapped meanwhile is never unpinned.  The
 * pinned set is Umbra's own: a guest that scribbles on its DTT can only
 * lose its own DMA.
 *
 * Shared by Umbra and the guests (core/lib: no other dependency).
 */
#ifndef UMBRA_CORE_LIB_COIOMMU_ABI_H
#define UMBRA_CORE_LIB_COIOMMU_ABI_H

#define COIOMMU_COMPATIBLE "umbra,coiommu"

/* Registers (64-bit, naturally aligned accesses only). */
#define COIOMMU_REG_ID        0x00   /* RO: COIOMMU_ID */
#define COIOMMU_REG_DTT_ROOT  0x08   /* RW: GPA of the DTT root page, 0 = none */
#define COIOMMU_REG_NOTIFY    0x10   /* WO: pin the page with this number (GPA >> 12) */
#define COIOMMU_REG_BATCH     0x18   /* WO: pin the pages listed at this GPA: a page-aligned array of
                                        8-byte page numbers, count - 1 in bits 8:0 (1 to 512) */
#define COIOMMU_REG_STATUS    0x20   /* RO: COIOMMU_OK or why the last notification failed */
#define COIOMMU_REG_RAM_BASE  0x28   /* RO: the GPA DTT entry 0 stands for */
#define COIOMMU_REG_PINNED    0x30   /* RO: pages Umbra holds pinned for the VM now */
#define COIOMMU_SIZE          0x1000

#define COIOMMU_ID 0x31554d4f4943ull   /* "COIMU1" */

#define COIOMMU_OK         0
#define COIOMMU_NO_DTT     1   /* no DTT root, or the page's leaf is missing or outside RAM */
#define COIOMMU_NOT_RAM    2   /* the page number is not the VM's RAM */
#define COIOMMU_NO_MEMORY  3   /* Umbra could not back or map it */
#define COIOMMU_BAD_BATCH  4   /* the batch list is not RAM */

#define COIOMMU_DTT_VALID       1ull
#define COIOMMU_DTT_ROOT_SLOTS  512u
#define COIOMMU_DTT_LEAF_SLOTS  1024u
#define COIOMMU_DTTE_COUNT      0x3fffffffu
#define COIOMMU_DTTE_ACCESSED   (1u << 30)
#define COIOMMU_DTTE_PINNED     (1u << 31)
#define COIOMMU_BATCH_MAX       512u

#endif
