/* test_viommu.c — the guest-visible IOMMU (iommu/viommu/viommu.c) and the
 * shadow IOVA tables (iommu/viommu/ioshadow.c).
 *
 * Part 1: the register file and queues against the specification's rules
 * (ddtp transitions, queue enable, CMD_ILL and CQMF stopping the queue,
 * IOFENCE.C's completion write, the fault queue's FQOF and FQMF), device
 * contexts (every misconfiguration this IOMMU must refuse) and the causes
 * of forwarded faults.  A fake host records what the physical side is
 * asked to do.
 *
 * Part 2: a randomized differential test of the shadow sync: random guest
 * Sv39 tables (4 KiB and 2 MiB leaves, missing A/D, targets outside RAM)
 * change at random; after each batch the changed pages (or whole spaces,
 * or one PSCID) are invalidated as the guest must, and then every shadow
 * translation must equal a reference built from viommu_walk and the
 * guest-memory map.  Unchanged leaves must never be unmapped.
 */
#include <stdlib.h>
#include <string.h>
#include "iommu/viommu/ioshadow.h"
#include "iommu/viommu/viommu.h"
#include "tests/unit/unit.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE MIB(16)
#define POOL_PAGES 1024u

static uint8_t *ram;
static struct guest_mem mem;

static void ram_setup(void)
{
    ram = aligned_alloc(MIB(2), RAM_SIZE);
    memset(ram, 0, RAM_SIZE);
    guest_mem_init(&mem);
    CHECK_EQ(guest_mem_add_contiguous(&mem, RAM_BASE, RAM_SIZE, ptr_to_pa(ram)), 0);
}

static void *gptr(gpaddr_t gpa)
{
    return ram + (gpa - RAM_BASE);
}

static void g64(gpaddr_t gpa, uint64_t v)
{
    memcpy(gptr(gpa), &v, 8);
}

static uint64_t r64(gpaddr_t gpa)
{
    uint64_t v;
    memcpy(&v, gptr(gpa), 8);
    return v;
}

/* ---- a fake host --------------------------------------------------------- */

struct fake_host {
    unsigned changed, invalidations, fences;
    struct viommu_dc_view last_view;
    unsigned last_index;
    bool last_pscv, last_av;
    uint32_t last_pscid;
    uint64_t last_addr;
};

static int fake_changed(void *arg, unsigned index, const struct viommu_dc_view *view)
{
    struct fake_host *h = arg;
    h->changed++;
    h->last_index = index;
    h->last_view = *view;
    return 0;
}

static int fake_invalidate(void *arg, bool pscv, uint32_t pscid, bool av, uint64_t addr)
{
    struct fake_host *h = arg;
    h->invalidations++;
    h->last_pscv = pscv, h->last_pscid = pscid, h->last_av = av, h->last_addr = addr;
    return 0;
}

static int fake_fence(void *arg)
{
    ((struct fake_host *)arg)->fences++;
    return 0;
}

static const struct viommu_host_ops fake_ops = { fake_changed, fake_invalidate, fake_fence };

/* Guest memory layout for part 1. */
#define CQ_GPA (RAM_BASE + 0x10000)       /* 64 commands */
#define FQ_GPA (RAM_BASE + 0x20000)       /* 4 records */
#define DDT_GPA (RAM_BASE + 0x30000)      /* root of a 2-level directory */
#define DDT_LEAF_GPA (RAM_BASE + 0x31000)
#define FENCE_GPA (RAM_BASE + 0x40000)
#define PT_GPA (RAM_BASE + 0x50000)       /* a first-stage root */
#define DEV_A 0x80u                       /* 00:10.0 */
#define DEV_B 0x88u                       /* 00:11.0 */
#define OUTSIDE 0x1000000000ull           /* not RAM */

static struct viommu v;
static struct fake_host host;
static unsigned cq_tail;

static void viommu_fresh(void)
{
    memset(ram, 0, RAM_SIZE);
    memset(&host, 0, sizeof(host));
    const uint32_t dids[2] = { DEV_A, DEV_B };
    viommu_init(&v, VIOMMU_SHADOW, &mem, dids, 2, &fake_ops, &host);
    cq_tail = 0;
}

static void queues_on(void)
{
    viommu_write(&v, IOMMU_REG_CQB, 8, iommu_cqb_value(CQ_GPA, 6));
    viommu_write(&v, IOMMU_REG_CQCSR, 4, IOMMU_CQCSR_CQEN);
    viommu_write(&v, IOMMU_REG_FQB, 8, iommu_fqb_value(FQ_GPA, 2));
    viommu_write(&v, IOMMU_REG_FQCSR, 4, IOMMU_FQCSR_FQEN);
}

static void submit(struct iommu_cmd c)
{
    memcpy(gptr(CQ_GPA + cq_tail * 16ull), &c, 16);
    cq_tail = (cq_tail + 1) % 64;
    viommu_write(&v, IOMMU_REG_CQT, 4, cq_tail);
}

