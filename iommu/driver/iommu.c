/*
 * iommu.c — the MMIO side of the IOMMU driver (see iommu.h).  Every wait on
 * the device is bounded: an IOMMU that stops answering is reported, never
 * waited on forever.
 */
#include "iommu/driver/iommu.h"
#include "core/lib/fmt.h"
#include "core/spinlock.h"
#include "core/platform.h"
#include "core/pool.h"

struct iommu_state iommu;

#define CQ_LOG2_ENTRIES 8     /* 256 commands of 16 bytes: one page */
/* 2048 records of 32 bytes (64 KiB): QEMU's model raises a record per
 * 4-byte piece of a blocked DMA, so one 4 KiB transfer makes 1024. */
#define FQ_LOG2_ENTRIES 11
#define FQ_BYTES ((1u << FQ_LOG2_ENTRIES) * IOMMU_FAULT_RECORD_SIZE)
#define IOMMU_POLL_LIMIT 10000000u

static uint32_t reg_read32(unsigned off)
{
    return *(volatile uint32_t *)pa_to_ptr(iommu.base + off);
}

static uint64_t reg_read64(unsigned off)
{
    return *(volatile uint64_t *)pa_to_ptr(iommu.base + off);
}

static void reg_write32(unsigned off, uint32_t v)
{
    *(volatile uint32_t *)pa_to_ptr(iommu.base + off) = v;
}

static void reg_write64(unsigned off, uint64_t v)
{
    *(volatile uint64_t *)pa_to_ptr(iommu.base + off) = v;
}

/* Poll a 32-bit register until (value & mask) == want. */
static bool reg_wait32(unsigned off, uint32_t mask, uint32_t want)
{
    for (uint32_t i = 0; i < IOMMU_POLL_LIMIT; i++)
        if ((reg_read32(off) & mask) == want)
            return true;
    return false;
}

static bool ddtp_wait_idle(void)
{
    for (uint32_t i = 0; i < IOMMU_POLL_LIMIT; i++)
        if (!(reg_read64(IOMMU_REG_DDTP) & IOMMU_DDTP_BUSY))
            return true;
    return false;
}

static int fail(char *err, size_t errlen, const char *what)
{
    fmt_snprintf(err, errlen, "iommu at 0x%lx: %s", iommu.base, what);
    return -1;
}

static int queues_init(char *err, size_t errlen)
{
    iommu.cq = frame_alloc(&umbra_pool, PAGE_SIZE, PAGE_SIZE);
    iommu.fq = frame_alloc(&umbra_pool, FQ_BYTES, FQ_BYTES);   /* aligned to its size */
    paddr_t fence = frame_alloc(&umbra_pool, PAGE_SIZE, PAGE_SIZE);
    if (!iommu.cq || !iommu.fq || !fence)
        return fail(err, errlen, "no memory for its queues");
    iommu.fence_word = pa_to_ptr(fence);
    reg_write64(IOMMU_REG_CQB, iommu_cqb_value(iommu.cq, CQ_LOG2_ENTRIES));
    reg_write32(IOMMU_REG_CQT, 0);
    reg_write32(IOMMU_REG_CQCSR, IOMMU_CQCSR_CQEN);
    if (!reg_wait32(IOMMU_REG_CQCSR, IOMMU_CQCSR_CQON | IOMMU_CQCSR_BUSY, IOMMU_CQCSR_CQON))
        return fail(err, errlen, "its command queue did not come on");
    reg_write64(IOMMU_REG_FQB, iommu_fqb_value(iommu.fq, FQ_LOG2_ENTRIES));
    reg_write32(IOMMU_REG_FQH, 0);
    reg_write32(IOMMU_REG_FQCSR, IOMMU_FQCSR_FQEN);
    if (!reg_wait32(IOMMU_REG_FQCSR, IOMMU_FQCSR_FQON | IOMMU_FQCSR_BUSY, IOMMU_FQCSR_FQON))
        return fail(err, errlen, "its fault queue did not come on");
    return 0;
}

/* The device directory: a zeroed root, so every device's entry is invalid
 * and any DMA is refused until a device is assigned to a VM.  Deep enough
 * for every function on PCI bus 0. */
static int directory_init(char *err, size_t errlen)
{
    iommu.dc_format = iommu_dc_format_of(&iommu.caps);
    iommu.ddt_mode = iommu_ddt_mode_for(0xff, iommu.dc_format);
    iommu.ddt_root = frame_alloc(&umbra_pool, PAGE_SIZE, PAGE_SIZE);
    if (!iommu.ddt_root)
        return fail(err, errlen, "no memory for its device directory");
    reg_write64(IOMMU_REG_DDTP, iommu_ddtp_value(iommu.ddt_mode, iommu.ddt_root));
    if (!ddtp_wait_idle() || iommu_ddtp_mode(reg_read64(IOMMU_REG_DDTP)) != iommu.ddt_mode)
        return fail(err, errlen, "it did not accept the device directory");
    return 0;
}

