/* test_iommu.c — the RISC-V IOMMU encodings (iommu/riscv/riscv_iommu.c) against
 * values worked out by hand from the field layouts of the RISC-V IOMMU
 * specification 1.0: register offsets, capabilities and the refusals,
 * ddtp / cqb / fqb, DDT indexes at every level in both DC formats, the
 * device context, every command with and without its optional operands,
 * fault records and cause names, second-stage leaves and GSCIDs.  Each
 * expected constant carries a comment naming the fields it is built from. */
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include "iommu/riscv/riscv_iommu.h"
#include "mm/frame.h"
#include "mm/pt.h"
#include "tests/unit/unit.h"

#define CHECK_CMD(c, w0, w1)      \
    do {                          \
        struct iommu_cmd c_ = (c); \
        CHECK_EQ(c_.dw[0], (w0)); \
        CHECK_EQ(c_.dw[1], (w1)); \
    } while (0)

static bool contains(const char *s, const char *word)
{
    return s && strstr(s, word);
}

static void test_register_layout(void)
{
    /* Offsets from the spec's register table, in decimal there. */
    CHECK_EQ(IOMMU_REG_DDTP, 16);
    CHECK_EQ(IOMMU_REG_CQB, 24);
    CHECK_EQ(IOMMU_REG_CQT, 36);
    CHECK_EQ(IOMMU_REG_FQB, 40);
    CHECK_EQ(IOMMU_REG_FQH, 48);
    CHECK_EQ(IOMMU_REG_CQCSR, 72);
    CHECK_EQ(IOMMU_REG_FQCSR, 76);
    CHECK_EQ(IOMMU_REG_IPSR, 84);
    CHECK_EQ(IOMMU_REG_ICVEC, 760);
    CHECK_EQ(IOMMU_CQCSR_CQON, 0x10000);   /* bit 16 */
    CHECK_EQ(IOMMU_CQCSR_BUSY, 0x20000);   /* bit 17 */
    CHECK_EQ(IOMMU_CQCSR_ERRORS, 0x700);   /* cqmf 8, cmd_to 9, cmd_ill 10 */
    CHECK_EQ(IOMMU_FQCSR_ERRORS, 0x300);   /* fqmf 8, fqof 9 */
}

static void test_caps_decode(void)
{
    struct iommu_caps c;
    /* QEMU 10's riscv-iommu-sys with default properties (worked out from
     * its source): version 0x10 | Sv32..Sv57 (11:8 = 0xf) | Sv32x4..Sv57x4
     * (19:16 = 0xf) | MSI_FLAT 22 | MSI_MRIF 23 | ATS 25 | IGS=BOTH (29:28
     * = 2) | HPM 30 | DBG 31 | PAS=56 (37:32 = 0x38) | PD8 38. */
    iommu_caps_decode(0x00000078e2cf0f10ull, &c);
    CHECK_EQ(c.version, 0x10);
    CHECK(c.sv32 && c.sv39 && c.sv48 && c.sv57);
    CHECK(!c.svpbmt);
    CHECK(c.sv32x4 && c.sv39x4 && c.sv48x4 && c.sv57x4);
    CHECK(!c.amo_mrif && c.msi_flat && c.msi_mrif && !c.amo_hwad);
    CHECK(c.ats && !c.t2gpa && !c.end);
    CHECK_EQ(c.igs, IOMMU_IGS_BOTH);
    CHECK(c.hpm && c.dbg);
    CHECK_EQ(c.pas, 56);
    CHECK(c.pd8 && !c.pd17 && !c.pd20 && !c.qosid);
    CHECK_EQ(iommu_dc_format_of(&c), IOMMU_DC_EXTENDED);
    CHECK(iommu_caps_check(&c, 0x100000000ull) == NULL);

    /* The complementary bits: version 0x21 | Svpbmt 15 | AMO_MRIF 21 |
     * AMO_HWAD 24 | T2GPA 26 | END 27 | IGS=WSI (bit 28) | PAS=39 (0x27) |
     * PD17 39 | PD20 40 | QOSID 41 | custom 63:56 = 0xff (ignored). */
    iommu_caps_decode(0xff0003a71d208021ull, &c);
    CHECK_EQ(c.version, 0x21);
    CHECK(!c.sv32 && !c.sv39 && !c.sv48 && !c.sv57);
    CHECK(c.svpbmt);
    CHECK(!c.sv32x4 && !c.sv39x4 && !c.sv48x4 && !c.sv57x4);
    CHECK(c.amo_mrif && !c.msi_flat && !c.msi_mrif && c.amo_hwad);
    CHECK(!c.ats && c.t2gpa && c.end);
    CHECK_EQ(c.igs, IOMMU_IGS_WSI);
    CHECK(!c.hpm && !c.dbg);
    CHECK_EQ(c.pas, 39);
    CHECK(!c.pd8 && c.pd17 && c.pd20 && c.qosid);
    CHECK_EQ(iommu_dc_format_of(&c), IOMMU_DC_BASE);
}

