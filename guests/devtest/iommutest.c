/*
 * iommutest.c — the phases the IOMMU bootargs ask for, run on the edu's
 * DMA domain after edu_run's own test:
 *   iommu_bench=N    N map+unmap pairs of one page, instret over the phase,
 *                    then the same with IOMMUTEST_ROTATE buffers in turn
 *                    (more than dma.h's keep bound, so optimistic misses);
 *                    one DMA through a fresh mapping proves they worked.
 *   iommu_attack=    an IOVA mapped to each physical ADDR, edu writes there.
 *   iommu_badtable=1 the edu's context gets a table root outside RAM.
 *   iommu_fuzz=SEED  random register writes and command streams, malformed
 *                    commands, a full re-init, an edu round trip.
 * Lines other than RESULT/PASS/FAIL carry addresses and counts freely.
 */
#include "core/lib/fmt.h"
#include "guests/common/check.h"
#include "guests/common/console.h"
#include "guests/common/csr.h"
#include "guests/common/trap.h"
#include "guests/devtest/devtest.h"
#include "guests/devtest/io.h"
#include "guests/devtest/iommu.h"

#define IOMMUTEST_PAGE 4096u
#define IOMMUTEST_ROTATE DEVTEST_BENCH_ROTATE
/* How long a blocked DMA's record may take to come (the wait ends at the
 * first record; a sidecore on a busy host can be descheduled a while). */
#define IOMMUTEST_FAULT_WAIT_MS 200
/* 128 GiB: no RAM natively (QEMU virt's RAM and PCI windows lie lower)
 * and outside any VM's guest-physical RAM. */
#define IOMMUTEST_BAD_ROOT 0x2000000000ull
#define IOMMUTEST_SEED_BENCH 0xbe9c4ull

static uint8_t bench_bufs[IOMMUTEST_ROTATE][IOMMUTEST_PAGE] __attribute__((aligned(4096)));
static uint8_t check_buf[IOMMUTEST_PAGE] __attribute__((aligned(4096)));

static void fill_pattern(uint8_t *buf, size_t len, uint64_t seed)
{
    uint64_t x = seed | 1;
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(devtest_random(&x) >> 56);
}

/* bench_bufs[0] -> device -> check_buf, each side mapped for the transfer. */
static bool mapped_copy_through_device(uint64_t regs, struct dma_domain *d)
{
    fill_pattern(bench_bufs[0], IOMMUTEST_PAGE, IOMMUTEST_SEED_BENCH);
    memset(check_buf, 0, IOMMUTEST_PAGE);
    uint64_t out = dma_map(d, ptr_to_pa(bench_bufs[0]), IOMMUTEST_PAGE, DMA_TO_DEVICE);
    bool ok = out != DMA_MAP_FAILED && edu_transfer(regs, out, IOMMUTEST_PAGE, false);
    ok = out != DMA_MAP_FAILED && dma_unmap(d, out, IOMMUTEST_PAGE) && ok;
    uint64_t in = dma_map(d, ptr_to_pa(check_buf), IOMMUTEST_PAGE, DMA_FROM_DEVICE);
    ok = in != DMA_MAP_FAILED && edu_transfer(regs, in, IOMMUTEST_PAGE, true) && ok;
    ok = in != DMA_MAP_FAILED && dma_unmap(d, in, IOMMUTEST_PAGE) && ok;
    return ok && memcmp(check_buf, bench_bufs[0], IOMMUTEST_PAGE) == 0;
}

/* ---- iommu_bench ------------------------------------------------------- */

static bool bench_pairs(struct dma_domain *d, uint64_t n, unsigned buffers)
{
    for (uint64_t i = 0; i < n; i++) {
        uint64_t pa = ptr_to_pa(bench_bufs[i % buffers]);
        uint64_t iova = dma_map(d, pa, IOMMUTEST_PAGE, DMA_TO_DEVICE);
        if (iova == DMA_MAP_FAILED || !dma_unmap(d, iova, IOMMUTEST_PAGE))
            return false;
    }
    return true;
}

