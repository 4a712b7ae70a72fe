/*
 * iommu.c — the devtest guest's RISC-V IOMMU driver (see iommu.h).  Field
 * positions are those of the RISC-V IOMMU specification 1.0.  Facts about
 * QEMU's model that shape it (hw/riscv/riscv-iommu.c, QEMU 10):
 *   - it never sets A/D in a first-stage leaf (no AMO_HWAD): dma.c presets
 *     them; it does not check U, but the spec treats a request without a
 *     PASID as a user access, so dma.c sets U as well;
 *   - DDTP may go from Off/Bare to a directory and back, never from one
 *     directory mode to another: a re-init goes through Off;
 *   - register accesses at 0x300 and above (the MSI table) fail with an
 *     access fault;
 *   - it caches device contexts by device ID and first-stage translations
 *     by PSCID and page, so the invalidations below are not decoration.
 */
#include "guests/devtest/iommu.h"

#include "core/lib/fdt.h"
#include "core/lib/fmt.h"
#include "guests/common/console.h"
#include "guests/common/csr.h"
#include "guests/common/timer.h"
#include "guests/devtest/io.h"

#define IOMMU_COMPATIBLE "riscv,iommu"

/* CAP fields. */
#define CAP_VERSION(cap) ((unsigned)((cap) & 0xff))
#define CAP_SV39 (1ull << 9)
#define CAP_MSI_FLAT (1ull << 22)

/* ddtp: mode 3:0, busy 4, PPN 53:10 (the same PPN position in cqb, fqb
 * and directory entries). */
#define DDTP_MODE_OFF 0u
#define DDTP_MODE_1LVL 2u
#define DDTP_MODE_2LVL 3u
#define DDTP_MODE_MASK 0xfull
#define DDTP_BUSY (1ull << 4)
#define PPN_FIELD(pa) (((pa) >> 12) << 10)
#define DDTE_V 1ull

/* Device context fields. */
#define DC_TC_V 1ull
#define DC_TA_PSCID_SHIFT 12
#define IOSATP_SV39 (8ull << 60)
#define DC_BASE_SIZE 32u
#define DC_EXT_SIZE 64u

/* Command fields (dword 0). */
#define CMD_FUNC_SHIFT 7
#define CMD_AV (1ull << 10)
#define CMD_PSCID_SHIFT 12
#define CMD_PSCV (1ull << 32)
#define CMD_DV (1ull << 33)
#define CMD_DID_SHIFT 40
#define CMD_FENCE_DATA_SHIFT 32

/* Queues: 64 commands (1 KiB), 64 fault records (2 KiB). */
#define CQ_LOG2 6
#define FQ_LOG2 6
#define CQ_ENTRIES (1u << CQ_LOG2)
#define FQ_ENTRIES (1u << FQ_LOG2)
#define FAULT_RECORD_WORDS 4

#define IOMMU_POOL_PAGES 96
#define IOMMU_MAX_DEVS 8
/* Bounds of a wait for the IOMMU (a fence, a register): long, because a
 * sidecore's answer depends on the host running another hart, which a
 * loaded host can hold back for a while (CI saw a 16 MiB NVMe run under
 * sidecore fail once with the bound at 1 s); a broken IOMMU still ends
 * in a line, not a hang. */
#define IOMMU_WAIT_MS 10000
#define IOMMU_WAIT_POLLS (1ull << 30)
#define IOMMU_SPINS_BEFORE_SLEEP 4     /* iommu_wait=sleep: a fence done at once costs no sleep */

struct iommu_state {
    uint64_t regs;
    uint64_t cap;
    bool active;
    bool extended_dc;                 /* CAP.MSI_FLAT: 64-byte contexts */
    unsigned levels;                  /* 1 or 2 */
    bool wait_sleep;                  /* iommu_config.wait_sleep */
    uint64_t ddt_root;
    uint32_t cq_tail;                 /* our copy: the next slot we fill */
    uint32_t fence_seq;
    struct iommu_fault last_fault;
    const struct iommu_dev *devs[IOMMU_MAX_DEVS];
    unsigned dev_count;
    unsigned pool_used;
};