static void test_caps_refusals(void)
{
    struct iommu_caps c;
    /* Version 2.1 (0x21) is refused before anything else. */
    iommu_caps_decode(0xff0003a71d208021ull, &c);
    CHECK(contains(iommu_caps_check(&c, 0x100000000ull), "version 1.x"));
    /* Version 0.15 (0x0f) with Sv39x4 (bit 17) and PAS 56. */
    iommu_caps_decode(0x0000003800020000ull | 0x0f, &c);
    CHECK(contains(iommu_caps_check(&c, 0x100000000ull), "version 1.x"));
    /* Version 1.0 with a first stage only: Sv39 (bit 9), PAS 56. */
    iommu_caps_decode(0x0000003800000210ull, &c);
    CHECK(contains(iommu_caps_check(&c, 0x100000000ull), "Sv39x4"));
    /* Version 1.1 with Sv39x4 (bit 17) and PAS 56 is accepted. */
    iommu_caps_decode(0x0000003800020011ull, &c);
    CHECK(iommu_caps_check(&c, 0x100000000ull) == NULL);
    /* PAS 32 (37:32 = 0x20): memory up to exactly 4 GiB is reachable, one
     * page more is not. */
    iommu_caps_decode(0x0000002000020010ull, &c);
    CHECK(iommu_caps_check(&c, 0x100000000ull) == NULL);
    CHECK(contains(iommu_caps_check(&c, 0x100001000ull), "PAS"));
    /* PAS 0 is nonsense: refused. */
    iommu_caps_decode(0x0000000000020010ull, &c);
    CHECK(contains(iommu_caps_check(&c, 0x1000), "PAS"));
    /* An all-zero register (no IOMMU answering) fails on the version. */
    iommu_caps_decode(0, &c);
    CHECK(contains(iommu_caps_check(&c, 0x1000), "version"));
}

