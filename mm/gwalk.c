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
 *   - V=0, W without R, or any of bits 63:54 set is a page fault (the guest
 *     is offered neither Svnapot nor Svpbmt, so N and PBMT are reserved);
 *   - a pointer with A, D or U set, or a pointer at level 0, is a page fault;
 *   - a leaf must permit the access and, above level 0, be aligned to its size.
 * A/D updates are reported, not performed: the shadow core performs them
 * atomically when it decides to let the access proceed.
 */
#include "mm/gwalk.h"
#include "mm/pt.h"

#define SV39_LEVELS 3
#define PTE_RWX (PTE_R | PTE_W | PTE_X)
#define PTE_POINTER_RESERVED (PTE_A | PTE_D | PTE_U)

static bool sv39_va_canonical(uint64_t va)
{
    return (uint64_t)((int64_t)(va << 25) >> 25) == va;
}

static uint64_t level_bytes(unsigned level)
{
    return PAGE_SIZE << (9 * level);
}

/* A guest PTE read the way the hardware walker reads it: one 8-byte load
 * that another hart may be changing at the same time (what guest_mem_load
 * does too; spelled out here to keep the walk's inner loop call-free).
 * The map's window (looked up once per walk) answers for the tables of
 * every guest Umbra runs.  False when the PTE is not backed RAM. */
static bool guest_pte_read(const struct guest_mem *mem, const struct guest_mem_window *win, gpaddr_t gpa,
                           pte_t *pte)
{
    paddr_t hpa;
    if (!guest_mem_window_word(win, gpa, &hpa) && !guest_mem_hpa(mem, gpa, sizeof(pte_t), &hpa))
        return false;
    *pte = __atomic_load_n((const pte_t *)pa_to_ptr(hpa), __ATOMIC_RELAXED);
    return true;
}

/* Does this leaf grant the access?  (Step 5 of the spec's algorithm.) */
static bool leaf_permits(pte_t pte, const struct access_ctx *ctx)
{
    if (pte & PTE_U) {
        /* Supervisor code never executes user pages; it reads or writes
         * them only with SUM. */
        if (!ctx->user && (ctx->type == ACCESS_FETCH || !ctx->sum))
            return false;
    } else if (ctx->user) {
        return false;
    }
    switch (ctx->type) {
    case ACCESS_FETCH:
        return pte & PTE_X;
    case ACCESS_LOAD:
        return (pte & PTE_R) || (ctx->mxr && (pte & PTE_X));
    case ACCESS_STORE:
        return pte & PTE_W; /* W without R never gets here */
    }
    return false;
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
        /* A PTE outside RAM: the privileged spec calls for an access
         * fault, but QEMU's walker (our native reference) treats a PTE it
         * cannot read like an invalid one, so the guest gets a page fault. */
        if (!guest_pte_read(mem, &win, pte_gpa, &pte))
            return;
        if (!(pte & PTE_V) || ((pte & PTE_W) && !(pte & PTE_R)) || (pte & PTE_HIGH_BITS))
            return;
        if (!(pte & PTE_RWX)) {
            if ((pte & PTE_POINTER_RESERVED) || level == 0)
                return;
            table = pte_to_pa(pte);
            continue;
        }
        if (!leaf_permits(pte, ctx))
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
