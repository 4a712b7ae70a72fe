/*
 * test_flood.c — `test=flood`: a guest that burns through address spaces.
 * It builds 2000 small address spaces one after the other, each a root
 * (with the global identity map of RAM the guest runs on) plus one 4 KiB
 * leaf mapping VA 0x4000_0000 to one of 8 data pages, switches satp to it
 * with its own ASID and reads the page through it.  Under a shadow-paging
 * hypervisor every switch names a root it has never seen in that form, so
 * this is the test of shadow reclaim: the hypervisor must neither run out
 * of shadow memory, nor crash, nor hand back a stale translation.
 *
 * Table frames come from small pools reused round-robin (64 roots, 63
 * level-1 and 61 level-0 tables: coprime sizes, so a reused root points at
 * a different level-1 table than last time, a non-leaf change).  Before a
 * space is used its ASID gets `sfence.vma x0, asid`, as the spec requires
 * when an ASID is given to a new address space; nothing else is fenced.
 *   - phase 1: space i uses ASID (i % 4096) + 1 (reduced to the writable
 *     ASID bits) and its leaf maps data page i % 8; each read must return
 *     that page's word at an offset that also changes with i.  The values
 *     read are folded into the printed checksum.
 *   - the last 61 spaces, whose tables are all still intact, are switched
 *     to again without any fence (their ASIDs were never reused when the
 *     ASID bits number 11 or more; otherwise each is fenced first) and must
 *     still read their own pages: reclaim must not break live spaces.
 *   - phase 2: 500 more spaces on only 4 roots, root k always with ASID
 *     k + 1, so the same (root, ASID) pair comes back every 4th space with
 *     other tables behind it: only the fence on reuse tells the hardware
 *     (or a shadow cache keyed on that pair) that the old one is gone.
 */
#include "core/lib/fmt.h"
#include "guests/common/check.h"
#include "guests/common/console.h"
#include "guests/common/csr.h"
#include "guests/selftests/selftests.h"
#include "guests/selftests/sv39.h"

#define FLOOD_SPACES 2000
#define FLOOD_REUSE_SPACES 500
#define FLOOD_REUSE_ROOTS 4
#define FLOOD_ASID_PERIOD 4096
#define FLOOD_VA 0x40000000ull

#define FLOOD_ROOTS 64
#define FLOOD_L1S 63
#define FLOOD_L0S 61
#define FLOOD_PAGES 8
/* The last FLOOD_L0S spaces share no table frame with any later space. */
#define FLOOD_LIVE FLOOD_L0S

struct flood_state {
    pte_t *roots[FLOOD_ROOTS];
    pte_t *l1s[FLOOD_L1S];
    pte_t *l0s[FLOOD_L0S];
    uint64_t pages[FLOOD_PAGES];
    uint64_t asid_mask;             /* the writable ASID bits */
    uint64_t checksum;
    unsigned wrong;                 /* reads that saw the wrong word */
    unsigned first_wrong;           /* the first space that did */
    uint64_t first_got;             /* ... and what it read (or cause) */
};

static struct flood_state fl;

static uint64_t flood_tag(unsigned page, unsigned word)
{
    return 0xf100d00000000000ull | (uint64_t)page << 16 | word;
}

/* Word offset read in space i: it walks the page so a wrong offset (or
 * a stale page) cannot go unnoticed. */
static unsigned flood_word(unsigned i)
{
    return (i * 37) % (PAGE_SIZE / sizeof(uint64_t));
}

static void flood_setup(void)
{
    for (unsigned p = 0; p < FLOOD_PAGES; p++) {
        fl.pages[p] = sv39_alloc(PAGE_SIZE, PAGE_SIZE);
        uint64_t *words = pa_to_ptr(fl.pages[p]);
        for (unsigned w = 0; w < PAGE_SIZE / sizeof(uint64_t); w++)
            words[w] = flood_tag(p, w);
    }
    for (unsigned r = 0; r < FLOOD_ROOTS; r++) {
        fl.roots[r] = sv39_table_new();
        sv39_map_ram(fl.roots[r]);
    }
    for (unsigned t = 0; t < FLOOD_L1S; t++)
        fl.l1s[t] = sv39_table_new();
    for (unsigned t = 0; t < FLOOD_L0S; t++)
        fl.l0s[t] = sv39_table_new();
}

