/*
 * gwalk.c — the reference walk of a guest's Sv39 tables (see gwalk.h).
 *
 * It follows the privileged spec's translation algorithm step by step, so
 * that every shadow entry Umbra builds, and every fault it injects, is what
 * the hardware walker would have produced from the same guest tables:
 *   - the VA must be sign-extended from bit 38;
 *   - each PTE is read from guest RAM through the map; a PTE outside RAM,
 *     or on a page not backed yet, is a page fault (as QEMU raises it for
 *     a table outside RAM; the spec would allow an access fault);
 *   - each PTE is a pointer, a leaf or a fault by gwalk_step_of (gwalk.h);
 *   - a leaf must permit the access and, above level 0, be aligned to its size.
 * A/D updates are reported, not performed: the shadow core performs them
 * atomically when it decides to let the access proceed.
 */
#include "mm/gwalk.h"
#include "mm/pt.h"

#define SV39_LEVELS 3
#define PTE_RWX (PTE_R | PTE_W | PTE_X)

static bool sv39_va_canonical(uint64_t va)
{
    return (uint64_t)((int64_t)(va << 25) >> 25) == va;
}

static uint64_t level_bytes(unsigned level)
{
    return PAGE_SIZE << (9 * level);
}

static void walk_identity(uint64_t va, struct walk *out)
{
    out->result = WALK_OK;
    out->gpa = va;
    /* A stand-in leaf that grants everything, so callers can treat the
     * MMU-off case like any other translation. */
    out->leaf = (((va >> 12) & ((1ull << PTE_PPN_BITS) - 1)) << PTE_PPN_SHIFT) | PTE_V | PTE_RWX |
                PTE_A | PTE_D;
}

void gwalk(const struct guest_mem *mem, uint64_t satp, uint64_t va, const struct access_ctx *ctx,
           struct walk *out)
{
    *out = (struct walk){ .result = WALK_PAGE_FAULT };
    if (satp_is_bare(satp)) {
        walk_identity(va, out);
        return;
    }
    if (!sv39_va_canonical(va))
        return;

    gpaddr_t table = (satp & SATP_PPN_MASK) << 12;
    struct guest_mem_window win = guest_mem_window_of(mem);
    for (int level = SV39_LEVELS - 1; level >= 0; level--) {
        out->table_gpa[out->depth++] = table;
        gpaddr_t pte_gpa = table + 8ull * pt_index(PT_SV39, va, (unsigned)level);
        pte_t pte;
        paddr_t hpa;
        /* A PTE outside RAM: the privileged spec calls for an access
         * fault, but QEMU's walker (our native reference) treats a PTE it
         * cannot read like an invalid one, so the guest gets a page fault. */
        if (!gwalk_pte_read(mem, &win, pte_gpa, &pte, &hpa))
            return;
        enum gwalk_step step = gwalk_step_of(pte, (unsigned)level);
        if (step == GWALK_STEP_FAULT)
            return;
        if (step == GWALK_STEP_POINTER) {
            table = pte_to_pa(pte);
            continue;
        }
        if (!gwalk_leaf_permits(pte, ctx))
            return;
        uint64_t size = level_bytes((unsigned)level);
        gpaddr_t base = pte_to_pa(pte);
        if (!IS_ALIGNED(base, size))
            return; /* misaligned superpage */
        out->result = WALK_OK;
        out->gpa = base | (va & (size - 1));
        out->leaf = pte;
        out->leaf_pte_gpa = pte_gpa;
        out->level = (unsigned)level;
        out->need_a = !(pte & PTE_A);
        out->need_d = ctx->type == ACCESS_STORE && !(pte & PTE_D);
        return;
    }
}