/* A base-format DC for dev in the 2-level directory. */
static void dc_put(uint32_t dev, uint64_t tc, uint64_t iohgatp, uint64_t ta, uint64_t fsc)
{
    g64(DDT_GPA + 8ull * iommu_ddt_index(dev, 1, IOMMU_DC_BASE), iommu_ddte_make(DDT_LEAF_GPA));
    gpaddr_t dc = DDT_LEAF_GPA + iommu_dc_offset(dev, IOMMU_DC_BASE);
    g64(dc, tc), g64(dc + 8, iohgatp), g64(dc + 16, ta), g64(dc + 24, fsc);
}

static void test_registers(void)
{
    viommu_fresh();
    struct iommu_caps caps;
    iommu_caps_decode(viommu_read(&v, IOMMU_REG_CAPS, 8), &caps);
    CHECK_EQ(caps.version, IOMMU_VERSION_1_0);
    CHECK(caps.sv39 && !caps.sv39x4 && !caps.msi_flat && !caps.pd8 && !caps.ats && !caps.amo_hwad);
    CHECK_EQ(caps.igs, IOMMU_IGS_WSI);
    CHECK_EQ(caps.pas, VIOMMU_PAS_BITS);
    CHECK_EQ(viommu_read(&v, IOMMU_REG_CAPS + 4, 4), viommu_read(&v, IOMMU_REG_CAPS, 8) >> 32);
    viommu_write(&v, IOMMU_REG_CAPS, 8, 0);                 /* read-only */
    CHECK_EQ(viommu_read(&v, IOMMU_REG_CAPS, 8) & 0xff, IOMMU_VERSION_1_0);
    CHECK_EQ(viommu_read(&v, IOMMU_REG_FCTL, 4), IOMMU_FCTL_WSI);
    viommu_write(&v, IOMMU_REG_FCTL, 4, 0);
    CHECK_EQ(viommu_read(&v, IOMMU_REG_FCTL, 4), IOMMU_FCTL_WSI);
    /* Out of reset every device is blocked: ddtp Off. */
    CHECK_EQ(viommu_read(&v, IOMMU_REG_DDTP, 8), IOMMU_DDTP_OFF);
    CHECK_EQ(host.changed, 2);
    CHECK(host.last_view.kind == VIOMMU_DC_BLOCKED && host.last_view.cause == IOMMU_CAUSE_ALL_DISALLOWED);
    /* Off -> 2LVL; 2LVL -> 1LVL refused; 3LVL refused; -> Bare allowed. */
    viommu_write(&v, IOMMU_REG_DDTP, 8, iommu_ddtp_value(IOMMU_DDTP_2LVL, DDT_GPA) | IOMMU_DDTP_BUSY);
    CHECK_EQ(viommu_read(&v, IOMMU_REG_DDTP, 8), iommu_ddtp_value(IOMMU_DDTP_2LVL, DDT_GPA));
    viommu_write(&v, IOMMU_REG_DDTP, 8, iommu_ddtp_value(IOMMU_DDTP_1LVL, DDT_GPA));
    CHECK_EQ(iommu_ddtp_mode(viommu_read(&v, IOMMU_REG_DDTP, 8)), IOMMU_DDTP_2LVL);
    viommu_write(&v, IOMMU_REG_DDTP, 8, iommu_ddtp_value(IOMMU_DDTP_BARE, 0));
    CHECK_EQ(iommu_ddtp_mode(viommu_read(&v, IOMMU_REG_DDTP, 8)), IOMMU_DDTP_BARE);
    CHECK(host.last_view.kind == VIOMMU_DC_BARE);
    viommu_write(&v, IOMMU_REG_DDTP, 8, iommu_ddtp_value(IOMMU_DDTP_3LVL, DDT_GPA));
    CHECK_EQ(iommu_ddtp_mode(viommu_read(&v, IOMMU_REG_DDTP, 8)), IOMMU_DDTP_BARE);
    /* Odd sizes and offsets: read 0, change nothing. */
    CHECK_EQ(viommu_read(&v, IOMMU_REG_DDTP + 2, 2), 0);
    CHECK_EQ(viommu_read(&v, 0x800, 4), 0);
    CHECK_EQ(viommu_read(&v, 0x2000, 4), 0);
    /* Halves of a 64-bit register. */
    viommu_write(&v, IOMMU_REG_CQB, 4, 0x12345405u);
    viommu_write(&v, IOMMU_REG_CQB + 4, 4, 0x7u);
    CHECK_EQ(viommu_read(&v, IOMMU_REG_CQB, 8), 0x712345405ull);
}

