/*
 * nvme.c — the polled NVMe driver of nvme.h.  Register offsets and fields
 * are those of the NVMe base specification's controller registers (CAP,
 * VS, CC, CSTS, AQA, ASQ, ACQ, doorbells at 0x1000).  64-bit registers are
 * accessed as two 32-bit halves, low first, which the specification allows
 * and which every emulation handles.
 *
 * Memory: the four queues and the Identify buffer are static 4 KiB-aligned
 * pages in the image, so they are physically contiguous and identity
 * mapped for the CPU; the device gets them through the DMA layer (dma.h),
 * mapped from bring-up to shutdown.  One controller is driven at a time
 * (nvme_ctrl_shutdown lets the next one reuse them).
 */
#include "guests/devtest/nvme.h"

#include "core/lib/fmt.h"
#include "guests/common/console.h"
#include "guests/common/csr.h"
#include "guests/common/timer.h"
#include "guests/devtest/io.h"

#define NVME_REG_CAP 0x00
#define NVME_REG_VS 0x08
#define NVME_REG_CC 0x14
#define NVME_REG_CSTS 0x1c
#define NVME_REG_AQA 0x24
#define NVME_REG_ASQ 0x28
#define NVME_REG_ACQ 0x30
#define NVME_REG_DOORBELLS 0x1000

#define NVME_CAP_MQES(cap) ((unsigned)((cap) & 0xffff))
#define NVME_CAP_TO(cap) ((unsigned)(((cap) >> 24) & 0xff))      /* 500 ms units */
#define NVME_CAP_DSTRD(cap) ((unsigned)(((cap) >> 32) & 0xf))
#define NVME_CAP_CSS_NVM(cap) (((cap) >> 37) & 1)
#define NVME_CAP_MPSMIN(cap) ((unsigned)(((cap) >> 48) & 0xf))   /* 2^(12 + n) bytes */

#define NVME_CC_EN 0x1u
#define NVME_CC_SHN_NORMAL (1u << 14)
#define NVME_CC_IOSQES (6u << 16)       /* 2^6 = 64-byte SQ entries */
#define NVME_CC_IOCQES (4u << 20)       /* 2^4 = 16-byte CQ entries */
#define NVME_CSTS_RDY 0x1u
#define NVME_CSTS_CFS 0x2u
#define NVME_CSTS_SHST_MASK 0xcu
#define NVME_CSTS_SHST_DONE 0x8u

#define NVME_ADMIN_CREATE_SQ 0x01
#define NVME_ADMIN_CREATE_CQ 0x05
#define NVME_ADMIN_IDENTIFY 0x06
#define NVME_IDENTIFY_CNS_NAMESPACE 0
#define NVME_QUEUE_PHYS_CONTIG 0x1u
#define NVME_IO_QID 1

/* Identify Namespace data: byte offsets. */
#define NVME_ID_NS_NSZE 0
#define NVME_ID_NS_NLBAF 25
#define NVME_ID_NS_FLBAS 26
#define NVME_ID_NS_LBAF 128
#define NVME_LBADS_512 9
#define NVME_LBADS_4096 12

#define NVME_CMD_TIMEOUT_MS 10000
#define NVME_MIN_READY_TIMEOUT_MS 500

static struct nvme_sqe nvme_admin_sq[NVME_QUEUE_DEPTH] __attribute__((aligned(4096)));
static struct nvme_cqe nvme_admin_cq[NVME_QUEUE_DEPTH] __attribute__((aligned(4096)));
static struct nvme_sqe nvme_io_sq[NVME_QUEUE_DEPTH] __attribute__((aligned(4096)));
static struct nvme_cqe nvme_io_cq[NVME_QUEUE_DEPTH] __attribute__((aligned(4096)));
static uint8_t nvme_identify_buf[4096] __attribute__((aligned(4096)));

_Static_assert(sizeof(nvme_admin_sq) <= 4096 && sizeof(nvme_io_sq) <= 4096,
               "each queue is one page (PRP1 only, physically contiguous)");

/* ---- Registers --------------------------------------------------------- */

static uint32_t nvme_read32(const struct nvme_ctrl *c, unsigned reg)
{
    return io_read32(c->regs + reg);
}

static void nvme_write32(const struct nvme_ctrl *c, unsigned reg, uint32_t val)
{
    io_write32(c->regs + reg, val);
}

static uint64_t nvme_read64(const struct nvme_ctrl *c, unsigned reg)
{
    uint64_t low = nvme_read32(c, reg);
    return low | ((uint64_t)nvme_read32(c, reg + 4) << 32);
}