static struct iommu_state iommu;
static uint8_t iommu_pool[IOMMU_POOL_PAGES][4096] __attribute__((aligned(4096)));
static struct iommu_cmd iommu_cq[CQ_ENTRIES] __attribute__((aligned(4096)));
static uint64_t iommu_fq[FQ_ENTRIES][FAULT_RECORD_WORDS] __attribute__((aligned(4096)));
static volatile uint32_t iommu_fence_word __attribute__((aligned(8)));

/* ---- Registers ------------------------------------------------------- */

static uint32_t reg_read32(unsigned off)
{
    return io_read32(iommu.regs + off);
}

static uint64_t reg_read64(unsigned off)
{
    return io_read64(iommu.regs + off);
}

static void reg_write32(unsigned off, uint32_t v)
{
    io_write32(iommu.regs + off, v);
}

static void reg_write64(unsigned off, uint64_t v)
{
    io_write64(iommu.regs + off, v);
}

/* Polls the 32-bit register until (value & mask) == want, for at most
 * IOMMU_WAIT_MS: a broken or emulated IOMMU must give a line, not a hang. */
static bool reg_wait32(unsigned off, uint32_t mask, uint32_t want, const char *what)
{
    uint64_t deadline = time_now() + timer_ticks_from_ms(IOMMU_WAIT_MS);
    for (uint64_t polls = 0; polls < IOMMU_WAIT_POLLS; polls++) {
        uint32_t v = reg_read32(off);
        if ((v & mask) == want)
            return true;
        if (time_now() > deadline)
            break;
    }
    console_line("iommu: timed out waiting for %s (reg 0x%x = 0x%x)", what, off, reg_read32(off));
    return false;
}

uint64_t iommu_regs(void)
{
    return iommu.regs;
}

uint64_t iommu_cap(void)
{
    return iommu.cap;
}

bool iommu_active(void)
{
    return iommu.active;
}

/* ---- Discovery and pool ------------------------------------------------ */

bool iommu_find(const void *dtb, uint64_t *regs_out)
{
    int node = fdt_next_compatible(dtb, -1, IOMMU_COMPATIBLE);
    uint64_t base, size;
    if (node < 0)
        return false;
    if (!fdt_get_reg(dtb, node, 0, &base, &size) || size < IOMMU_REG_PAGE ||
        !IS_ALIGNED(base, IOMMU_REG_PAGE)) {
        console_line("iommu: node %s has no usable reg: DMA stays physical",
                     fdt_node_name(dtb, node));
        return false;
    }
    *regs_out = base;
    return true;
}

uint64_t iommu_page_alloc(void)
{
    if (iommu.pool_used == IOMMU_POOL_PAGES) {
        console_line("iommu: out of table pages (%u)", IOMMU_POOL_PAGES);
        return 0;
    }
    uint8_t *page = iommu_pool[iommu.pool_used++];
    memset(page, 0, 4096);
    return ptr_to_pa(page);
}

/* ---- Commands ---------------------------------------------------------- */

static const char *cqcsr_error(uint32_t cqcsr)
{
    if (cqcsr & IOMMU_CQCSR_CMD_ILL)
        return "cmd_ill";
    if (cqcsr & IOMMU_CQCSR_CQMF)
        return "cqmf";
    if (cqcsr & IOMMU_CQCSR_CMD_TO)
        return "cmd_to";
    return NULL;
}

static bool cq_check_errors(const char *when)
{
    uint32_t cqcsr = reg_read32(IOMMU_CQCSR);
    const char *err = cqcsr_error(cqcsr);
    if (err)
        console_line("iommu: command queue stopped (%s, cqcsr 0x%x, cqh %u) %s", err, cqcsr,
                     reg_read32(IOMMU_CQH), when);
    else if (!(cqcsr & IOMMU_QCSR_ON))
        console_line("iommu: command queue is off (cqcsr 0x%x) %s", cqcsr, when);
    return err == NULL && (cqcsr & IOMMU_QCSR_ON);
}

