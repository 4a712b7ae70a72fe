/*
 * asid.c — address-space identifiers and satp.
 *
 * Every process gets its own ASID the first time it runs and keeps it
 * while it lives, so a context switch is one satp write and no fence: the
 * TLB keeps each process's translations apart.  ASID 0 belongs to the
 * kernel's own root (only global mappings), loaded while a dying process's
 * tables are torn down.
 *
 * The width is probed at boot the way the spec describes: write all ones
 * to satp.ASID (MODE = Sv39, a valid root) and read back.  The ASIDs
 * handed out are 1 .. min(2^width - 1, ASID_POOL_MAX, bootarg asids=N).
 * When a process needs one and none is free, the ASID of another process
 * is recycled (that process gets a new one when it next runs), fenced as
 * the spec says for a recycled ASID.  With no ASIDs at all (width 0) every
 * space runs as ASID 0 and every switch recycles it, which is the spec's
 * "ASID 0 only" recipe: sfence.vma x0, rs2 = a register holding 0.
 */
#include "guests/common/csr.h"
#include "guests/tinyos/kernel.h"

/* More than NPROC is never useful: live processes hold one each. */
#define ASID_POOL_MAX 255

static unsigned asid_width;
static unsigned asid_pool;              /* ASIDs 1..asid_pool; 0: none, share 0 */
static struct proc *asid_owner[ASID_POOL_MAX + 1];
static unsigned asid_victim_next = 1;   /* round-robin recycling position */
static uint64_t asid_loaded;            /* what satp holds (never read back) */

static uint64_t asid_satp(const pte_t *root, uint64_t asid)
{
    return SATP_MODE_SV39 | (asid << SATP_ASID_SHIFT) | (ptr_to_pa(root) >> 12);
}

static void asid_load(uint64_t satp)
{
    /* Under shadow paging a satp write exits: skip rewriting the value
     * it already holds (the scheduler often resumes the same process). */
    if (satp == asid_loaded)
        return;
    csr_write(satp, satp);
    asid_loaded = satp;
    kstats.satp_writes++;
}

void asid_init(unsigned limit)
{
    pte_t *kernel_root = vm_kernel_root();
    /* FENCE (boot): the page tables were just written and nothing is known
     * about what address-translation caches hold (firmware, an earlier
     * kernel): order the writes before the first walk and drop everything:
     * sfence.vma x0, x0.  The only global-mapping fence tinyos needs, as
     * the kernel mappings never change afterwards. */
    fence_all();
    /* Probe: all ones into ASID with a valid root (this turns paging on;
     * the kernel runs identity mapped, so execution simply continues). */
    uint64_t probe = asid_satp(kernel_root, SATP_ASID_MASK);
    csr_write(satp, probe);
    uint64_t back = (csr_read(satp) >> SATP_ASID_SHIFT) & SATP_ASID_MASK;
    asid_width = 0;
    while (asid_width < 16 && (back & (1ull << asid_width)))
        asid_width++;
    /* The probe ASID only ever saw the kernel's global mappings, so it
     * carries nothing a process could trip over later. */
    asid_loaded = asid_satp(kernel_root, 0);
    csr_write(satp, asid_loaded);
    kstats.satp_writes += 2;

    unsigned pool = asid_width ? (unsigned)((1u << asid_width) - 1) : 0;
    pool = MIN(pool, (unsigned)ASID_POOL_MAX);
    pool = MIN(pool, limit);
    asid_pool = pool;
}

unsigned asid_bits(void)
{
    return asid_width;
}

unsigned asid_count(void)
{
    return asid_pool;
}

/* A free ASID, or 0 with *stolen_from set to the process that loses its. */
static unsigned asid_take(struct proc **stolen_from)
{
    *stolen_from = NULL;
    if (asid_pool == 0) {
        *stolen_from = asid_owner[0];
        return 0;
    }
    for (unsigned a = 1; a <= asid_pool; a++) {
        if (!asid_owner[a])
            return a;
    }
    /* All in use: recycle round-robin.  The process being activated has no
     * ASID, so the victim is always someone else. */
    unsigned a = asid_victim_next;
    asid_victim_next = a % asid_pool + 1;
    *stolen_from = asid_owner[a];
    return a;
}

void asid_activate(struct proc *p)
{
    if (p->asid >= 0) {
        asid_load(asid_satp(p->root, (uint64_t)p->asid));
        return;
    }
    struct proc *victim;
    unsigned a = asid_take(&victim);
    if (victim) {
        victim->asid = -1;
        kstats.asid_recycles++;
    }
    asid_owner[a] = p;
    p->asid = (int)a;
    asid_load(asid_satp(p->root, a));
    if (victim) {
        /* FENCE (recycled-ASID rule): the ASID now names another page
         * table; satp was switched first, then sfence.vma x0, asid drops
         * the previous owner's translations. */
        fence_asid(a);
    }
}

void asid_release(struct proc *p)
{
    asid_load(asid_satp(vm_kernel_root(), 0));
    if (p->asid < 0)
        return;             /* recycled earlier: already fenced then */
    /* FENCE (non-leaf rule): the whole space is about to be torn down and
     * its table pages reused; no walk may use them any more:
     * sfence.vma x0, asid.  The ASID is clean afterwards, so handing it
     * out again needs no further fence. */
    fence_asid((uint64_t)p->asid);
    asid_owner[p->asid] = NULL;
    p->asid = -1;
}

bool asid_all_free(void)
{
    for (unsigned a = 0; a <= ASID_POOL_MAX; a++) {
        if (asid_owner[a])
            return false;
    }
    return true;
}