static void nvme_write64(const struct nvme_ctrl *c, unsigned reg, uint64_t val)
{
    nvme_write32(c, reg, (uint32_t)val);
    nvme_write32(c, reg + 4, (uint32_t)(val >> 32));
}

/* Polls CSTS until (CSTS & mask) == want; false on a fatal status or after
 * CAP.TO. */
static bool nvme_wait_status(const struct nvme_ctrl *c, uint32_t mask, uint32_t want,
                             const char *what)
{
    uint64_t deadline = time_now() + timer_ticks_from_ms(c->ready_timeout_ms);
    for (;;) {
        uint32_t csts = nvme_read32(c, NVME_REG_CSTS);
        if ((csts & mask) == want)
            return true;
        if (csts & NVME_CSTS_CFS) {
            console_line("nvme: controller fatal status while waiting for %s (csts 0x%x)", what,
                         csts);
            return false;
        }
        if (time_now() > deadline) {
            console_line("nvme: timed out after %lu ms waiting for %s (csts 0x%x)",
                         (unsigned long)c->ready_timeout_ms, what, csts);
            return false;
        }
    }
}

/* ---- Queues ------------------------------------------------------------ */

/* Zeroes and maps the pair (the device reads the SQ, writes the CQ). */
static bool nvme_queue_init(const struct nvme_ctrl *c, struct nvme_queue *q, unsigned qid,
                            struct nvme_sqe *sq, struct nvme_cqe *cq)
{
    memset(sq, 0, NVME_QUEUE_DEPTH * sizeof(*sq));
    memset(cq, 0, NVME_QUEUE_DEPTH * sizeof(*cq));
    *q = (struct nvme_queue){ .sq = sq, .cq = cq, .phase = 1 };
    q->sq_doorbell = c->regs + NVME_REG_DOORBELLS + (2 * qid) * c->doorbell_stride;
    q->cq_doorbell = c->regs + NVME_REG_DOORBELLS + (2 * qid + 1) * c->doorbell_stride;
    q->sq_dma = dma_map(c->dma, ptr_to_pa(sq), NVME_QUEUE_DEPTH * sizeof(*sq), DMA_TO_DEVICE);
    q->cq_dma = dma_map(c->dma, ptr_to_pa(cq), NVME_QUEUE_DEPTH * sizeof(*cq), DMA_FROM_DEVICE);
    if (q->sq_dma == DMA_MAP_FAILED || q->cq_dma == DMA_MAP_FAILED) {
        console_line("nvme: queue %u could not be mapped for DMA", qid);
        return false;
    }
    return true;
}

static bool nvme_queue_unmap(const struct nvme_ctrl *c, struct nvme_queue *q)
{
    bool ok = true;
    if (q->sq_dma && q->sq_dma != DMA_MAP_FAILED)
        ok = dma_unmap(c->dma, q->sq_dma, NVME_QUEUE_DEPTH * sizeof(struct nvme_sqe));
    if (q->cq_dma && q->cq_dma != DMA_MAP_FAILED)
        ok = dma_unmap(c->dma, q->cq_dma, NVME_QUEUE_DEPTH * sizeof(struct nvme_cqe)) && ok;
    q->sq_dma = q->cq_dma = 0;
    return ok;
}

static void nvme_queue_push(struct nvme_queue *q, const struct nvme_sqe *sqe)
{
    q->sq[q->sq_tail] = *sqe;
    q->sq_tail = (uint16_t)((q->sq_tail + 1) % NVME_QUEUE_DEPTH);
}

static void nvme_queue_ring(const struct nvme_queue *q)
{
    io_fence();     /* the entries must be in memory before the device looks */
    io_write32(q->sq_doorbell, q->sq_tail);
}

/* The next completion of q, consumed and acknowledged; false on timeout. */
static bool nvme_queue_reap(struct nvme_queue *q, struct nvme_cqe *out)
{
    uint64_t deadline = time_now() + timer_ticks_from_ms(NVME_CMD_TIMEOUT_MS);
    volatile struct nvme_cqe *e = &q->cq[q->cq_head];
    while ((e->status & 1u) != q->phase) {
        if (time_now() > deadline)
            return false;
    }
    io_fence();     /* read the entry (and the data it announces) after the tag */
    *out = (struct nvme_cqe){ .dw0 = e->dw0, .dw1 = e->dw1, .sq_head = e->sq_head,
                              .sq_id = e->sq_id, .cid = e->cid, .status = e->status };
    q->cq_head = (uint16_t)((q->cq_head + 1) % NVME_QUEUE_DEPTH);
    if (q->cq_head == 0)
        q->phase ^= 1;
    io_write32(q->cq_doorbell, q->cq_head);
    return true;
}