/* Waits for room behind the IOMMU's head (CQH, checked to lie inside the
 * queue before it is believed). */
static bool cq_wait_room(void)
{
    uint32_t next = (iommu.cq_tail + 1) & (CQ_ENTRIES - 1);
    uint64_t deadline = time_now() + timer_ticks_from_ms(IOMMU_WAIT_MS);
    for (;;) {
        uint32_t head = reg_read32(IOMMU_CQH);
        if (head >= CQ_ENTRIES) {
            console_line("iommu: cqh %u lies outside the %u-entry queue", head, CQ_ENTRIES);
            return false;
        }
        if (head != next)
            return true;
        if (!cq_check_errors("while waiting for room") || time_now() > deadline)
            return false;
    }
}

/* Appends c; the IOMMU sees it at the next tail write (iommu_sync). */
bool iommu_queue_cmd(const struct iommu_cmd *c)
{
    if (!cq_wait_room())
        return false;
    iommu_cq[iommu.cq_tail] = *c;
    iommu.cq_tail = (iommu.cq_tail + 1) & (CQ_ENTRIES - 1);
    return true;
}

static struct iommu_cmd cmd_make(unsigned op, unsigned func)
{
    return (struct iommu_cmd){ .dw0 = op | ((uint64_t)func << CMD_FUNC_SHIFT) };
}

bool iommu_queue_inval_page(uint32_t pscid, uint64_t iova)
{
    struct iommu_cmd c = cmd_make(IOMMU_OP_IOTINVAL, IOMMU_FUNC_VMA);
    c.dw0 |= CMD_AV | CMD_PSCV | ((uint64_t)pscid << CMD_PSCID_SHIFT);
    c.dw1 = (iova >> 12) << 10;       /* ADDR[63:12] at bits 61:10 */
    return iommu_queue_cmd(&c);
}

bool iommu_queue_inval_pscid(uint32_t pscid)
{
    struct iommu_cmd c = cmd_make(IOMMU_OP_IOTINVAL, IOMMU_FUNC_VMA);
    c.dw0 |= CMD_PSCV | ((uint64_t)pscid << CMD_PSCID_SHIFT);
    return iommu_queue_cmd(&c);
}

bool iommu_queue_inval_all(void)
{
    struct iommu_cmd c = cmd_make(IOMMU_OP_IOTINVAL, IOMMU_FUNC_VMA);
    return iommu_queue_cmd(&c);
}

bool iommu_queue_inval_ddt(uint32_t device_id)
{
    struct iommu_cmd c = cmd_make(IOMMU_OP_IODIR, IOMMU_FUNC_INVAL_DDT);
    c.dw0 |= CMD_DV | ((uint64_t)device_id << CMD_DID_SHIFT);
    return iommu_queue_cmd(&c);
}

/* IOFENCE.C with AV: when every earlier command is done the IOMMU stores
 * `seq` in iommu_fence_word.  The wait is bounded and watches cqcsr, so an
 * illegal command or a memory fault ends it at once. */
bool iommu_sync(void)
{
    uint32_t seq = ++iommu.fence_seq;
    struct iommu_cmd c = cmd_make(IOMMU_OP_IOFENCE, IOMMU_FUNC_FENCE_C);
    c.dw0 |= CMD_AV | ((uint64_t)seq << CMD_FENCE_DATA_SHIFT);
    c.dw1 = ptr_to_pa((const void *)&iommu_fence_word) >> 2;
    if (!iommu_queue_cmd(&c))
        return false;
    io_fence();     /* tables and commands in memory before the tail moves */
    reg_write32(IOMMU_CQT, iommu.cq_tail);
    uint64_t deadline = time_now() + timer_ticks_from_ms(IOMMU_WAIT_MS);
    for (uint64_t polls = 0; polls < IOMMU_WAIT_POLLS; polls++) {
        if (iommu_fence_word == seq) {
            io_fence();
            return true;
        }
        if ((polls & 63) == 63 && (!cq_check_errors("during a fence") || time_now() > deadline))
            break;
        if (iommu.wait_sleep && polls >= IOMMU_SPINS_BEFORE_SLEEP)
            timer_take_interrupt_ticks(TIMER_SBI, MAX(1u, timer_ticks_from_ms(1) / 50));
    }
    console_line("iommu: IOFENCE.C %u did not complete (word %u)", seq, iommu_fence_word);
    return false;
}