static void cq_push(const struct iommu_cmd *cmd)
{
    struct iommu_cmd *slot = pa_to_ptr(iommu.cq + (uint64_t)iommu.cq_tail * IOMMU_CMD_SIZE);
    *slot = *cmd;
    iommu.cq_tail = iommu_queue_next(iommu.cq_tail, CQ_LOG2_ENTRIES);
    iommu.commands++;
    __asm__ volatile("fence ow, ow" ::: "memory");   /* the command before the doorbell */
    reg_write32(IOMMU_REG_CQT, iommu.cq_tail);
}

static int iommu_run_locked(const struct iommu_cmd *cmd, char *err, size_t errlen)
{
    uint32_t seq = ++iommu.fence_seq;
    struct iommu_cmd fence = iommu_cmd_iofence_c(IOMMU_FENCE_AV | IOMMU_FENCE_PR | IOMMU_FENCE_PW,
                                                 ptr_to_pa((const void *)iommu.fence_word), seq);
    cq_push(cmd);
    cq_push(&fence);
    for (uint32_t i = 0; i < IOMMU_POLL_LIMIT; i++) {
        if (*iommu.fence_word == seq)
            return 0;
        uint32_t csr = reg_read32(IOMMU_REG_CQCSR);
        if (csr & IOMMU_CQCSR_ERRORS)
            return fail(err, errlen, iommu_cqcsr_error_name(csr));
    }
    return fail(err, errlen, "a command did not complete");
}

int iommu_run(const struct iommu_cmd *cmd, char *err, size_t errlen)
{
    spin_lock(&iommu.lock);
    int rc = iommu_run_locked(cmd, err, errlen);
    spin_unlock(&iommu.lock);
    return rc;
}

int iommu_gscid(paddr_t gstage_root)
{
    spin_lock(&iommu.lock);
    int id = iommu_gscid_for(&iommu.gscids, gstage_root);
    spin_unlock(&iommu.lock);
    return id;
}

/* The DDT leaf slot of device_id, allocating the intermediate pages the
 * walk needs (zeroed: every other device stays invalid). */
static void *ddt_slot(uint32_t device_id)
{
    paddr_t table = iommu.ddt_root;
    for (unsigned level = iommu_ddt_levels(iommu.ddt_mode) - 1; level > 0; level--) {
        volatile uint64_t *e = (uint64_t *)pa_to_ptr(table) + iommu_ddt_index(device_id, level, iommu.dc_format);
        if (!(*e & IOMMU_DDTE_V)) {
            paddr_t next = frame_alloc(&umbra_pool, PAGE_SIZE, PAGE_SIZE);
            if (!next)
                return NULL;
            memset(pa_to_ptr(next), 0, PAGE_SIZE);
            __asm__ volatile("fence w, w" ::: "memory");   /* the page before the pointer */
            *e = iommu_ddte_make(next);
        }
        table = iommu_ddte_to_pa(*e);
    }
    return (uint8_t *)pa_to_ptr(table) + iommu_dc_offset(device_id, iommu.dc_format);
}

/* Store dc (NULL: an invalid one) as device_id's context and make the
 * IOMMU forget what it cached: the old DC and, for a valid one with
 * flush_gscid, every translation tagged with its GSCID (it may have walked
 * a table that GSCID named before). */
static int dc_install(uint32_t device_id, const struct iommu_dc *dc, bool flush_gscid, uint64_t *commands,
                      char *err, size_t errlen)
{
    if (!iommu.ready)
        return fail(err, errlen, "not in use");
    if (!iommu_ddt_covers(iommu.ddt_mode, device_id, iommu.dc_format))
        return fail(err, errlen, "the device id lies beyond its directory");
    spin_lock(&iommu.lock);
    void *slot = ddt_slot(device_id);
    int rc = -1;
    if (!slot) {
        fail(err, errlen, "no memory for its device directory");
    } else {
        static const struct iommu_dc invalid;
        iommu_dc_store(slot, iommu.dc_format, dc ? dc : &invalid);
        uint64_t before = iommu.commands;
        struct iommu_cmd ddt = iommu_cmd_iodir_inval_ddt(device_id);
        rc = iommu_run_locked(&ddt, err, errlen);
        if (rc == 0 && dc && flush_gscid) {
            uint32_t gscid = (uint32_t)(dc->iohgatp >> IOMMU_IOHGATP_GSCID_SHIFT) & IOMMU_GSCID_MAX;
            struct iommu_cmd gvma = iommu_cmd_iotinval_gvma(gscid, IOMMU_ALL_ADDRS);
            rc = iommu_run_locked(&gvma, err, errlen);
        }
        *commands += iommu.commands - before;
    }
    spin_unlock(&iommu.lock);
    return rc;
}

