/*
 * blktest.c — the nvme test: bring the controller up, identify namespace 1,
 * then (blk_mib=N, N > 0) two phases over the disk in 4 KiB commands,
 * BLKTEST_BATCH of them in flight at a time:
 *
 *   read:  bytes [0, N MiB) are read and hashed.
 *   write: bytes [N MiB, 2N MiB) are written with a pattern, flushed, read
 *          back and compared; the hash is over the written data.
 *
 * Both formulas are fixed so a test harness can recompute them over the
 * disk image file (mod 2^64 throughout):
 *   hash:    over the bytes as little-endian 64-bit words w, in disk order,
 *              h = 0xcbf29ce484222325;  for each w: h = (h ^ w) * 0x100000001b3
 *   pattern: the 64-bit little-endian word at disk byte offset o (o % 8 == 0)
 *              is (o * 0x9e3779b97f4a7c15) ^ 0x5eed5eed5eed5eed
 *
 * RESULT lines hold only sizes and hashes; the instret lines ("devtest:
 * nvme read blocks=B instret=I", same for write and verify) count the
 * instructions of each phase alone and differ between runs.
 */
#include "core/lib/fmt.h"
#include "guests/common/check.h"
#include "guests/common/console.h"
#include "guests/common/csr.h"
#include "guests/devtest/devtest.h"
#include "guests/devtest/nvme.h"

#define BLKTEST_BATCH 32
#define BLKTEST_HASH_BASIS 0xcbf29ce484222325ull
#define BLKTEST_HASH_PRIME 0x100000001b3ull
#define BLKTEST_PATTERN_MUL 0x9e3779b97f4a7c15ull
#define BLKTEST_PATTERN_XOR 0x5eed5eed5eed5eedull
#define BLKTEST_WORDS (NVME_BLOCK / 8)
#define BLKTEST_NSID 1

_Static_assert(BLKTEST_BATCH < NVME_QUEUE_DEPTH, "a batch must fit in the I/O queue");

static uint64_t blktest_bufs[BLKTEST_BATCH][BLKTEST_WORDS] __attribute__((aligned(4096)));

static uint64_t blktest_hash(uint64_t h, const uint64_t *words, size_t count)
{
    for (size_t i = 0; i < count; i++)
        h = (h ^ words[i]) * BLKTEST_HASH_PRIME;
    return h;
}

static uint64_t blktest_pattern(uint64_t disk_offset)
{
    return (disk_offset * BLKTEST_PATTERN_MUL) ^ BLKTEST_PATTERN_XOR;
}

/* The block of the disk starting at byte `offset`, as the write phase
 * leaves it. */
static void blktest_fill(uint64_t *words, uint64_t offset)
{
    for (size_t i = 0; i < BLKTEST_WORDS; i++)
        words[i] = blktest_pattern(offset + 8 * i);
}

/* Index of the first word that differs from the pattern, or -1. */
static long blktest_mismatch(const uint64_t *words, uint64_t offset)
{
    for (size_t i = 0; i < BLKTEST_WORDS; i++)
        if (words[i] != blktest_pattern(offset + 8 * i))
            return (long)i;
    return -1;
}

/* Maps the first `count` buffers for one batch (a read fills them, a
 * write is read from them). */
static bool blktest_map(struct nvme_ctrl *c, uint8_t opcode, unsigned count, uint64_t *dma)
{
    enum dma_dir dir = opcode == NVME_OP_READ ? DMA_FROM_DEVICE : DMA_TO_DEVICE;
    for (unsigned i = 0; i < count; i++) {
        dma[i] = dma_map(c->dma, ptr_to_pa(blktest_bufs[i]), NVME_BLOCK, dir);
        if (dma[i] == DMA_MAP_FAILED) {
            console_line("nvme: buffer %u could not be mapped for DMA", i);
            while (i-- > 0)
                dma_unmap(c->dma, dma[i], NVME_BLOCK);
            return false;
        }
    }
    return true;
}

static bool blktest_unmap(struct nvme_ctrl *c, unsigned count, const uint64_t *dma)
{
    bool ok = true;
    for (unsigned i = 0; i < count; i++)
        ok = dma_unmap(c->dma, dma[i], NVME_BLOCK) && ok;
    return ok;
}

static bool blktest_reap_all(struct nvme_ctrl *c, uint8_t opcode, uint64_t offset,
                             unsigned count, bool *all_completed);