/* One admin command, waited for; the command id is filled in here. */
static bool nvme_admin(struct nvme_ctrl *c, struct nvme_sqe *sqe, const char *what)
{
    uint16_t cid = c->next_admin_cid++;
    struct nvme_cqe done;
    sqe->cdw0 = (sqe->cdw0 & 0xffffu) | ((uint32_t)cid << 16);
    nvme_queue_push(&c->admin, sqe);
    nvme_queue_ring(&c->admin);
    if (!nvme_queue_reap(&c->admin, &done)) {
        console_line("nvme %s: no completion within %u ms", what, NVME_CMD_TIMEOUT_MS);
        return false;
    }
    if (done.cid != cid || nvme_status(&done) != 0) {
        console_line("nvme %s: status 0x%x cid %u (sent %u)", what, nvme_status(&done),
                     done.cid, cid);
        return false;
    }
    return true;
}

/* ---- Controller -------------------------------------------------------- */

static bool nvme_check_cap(struct nvme_ctrl *c, uint64_t cap)
{
    c->doorbell_stride = 4u << NVME_CAP_DSTRD(cap);
    c->ready_timeout_ms = MAX((uint64_t)NVME_CAP_TO(cap) * 500, NVME_MIN_READY_TIMEOUT_MS);
    c->max_queue_entries = NVME_CAP_MQES(cap) + 1;
    uint32_t vs = nvme_read32(c, NVME_REG_VS);
    console_line("nvme version %u.%u.%u cap 0x%016lx", vs >> 16, (vs >> 8) & 0xff, vs & 0xff,
                 (unsigned long)cap);
    if (!NVME_CAP_CSS_NVM(cap)) {
        console_line("nvme: the controller lacks the NVM command set");
        return false;
    }
    if (NVME_CAP_MPSMIN(cap) != 0) {
        console_line("nvme: 4 KiB memory pages not supported (CAP.MPSMIN %u)",
                     NVME_CAP_MPSMIN(cap));
        return false;
    }
    if (c->max_queue_entries < NVME_QUEUE_DEPTH) {
        console_line("nvme: queues hold at most %u entries, %u needed", c->max_queue_entries,
                     NVME_QUEUE_DEPTH);
        return false;
    }
    return true;
}

bool nvme_ctrl_init(struct nvme_ctrl *c, uint64_t regs, struct dma_domain *dma)
{
    *c = (struct nvme_ctrl){ .regs = regs, .dma = dma };
    if (!nvme_check_cap(c, nvme_read64(c, NVME_REG_CAP)))
        return false;
    /* Reset: whatever state the controller was left in, start from
     * disabled (CSTS.RDY follows CC.EN down). */
    nvme_write32(c, NVME_REG_CC, 0);
    if (!nvme_wait_status(c, NVME_CSTS_RDY, 0, "reset"))
        return false;
    if (!nvme_queue_init(c, &c->admin, 0, nvme_admin_sq, nvme_admin_cq))
        return false;
    c->identify_dma = dma_map(c->dma, ptr_to_pa(nvme_identify_buf), sizeof(nvme_identify_buf),
                              DMA_FROM_DEVICE);
    if (c->identify_dma == DMA_MAP_FAILED) {
        console_line("nvme: the Identify buffer could not be mapped for DMA");
        return false;
    }
    nvme_write32(c, NVME_REG_AQA, ((NVME_QUEUE_DEPTH - 1u) << 16) | (NVME_QUEUE_DEPTH - 1u));
    nvme_write64(c, NVME_REG_ASQ, c->admin.sq_dma);
    nvme_write64(c, NVME_REG_ACQ, c->admin.cq_dma);
    /* CSS 0 (NVM), MPS 0 (4 KiB pages), round-robin arbitration. */
    nvme_write32(c, NVME_REG_CC, NVME_CC_EN | NVME_CC_IOSQES | NVME_CC_IOCQES);
    return nvme_wait_status(c, NVME_CSTS_RDY, NVME_CSTS_RDY, "ready");
}

bool nvme_ctrl_shutdown(struct nvme_ctrl *c)
{
    uint32_t cc = nvme_read32(c, NVME_REG_CC);
    nvme_write32(c, NVME_REG_CC, cc | NVME_CC_SHN_NORMAL);
    bool ok = nvme_wait_status(c, NVME_CSTS_SHST_MASK, NVME_CSTS_SHST_DONE, "shutdown");
    /* Disabled (CC.EN = 0) the controller touches no queue: only then may
     * their mappings go. */
    nvme_write32(c, NVME_REG_CC, 0);
    ok = nvme_wait_status(c, NVME_CSTS_RDY, 0, "disable after shutdown") && ok;
    ok = nvme_queue_unmap(c, &c->admin) && ok;
    ok = nvme_queue_unmap(c, &c->io) && ok;
    if (c->identify_dma && c->identify_dma != DMA_MAP_FAILED)
        ok = dma_unmap(c->dma, c->identify_dma, sizeof(nvme_identify_buf)) && ok;
    c->identify_dma = 0;
    return dma_quiesce(c->dma) && ok;
}