int iommu_attach_dc(uint32_t device_id, const struct iommu_dc_params *p, uint64_t *commands,
                    char *err, size_t errlen)
{
    struct iommu_dc dc;
    iommu_dc_build(&dc, p);
    return dc_install(device_id, &dc, true, commands, err, errlen);
}

int iommu_switch_gstage(uint32_t device_id, paddr_t gstage_root, uint16_t gscid, uint64_t *commands,
                        char *err, size_t errlen)
{
    const struct iommu_dc_params p = { .gstage_root = gstage_root, .gscid = gscid };
    struct iommu_dc dc;
    iommu_dc_build(&dc, &p);
    return dc_install(device_id, &dc, false, commands, err, errlen);
}

int iommu_attach(uint32_t device_id, paddr_t gstage_root, uint16_t gscid, uint64_t *commands,
                 char *err, size_t errlen)
{
    const struct iommu_dc_params p = { .gstage_root = gstage_root, .gscid = gscid };
    return iommu_attach_dc(device_id, &p, commands, err, errlen);
}

int iommu_detach(uint32_t device_id, uint64_t *commands, char *err, size_t errlen)
{
    return dc_install(device_id, NULL, false, commands, err, errlen);
}

int iommu_run_counted(const struct iommu_cmd *cmd, uint64_t *commands, char *err, size_t errlen)
{
    spin_lock(&iommu.lock);
    uint64_t before = iommu.commands;
    int rc = iommu_run_locked(cmd, err, errlen);
    *commands += iommu.commands - before;
    spin_unlock(&iommu.lock);
    return rc;
}

unsigned iommu_poll_faults(iommu_fault_fn report, bool wait)
{
    if (!iommu.ready)
        return 0;
    if (wait)
        spin_lock(&iommu.lock);
    else if (!spin_trylock(&iommu.lock))
        return 0;
    uint32_t tail = reg_read32(IOMMU_REG_FQT);
    /* The records the tail announces, read only after the tail. */
    __asm__ volatile("fence i, r" ::: "memory");
    unsigned n = 0;
    while (iommu.fq_head != tail) {
        const struct iommu_fault_record *rec =
            pa_to_ptr(iommu.fq + (uint64_t)iommu.fq_head * IOMMU_FAULT_RECORD_SIZE);
        struct iommu_fault f;
        iommu_fault_decode(rec, &f);
        iommu.fq_head = iommu_queue_next(iommu.fq_head, FQ_LOG2_ENTRIES);
        __asm__ volatile("fence r, o" ::: "memory");   /* read the record before freeing its slot */
        reg_write32(IOMMU_REG_FQH, iommu.fq_head);
        report(&f);
        n++;
    }
    /* An overflow stops the queue until software clears it (records were
     * lost, which the count below says). */
    uint32_t csr = reg_read32(IOMMU_REG_FQCSR);
    if (csr & IOMMU_FQCSR_ERRORS) {
        iommu.fq_errors++;
        reg_write32(IOMMU_REG_FQCSR, csr & (IOMMU_FQCSR_ERRORS | IOMMU_FQCSR_FQEN));
    }
    spin_unlock(&iommu.lock);
    return n;
}

int iommu_init(paddr_t base, char *err, size_t errlen)
{
    memset(&iommu, 0, sizeof(iommu));
    iommu.base = base;
    iommu_caps_decode(reg_read64(IOMMU_REG_CAPS), &iommu.caps);
    const char *unusable = iommu_caps_check(&iommu.caps, platform.ram_base + platform.ram_size);
    if (unusable)
        return fail(err, errlen, unusable);
    if (iommu_ddtp_mode(reg_read64(IOMMU_REG_DDTP)) != IOMMU_DDTP_OFF)
        return fail(err, errlen, "it is already on (the firmware left it enabled)");
    if (queues_init(err, errlen) != 0 || directory_init(err, errlen) != 0)
        return -1;
    /* Nothing can be cached yet, but a directory just written is only
     * guaranteed visible after an invalidation. */
    struct iommu_cmd ddt = iommu_cmd_iodir_inval_ddt(IOMMU_ALL_DEVICES);
    struct iommu_cmd gvma = iommu_cmd_iotinval_gvma(IOMMU_ALL_GSCIDS, IOMMU_ALL_ADDRS);
    if (iommu_run(&ddt, err, errlen) != 0 || iommu_run(&gvma, err, errlen) != 0)
        return -1;
    iommu.ready = true;
    return 0;
}