static void test_command_queue(void)
{
    viommu_fresh();
    queues_on();
    CHECK(viommu_read(&v, IOMMU_REG_CQCSR, 4) & IOMMU_CQCSR_CQON);
    /* cqb is frozen while the queue is on. */
    viommu_write(&v, IOMMU_REG_CQB, 8, 0);
    CHECK_EQ(viommu_read(&v, IOMMU_REG_CQB, 8), iommu_cqb_value(CQ_GPA, 6));
    /* IOTINVAL.VMA reaches the host; IOFENCE.C writes its word. */
    submit(iommu_cmd_iotinval_vma(IOMMU_ALL_GSCIDS, 7, 0x5000));
    CHECK_EQ(host.invalidations, 1);
    CHECK(host.last_pscv && host.last_pscid == 7 && host.last_av && host.last_addr == 0x5000);
    submit(iommu_cmd_iotinval_vma(IOMMU_ALL_GSCIDS, IOMMU_ALL_PSCIDS, IOMMU_ALL_ADDRS));
    CHECK(!host.last_pscv && !host.last_av);
    submit(iommu_cmd_iofence_c(IOMMU_FENCE_AV, FENCE_GPA, 0xabcd1234u));
    CHECK_EQ(*(uint32_t *)gptr(FENCE_GPA), 0xabcd1234u);
    CHECK_EQ(host.fences, 1);
    CHECK_EQ(viommu_read(&v, IOMMU_REG_CQH, 4), 3);
    /* A GSCID-tagged VMA names nothing the guest's IOMMU holds. */
    submit(iommu_cmd_iotinval_vma(5, 7, 0x5000));
    CHECK_EQ(host.invalidations, 2);
    /* An unknown opcode stops the queue with cqh on it. */
    struct iommu_cmd bad = { { 0x7f, 0 } };
    submit(bad);
    CHECK(viommu_read(&v, IOMMU_REG_CQCSR, 4) & IOMMU_CQCSR_CMD_ILL);
    CHECK_EQ(viommu_read(&v, IOMMU_REG_CQH, 4), 4);
    submit(iommu_cmd_iofence_c(IOMMU_FENCE_AV, FENCE_GPA, 1));
    CHECK_EQ(*(uint32_t *)gptr(FENCE_GPA), 0xabcd1234u);   /* not run */
    /* Software fixes the slot and clears the error: the queue goes on. */
    struct iommu_cmd fixed = iommu_cmd_iofence_c(0, 0, 0);
    memcpy(gptr(CQ_GPA + 4 * 16), &fixed, 16);
    viommu_write(&v, IOMMU_REG_CQCSR, 4, IOMMU_CQCSR_CQEN | IOMMU_CQCSR_CMD_ILL);
    CHECK(!(viommu_read(&v, IOMMU_REG_CQCSR, 4) & IOMMU_CQCSR_CMD_ILL));
    CHECK_EQ(*(uint32_t *)gptr(FENCE_GPA), 1);
    CHECK_EQ(viommu_read(&v, IOMMU_REG_CQH, 4), 6);
    /* GVMA with PSCV, ATS and IODIR.INVAL_PDT without DV are illegal. */
    struct iommu_cmd gvma_pscv = iommu_cmd_iotinval_gvma(IOMMU_ALL_GSCIDS, IOMMU_ALL_ADDRS);
    gvma_pscv.dw[0] |= 1ull << 32;
    submit(gvma_pscv);
    CHECK(viommu_read(&v, IOMMU_REG_CQCSR, 4) & IOMMU_CQCSR_CMD_ILL);
    CHECK_EQ(v.n.cmd_illegal, 2);
    /* A fence whose word is outside RAM: CQMF. */
    viommu_fresh();
    queues_on();
    submit(iommu_cmd_iofence_c(IOMMU_FENCE_AV, OUTSIDE, 1));
    CHECK(viommu_read(&v, IOMMU_REG_CQCSR, 4) & IOMMU_CQCSR_CQMF);
    CHECK_EQ(viommu_read(&v, IOMMU_REG_CQH, 4), 0);
    /* A queue outside RAM: CQMF on the first command. */
    viommu_fresh();
    viommu_write(&v, IOMMU_REG_CQB, 8, iommu_cqb_value(OUTSIDE, 6));
    viommu_write(&v, IOMMU_REG_CQCSR, 4, IOMMU_CQCSR_CQEN);
    viommu_write(&v, IOMMU_REG_CQT, 4, 1);
    CHECK(viommu_read(&v, IOMMU_REG_CQCSR, 4) & IOMMU_CQCSR_CQMF);
    /* Turning the queue off and on again clears the error and empties it. */
    viommu_write(&v, IOMMU_REG_CQCSR, 4, 0);
    CHECK(!(viommu_read(&v, IOMMU_REG_CQCSR, 4) & IOMMU_CQCSR_CQON));
    viommu_write(&v, IOMMU_REG_CQB, 8, iommu_cqb_value(CQ_GPA, 6));
    viommu_write(&v, IOMMU_REG_CQCSR, 4, IOMMU_CQCSR_CQEN);
    CHECK_EQ(viommu_read(&v, IOMMU_REG_CQCSR, 4) & (IOMMU_CQCSR_CQMF | IOMMU_CQCSR_CQON), IOMMU_CQCSR_CQON);
    CHECK_EQ(viommu_read(&v, IOMMU_REG_CQH, 4), 0);
}

