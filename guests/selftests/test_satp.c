/*
 * test_satp.c — `test=satp`: satp as a WARL register seen by the guest.
 *   - the writable ASID bits (all ones written, read back) are the low
 *     ASIDLEN bits, as the spec requires; their number is printed;
 *   - Sv39 with several ASIDs and two roots reads back exactly as written
 *     (ASIDs reduced to the writable bits);
 *   - MODE = Bare written with zero ASID and PPN reads back 0 (the spec
 *     leaves Bare with other fields non-zero unspecified: not tried);
 *   - a write with an unsupported MODE (15, and reserved 1) has no effect
 *     at all, from Sv39 and from Bare;
 *   - the value survives an SBI call (an exit under a hypervisor).
 * Every root maps RAM, so the guest keeps running whatever satp holds.
 */
#include "core/lib/fmt.h"
#include "guests/common/check.h"
#include "guests/common/console.h"
#include "guests/common/csr.h"
#include "guests/common/sbi.h"
#include "guests/selftests/selftests.h"
#include "guests/selftests/sv39.h"

#define SATP_MODE_UNSUPPORTED 15ull
#define SATP_MODE_RESERVED 1ull

static const uint64_t satp_asids[] = { 0, 1, 5, 0x1234, 0xffff };

static uint64_t satp_asid_mask;

/* Writes `value` and returns what satp then holds. */
static uint64_t satp_write_read(uint64_t value)
{
    csr_write(satp, value);
    return csr_read(satp);
}

static void satp_check_asid_bits(const pte_t *root)
{
    uint64_t got = satp_write_read(sv39_satp(root, SATP_ASID_MASK));
    satp_asid_mask = (got >> SATP_ASID_SHIFT) & SATP_ASID_MASK;
    unsigned bits = 0;
    while (bits < 16 && (satp_asid_mask >> bits) & 1)
        bits++;
    console_line("satp ASID bits writable: 0x%lx (%u)", (unsigned long)satp_asid_mask, bits);
    check_true(satp_asid_mask == (1ull << bits) - 1,
               "satp the writable ASID bits are the low ones");
}

static void satp_check_sv39(pte_t *const roots[2])
{
    for (unsigned r = 0; r < 2; r++) {
        for (size_t i = 0; i < ARRAY_SIZE(satp_asids); i++) {
            uint64_t want = sv39_satp(roots[r], satp_asids[i] & satp_asid_mask);
            check_eq_hex(satp_write_read(want), want,
                         "satp Sv39, root %u, ASID 0x%lx reads back as written", r,
                         (unsigned long)(satp_asids[i] & satp_asid_mask));
        }
    }
}

static void satp_check_bare(const pte_t *root)
{
    check_eq_hex(satp_write_read(0), 0, "satp Bare (all zero) reads back 0");
    uint64_t sv39 = sv39_satp(root, 1 & satp_asid_mask);
    check_eq_hex(satp_write_read(sv39), sv39, "satp Sv39 again after Bare");
    check_eq_hex(satp_write_read(0), 0, "satp Bare again reads back 0");
}

/* "If satp is written with an unsupported MODE, the entire write has no
 * effect; no fields in satp are modified." */
static void satp_check_unsupported(pte_t *const roots[2])
{
    static const uint64_t modes[] = { SATP_MODE_UNSUPPORTED, SATP_MODE_RESERVED };
    uint64_t other = (7 & satp_asid_mask) << SATP_ASID_SHIFT | ptr_to_pa(roots[1]) >> 12;
    for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
        uint64_t before = sv39_satp(roots[0], 5 & satp_asid_mask);
        csr_write(satp, before);
        check_eq_hex(satp_write_read(modes[i] << SATP_MODE_SHIFT | other), before,
                     "satp MODE=%lu written over Sv39: no effect", (unsigned long)modes[i]);
        csr_write(satp, 0);
        check_eq_hex(satp_write_read(modes[i] << SATP_MODE_SHIFT | other), 0,
                     "satp MODE=%lu written over Bare: no effect", (unsigned long)modes[i]);
    }
}

static void satp_check_across_exit(const pte_t *root)
{
    uint64_t want = sv39_satp(root, 0x1234 & satp_asid_mask);
    csr_write(satp, want);
    sbi_spec_version();
    check_eq_hex(csr_read(satp), want, "satp unchanged across an SBI call");
}

bool selftests_test_satp(const struct platform *p)
{
    sv39_pool_init(p);
    pte_t *roots[2] = { sv39_table_new(), sv39_table_new() };
    sv39_map_ram(roots[0]);
    sv39_map_ram(roots[1]);
    sv39_fence_all();               /* no stale entries under any ASID */

    satp_check_asid_bits(roots[0]);
    satp_check_sv39(roots);
    satp_check_bare(roots[1]);
    satp_check_unsupported(roots);
    satp_check_across_exit(roots[1]);
    sv39_off();
    return selftests_summary("satp");
}