/* The ASID bits satp keeps, probed through a root that maps RAM. */
static uint64_t flood_probe_asid_mask(void)
{
    csr_write(satp, sv39_satp(fl.roots[0], SATP_ASID_MASK));
    uint64_t mask = csr_read(satp) >> SATP_ASID_SHIFT & SATP_ASID_MASK;
    csr_write(satp, 0);
    sv39_fence_all();
    return mask;
}

/* Rewrites the frames of space i, using root frame `root_index`, whatever
 * they held for an older space.  The leaf leaves A to the hardware. */
static void flood_build(unsigned i, unsigned root_index)
{
    pte_t *root = fl.roots[root_index];
    pte_t *l1 = fl.l1s[i % FLOOD_L1S];
    pte_t *l0 = fl.l0s[i % FLOOD_L0S];
    root[sv39_vpn(FLOOD_VA, 2)] = sv39_pointer(l1);
    l1[sv39_vpn(FLOOD_VA, 1)] = sv39_pointer(l0);
    l0[sv39_vpn(FLOOD_VA, 0)] = sv39_leaf(fl.pages[i % FLOOD_PAGES], PTE_R | PTE_W);
}

/* Switches to space i (root frame root_index, `asid`) and reads its word
 * there. */
static bool flood_visit(unsigned i, unsigned root_index, uint64_t asid, bool fence)
{
    if (fence)
        sv39_fence_asid(asid);
    csr_write(satp, sv39_satp(fl.roots[root_index], asid));
    uint64_t value = 0;
    struct trap_catch c = selftests_load_value(FLOOD_VA + flood_word(i) * sizeof(uint64_t),
                                               &value);
    bool ok = c.count == 0 && value == flood_tag(i % FLOOD_PAGES, flood_word(i));
    if (!ok && fl.wrong++ == 0) {
        fl.first_wrong = i;
        fl.first_got = c.count ? c.cause : value;
    }
    fl.checksum = (fl.checksum ^ value ^ (uint64_t)i << 48) * 0x100000001b3ull;
    return ok;
}

static uint64_t flood_asid(unsigned i)
{
    return ((i % FLOOD_ASID_PERIOD) + 1) & fl.asid_mask;
}

/* One check line for the visits since the last report. */
static bool flood_report(const char *what)
{
    char got[80] = "";
    if (fl.wrong)
        fmt_snprintf(got, sizeof(got), " (%u wrong, first space %u got 0x%lx)", fl.wrong,
                     fl.first_wrong, (unsigned long)fl.first_got);
    bool ok = check_true(fl.wrong == 0, "flood %s%s", what, got);
    fl.wrong = 0;
    return ok;
}

static bool flood_phase_many(void)
{
    for (unsigned i = 0; i < FLOOD_SPACES; i++) {
        flood_build(i, i % FLOOD_ROOTS);
        flood_visit(i, i % FLOOD_ROOTS, flood_asid(i), true);
    }
    return flood_report("2000 address spaces, each read its own page");
}

static void flood_revisit_live(void)
{
    /* Spaces whose ASIDs were never handed on need no fence; otherwise
     * the ASID now names a later space and must be fenced again. */
    bool asids_unique = fl.asid_mask >= FLOOD_SPACES;
    for (unsigned i = FLOOD_SPACES - FLOOD_LIVE; i < FLOOD_SPACES; i++)
        flood_visit(i, i % FLOOD_ROOTS, flood_asid(i), !asids_unique);
    flood_report("the last 61 address spaces still read their own pages");
}

static void flood_phase_reused_asids(void)
{
    for (unsigned n = 0; n < FLOOD_REUSE_SPACES; n++) {
        unsigned i = FLOOD_SPACES + n, root_index = n % FLOOD_REUSE_ROOTS;
        flood_build(i, root_index);
        flood_visit(i, root_index, (root_index + 1) & fl.asid_mask, true);
    }
    flood_report("500 address spaces on 4 (root, ASID) pairs, each read its own page");
}

bool selftests_test_flood(const struct platform *p)
{
    sv39_pool_init(p);
    fl = (struct flood_state){ .checksum = 0xcbf29ce484222325ull };
    flood_setup();
    fl.asid_mask = flood_probe_asid_mask();

    bool ok = flood_phase_many();
    uint64_t checksum = fl.checksum;
    flood_revisit_live();
    flood_phase_reused_asids();
    sv39_off();
    if (ok)
        console_line("flood %u address spaces ok, checksum=0x%016lx", FLOOD_SPACES,
                     (unsigned long)checksum);
    else
        console_line("flood %u address spaces FAILED, checksum=0x%016lx", FLOOD_SPACES,
                     (unsigned long)checksum);
    return selftests_summary("flood");
}