static void test_device_contexts(void)
{
    viommu_fresh();
    queues_on();
    viommu_write(&v, IOMMU_REG_DDTP, 8, iommu_ddtp_value(IOMMU_DDTP_2LVL, DDT_GPA));
    CHECK(host.last_view.kind == VIOMMU_DC_BLOCKED && host.last_view.cause == IOMMU_CAUSE_DDT_INVALID);
    const uint64_t fsc = IOMMU_FSC_SV39 | (PT_GPA >> 12), ta = 9ull << 12;
    struct { uint64_t tc, iohgatp, ta, fsc; unsigned want; } cases[] = {
        { IOMMU_TC_V, 0, ta, fsc, 0 },
        { IOMMU_TC_V | IOMMU_TC_DTF, 0, ta, 0, 0 },
        { 0, 0, ta, fsc, IOMMU_CAUSE_DDT_INVALID },
        { IOMMU_TC_V | IOMMU_TC_EN_ATS, 0, ta, fsc, IOMMU_CAUSE_DDT_MISCONFIGURED },
        { IOMMU_TC_V | IOMMU_TC_PDTV, 0, ta, fsc, IOMMU_CAUSE_DDT_MISCONFIGURED },
        { IOMMU_TC_V | IOMMU_TC_SADE, 0, ta, fsc, IOMMU_CAUSE_DDT_MISCONFIGURED },
        { IOMMU_TC_V | IOMMU_TC_SBE, 0, ta, fsc, IOMMU_CAUSE_DDT_MISCONFIGURED },
        { IOMMU_TC_V, IOMMU_IOHGATP_SV39X4, ta, fsc, IOMMU_CAUSE_DDT_MISCONFIGURED },
        { IOMMU_TC_V, 0, ta | 1, fsc, IOMMU_CAUSE_DDT_MISCONFIGURED },
        { IOMMU_TC_V, 0, ta, (9ull << 60) | (PT_GPA >> 12), IOMMU_CAUSE_DDT_MISCONFIGURED },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        dc_put(DEV_B, cases[i].tc, cases[i].iohgatp, cases[i].ta, cases[i].fsc);
        submit(iommu_cmd_iodir_inval_ddt(DEV_B));
        CHECK_EQ(host.last_index, 1);
        if (cases[i].want == 0) {
            CHECK(host.last_view.kind == (cases[i].fsc ? VIOMMU_DC_SV39 : VIOMMU_DC_BARE));
        } else {
            CHECK(host.last_view.kind == VIOMMU_DC_BLOCKED);
            CHECK_EQ(host.last_view.cause, cases[i].want);
        }
    }
    dc_put(DEV_B, IOMMU_TC_V, 0, ta, fsc);
    submit(iommu_cmd_iodir_inval_ddt(IOMMU_ALL_DEVICES));
    CHECK(host.last_view.kind == VIOMMU_DC_SV39 && host.last_view.root == PT_GPA && host.last_view.pscid == 9);
    /* A DDTE with reserved bits, and a directory outside RAM. */
    g64(DDT_GPA + 8ull * iommu_ddt_index(DEV_B, 1, IOMMU_DC_BASE), iommu_ddte_make(DDT_LEAF_GPA) | (1ull << 60));
    submit(iommu_cmd_iodir_inval_ddt(DEV_B));
    CHECK_EQ(host.last_view.cause, IOMMU_CAUSE_DDT_MISCONFIGURED);
    viommu_write(&v, IOMMU_REG_DDTP, 8, IOMMU_DDTP_OFF);
    viommu_write(&v, IOMMU_REG_DDTP, 8, iommu_ddtp_value(IOMMU_DDTP_2LVL, OUTSIDE));
    CHECK_EQ(host.last_view.cause, IOMMU_CAUSE_DDT_LOAD_ACCESS);
    /* A 1-level base-format directory holds device ids below 128 only:
     * DEV_B (0x88) is refused, a device 0x10 is found in the one page. */
    viommu_write(&v, IOMMU_REG_DDTP, 8, IOMMU_DDTP_OFF);
    viommu_write(&v, IOMMU_REG_DDTP, 8, iommu_ddtp_value(IOMMU_DDTP_1LVL, DDT_LEAF_GPA));
    CHECK_EQ(host.last_view.cause, IOMMU_CAUSE_TTYP_DISALLOWED);
    const uint32_t low[1] = { 0x10 };
    viommu_init(&v, VIOMMU_NESTED, &mem, low, 1, &fake_ops, &host);
    queues_on();
    gpaddr_t dc = DDT_LEAF_GPA + iommu_dc_offset(0x10, IOMMU_DC_BASE);
    g64(dc, IOMMU_TC_V), g64(dc + 8, 0), g64(dc + 16, 4ull << 12), g64(dc + 24, fsc);
    viommu_write(&v, IOMMU_REG_DDTP, 8, iommu_ddtp_value(IOMMU_DDTP_1LVL, DDT_LEAF_GPA));
    CHECK(host.last_view.kind == VIOMMU_DC_SV39 && host.last_view.pscid == 4 && host.last_view.root == PT_GPA);
    CHECK_EQ(dc - DDT_LEAF_GPA, 0x10 * 32);
}