static void bench_phase(uint64_t regs, struct dma_domain *d, uint64_t n, unsigned buffers)
{
    const char *policy = dma_teardown_name(dma_policy());
    unsigned hits_before = dma_kept_hits();
    uint64_t start = csr_read(instret);
    bool ok = bench_pairs(d, n, buffers);
    uint64_t instret = csr_read(instret) - start;
    unsigned hits = dma_kept_hits() - hits_before;
    if (buffers == 1)
        console_line("iommu bench maps=%lu teardown=%s instret=%lu kept_hits=%u", (unsigned long)n,
                     policy, (unsigned long)instret, hits);
    else
        console_line("iommu bench rotating maps=%lu teardown=%s buffers=%u instret=%lu "
                     "kept_hits=%u", (unsigned long)n, policy, buffers, (unsigned long)instret,
                     hits);
    check_true(ok && mapped_copy_through_device(regs, d),
               "iommu bench: %lu map+unmap pairs over %u buffer(s), then a DMA through new "
               "mappings", (unsigned long)n, buffers);
}

/* ---- iommu_attack ------------------------------------------------------ */

static bool overlaps(uint64_t a, uint64_t len, uint64_t start, uint64_t end)
{
    return a < end && a + len > start;
}

static void attack_one(uint64_t regs, struct dma_domain *d, const struct devtest_ram *ram,
                       uint64_t addr)
{
    bool own = addr >= ram->free_start && addr <= ram->free_end &&
               ram->free_end - addr >= IOMMUTEST_PAGE && IS_ALIGNED(addr, IOMMUTEST_PAGE);
    if (!own && overlaps(addr, IOMMUTEST_PAGE, ram->start, ram->end)) {
        check_true(false, "iommu attack 0x%lx refused: overlaps RAM this guest uses",
                   (unsigned long)addr);
        return;
    }
    iommu_drain_faults();
    fill_pattern(bench_bufs[1], IOMMUTEST_PAGE, addr);
    uint64_t out = dma_map(d, ptr_to_pa(bench_bufs[1]), IOMMUTEST_PAGE, DMA_TO_DEVICE);
    bool staged = out != DMA_MAP_FAILED && edu_transfer(regs, out, IOMMUTEST_PAGE, false);
    staged = out != DMA_MAP_FAILED && dma_unmap(d, out, IOMMUTEST_PAGE) && staged;
    if (own)
        memset(pa_to_ptr(addr), 0, IOMMUTEST_PAGE);
    uint64_t iova = dma_map(d, addr & ~(uint64_t)(IOMMUTEST_PAGE - 1), IOMMUTEST_PAGE,
                            DMA_FROM_DEVICE);
    bool done = iova != DMA_MAP_FAILED && edu_transfer(regs, iova, IOMMUTEST_PAGE, true);
    /* Give a blocked DMA's fault records time to arrive while the mapping
     * still says what the DMA met (natively they are already there). */
    if (!own)
        iommu_wait_fault(IOMMUTEST_FAULT_WAIT_MS);
    if (iova != DMA_MAP_FAILED)
        dma_unmap(d, iova, IOMMUTEST_PAGE);
    console_line("iommu attack 0x%lx via iova 0x%lx: dma %s", (unsigned long)addr,
                 (unsigned long)iova, done ? "completed" : "did not complete");
    unsigned faults = iommu_drain_faults();
    const char *landed = !own ? "unknown (not this guest's RAM)"
                       : memcmp(pa_to_ptr(addr), bench_bufs[1], IOMMUTEST_PAGE) == 0 ? "yes"
                                                                                      : "no";
    console_line("iommu attack 0x%lx: landed %s, fault records %u", (unsigned long)addr, landed,
                 faults);
    check_true(staged, "iommu attack 0x%lx: staging dma", (unsigned long)addr);
}

/* ---- iommu_badtable ---------------------------------------------------- */