static void test_ddtp_and_queue_bases(void)
{
    /* ddtp: iommu_mode 3:0 | PPN 53:10. */
    CHECK_EQ(iommu_ddtp_value(IOMMU_DDTP_OFF, 0), 0x0);
    CHECK_EQ(iommu_ddtp_value(IOMMU_DDTP_BARE, 0), 0x1);
    /* 1LVL (2) | PPN 0x80300 << 10 = 0x200c0000. */
    CHECK_EQ(iommu_ddtp_value(IOMMU_DDTP_1LVL, 0x80300000), 0x200c0002);
    /* 2LVL (3) | PPN 0x80301 << 10 = 0x200c0400. */
    CHECK_EQ(iommu_ddtp_value(IOMMU_DDTP_2LVL, 0x80301000), 0x200c0403);
    /* 3LVL (4) | the widest PPN (44 ones at 53:10). */
    CHECK_EQ(iommu_ddtp_value(IOMMU_DDTP_3LVL, 0x00fffffffffff000ull), 0x003ffffffffffc04ull);
    EXPECT_PANIC(iommu_ddtp_value(IOMMU_DDTP_1LVL, 0x80300800));  /* not 4 KiB aligned */
    EXPECT_PANIC(iommu_ddtp_value(IOMMU_DDTP_1LVL, 1ull << 56));  /* beyond 56 bits */
    EXPECT_PANIC(iommu_ddtp_value((enum iommu_ddtp_mode)5, 0));   /* reserved mode */
    /* Reading back: mode 1LVL with busy (bit 4) set. */
    CHECK_EQ(iommu_ddtp_mode(0x200c0012), IOMMU_DDTP_1LVL);

    /* cqb: LOG2SZ-1 4:0 | PPN 53:10.  256 commands = 4 KiB: LOG2SZ-1 = 7. */
    CHECK_EQ(iommu_cqb_value(0x80400000, 8), 0x20100007);
    CHECK_EQ(iommu_cqb_value(0x80401000, 8), 0x20100407);
    /* 1024 commands = 16 KiB, base 16 KiB aligned: LOG2SZ-1 = 9. */
    CHECK_EQ(iommu_cqb_value(0x80400000, 10), 0x20100009);
    /* Two entries: LOG2SZ-1 = 0. */
    CHECK_EQ(iommu_cqb_value(0x80400000, 1), 0x20100000);
    EXPECT_PANIC(iommu_cqb_value(0x80401000, 10)); /* 16 KiB queue, 4 KiB aligned */
    EXPECT_PANIC(iommu_cqb_value(0x80400000, 0));
    EXPECT_PANIC(iommu_cqb_value(0x80400000, 33));
    /* fqb: 128 records of 32 bytes = 4 KiB: LOG2SZ-1 = 6, PPN 0x80500. */
    CHECK_EQ(iommu_fqb_value(0x80500000, 7), 0x20140006);
    /* 256 records = 8 KiB at an 8 KiB boundary: LOG2SZ-1 = 7, PPN 0x80502. */
    CHECK_EQ(iommu_fqb_value(0x80502000, 8), 0x20140807);
    EXPECT_PANIC(iommu_fqb_value(0x80501000, 8));

    CHECK_EQ(iommu_queue_next(3, 8), 4);
    CHECK_EQ(iommu_queue_next(255, 8), 0);
    CHECK_EQ(iommu_queue_next(0xffffffffu, 32), 0);
    CHECK(iommu_queue_full(0, 255, 8));
    CHECK(iommu_queue_full(5, 4, 8));
    CHECK(!iommu_queue_full(0, 0, 8));
    CHECK(!iommu_queue_full(4, 5, 8));

    CHECK(iommu_cqcsr_error_name(0) == NULL);
    CHECK(iommu_cqcsr_error_name(0x30001) == NULL);                 /* cqen, cqon, busy */
    CHECK(contains(iommu_cqcsr_error_name(0x10100), "cqmf"));       /* bit 8 */
    CHECK(contains(iommu_cqcsr_error_name(0x10200), "cmd_to"));     /* bit 9 */
    CHECK(contains(iommu_cqcsr_error_name(0x10500), "cmd_ill"));    /* bits 10 and 8 */
}