static void test_faults(void)
{
    viommu_fresh();
    queues_on();
    viommu_write(&v, IOMMU_REG_DDTP, 8, iommu_ddtp_value(IOMMU_DDTP_2LVL, DDT_GPA));
    /* DEV_A: first stage at PT_GPA: 0x1000 -> RAM (R/W, A/D), 0x2000 ->
     * outside RAM, 0x3000 read-only, 0x4000 without A; the level-1 table
     * for 0x4000_0000.. lies outside RAM. */
    gpaddr_t l1 = PT_GPA + 0x1000, l0 = PT_GPA + 0x2000;
    g64(PT_GPA, pte_make_table(l1));
    g64(l1, pte_make_table(l0));
    g64(PT_GPA + 8, pte_make_table(OUTSIDE));
    g64(l0 + 8, pte_make_leaf(RAM_BASE + 0x100000, PTE_R | PTE_W | PTE_A | PTE_D));
    g64(l0 + 16, pte_make_leaf(OUTSIDE, PTE_R | PTE_W | PTE_A | PTE_D));
    g64(l0 + 24, pte_make_leaf(RAM_BASE + 0x101000, PTE_R | PTE_A | PTE_D));
    g64(l0 + 32, pte_make_leaf(RAM_BASE + 0x102000, PTE_R | PTE_W | PTE_D));
    dc_put(DEV_A, IOMMU_TC_V, 0, 3ull << 12, IOMMU_FSC_SV39 | (PT_GPA >> 12));
    submit(iommu_cmd_iodir_inval_ddt(DEV_A));
    CHECK_EQ(viommu_fault_cause(&v, 0, 0x1008, true), 0);
    CHECK_EQ(viommu_fault_cause(&v, 0, 0x2000, true), IOMMU_CAUSE_WRITE_ACCESS);
    CHECK_EQ(viommu_fault_cause(&v, 0, 0x3000, false), 0);
    CHECK_EQ(viommu_fault_cause(&v, 0, 0x3000, true), IOMMU_CAUSE_WRITE_PAGE);
    CHECK_EQ(viommu_fault_cause(&v, 0, 0x4000, false), IOMMU_CAUSE_READ_PAGE);
    CHECK_EQ(viommu_fault_cause(&v, 0, 0x9000, false), IOMMU_CAUSE_READ_PAGE);
    CHECK_EQ(viommu_fault_cause(&v, 0, 0x40000000, false), IOMMU_CAUSE_READ_ACCESS);
    CHECK_EQ(viommu_fault_cause(&v, 0, 1ull << 40, false), IOMMU_CAUSE_READ_PAGE);   /* not sign-extended */
    CHECK_EQ(viommu_fault_cause(&v, 1, 0x1000, false), IOMMU_CAUSE_DDT_INVALID);
    /* A machine record becomes the guest's: its DID, IOVA and cause. */
    struct iommu_fault phys = { .cause = IOMMU_CAUSE_WRITE_GUEST_PAGE, .did = DEV_A, .iotval = 0x3010 };
    CHECK(viommu_record_fault(&v, 0, viommu_cause_for(&v, 0, &phys), &phys));
    struct iommu_fault got;
    iommu_fault_decode(gptr(FQ_GPA), &got);
    CHECK_EQ(got.cause, IOMMU_CAUSE_WRITE_PAGE);
    CHECK_EQ(got.did, DEV_A);
    CHECK_EQ(got.iotval, 0x3010);
    CHECK_EQ(got.ttyp, IOMMU_TTYP_UNTRANSLATED_WRITE);
    CHECK_EQ(viommu_read(&v, IOMMU_REG_FQT, 4), 1);
    phys.did = DEV_B, phys.cause = IOMMU_CAUSE_READ_GUEST_PAGE;
    CHECK(viommu_record_fault(&v, 1, viommu_cause_for(&v, 1, &phys), &phys));
    iommu_fault_decode(gptr(FQ_GPA + 32), &got);
    CHECK_EQ(got.cause, IOMMU_CAUSE_DDT_INVALID);
    CHECK_EQ(got.iotval, 0);
    /* 4 slots hold 3 records; the next sets FQOF and is lost. */
    CHECK(viommu_record_fault(&v, 1, viommu_cause_for(&v, 1, &phys), &phys));
    CHECK(!viommu_record_fault(&v, 1, viommu_cause_for(&v, 1, &phys), &phys));
    CHECK(viommu_read(&v, IOMMU_REG_FQCSR, 4) & IOMMU_FQCSR_FQOF);
    CHECK_EQ(v.n.faults_lost, 1);
    /* Software reads two and clears FQOF: records flow again. */
    viommu_write(&v, IOMMU_REG_FQH, 4, 2);
    viommu_write(&v, IOMMU_REG_FQCSR, 4, IOMMU_FQCSR_FQEN | IOMMU_FQCSR_FQOF);
    CHECK(viommu_record_fault(&v, 1, viommu_cause_for(&v, 1, &phys), &phys));
    /* Nested: the machine's cause is the guest's, a second-stage miss an
     * access fault (the guest's table is not read). */
    v.mode = VIOMMU_NESTED;
    struct iommu_fault gp = { .cause = IOMMU_CAUSE_WRITE_GUEST_PAGE, .did = DEV_A, .iotval = 0x1008 };
    CHECK_EQ(viommu_cause_for(&v, 0, &gp), IOMMU_CAUSE_WRITE_ACCESS);
    gp.cause = IOMMU_CAUSE_READ_PAGE;
    CHECK_EQ(viommu_cause_for(&v, 0, &gp), IOMMU_CAUSE_READ_PAGE);
    gp.cause = IOMMU_CAUSE_DDT_INVALID;       /* a blocked device: the guest's own cause */
    CHECK_EQ(viommu_cause_for(&v, 1, &gp), IOMMU_CAUSE_DDT_INVALID);
    v.mode = VIOMMU_SHADOW;
    /* DTF hides translation faults but not directory ones. */
    dc_put(DEV_A, IOMMU_TC_V | IOMMU_TC_DTF, 0, 3ull << 12, IOMMU_FSC_SV39 | (PT_GPA >> 12));
    submit(iommu_cmd_iodir_inval_ddt(DEV_A));
    phys.did = DEV_A, phys.iotval = 0x9000;
    CHECK(!viommu_record_fault(&v, 0, viommu_cause_for(&v, 0, &phys), &phys));
    /* A fault queue outside RAM: FQMF. */
    viommu_fresh();
    viommu_write(&v, IOMMU_REG_FQB, 8, iommu_fqb_value(OUTSIDE, 2));
    viommu_write(&v, IOMMU_REG_FQCSR, 4, IOMMU_FQCSR_FQEN);
    CHECK(!viommu_record_fault(&v, 0, viommu_cause_for(&v, 0, &phys), &phys));
    CHECK(viommu_read(&v, IOMMU_REG_FQCSR, 4) & IOMMU_FQCSR_FQMF);
}