/* ---- Faults ------------------------------------------------------------ */

static struct iommu_fault fault_decode(const uint64_t *rec)
{
    return (struct iommu_fault){ .cause = (unsigned)(rec[0] & 0xfff),
                                 .ttyp = (unsigned)((rec[0] >> 34) & 0x3f),
                                 .did = (uint32_t)(rec[0] >> 40), .iotval = rec[2] };
}

static const char *fault_cause_name(unsigned cause)
{
    switch (cause) {
    case 1: return "instruction access fault";
    case 5: return "read access fault";
    case 7: return "write access fault";
    case 12: return "instruction page fault";
    case 13: return "read page fault";
    case 15: return "write page fault";
    case 256: return "all inbound transactions disallowed";
    case 257: return "ddt entry load access fault";
    case 258: return "ddt entry not valid";
    case 259: return "ddt entry misconfigured";
    case 260: return "transaction type disallowed";
    default: return "other";
    }
}

static void fq_report_errors(void)
{
    uint32_t fqcsr = reg_read32(IOMMU_FQCSR);
    if (fqcsr & (IOMMU_FQCSR_FQMF | IOMMU_FQCSR_FQOF)) {
        console_line("iommu: fault queue %s%s (fqcsr 0x%x): records were lost",
                     (fqcsr & IOMMU_FQCSR_FQMF) ? "memory fault " : "",
                     (fqcsr & IOMMU_FQCSR_FQOF) ? "overflow" : "", fqcsr);
        /* RW1C: clearing them lets the IOMMU write records again. */
        reg_write32(IOMMU_FQCSR, fqcsr & (IOMMU_QCSR_EN | IOMMU_FQCSR_FQMF | IOMMU_FQCSR_FQOF));
    }
}

static void fault_print(const struct iommu_fault *f, unsigned repeats)
{
    console_line("iommu fault cause=%u (%s) did=0x%x iotval=0x%lx ttyp=%u", f->cause,
                 fault_cause_name(f->cause), f->did, (unsigned long)f->iotval, f->ttyp);
    if (repeats)
        console_line("iommu fault: %u more records like it in the same page", repeats);
}

static bool fault_same_page(const struct iommu_fault *a, const struct iommu_fault *b)
{
    return a->cause == b->cause && a->did == b->did && a->ttyp == b->ttyp &&
           (a->iotval >> 12) == (b->iotval >> 12);
}

/* Every record is taken; a run of records that differ only in the offset
 * inside one page (QEMU's model faults each 4-byte piece of a blocked DMA)
 * is printed as its first record and a count. */
bool iommu_wait_fault(unsigned ms)
{
    for (unsigned i = 0; iommu.active && i <= ms; i++) {
        if (reg_read32(IOMMU_FQT) != reg_read32(IOMMU_FQH))
            return true;
        if (i < ms)
            timer_take_interrupt(TIMER_SBI, 1);
    }
    return false;
}

