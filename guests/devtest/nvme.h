/*
 * nvme.h — a minimal polled NVMe driver (NVM Express Base Specification
 * 2.0): controller reset and enable, one admin queue pair, Identify
 * Namespace, one I/O queue pair with interrupts off, and 4 KiB reads and
 * writes described by PRP1 alone (every buffer is one 4 KiB-aligned page).
 */
#ifndef UMBRA_GUESTS_DEVTEST_NVME_H
#define UMBRA_GUESTS_DEVTEST_NVME_H

#include "core/lib/base.h"
#include "guests/devtest/dma.h"

#define NVME_QUEUE_DEPTH 64             /* entries per queue, admin and I/O */
#define NVME_BLOCK 4096u                /* bytes per I/O command */

#define NVME_OP_FLUSH 0x00
#define NVME_OP_WRITE 0x01
#define NVME_OP_READ 0x02

/* Submission queue entry (64 bytes). */
struct nvme_sqe {
    uint32_t cdw0;                      /* opcode[7:0], command id[31:16] */
    uint32_t nsid;
    uint32_t cdw2, cdw3;
    uint64_t mptr;
    uint64_t prp1, prp2;
    uint32_t cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
};

/* Completion queue entry (16 bytes). */
struct nvme_cqe {
    uint32_t dw0;
    uint32_t dw1;
    uint16_t sq_head;
    uint16_t sq_id;
    uint16_t cid;
    uint16_t status;                    /* bit 0 phase tag, bits 15:1 status field */
};

_Static_assert(sizeof(struct nvme_sqe) == 64, "NVMe SQE is 64 bytes");
_Static_assert(sizeof(struct nvme_cqe) == 16, "NVMe CQE is 16 bytes");

struct nvme_queue {
    uint64_t sq_dma, cq_dma;            /* the device's addresses of the two */
    struct nvme_sqe *sq;
    volatile struct nvme_cqe *cq;
    uint64_t sq_doorbell, cq_doorbell;  /* CPU addresses of the two doorbells */
    uint16_t sq_tail, cq_head;
    uint16_t phase;                     /* phase tag of entries not yet consumed */
};

struct nvme_ctrl {
    uint64_t regs;                      /* BAR0's CPU address */
    struct dma_domain *dma;             /* the device addresses of every buffer */
    uint64_t identify_dma;
    unsigned doorbell_stride;           /* bytes: 4 << CAP.DSTRD */
    uint64_t ready_timeout_ms;          /* CAP.TO */
    unsigned max_queue_entries;         /* CAP.MQES + 1 */
    struct nvme_queue admin, io;
    uint16_t next_admin_cid;
    uint32_t nsid;                      /* the namespace I/O goes to */
    uint32_t lba_size;                  /* namespace 1 */
    uint64_t ns_blocks;                 /* namespace 1's size in LBAs */
};

/* Each returns false after printing a line saying what went wrong. */
/* The queues and the Identify buffer are mapped here for the controller's
 * life (nvme_ctrl_shutdown unmaps them); I/O buffers are the caller's. */
bool nvme_ctrl_init(struct nvme_ctrl *c, uint64_t regs, struct dma_domain *dma);
bool nvme_identify_namespace(struct nvme_ctrl *c, uint32_t nsid);
bool nvme_create_io_queues(struct nvme_ctrl *c);
/* Normal shutdown (CC.SHN): the controller finishes its writes and stops
 * using the queues, so another controller may reuse them; then they are
 * unmapped. */
bool nvme_ctrl_shutdown(struct nvme_ctrl *c);

/* I/O queue, used in batches: queue commands (at most NVME_QUEUE_DEPTH - 1
 * outstanding), ring once, then collect one completion per command. */
void nvme_io_queue(struct nvme_ctrl *c, uint8_t opcode, uint16_t cid, uint64_t byte_offset,
                   uint64_t buf_dma);
void nvme_io_ring(struct nvme_ctrl *c);
/* Waits for the next I/O completion; false on timeout. */
bool nvme_io_reap(struct nvme_ctrl *c, struct nvme_cqe *out);

/* The status field (0 = success) of a completion. */
static inline unsigned nvme_status(const struct nvme_cqe *e)
{
    return e->status >> 1;
}

#endif