static void badtable(uint64_t regs, struct dma_domain *d)
{
    const struct iommu_dev *dev = dma_iommu_dev(d);
    if (!dev) {
        console_line("iommu badtable: no IOMMU, nothing to test");
        return;
    }
    iommu_drain_faults();
    bool set = iommu_dev_set_root(dev, IOMMUTEST_BAD_ROOT);
    uint64_t iova = DMA_IOVA_BASE + dev->pscid * DMA_IOVA_STRIDE;
    /* Four bytes: one access, so one record (the model faults per piece). */
    bool done = set && edu_transfer(regs, iova, 4, true);
    /* A sidecore delivers the record a little after the DMA ends. */
    iommu_wait_fault(IOMMUTEST_FAULT_WAIT_MS);
    unsigned faults = iommu_drain_faults();
    struct iommu_fault f = iommu_last_fault();
    console_line("iommu badtable: root 0x%lx, dma %s, fault records %u, last cause %u did 0x%x",
                 (unsigned long)IOMMUTEST_BAD_ROOT, done ? "completed" : "did not complete",
                 faults, faults ? f.cause : 0, faults ? f.did : 0);
    check_true(faults > 0 && f.did == dev->device_id,
               "iommu badtable: a fault record for the edu's device id");
    check_true(iommu_dev_set_root(dev, dev->root), "iommu badtable: context restored");
    edu_round_trip(regs, d, "after_badtable");
}

/* ---- iommu_fuzz -------------------------------------------------------- */

/*
 * What the fuzz may not do natively, and how it is kept from it:
 *   - an IOFENCE.C with AV writes 4 bytes anywhere: every fence the fuzz
 *     makes has its address in fuzz_landing;
 *   - queue bases and DDTP may point anywhere the IOMMU then reads or
 *     writes: the PPN of every value written to CQB/FQB/PQB/DDTP is forced
 *     into fuzz_sandbox, and a queue's size limited so it fits there; the
 *     sandbox is prefilled with such sanitized commands, so any command the
 *     IOMMU fetches from it is harmless (fault records it writes there
 *     decode as illegal commands or invalidations);
 *   - interrupts: the IE bits of the queue CSRs are always written 0, and
 *     the HPM counters (0x58-0x25f, whose overflow signals an interrupt) are
 *     left alone; registers at 0x300 and above (the MSI table, which QEMU
 *     refuses with an access fault) are not written;
 *   - TR_REQ_IOVA gets page-aligned values (a fault record's iotval must
 *     not decode as a fence).
 * Sizes are 4 and 8 at every other offset below 0x300, naturally aligned;
 * a store the IOMMU refuses is caught (trap.h) and counted.
 */
#define FUZZ_SANDBOX_PAGES 16
#define FUZZ_REG_WRITES 3000
#define FUZZ_COMMANDS 400
#define FUZZ_REG_LIMIT 0x300
#define FUZZ_HPM_FIRST 0x58
#define FUZZ_HPM_END 0x260
#define FUZZ_TR_REQ_IOVA 0x258

static uint8_t fuzz_sandbox[FUZZ_SANDBOX_PAGES][4096] __attribute__((aligned(65536)));
static uint8_t fuzz_landing[4096] __attribute__((aligned(4096)));

static struct iommu_cmd fuzz_command(uint64_t *rng)
{
    static const unsigned ops[] = { IOMMU_OP_IOTINVAL, IOMMU_OP_IOFENCE, IOMMU_OP_IODIR,
                                    IOMMU_OP_ATS };
    uint64_t r = devtest_random(rng);
    unsigned op = (r & 7) < 6 ? ops[(r >> 3) % ARRAY_SIZE(ops)] : (unsigned)((r >> 5) & 0x7f);
    struct iommu_cmd c = { .dw0 = (devtest_random(rng) & ~0x3ffull) | op |
                                  ((uint64_t)((r >> 12) & 7) << 7),
                           .dw1 = devtest_random(rng) };
    if ((c.dw0 & 0x3ff) == IOMMU_OP_IOFENCE) {
        /* IOFENCE.C: its AV address lands in fuzz_landing. */
        uint64_t spot = ptr_to_pa(fuzz_landing) + (devtest_random(rng) & 0xffc);
        c.dw1 = spot >> 2;
    }
    return c;
}