/* ---- part 2: the shadow against a reference ----------------------------- */

#define SPACES 3
#define TABLE_AREA (RAM_BASE + MIB(1))     /* guest page tables live here */
#define TABLE_AREA_PAGES 512u
#define IOVA_PAGES 4096u                   /* IOVAs [0, 16 MiB) of each space */
#define DATA_PAGES (RAM_SIZE / PAGE_SIZE)

static struct ioshadow sh;
static paddr_t pool[POOL_PAGES];
static gpaddr_t space_root[SPACES];
static unsigned tables_used;
static int space_of[SPACES];
static paddr_t roots_mem[2][IOSHADOW_SPACES];
static bool changed[SPACES][IOVA_PAGES];

static gpaddr_t table_new(void)
{
    ASSERT(tables_used < TABLE_AREA_PAGES);
    gpaddr_t t = TABLE_AREA + (uint64_t)tables_used++ * PAGE_SIZE;
    memset(gptr(t), 0, PAGE_SIZE);
    return t;
}

static void mark_changed(unsigned s, uint64_t iova, uint64_t size)
{
    for (uint64_t p = iova / PAGE_SIZE; p < (iova + size) / PAGE_SIZE && p < IOVA_PAGES; p++)
        changed[s][p] = true;
}

/* The guest's level-0 (or, for a 2 MiB leaf, level-1) entry of iova in
 * space s; a leaf in the way becomes a table (its pages changed). */
static gpaddr_t guest_slot(unsigned s, uint64_t iova, unsigned level)
{
    gpaddr_t t = space_root[s];
    for (unsigned l = 2; l > level; l--) {
        gpaddr_t e = t + 8ull * pt_index(PT_SV39, iova, l);
        uint64_t pte = r64(e);
        if (!(pte & PTE_V) || pte_is_leaf(pte)) {
            if (pte & PTE_V)
                mark_changed(s, ALIGN_DOWN(iova, PAGE_SIZE << (9 * l)), PAGE_SIZE << (9 * l));
            pte = pte_make_table(table_new());
            g64(e, pte);
        }
        t = pte_to_pa(pte);
    }
    return t + 8ull * pt_index(PT_SV39, iova, level);
}