unsigned iommu_drain_faults(void)
{
    if (!iommu.active)
        return 0;
    unsigned count = 0, repeats = 0;
    uint32_t tail = reg_read32(IOMMU_FQT);
    uint32_t head = reg_read32(IOMMU_FQH);
    if (tail >= FQ_ENTRIES || head >= FQ_ENTRIES) {
        console_line("iommu: fault queue indices out of range (fqh %u fqt %u)", head, tail);
        return 0;
    }
    io_fence();     /* records after the tail that announces them */
    struct iommu_fault first = { 0 };
    while (head != tail) {
        struct iommu_fault f = fault_decode(iommu_fq[head]);
        if (count > 0 && fault_same_page(&first, &f)) {
            repeats++;
        } else {
            if (count > 0)
                fault_print(&first, repeats);
            first = f;
            repeats = 0;
        }
        iommu.last_fault = f;
        count++;
        head = (head + 1) & (FQ_ENTRIES - 1);
    }
    if (count > 0)
        fault_print(&first, repeats);
    reg_write32(IOMMU_FQH, head);
    fq_report_errors();
    return count;
}

struct iommu_fault iommu_last_fault(void)
{
    return iommu.last_fault;
}

/* ---- Directory --------------------------------------------------------- */

static unsigned dc_size(void)
{
    return iommu.extended_dc ? DC_EXT_SIZE : DC_BASE_SIZE;
}

/* Bits of device ID the leaf page indexes: 64 or 128 contexts a page. */
static unsigned leaf_bits(void)
{
    return iommu.extended_dc ? 6 : 7;
}

static bool ddt_covers(uint32_t device_id)
{
    unsigned bits = leaf_bits() + (iommu.levels == 2 ? 9 : 0);
    return device_id < (1u << bits);
}

/* The DC slot of device_id, creating the leaf page on a 2-level walk. */
static volatile uint64_t *ddt_slot(uint32_t device_id)
{
    uint64_t leaf = iommu.ddt_root;
    if (iommu.levels == 2) {
        uint64_t *root = pa_to_ptr(iommu.ddt_root);
        unsigned index = device_id >> leaf_bits();
        if (!(root[index] & DDTE_V)) {
            uint64_t page = iommu_page_alloc();
            if (!page)
                return NULL;
            root[index] = PPN_FIELD(page) | DDTE_V;
        }
        leaf = ((root[index] >> 10) & ((1ull << 44) - 1)) << 12;
    }
    unsigned slot = device_id & ((1u << leaf_bits()) - 1);
    return pa_to_ptr(leaf + slot * dc_size());
}

/* Writes the context with tc (V) last, so an IOMMU reading it meanwhile
 * never sees V with stale fields; MSI fields of the extended format stay
 * 0 (MSI translation off). */
static bool ddt_write_dc(uint32_t device_id, uint32_t pscid, uint64_t root)
{
    volatile uint64_t *dc = ddt_slot(device_id);
    if (!dc)
        return false;
    dc[0] = 0;
    dc[1] = 0;                                          /* iohgatp: Bare */
    dc[2] = (uint64_t)pscid << DC_TA_PSCID_SHIFT;       /* ta */
    dc[3] = IOSATP_SV39 | (root >> 12);                 /* fsc */
    for (unsigned i = 4; i < dc_size() / 8; i++)
        dc[i] = 0;
    io_fence();
    dc[0] = DC_TC_V;            /* DTF=0: report faults; PDTV=0: no PASIDs */
    return true;
}

/* IODIR.INVAL_DDT and IOTINVAL.VMA, both for everything, and a fence:
 * whatever the IOMMU cached before (firmware, a fuzz) is gone. */
static bool inval_everything(void)
{
    struct iommu_cmd ddt = cmd_make(IOMMU_OP_IODIR, IOMMU_FUNC_INVAL_DDT);
    return iommu_queue_cmd(&ddt) && iommu_queue_inval_all() && iommu_sync();
}

/* ---- Bring-up ---------------------------------------------------------- */