/* `count` commands on consecutive blocks from byte `offset`, buffer i for
 * the i-th, each buffer mapped for the batch alone; waits for all of them
 * (a command that never completes leaves its buffers mapped: the device
 * may still write them). */
static bool blktest_batch(struct nvme_ctrl *c, uint8_t opcode, uint64_t offset, unsigned count)
{
    uint64_t dma[BLKTEST_BATCH];
    if (!blktest_map(c, opcode, count, dma))
        return false;
    for (unsigned i = 0; i < count; i++)
        nvme_io_queue(c, opcode, (uint16_t)i, offset + (uint64_t)i * NVME_BLOCK, dma[i]);
    nvme_io_ring(c);
    bool all_completed;
    bool ok = blktest_reap_all(c, opcode, offset, count, &all_completed);
    return all_completed && blktest_unmap(c, count, dma) && ok;
}

static bool blktest_reap_all(struct nvme_ctrl *c, uint8_t opcode, uint64_t offset,
                             unsigned count, bool *all_completed)
{
    bool ok = true;
    *all_completed = false;
    for (unsigned k = 0; k < count; k++) {
        struct nvme_cqe done;
        if (!nvme_io_reap(c, &done)) {
            console_line("nvme: opcode %u at byte 0x%lx: a command did not complete", opcode,
                         (unsigned long)offset);
            return false;
        }
        if (nvme_status(&done) != 0 || done.cid >= count) {
            console_line("nvme: opcode %u block at byte 0x%lx: status 0x%x", opcode,
                         (unsigned long)(offset + (uint64_t)done.cid * NVME_BLOCK),
                         nvme_status(&done));
            ok = false;
        }
    }
    *all_completed = true;
    return ok;
}

static bool blktest_flush(struct nvme_ctrl *c)
{
    struct nvme_cqe done;
    nvme_io_queue(c, NVME_OP_FLUSH, 0, 0, 0);
    nvme_io_ring(c);
    if (!nvme_io_reap(c, &done) || nvme_status(&done) != 0) {
        console_line("nvme: flush failed");
        return false;
    }
    return true;
}

static void blktest_read_phase(struct nvme_ctrl *c, uint64_t mib)
{
    uint64_t blocks = MIB(mib) / NVME_BLOCK, hash = BLKTEST_HASH_BASIS;
    bool ok = true;
    uint64_t instret_start = csr_read(instret);
    for (uint64_t b = 0; b < blocks && ok; b += BLKTEST_BATCH) {
        unsigned n = (unsigned)MIN(BLKTEST_BATCH, blocks - b);
        ok = blktest_batch(c, NVME_OP_READ, b * NVME_BLOCK, n);
        for (unsigned i = 0; i < n; i++)
            hash = blktest_hash(hash, blktest_bufs[i], BLKTEST_WORDS);
    }
    uint64_t instret = csr_read(instret) - instret_start;
    check_true(ok, "nvme read of %lu MiB", (unsigned long)mib);
    if (ok)
        console_line("RESULT nvme read mib=%lu sum=0x%016lx", (unsigned long)mib,
                     (unsigned long)hash);
    else
        console_line("RESULT nvme read mib=%lu FAIL", (unsigned long)mib);
    console_line("nvme read blocks=%lu instret=%lu", (unsigned long)blocks,
                 (unsigned long)instret);
}

/* Writes [base, base + blocks * 4 KiB) with the pattern and flushes;
 * returns the hash of what it wrote through *hash. */
static bool blktest_write(struct nvme_ctrl *c, uint64_t base, uint64_t blocks, uint64_t *hash)
{
    bool ok = true;
    *hash = BLKTEST_HASH_BASIS;
    for (uint64_t b = 0; b < blocks && ok; b += BLKTEST_BATCH) {
        unsigned n = (unsigned)MIN(BLKTEST_BATCH, blocks - b);
        for (unsigned i = 0; i < n; i++) {
            blktest_fill(blktest_bufs[i], base + (b + i) * NVME_BLOCK);
            *hash = blktest_hash(*hash, blktest_bufs[i], BLKTEST_WORDS);
        }
        ok = blktest_batch(c, NVME_OP_WRITE, base + b * NVME_BLOCK, n);
    }
    return ok && blktest_flush(c);
}