static uint64_t random_perm(void)
{
    static const uint64_t perms[] = {
        PTE_R | PTE_W | PTE_A | PTE_D, PTE_R | PTE_W | PTE_A | PTE_D, PTE_R | PTE_A,
        PTE_R | PTE_W | PTE_A, PTE_R | PTE_W | PTE_D, PTE_X | PTE_A, PTE_W | PTE_A | PTE_D,
    };
    return perms[unit_random() % ARRAY_SIZE(perms)];
}

/* One random change of space s's guest table; marks what it touched. */
static void guest_change(unsigned s)
{
    unsigned page = (unsigned)(unit_random() % IOVA_PAGES);
    uint64_t iova = (uint64_t)page * PAGE_SIZE;
    unsigned kind = (unsigned)(unit_random() % 8);
    if (kind == 0) {                       /* a 2 MiB leaf over the whole chunk */
        uint64_t base = ALIGN_DOWN(iova, MIB(2));
        gpaddr_t target = RAM_BASE + MIB(2) * (unit_random() % (RAM_SIZE / MIB(2) + 1));
        g64(guest_slot(s, base, 1), pte_make_leaf(target, random_perm()));
        for (unsigned p = 0; p < 512; p++)
            changed[s][base / PAGE_SIZE + p] = true;
        return;
    }
    gpaddr_t slot = guest_slot(s, iova, 0);
    if (kind == 1) {
        g64(slot, 0);
    } else {
        /* Mostly RAM, sometimes just past it. */
        uint64_t frame = unit_random() % (DATA_PAGES + 16);
        g64(slot, pte_make_leaf(RAM_BASE + frame * PAGE_SIZE, random_perm()));
    }
    changed[s][page] = true;
}

/* The reference: what the shadow of space s must give for iova. */
static bool reference(unsigned s, uint64_t iova, paddr_t *hpa, bool *writable)
{
    struct viommu_leaf g;
    bool outside;
    if (!viommu_walk(&mem, space_root[s], iova, &g, &outside))
        return false;
    if ((g.pte & (PTE_R | PTE_A)) != (PTE_R | PTE_A))
        return false;
    *writable = (g.pte & (PTE_W | PTE_D)) == (PTE_W | PTE_D);
    return guest_mem_hpa(&mem, g.gpa + (iova - g.va), 1, hpa);
}

static unsigned mismatches;

static void compare_space(unsigned s)
{
    for (unsigned p = 0; p < IOVA_PAGES; p++) {
        uint64_t iova = (uint64_t)p * PAGE_SIZE + 8 * (p % 7);
        paddr_t want = 0, got = 0;
        bool want_w = false, got_w = false;
        bool in_ref = reference(s, iova, &want, &want_w);
        bool in_shadow = ioshadow_translate(&sh, space_of[s], iova, &got, &got_w);
        if (in_ref != in_shadow || (in_ref && (want != got || want_w != got_w))) {
            if (mismatches++ < 5)
                fprintf(stderr, "space %u iova 0x%lx: ref %d 0x%lx w%d, shadow %d 0x%lx w%d\n", s,
                        (unsigned long)iova, in_ref, (unsigned long)want, want_w, in_shadow,
                        (unsigned long)got, got_w);
        }
    }
}

/* Invalidate what changed, as the guest must: page by page, or (now and
 * then) the whole PSCID or everything. */
static void invalidate_changes(unsigned s, unsigned how)
{
    struct ioshadow_change ch[IOSHADOW_SPACES];
    if (how == 0) {
        ioshadow_invalidate(&sh, false, s, true, 0, ch);
    } else if (how == 1) {
        ioshadow_invalidate(&sh, true, 0, true, 0, ch);
    } else {
        for (unsigned p = 0; p < IOVA_PAGES; p++)
            if (changed[s][p])
                ioshadow_invalidate(&sh, false, s, false, (uint64_t)p * PAGE_SIZE, ch);
    }
    memset(changed[s], 0, sizeof(changed[s]));
}

/* Zeroed Sv39x4 roots for every space. */
static paddr_t *roots_fresh(unsigned k)
{
    for (unsigned i = 0; i < IOSHADOW_SPACES; i++) {
        roots_mem[k][i] = ptr_to_pa(aligned_alloc(KIB(16), KIB(16)));
        memset(pa_to_ptr(roots_mem[k][i]), 0, KIB(16));
    }
    return roots_mem[k];
}