static bool iommu_check_cap(void)
{
    iommu.cap = reg_read64(IOMMU_CAP);
    unsigned version = CAP_VERSION(iommu.cap);
    iommu.extended_dc = (iommu.cap & CAP_MSI_FLAT) != 0;
    console_line("iommu at 0x%lx cap 0x%016lx version %u.%u dc %u bytes",
                 (unsigned long)iommu.regs, (unsigned long)iommu.cap, version >> 4, version & 0xf,
                 dc_size());
    if ((version >> 4) != 1) {
        console_line("iommu: version %u.%u is not 1.x", version >> 4, version & 0xf);
        return false;
    }
    if (!(iommu.cap & CAP_SV39)) {
        console_line("iommu: no Sv39 first stage (cap.Sv39 = 0)");
        return false;
    }
    return true;
}

/* Stops a queue (cqcsr/fqcsr/pqcsr) and waits until it says it is off. */
static bool queue_stop(unsigned csr, const char *what)
{
    reg_write32(csr, 0);
    return reg_wait32(csr, IOMMU_QCSR_ON | IOMMU_QCSR_BUSY, 0, what);
}

/* Starting a queue resets both its indices to 0 (spec 5.4). */
static bool queues_start_cq_only(void)
{
    reg_write64(IOMMU_CQB, PPN_FIELD(ptr_to_pa(iommu_cq)) | (CQ_LOG2 - 1));
    reg_write32(IOMMU_CQT, 0);
    iommu.cq_tail = 0;
    reg_write32(IOMMU_CQCSR, IOMMU_QCSR_EN);
    return reg_wait32(IOMMU_CQCSR, IOMMU_QCSR_ON | IOMMU_QCSR_BUSY, IOMMU_QCSR_ON,
                      "the command queue to start");
}

static bool queues_start(void)
{
    if (!queues_start_cq_only())
        return false;
    reg_write64(IOMMU_FQB, PPN_FIELD(ptr_to_pa(iommu_fq)) | (FQ_LOG2 - 1));
    reg_write32(IOMMU_FQH, 0);
    reg_write32(IOMMU_FQCSR, IOMMU_QCSR_EN);
    return reg_wait32(IOMMU_FQCSR, IOMMU_QCSR_ON | IOMMU_QCSR_BUSY, IOMMU_QCSR_ON,
                      "the fault queue to start");
}

static bool ddtp_write(uint64_t value, const char *what)
{
    reg_write64(IOMMU_DDTP, value);
    uint64_t deadline = time_now() + timer_ticks_from_ms(IOMMU_WAIT_MS);
    uint64_t got;
    while ((got = reg_read64(IOMMU_DDTP)) & DDTP_BUSY) {
        if (time_now() > deadline)
            break;
    }
    if ((got & ~DDTP_BUSY) != value) {
        console_line("iommu: ddtp 0x%lx not accepted for %s (reads 0x%lx)", (unsigned long)value,
                     what, (unsigned long)got);
        return false;
    }
    return true;
}

/* Everything off, in the order the spec allows: queues, then the
 * directory (through Off, since one directory mode cannot become another). */
static bool iommu_stop(void)
{
    bool ok = queue_stop(IOMMU_CQCSR, "the command queue to stop");
    ok = queue_stop(IOMMU_FQCSR, "the fault queue to stop") && ok;
    ok = queue_stop(IOMMU_PQCSR, "the page-request queue to stop") && ok;
    return ddtp_write(DDTP_MODE_OFF, "off") && ok;
}

/* Queues on, directory on, then forget anything cached from before. */
static bool iommu_start(void)
{
    reg_write32(IOMMU_FCTL, 0);     /* little-endian, MSI (unused: polling) */
    if (!queues_start())
        return false;
    uint64_t mode = iommu.levels == 2 ? DDTP_MODE_2LVL : DDTP_MODE_1LVL;
    if (!ddtp_write(PPN_FIELD(iommu.ddt_root) | mode, "the directory"))
        return false;
    iommu.active = true;
    return inval_everything();
}