static void test_ddt_indexes(void)
{
    /* device_id 0xabcdef = 1010 1011 1100 1101 1110 1111.
     * Base: DDI[0] = 6:0 = 0x6f, DDI[1] = 15:7 = 1 1001 1011 = 0x19b,
     * DDI[2] = 23:16 = 0xab. */
    CHECK_EQ(iommu_ddt_index(0xabcdef, 0, IOMMU_DC_BASE), 0x6f);
    CHECK_EQ(iommu_ddt_index(0xabcdef, 1, IOMMU_DC_BASE), 0x19b);
    CHECK_EQ(iommu_ddt_index(0xabcdef, 2, IOMMU_DC_BASE), 0xab);
    /* Extended: DDI[0] = 5:0 = 0x2f, DDI[1] = 14:6 = 1 0011 0111 = 0x137,
     * DDI[2] = 23:15 = 1 0101 0111 = 0x157. */
    CHECK_EQ(iommu_ddt_index(0xabcdef, 0, IOMMU_DC_EXTENDED), 0x2f);
    CHECK_EQ(iommu_ddt_index(0xabcdef, 1, IOMMU_DC_EXTENDED), 0x137);
    CHECK_EQ(iommu_ddt_index(0xabcdef, 2, IOMMU_DC_EXTENDED), 0x157);
    /* PCI 00:02.0 (device_id 0x10): only the leaf index is non-zero. */
    CHECK_EQ(iommu_ddt_index(0x10, 0, IOMMU_DC_BASE), 0x10);
    CHECK_EQ(iommu_ddt_index(0x10, 1, IOMMU_DC_BASE), 0);
    CHECK_EQ(iommu_ddt_index(0x10, 0, IOMMU_DC_EXTENDED), 0x10);
    CHECK_EQ(iommu_ddt_index(0x10, 1, IOMMU_DC_EXTENDED), 0);
    /* PCI 00:1f.7 (0xff): base 0x7f | 1, extended 0x3f | 3. */
    CHECK_EQ(iommu_ddt_index(0xff, 0, IOMMU_DC_BASE), 0x7f);
    CHECK_EQ(iommu_ddt_index(0xff, 1, IOMMU_DC_BASE), 1);
    CHECK_EQ(iommu_ddt_index(0xff, 0, IOMMU_DC_EXTENDED), 0x3f);
    CHECK_EQ(iommu_ddt_index(0xff, 1, IOMMU_DC_EXTENDED), 3);
    /* PCI 01:00.0 (0x100): base DDI[1] = 2, extended DDI[1] = 4. */
    CHECK_EQ(iommu_ddt_index(0x100, 0, IOMMU_DC_BASE), 0);
    CHECK_EQ(iommu_ddt_index(0x100, 1, IOMMU_DC_BASE), 2);
    CHECK_EQ(iommu_ddt_index(0x100, 1, IOMMU_DC_EXTENDED), 4);
    EXPECT_PANIC(iommu_ddt_index(0x10, 3, IOMMU_DC_BASE));

    /* DC offsets in the leaf page: DDI[0] * 32 or * 64. */
    CHECK_EQ(iommu_dc_size(IOMMU_DC_BASE), 32);
    CHECK_EQ(iommu_dc_size(IOMMU_DC_EXTENDED), 64);
    CHECK_EQ(iommu_dc_offset(0x10, IOMMU_DC_BASE), 0x200);
    CHECK_EQ(iommu_dc_offset(0x10, IOMMU_DC_EXTENDED), 0x400);
    CHECK_EQ(iommu_dc_offset(0xabcdef, IOMMU_DC_BASE), 0xde0);      /* 0x6f * 32 */
    CHECK_EQ(iommu_dc_offset(0xabcdef, IOMMU_DC_EXTENDED), 0xbc0);  /* 0x2f * 64 */

    /* Widths: base 7 / 16 / 24 bits, extended 6 / 15 / 24. */
    CHECK_EQ(iommu_ddt_levels(IOMMU_DDTP_OFF), 0);
    CHECK_EQ(iommu_ddt_levels(IOMMU_DDTP_BARE), 0);
    CHECK_EQ(iommu_ddt_levels(IOMMU_DDTP_1LVL), 1);
    CHECK_EQ(iommu_ddt_levels(IOMMU_DDTP_3LVL), 3);
    CHECK(iommu_ddt_covers(IOMMU_DDTP_1LVL, 0x7f, IOMMU_DC_BASE));
    CHECK(!iommu_ddt_covers(IOMMU_DDTP_1LVL, 0x80, IOMMU_DC_BASE));
    CHECK(iommu_ddt_covers(IOMMU_DDTP_1LVL, 0x3f, IOMMU_DC_EXTENDED));
    CHECK(!iommu_ddt_covers(IOMMU_DDTP_1LVL, 0x40, IOMMU_DC_EXTENDED));
    CHECK(iommu_ddt_covers(IOMMU_DDTP_2LVL, 0xffff, IOMMU_DC_BASE));
    CHECK(!iommu_ddt_covers(IOMMU_DDTP_2LVL, 0x10000, IOMMU_DC_BASE));
    CHECK(iommu_ddt_covers(IOMMU_DDTP_2LVL, 0x7fff, IOMMU_DC_EXTENDED));
    CHECK(!iommu_ddt_covers(IOMMU_DDTP_2LVL, 0x8000, IOMMU_DC_EXTENDED));
    CHECK(iommu_ddt_covers(IOMMU_DDTP_3LVL, 0xffffff, IOMMU_DC_EXTENDED));
    CHECK(!iommu_ddt_covers(IOMMU_DDTP_3LVL, 0x1000000, IOMMU_DC_BASE));
    CHECK(!iommu_ddt_covers(IOMMU_DDTP_BARE, 0, IOMMU_DC_BASE));
    CHECK_EQ(iommu_ddt_mode_for(0x7f, IOMMU_DC_BASE), IOMMU_DDTP_1LVL);
    CHECK_EQ(iommu_ddt_mode_for(0x80, IOMMU_DC_BASE), IOMMU_DDTP_2LVL);
    CHECK_EQ(iommu_ddt_mode_for(0xffff, IOMMU_DC_BASE), IOMMU_DDTP_2LVL);
    CHECK_EQ(iommu_ddt_mode_for(0x10000, IOMMU_DC_BASE), IOMMU_DDTP_3LVL);
    CHECK_EQ(iommu_ddt_mode_for(0x3f, IOMMU_DC_EXTENDED), IOMMU_DDTP_1LVL);
    CHECK_EQ(iommu_ddt_mode_for(0x40, IOMMU_DC_EXTENDED), IOMMU_DDTP_2LVL);
    CHECK_EQ(iommu_ddt_mode_for(0x8000, IOMMU_DC_EXTENDED), IOMMU_DDTP_3LVL);
    EXPECT_PANIC(iommu_ddt_mode_for(0x1000000, IOMMU_DC_BASE));

    /* Non-leaf entry: V | PPN 0x87654 << 10. */
    CHECK_EQ(iommu_ddte_make(0x87654000), 0x21d95001);
    CHECK_EQ(iommu_ddte_to_pa(0x21d95001), 0x87654000);
    CHECK_EQ(iommu_ddte_to_pa(0xffc0000021d95001ull), 0x87654000); /* reserved 63:54 */
    EXPECT_PANIC(iommu_ddte_make(0x87654800));
}