/* The PPN/LOG2SZ value for a queue base register: a queue of entry bytes
 * that fits in the sandbox at a place aligned to its size. */
static uint64_t fuzz_queue_base(uint64_t r, unsigned entry, unsigned max_log2sz)
{
    unsigned log2sz = (unsigned)(r % (max_log2sz + 1));
    uint64_t bytes = (uint64_t)entry << (log2sz + 1);
    uint64_t slots = sizeof(fuzz_sandbox) / MAX(bytes, 4096);
    uint64_t base = ptr_to_pa(fuzz_sandbox) + ((r >> 8) % slots) * MAX(bytes, 4096);
    return ((base >> 12) << 10) | log2sz;
}

static uint64_t fuzz_sanitize(unsigned reg, uint64_t v)
{
    switch (reg) {
    case IOMMU_CQB:
    case IOMMU_PQB:
        return fuzz_queue_base(v, 16, 11);
    case IOMMU_FQB:
        return fuzz_queue_base(v, 32, 10);
    case IOMMU_DDTP: {
        uint64_t page = ptr_to_pa(fuzz_sandbox[(v >> 8) % FUZZ_SANDBOX_PAGES]);
        return ((page >> 12) << 10) | (v & 0xf);
    }
    case IOMMU_CQCSR:
    case IOMMU_FQCSR:
    case IOMMU_PQCSR:
        return v & ~(uint64_t)IOMMU_QCSR_IE & 0xffffffffull;
    case FUZZ_TR_REQ_IOVA:
        return v & ~0xfffull;
    default:
        return v;
    }
}

static bool fuzz_is_wide(unsigned reg)
{
    return reg == IOMMU_CQB || reg == IOMMU_FQB || reg == IOMMU_PQB || reg == IOMMU_DDTP ||
           reg == FUZZ_TR_REQ_IOVA;
}

/* One random write; the value sanitized per register (see above). */
static void fuzz_register_write(uint64_t *rng)
{
    uint64_t r = devtest_random(rng);
    unsigned size = (r & 1) ? 8 : 4;
    unsigned off = (unsigned)((r >> 1) % FUZZ_REG_LIMIT) & ~(size - 1);
    unsigned reg = off & ~7u;       /* the 64-bit register this lies in */
    if (reg >= FUZZ_HPM_FIRST && reg < FUZZ_HPM_END && reg != FUZZ_TR_REQ_IOVA)
        return;
    uint64_t v = devtest_random(rng), clean;
    if (fuzz_is_wide(reg))
        clean = fuzz_sanitize(reg, v);
    else if (size == 8)     /* two 32-bit registers: off and off + 4 */
        clean = (fuzz_sanitize(off, v) & 0xffffffffull) | (fuzz_sanitize(off + 4, v >> 32) << 32);
    else
        clean = fuzz_sanitize(off, v) & 0xffffffffull;
    uint64_t addr = iommu_regs() + off;
    if (size == 8)
        io_write64(addr, clean);
    else
        io_write32(addr, (uint32_t)(fuzz_is_wide(reg) && (off & 4) ? clean >> 32 : clean));
}

static void fuzz_prefill_sandbox(uint64_t *rng)
{
    struct iommu_cmd *slots = (struct iommu_cmd *)fuzz_sandbox;
    for (size_t i = 0; i < sizeof(fuzz_sandbox) / sizeof(*slots); i++)
        slots[i] = fuzz_command(rng);
    io_fence();
}