/* Reads the range back; counts the blocks that differ from the pattern. */
static bool blktest_verify(struct nvme_ctrl *c, uint64_t base, uint64_t blocks, char *why,
                           size_t cap)
{
    uint64_t bad_blocks = 0;
    for (uint64_t b = 0; b < blocks; b += BLKTEST_BATCH) {
        unsigned n = (unsigned)MIN(BLKTEST_BATCH, blocks - b);
        if (!blktest_batch(c, NVME_OP_READ, base + b * NVME_BLOCK, n)) {
            fmt_snprintf(why, cap, "read back failed");
            return false;
        }
        for (unsigned i = 0; i < n; i++) {
            uint64_t offset = base + (b + i) * NVME_BLOCK;
            long word = blktest_mismatch(blktest_bufs[i], offset);
            if (word >= 0 && bad_blocks++ == 0)
                fmt_snprintf(why, cap, "first mismatch at disk byte 0x%lx",
                             (unsigned long)(offset + 8 * (uint64_t)word));
        }
    }
    if (bad_blocks)
        console_line("nvme: %lu of %lu blocks differ", (unsigned long)bad_blocks,
                     (unsigned long)blocks);
    return bad_blocks == 0;
}

static void blktest_write_phase(struct nvme_ctrl *c, uint64_t mib)
{
    uint64_t base = MIB(mib), blocks = MIB(mib) / NVME_BLOCK, hash;
    char why[80] = "write failed";
    uint64_t instret_start = csr_read(instret);
    bool ok = blktest_write(c, base, blocks, &hash);
    uint64_t instret_write = csr_read(instret) - instret_start;
    instret_start = csr_read(instret);
    ok = ok && blktest_verify(c, base, blocks, why, sizeof(why));
    uint64_t instret_verify = csr_read(instret) - instret_start;
    check_true(ok, "nvme write of %lu MiB at %lu MiB reads back", (unsigned long)mib,
               (unsigned long)mib);
    if (ok)
        console_line("RESULT nvme write_verify mib=%lu ok sum=0x%016lx", (unsigned long)mib,
                     (unsigned long)hash);
    else
        console_line("RESULT nvme write_verify mib=%lu FAIL (%s)", (unsigned long)mib, why);
    console_line("nvme write blocks=%lu instret=%lu", (unsigned long)blocks,
                 (unsigned long)instret_write);
    console_line("nvme verify blocks=%lu instret=%lu", (unsigned long)blocks,
                 (unsigned long)instret_verify);
}

static bool blktest_bring_up(struct nvme_ctrl *c, uint64_t regs, struct dma_domain *dma)
{
    return check_true(nvme_ctrl_init(c, regs, dma), "nvme controller enabled") &&
           check_true(nvme_identify_namespace(c, BLKTEST_NSID), "nvme identify namespace 1") &&
           check_true(nvme_create_io_queues(c), "nvme I/O queues created");
}

void nvme_run(const struct pcibus_func *f, uint64_t blk_mib, bool write)
{
    static struct nvme_ctrl ctrl;
    uint64_t regs = f->bar[0].cpu_addr;
    if (!(f->bar[0].flags & PCIBUS_BAR_MEM) || regs == 0) {
        check_true(false, "nvme BAR0 is an assigned memory BAR");
        return;
    }
    struct dma_domain *dma = dma_domain_of(f);
    if (!check_true(dma != NULL, "nvme has a DMA domain"))
        return;
    pcibus_enable_master(f);
    if (!blktest_bring_up(&ctrl, regs, dma))
        return;
    uint64_t disk = ctrl.ns_blocks * ctrl.lba_size;
    console_line("RESULT nvme namespace lba_size=%u size_mib=%lu", ctrl.lba_size,
                 (unsigned long)(disk >> 20));
    if (blk_mib > 0 && disk / 2 < MIB(blk_mib)) {
        check_true(false, "nvme disk (%lu MiB) holds 2 x blk_mib (%lu MiB)",
                   (unsigned long)(disk >> 20), (unsigned long)(2 * blk_mib));
    } else if (blk_mib > 0) {
        blktest_read_phase(&ctrl, blk_mib);
        if (write)
            blktest_write_phase(&ctrl, blk_mib);
    }
    check_true(nvme_ctrl_shutdown(&ctrl), "nvme controller shut down");
}