bool iommu_init(uint64_t regs, const struct iommu_config *cfg)
{
    iommu = (struct iommu_state){ .regs = regs, .levels = cfg->ddt_levels ? cfg->ddt_levels : 2,
                                  .wait_sleep = cfg->wait_sleep };
    if (!iommu_check_cap())
        return false;
    iommu.ddt_root = iommu_page_alloc();
    if (!iommu.ddt_root || !iommu_stop() || !iommu_start())
        return false;
    console_line("iommu: %u-level directory at 0x%lx, command queue 0x%lx, fault queue 0x%lx",
                 iommu.levels, (unsigned long)iommu.ddt_root, (unsigned long)ptr_to_pa(iommu_cq),
                 (unsigned long)ptr_to_pa(iommu_fq));
    return true;
}

bool iommu_reinit(void)
{
    iommu.active = false;
    /* Error bits are RW1C; stopping a queue and starting it again clears
     * them too, but a fuzz may have left them set in odd combinations. */
    reg_write32(IOMMU_CQCSR, IOMMU_CQCSR_CQMF | IOMMU_CQCSR_CMD_TO | IOMMU_CQCSR_CMD_ILL |
                             IOMMU_CQCSR_FENCE_W_IP);
    reg_write32(IOMMU_FQCSR, IOMMU_FQCSR_FQMF | IOMMU_FQCSR_FQOF);
    reg_write32(IOMMU_IPSR, 0xf);
    if (!iommu_stop() || !iommu_start())
        return false;
    for (unsigned i = 0; i < iommu.dev_count; i++) {
        const struct iommu_dev *d = iommu.devs[i];
        if (!ddt_write_dc(d->device_id, d->pscid, d->root))
            return false;
    }
    return inval_everything();
}

/* A new context: the IOMMU may have cached "invalid" for this device ID,
 * so IODIR.INVAL_DDT and a fence come before its first DMA. */
bool iommu_dev_attach(struct iommu_dev *d, uint32_t device_id)
{
    if (!ddt_covers(device_id)) {
        console_line("iommu: device id 0x%x lies beyond a %u-level directory of %u-byte contexts",
                     device_id, iommu.levels, dc_size());
        return false;
    }
    if (iommu.dev_count == IOMMU_MAX_DEVS) {
        console_line("iommu: more than %u devices", IOMMU_MAX_DEVS);
        return false;
    }
    *d = (struct iommu_dev){ .device_id = device_id, .pscid = iommu.dev_count + 1,
                             .root = iommu_page_alloc() };
    if (!d->root || !ddt_write_dc(device_id, d->pscid, d->root))
        return false;
    iommu.devs[iommu.dev_count++] = d;
    return iommu_queue_inval_ddt(device_id) && iommu_queue_inval_pscid(d->pscid) && iommu_sync();
}

bool iommu_dev_set_root(const struct iommu_dev *d, uint64_t root)
{
    return ddt_write_dc(d->device_id, d->pscid, root) && iommu_queue_inval_ddt(d->device_id) &&
           iommu_queue_inval_pscid(d->pscid) && iommu_sync();
}

/* The command alone in the queue: the queue restarts empty before it (so
 * an earlier stop cannot hide it) and after it (so an illegal command,
 * which stays at the head, cannot block the next). */
uint32_t iommu_run_lone_cmd(const struct iommu_cmd *c)
{
    if (!queue_stop(IOMMU_CQCSR, "the command queue to stop") || !queues_start_cq_only())
        return UINT32_MAX;
    iommu_cq[0] = *c;
    iommu.cq_tail = 1;
    io_fence();
    reg_write32(IOMMU_CQT, 1);
    /* Done when the head moves past it or the queue reports an error. */
    uint64_t deadline = time_now() + timer_ticks_from_ms(IOMMU_WAIT_MS);
    uint32_t cqcsr;
    for (;;) {
        cqcsr = reg_read32(IOMMU_CQCSR);
        if (reg_read32(IOMMU_CQH) == 1 || cqcsr_error(cqcsr) || time_now() > deadline)
            break;
    }
    if (!queue_stop(IOMMU_CQCSR, "the command queue to stop") || !queues_start_cq_only())
        return UINT32_MAX;
    return cqcsr;
}