static void test_device_context(void)
{
    struct iommu_dc dc;
    struct iommu_dc_params p = { .gstage_root = 0x80400000, .gscid = 7 };
    iommu_dc_build(&dc, &p);
    CHECK_EQ(dc.tc, 0x1);                       /* V only */
    /* MODE Sv39x4 (8) at 63:60 | GSCID 7 at 59:44 | PPN 0x80400. */
    CHECK_EQ(dc.iohgatp, 0x8000700000080400ull);
    CHECK_EQ(dc.ta, 0);
    CHECK_EQ(dc.fsc, 0);                        /* iosatp.MODE Bare */

    /* Every field at its widest: GSCID 0xffff, 44-bit PPN 0xffffffffffc. */
    p.gstage_root = 0x00ffffffffffc000ull;
    p.gscid = 0xffff;
    iommu_dc_build(&dc, &p);
    CHECK_EQ(dc.iohgatp, 0x8ffffffffffffffcull);

    p.gstage_root = 0x80401000; /* 4 KiB but not 16 KiB aligned */
    EXPECT_PANIC(iommu_dc_build(&dc, &p));

    /* Stored into a slot: base format writes exactly 32 bytes. */
    p.gstage_root = 0x80400000;
    p.gscid = 7;
    iommu_dc_build(&dc, &p);
    _Alignas(64) uint64_t slot[9];
    memset(slot, 0xee, sizeof(slot));
    iommu_dc_store(slot, IOMMU_DC_BASE, &dc);
    CHECK_EQ(slot[0], 0x1);
    CHECK_EQ(slot[1], 0x8000700000080400ull);
    CHECK_EQ(slot[2], 0);
    CHECK_EQ(slot[3], 0);
    CHECK_EQ(slot[4], 0xeeeeeeeeeeeeeeeeull);
    /* Extended: the MSI fields (msiptp Off, mask, pattern, reserved) zeroed. */
    memset(slot, 0xee, sizeof(slot));
    iommu_dc_store(slot, IOMMU_DC_EXTENDED, &dc);
    CHECK_EQ(slot[0], 0x1);
    CHECK_EQ(slot[1], 0x8000700000080400ull);
    for (int i = 2; i < 8; i++)
        CHECK_EQ(slot[i], 0);
    CHECK_EQ(slot[8], 0xeeeeeeeeeeeeeeeeull);
    EXPECT_PANIC(iommu_dc_store(&slot[1], IOMMU_DC_BASE, &dc)); /* misaligned slot */
}