/* Commands that are illegal by the spec (and refused by QEMU's model). */
static bool fuzz_malformed_give_cmd_ill(void)
{
    struct iommu_cmd bad[] = {
        { .dw0 = 0 },                                          /* opcode 0 */
        { .dw0 = 0x3f },                                       /* opcode 63 */
        { .dw0 = IOMMU_OP_IOTINVAL | (7u << 7) },              /* IOTINVAL func 7 */
        { .dw0 = IOMMU_OP_IOFENCE | (1u << 7) },               /* IOFENCE func 1 */
        { .dw0 = IOMMU_OP_IODIR | (IOMMU_FUNC_INVAL_PDT << 7) },    /* INVAL_PDT, DV=0 */
        { .dw0 = IOMMU_OP_IOTINVAL | (IOMMU_FUNC_GVMA << 7) | (1ull << 32) }, /* GVMA, PSCV */
    };
    unsigned ill = 0;
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        uint32_t cqcsr = iommu_run_lone_cmd(&bad[i]);
        bool got = cqcsr != UINT32_MAX && (cqcsr & IOMMU_CQCSR_CMD_ILL);
        if (!got)
            console_line("iommu fuzz: malformed command 0x%016lx gave cqcsr 0x%x",
                         (unsigned long)bad[i].dw0, cqcsr);
        ill += got;
    }
    struct iommu_cmd fence = { .dw0 = IOMMU_OP_IOFENCE };
    uint32_t cqcsr = iommu_run_lone_cmd(&fence);
    bool control = cqcsr != UINT32_MAX && !(cqcsr & IOMMU_CQCSR_CMD_ILL);
    return check_true(ill == ARRAY_SIZE(bad) && control,
                      "iommu fuzz: %u malformed commands give CMD_ILL, IOFENCE.C does not",
                      (unsigned)ARRAY_SIZE(bad));
}

static void fuzz(uint64_t regs, struct dma_domain *d, uint64_t seed)
{
    if (!iommu_active()) {
        console_line("iommu fuzz: no IOMMU, nothing to fuzz");
        console_line("RESULT iommu fuzz FAIL (no IOMMU)");
        return;
    }
    uint64_t rng = seed ^ 0x10a11f0220ull;
    fuzz_prefill_sandbox(&rng);
    trap_catch_begin();
    for (unsigned i = 0; i < FUZZ_REG_WRITES; i++)
        fuzz_register_write(&rng);
    struct trap_catch caught = trap_catch_end();
    bool ok = iommu_reinit();
    unsigned ill = 0;
    for (unsigned i = 0; i < FUZZ_COMMANDS && ok; i++) {
        struct iommu_cmd c = fuzz_command(&rng);
        uint32_t cqcsr = iommu_run_lone_cmd(&c);
        ok = cqcsr != UINT32_MAX;
        ill += ok && (cqcsr & IOMMU_CQCSR_CMD_ILL);
    }
    console_line("iommu fuzz seed %lu: %u register writes (%u refused), %u commands (%u illegal)",
                 (unsigned long)seed, FUZZ_REG_WRITES, caught.count, FUZZ_COMMANDS, ill);
    ok = fuzz_malformed_give_cmd_ill() && ok;
    ok = check_true(iommu_reinit(), "iommu fuzz: full re-init") && ok;
    iommu_drain_faults();
    ok = edu_round_trip(regs, d, "after_iommu_fuzz") && ok;
    console_line("RESULT iommu fuzz %s", ok ? "ok" : "FAIL");
}

void iommutest_run(uint64_t edu_regs, struct dma_domain *d, const struct devtest_options *opt,
                   const struct devtest_ram *ram)
{
    if (opt->iommu_bench > 0 && opt->iommu_bench_buffers != IOMMUTEST_ROTATE)
        bench_phase(edu_regs, d, opt->iommu_bench, 1);
    if (opt->iommu_bench > 0 && opt->iommu_bench_buffers != 1)
        bench_phase(edu_regs, d, opt->iommu_bench, IOMMUTEST_ROTATE);
    for (unsigned i = 0; i < opt->iommu_attack_count; i++)
        attack_one(edu_regs, d, ram, opt->iommu_attack[i]);
    if (opt->iommu_attack_count > 0)
        edu_round_trip(edu_regs, d, "after_iommu_attack");
    if (opt->iommu_badtable)
        badtable(edu_regs, d);
    if (opt->iommu_fuzz)
        fuzz(edu_regs, d, opt->iommu_fuzz_seed);
}