/* The format namespace 1 uses: FLBAS picks one of the LBA formats (its
 * bits 6:5 extend the index when there are more than 16). */
static uint32_t nvme_lba_format(const uint8_t *id)
{
    uint8_t flbas = id[NVME_ID_NS_FLBAS];
    unsigned index = flbas & 0xfu;
    if (id[NVME_ID_NS_NLBAF] >= 16)
        index |= ((flbas >> 5) & 3u) << 4;
    uint32_t lbaf;
    memcpy(&lbaf, id + NVME_ID_NS_LBAF + 4 * index, sizeof(lbaf));
    return lbaf;
}

bool nvme_identify_namespace(struct nvme_ctrl *c, uint32_t nsid)
{
    memset(nvme_identify_buf, 0, sizeof(nvme_identify_buf));
    struct nvme_sqe sqe = { .cdw0 = NVME_ADMIN_IDENTIFY, .nsid = nsid,
                            .prp1 = c->identify_dma,
                            .cdw10 = NVME_IDENTIFY_CNS_NAMESPACE };
    if (!nvme_admin(c, &sqe, "identify namespace"))
        return false;
    memcpy(&c->ns_blocks, nvme_identify_buf + NVME_ID_NS_NSZE, sizeof(c->ns_blocks));
    uint32_t lbaf = nvme_lba_format(nvme_identify_buf);
    unsigned metadata = lbaf & 0xffffu, lbads = (lbaf >> 16) & 0xffu;
    if (c->ns_blocks == 0) {
        console_line("nvme: namespace %u is not active", nsid);
        return false;
    }
    if ((lbads != NVME_LBADS_512 && lbads != NVME_LBADS_4096) || metadata != 0) {
        console_line("nvme: unsupported LBA format (2^%u-byte blocks, %u metadata bytes)",
                     lbads, metadata);
        return false;
    }
    c->nsid = nsid;
    c->lba_size = 1u << lbads;
    return true;
}

bool nvme_create_io_queues(struct nvme_ctrl *c)
{
    if (!nvme_queue_init(c, &c->io, NVME_IO_QID, nvme_io_sq, nvme_io_cq))
        return false;
    uint32_t size_and_id = ((NVME_QUEUE_DEPTH - 1u) << 16) | NVME_IO_QID;
    /* Interrupts off (IEN = 0): completions are polled. */
    struct nvme_sqe cq = { .cdw0 = NVME_ADMIN_CREATE_CQ, .prp1 = c->io.cq_dma,
                           .cdw10 = size_and_id, .cdw11 = NVME_QUEUE_PHYS_CONTIG };
    struct nvme_sqe sq = { .cdw0 = NVME_ADMIN_CREATE_SQ, .prp1 = c->io.sq_dma,
                           .cdw10 = size_and_id,
                           .cdw11 = ((uint32_t)NVME_IO_QID << 16) | NVME_QUEUE_PHYS_CONTIG };
    return nvme_admin(c, &cq, "create I/O completion queue") &&
           nvme_admin(c, &sq, "create I/O submission queue");
}

/* ---- I/O --------------------------------------------------------------- */

void nvme_io_queue(struct nvme_ctrl *c, uint8_t opcode, uint16_t cid, uint64_t byte_offset,
                   uint64_t buf_dma)
{
    struct nvme_sqe sqe = { .cdw0 = opcode | ((uint32_t)cid << 16), .nsid = c->nsid };
    if (opcode != NVME_OP_FLUSH) {
        uint64_t lba = byte_offset / c->lba_size;
        sqe.prp1 = buf_dma;
        sqe.cdw10 = (uint32_t)lba;
        sqe.cdw11 = (uint32_t)(lba >> 32);
        sqe.cdw12 = NVME_BLOCK / c->lba_size - 1;   /* number of LBAs, 0-based */
    }
    nvme_queue_push(&c->io, &sqe);
}

void nvme_io_ring(struct nvme_ctrl *c)
{
    nvme_queue_ring(&c->io);
}

bool nvme_io_reap(struct nvme_ctrl *c, struct nvme_cqe *out)
{
    return nvme_queue_reap(&c->io, out);
}