static void test_commands(void)
{
    /* IOTINVAL.GVMA, everything: opcode 1 | func3 1 << 7; GV=AV=0. */
    CHECK_CMD(iommu_cmd_iotinval_gvma(IOMMU_ALL_GSCIDS, IOMMU_ALL_ADDRS), 0x81, 0);
    /* One VM: GV (33) | GSCID 5 at 59:44. */
    CHECK_CMD(iommu_cmd_iotinval_gvma(5, IOMMU_ALL_ADDRS), 0x0000500200000081ull, 0);
    /* One page of one VM: AV (10) | GV | GSCID 0xabcd; dword 1 holds
     * ADDR[63:12] = 0x80203 at 61:10. */
    CHECK_CMD(iommu_cmd_iotinval_gvma(0xabcd, 0x80203000), 0x0abcd00200000481ull, 0x20080c00);
    /* An address inside the page names the same page. */
    CHECK_CMD(iommu_cmd_iotinval_gvma(0xabcd, 0x80203abc), 0x0abcd00200000481ull, 0x20080c00);
    /* The top GPA page of Sv39x4 (2^41 - 4 KiB): ADDR[63:12] = 0x1fffffff
     * (29 ones) at 61:10. */
    CHECK_CMD(iommu_cmd_iotinval_gvma(1, 0x1fffffff000ull), 0x0000100200000481ull, 0x7ffffffc00ull);
    EXPECT_PANIC(iommu_cmd_iotinval_gvma(IOMMU_ALL_GSCIDS, 0x80203000)); /* AV needs GV */
    EXPECT_PANIC(iommu_cmd_iotinval_gvma(0x10000, IOMMU_ALL_ADDRS));     /* GSCID is 16 bits */

    /* IOTINVAL.VMA, everything of the host: opcode 1, func3 0. */
    CHECK_CMD(iommu_cmd_iotinval_vma(IOMMU_ALL_GSCIDS, IOMMU_ALL_PSCIDS, IOMMU_ALL_ADDRS), 0x1, 0);
    /* Host address space 7: PSCV (32) | PSCID 7 at 31:12. */
    CHECK_CMD(iommu_cmd_iotinval_vma(IOMMU_ALL_GSCIDS, 7, IOMMU_ALL_ADDRS), 0x0000000100007001ull, 0);
    /* All operands: GSCID 3 | GV | PSCV | PSCID 0x12345 | AV; page 1. */
    CHECK_CMD(iommu_cmd_iotinval_vma(3, 0x12345, 0x1000), 0x0000300312345401ull, 0x400);
    EXPECT_PANIC(iommu_cmd_iotinval_vma(3, 0x100000, IOMMU_ALL_ADDRS));  /* PSCID is 20 bits */

    /* IODIR.INVAL_DDT, every device: opcode 3, func3 0, DV=0. */
    CHECK_CMD(iommu_cmd_iodir_inval_ddt(IOMMU_ALL_DEVICES), 0x3, 0);
    /* Device 00:02.0: DV (33) | DID 0x10 at 63:40. */
    CHECK_CMD(iommu_cmd_iodir_inval_ddt(0x10), 0x0000100200000003ull, 0);
    CHECK_CMD(iommu_cmd_iodir_inval_ddt(0xabcdef), 0xabcdef0200000003ull, 0);
    EXPECT_PANIC(iommu_cmd_iodir_inval_ddt(0x1000000));

    /* IOFENCE.C, bare: opcode 2, func3 0. */
    CHECK_CMD(iommu_cmd_iofence_c(0, 0, 0), 0x2, 0);
    /* WSI (11) only. */
    CHECK_CMD(iommu_cmd_iofence_c(IOMMU_FENCE_WSI, 0, 0), 0x802, 0);
    /* AV (10) | DATA 0xcafef00d at 63:32; dword 1 = ADDR[63:2] = 0x87654320 >> 2. */
    CHECK_CMD(iommu_cmd_iofence_c(IOMMU_FENCE_AV, 0x87654320, 0xcafef00d), 0xcafef00d00000402ull, 0x21d950c8);
    /* AV | PR (12) | PW (13). */
    CHECK_CMD(iommu_cmd_iofence_c(IOMMU_FENCE_AV | IOMMU_FENCE_PR | IOMMU_FENCE_PW, 0x87654320, 1),
              0x0000000100003402ull, 0x21d950c8);
    /* Every flag; the highest 56-bit word address: ADDR[63:2] = 2^54 - 1. */
    CHECK_CMD(iommu_cmd_iofence_c(IOMMU_FENCE_AV | IOMMU_FENCE_WSI | IOMMU_FENCE_PR | IOMMU_FENCE_PW,
                                  0x00fffffffffffffcull, 0xffffffff),
              0xffffffff00003c02ull, 0x003fffffffffffffull);
    EXPECT_PANIC(iommu_cmd_iofence_c(IOMMU_FENCE_AV, 0x87654322, 1)); /* not 4-byte aligned */
    EXPECT_PANIC(iommu_cmd_iofence_c(0, 0x87654320, 0));              /* address without AV */
    EXPECT_PANIC(iommu_cmd_iofence_c(1u << 4, 0, 0));                 /* unknown flag */
}