static void test_shadow_differential(void)
{
    memset(ram, 0, RAM_SIZE);
    paddr_t *roots = roots_fresh(0);
    for (unsigned i = 0; i < POOL_PAGES; i++) {
        pool[i] = ptr_to_pa(aligned_alloc(PAGE_SIZE, PAGE_SIZE));
        memset(pa_to_ptr(pool[i]), 0, PAGE_SIZE);
    }
    ioshadow_init(&sh, &mem, roots, pool, POOL_PAGES);
    tables_used = 0;
    for (unsigned s = 0; s < SPACES; s++) {
        space_root[s] = table_new();
        for (unsigned k = 0; k < 200; k++)
            guest_change(s);
        memset(changed[s], 0, sizeof(changed[s]));
        space_of[s] = ioshadow_attach(&sh, space_root[s], s);   /* synced complete */
        CHECK(space_of[s] >= 0);
        compare_space(s);
    }
    /* A second device naming the same (root, PSCID) shares the space. */
    CHECK_EQ(ioshadow_attach(&sh, space_root[0], 0), space_of[0]);
    ioshadow_detach(&sh, space_of[0]);
    for (unsigned round = 0; round < 300; round++) {
        unsigned s = round % SPACES;
        unsigned n = 1 + (unsigned)(unit_random() % 6);
        for (unsigned k = 0; k < n; k++)
            guest_change(s);
        unsigned how = (unsigned)(unit_random() % 10);
        invalidate_changes(s, how == 0 ? 0 : how == 1 ? 1 : 2);
        compare_space(s);
        if (round % 50 == 49)
            for (unsigned t = 0; t < SPACES; t++)
                compare_space(t);
    }
    CHECK_EQ(mismatches, 0);
    CHECK_EQ(sh.n.pool_exhausted, 0);
    CHECK(sh.n.leaves_mapped > 0 && sh.n.leaves_unmapped > 0);
    /* Nothing changed: a full sync keeps every leaf. */
    uint64_t unmapped = sh.n.leaves_unmapped, mapped = sh.n.leaves_mapped;
    struct ioshadow_change ch[IOSHADOW_SPACES];
    ioshadow_invalidate(&sh, true, 0, true, 0, ch);
    CHECK_EQ(sh.n.leaves_unmapped, unmapped);
    CHECK_EQ(sh.n.leaves_mapped, mapped);
    for (unsigned i = 0; i < IOSHADOW_SPACES; i++)
        CHECK(ch[i].lo == ch[i].hi);
    /* A stale leaf survives until its page is invalidated (allowed), and
     * the invalidation reports just that page. */
    unsigned page = 0;
    paddr_t hpa;
    bool w;
    while (!reference(1, (uint64_t)page * PAGE_SIZE, &hpa, &w))
        page++;
    g64(guest_slot(1, (uint64_t)page * PAGE_SIZE, 0), 0);
    CHECK(ioshadow_translate(&sh, space_of[1], (uint64_t)page * PAGE_SIZE, &hpa, &w));
    ioshadow_invalidate(&sh, false, 1, false, (uint64_t)page * PAGE_SIZE, ch);
    CHECK(!ioshadow_translate(&sh, space_of[1], (uint64_t)page * PAGE_SIZE, &hpa, &w));
    CHECK_EQ(ch[space_of[1]].lo, (uint64_t)page * PAGE_SIZE);
    CHECK(ch[space_of[1]].hi == (uint64_t)(page + 1) * PAGE_SIZE || ch[space_of[1]].hi - ch[space_of[1]].lo == MIB(2));
    /* Releasing gives every table back. */
    ioshadow_release(&sh);
    CHECK_EQ(sh.pool_free, POOL_PAGES);
    CHECK(!ioshadow_translate(&sh, space_of[0], 0, &hpa, &w));
}

/* A small pool runs out: counted, never a wrong translation. */
static void test_shadow_pool_exhausted(void)
{
    memset(ram, 0, RAM_SIZE);
    paddr_t *roots = roots_fresh(1);
    ioshadow_init(&sh, &mem, roots, pool, 2);
    tables_used = 0;
    space_root[0] = table_new();
    /* Leaves in three different 1 GiB regions need 2 tables each. */
    for (unsigned k = 0; k < 3; k++)
        g64(guest_slot(0, GIB(k), 0), pte_make_leaf(RAM_BASE, PTE_R | PTE_A));
    int sp = ioshadow_attach(&sh, space_root[0], 0);
    paddr_t hpa;
    bool w;
    CHECK(ioshadow_translate(&sh, sp, 0, &hpa, &w) && hpa == ptr_to_pa(ram));
    CHECK(!ioshadow_translate(&sh, sp, GIB(1), &hpa, &w));
    CHECK(sh.n.pool_exhausted >= 2);
    ioshadow_release(&sh);
    CHECK_EQ(sh.pool_free, 2);
}

static void free_all(void)
{
    for (unsigned k = 0; k < 2; k++)
        for (unsigned i = 0; i < IOSHADOW_SPACES; i++)
            free(pa_to_ptr(roots_mem[k][i]));
    for (unsigned i = 0; i < POOL_PAGES; i++)
        free(pa_to_ptr(pool[i]));
    free(ram);
}

void unit_main(void)
{
    ram_setup();
    test_registers();
    test_command_queue();
    test_device_contexts();
    test_faults();
    test_shadow_differential();
    test_shadow_pool_exhausted();
    free_all();
}