static void test_fault_records(void)
{
    struct iommu_fault f;
    /* A write by 00:02.0 to an unmapped GPA: CAUSE 23 | TTYP 3 at 39:34 |
     * DID 0x10 at 63:40; iotval the IOVA (= GPA), iotval2 the GPA 63:2. */
    struct iommu_fault_record r1 = { { 0x0000100c00000017ull, 0, 0x90000000, 0x90000000 } };
    iommu_fault_decode(&r1, &f);
    CHECK_EQ(f.cause, 23);
    CHECK_EQ(f.pid, 0);
    CHECK(!f.pv && !f.priv);
    CHECK_EQ(f.ttyp, IOMMU_TTYP_UNTRANSLATED_WRITE);
    CHECK_EQ(f.did, 0x10);
    CHECK_EQ(f.iotval, 0x90000000);
    CHECK(iommu_fault_is_guest_page(f.cause));
    CHECK_EQ(iommu_fault_gpa(&f), 0x90000000);

    /* Every header field non-zero: CAUSE 0x105 | PID 0xabcde at 31:12 |
     * PV 32 | PRIV 33 | TTYP 0x2a (custom) at 39:34 | DID 0xfedcba;
     * dword 1 (custom, reserved) is ignored; iotval2 bits 1:0 set (an
     * implicit write for the first stage). */
    struct iommu_fault_record r2 = { { 0xfedcbaababcde105ull, 0xdeadbeefdeadbeefull, 0x1234, 0x80201003 } };
    iommu_fault_decode(&r2, &f);
    CHECK_EQ(f.cause, 0x105);
    CHECK_EQ(f.pid, 0xabcde);
    CHECK(f.pv && f.priv);
    CHECK_EQ(f.ttyp, 0x2a);
    CHECK_EQ(f.did, 0xfedcba);
    CHECK_EQ(f.iotval, 0x1234);
    CHECK_EQ(f.iotval2, 0x80201003);
    CHECK_EQ(iommu_fault_gpa(&f), 0x80201000);
    CHECK(!iommu_fault_is_guest_page(f.cause));
    CHECK(strcmp(iommu_fault_ttyp_name(f.ttyp), "custom") == 0);

    /* Names: every cause in the spec's table, then reserved and custom. */
    static const struct { unsigned cause; const char *name; } names[] = {
        { 1, "instruction access fault" },
        { 4, "read address misaligned" },
        { 5, "read access fault" },
        { 6, "write/amo address misaligned" },
        { 7, "write/amo access fault" },
        { 12, "instruction page fault" },
        { 13, "read page fault" },
        { 15, "write/amo page fault" },
        { 20, "instruction guest-page fault" },
        { 21, "read guest-page fault" },
        { 23, "write/amo guest-page fault" },
        { 256, "all inbound transactions disallowed" },
        { 257, "ddt entry load access fault" },
        { 258, "ddt entry not valid" },
        { 259, "ddt entry misconfigured" },
        { 260, "transaction type disallowed" },
        { 261, "msi pte load access fault" },
        { 262, "msi pte not valid" },
        { 263, "msi pte misconfigured" },
        { 264, "mrif access fault" },
        { 265, "pdt entry load access fault" },
        { 266, "pdt entry not valid" },
        { 267, "pdt entry misconfigured" },
        { 268, "ddt data corruption" },
        { 269, "pdt data corruption" },
        { 270, "msi pt data corruption" },
        { 271, "msi mrif data corruption" },
        { 272, "internal data path error" },
        { 273, "iommu msi write access fault" },
        { 274, "first/second-stage pt data corruption" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        CHECK(strcmp(iommu_fault_cause_name(names[i].cause), names[i].name) == 0);
    static const unsigned reserved[] = { 0, 2, 3, 8, 14, 22, 24, 255, 275, 2047 };
    for (size_t i = 0; i < ARRAY_SIZE(reserved); i++)
        CHECK(strcmp(iommu_fault_cause_name(reserved[i]), "reserved") == 0);
    CHECK(strcmp(iommu_fault_cause_name(2048), "custom") == 0);
    CHECK(strcmp(iommu_fault_cause_name(4095), "custom") == 0);
    CHECK(iommu_fault_is_guest_page(20) && iommu_fault_is_guest_page(21));
    CHECK(!iommu_fault_is_guest_page(22) && !iommu_fault_is_guest_page(13));

    CHECK(strcmp(iommu_fault_ttyp_name(0), "none") == 0);
    CHECK(strcmp(iommu_fault_ttyp_name(2), "untranslated read") == 0);
    CHECK(strcmp(iommu_fault_ttyp_name(3), "untranslated write/amo") == 0);
    CHECK(strcmp(iommu_fault_ttyp_name(8), "pcie ats translation request") == 0);
    CHECK(strcmp(iommu_fault_ttyp_name(4), "reserved") == 0);
    CHECK(strcmp(iommu_fault_ttyp_name(31), "reserved") == 0);
    CHECK(strcmp(iommu_fault_ttyp_name(32), "custom") == 0);
}

static paddr_t table_alloc(void *arg)
{
    return frame_alloc_page(arg);
}

static void test_gstage_leaves(void)
{
    /* R 1 | W 2 | U 4 | A 6 | D 7. */
    CHECK_EQ(IOMMU_GSTAGE_LEAF_PERM, 0xd6);
    /* PPN 0x80200 << 10 | D A U W R V. */
    CHECK(iommu_gstage_leaf_usable(0x200800d7, false));
    CHECK(iommu_gstage_leaf_usable(0x200800d7, true));
    /* hap's leaves add X (bit 3): still fine. */
    CHECK(iommu_gstage_leaf_usable(0x200800df, true));
    /* No D: reads only. */
    CHECK(iommu_gstage_leaf_usable(0x20080057, false));
    CHECK(!iommu_gstage_leaf_usable(0x20080057, true));
    /* Read-only (V R U A). */
    CHECK(iommu_gstage_leaf_usable(0x20080053, false));
    CHECK(!iommu_gstage_leaf_usable(0x20080053, true));
    /* No A: the IOMMU would fault either way. */
    CHECK(!iommu_gstage_leaf_usable(0x20080097, false));
    CHECK(!iommu_gstage_leaf_usable(0x20080097, true));
    /* No U, no V, W without R, PBMT (bit 62) set. */
    CHECK(!iommu_gstage_leaf_usable(0x200800c7, false));
    CHECK(!iommu_gstage_leaf_usable(0x200800d6, false));
    CHECK(!iommu_gstage_leaf_usable(0x200800d5, true));
    CHECK(!iommu_gstage_leaf_usable(0x40000000200800d7ull, false));

    /* A G-stage table built by pt_map with these permissions (as the IOMMU
     * driver will) or with hap's (R W X U A D) gives usable leaves. */
    uint8_t *mem = aligned_alloc(MIB(2), MIB(2));
    CHECK(mem != NULL);
    if (!mem)
        return;
    static const uint64_t perms[] = { IOMMU_GSTAGE_LEAF_PERM, PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D };
    for (size_t i = 0; i < ARRAY_SIZE(perms); i++) {
        struct frame_pool pool;
        struct pt g;
        frame_pool_init(&pool, ptr_to_pa(mem), ptr_to_pa(mem) + MIB(2));
        pt_init(&g, PT_SV39X4, frame_alloc(&pool, KIB(16), KIB(16)), table_alloc, &pool);
        /* 2 MiB + 8 KiB: one 2 MiB leaf, then two 4 KiB leaves. */
        CHECK(pt_map(&g, 0x80000000, 0x90000000, MIB(2) + KIB(8), perms[i]) == 0);
        pte_t leaf = 0;
        CHECK(pt_translate(&g, 0x80000000, NULL, &leaf, NULL));
        CHECK(iommu_gstage_leaf_usable(leaf, true));
        CHECK(pt_translate(&g, 0x80201000, NULL, &leaf, NULL));
        CHECK(iommu_gstage_leaf_usable(leaf, true));
    }
    free(mem);
}

static void test_gscids(void)
{
    static struct iommu_gscids g;
    memset(&g, 0, sizeof(g));
    CHECK_EQ(iommu_gscid_for(&g, 0x80400000), 1);
    CHECK_EQ(iommu_gscid_for(&g, 0x80800000), 2);
    CHECK_EQ(iommu_gscid_for(&g, 0x80400000), 1); /* same table, same GSCID */
    for (unsigned i = 3; i <= IOMMU_GSCIDS_MAX; i++)
        CHECK_EQ(iommu_gscid_for(&g, 0x100000000ull + i * KIB(16)), i);
    CHECK_EQ(iommu_gscid_for(&g, 0x200000000ull), -1); /* all taken */
    CHECK_EQ(iommu_gscid_for(&g, 0x80800000), 2);      /* known ones still answer */
    EXPECT_PANIC(iommu_gscid_for(&g, 0));
}

void unit_main(void)
{
    test_register_layout();
    test_caps_decode();
    test_caps_refusals();
    test_ddtp_and_queue_bases();
    test_ddt_indexes();
    test_device_context();
    test_commands();
    test_fault_records();
    test_gstage_leaves();
    test_gscids();
}
