/*
 * fault.c — user page faults and the kernel's access to user memory.
 *
 * A fault on an address inside one of the process's regions (heap, stack,
 * mmap) is resolved in one of three ways:
 *   - no valid leaf: demand-zero, a fresh zeroed page (invalid -> valid,
 *     not fenced: the spec allows the fence to be taken lazily);
 *   - a write to a copy-on-write leaf: the page is copied (the leaf is
 *     replaced: fenced) or, when no one else shares it any more, made
 *     writable in place (a permission increase: fenced lazily);
 *   - the leaf already allows the access: a spurious fault from a stale
 *     translation of a lazily fenced change; now is when the spec wants
 *     the fence.
 * Anything else is a real fault and the caller fails the run.
 *
 * The kernel never touches user memory through user virtual addresses: it
 * walks the page table in software and copies through its direct map,
 * resolving a missing or read-only page exactly as the fault handler would.
 */
#include "core/lib/fmt.h"
#include "guests/tinyos/kernel.h"

/* How often one address may fault spuriously in a row before tinyos
 * gives up (leaf fence, then a whole-ASID fence, then failure). */
#define SPURIOUS_ESCALATIONS 2

static bool pte_allows(pte_t pte, enum access acc)
{
    if ((pte & (PTE_V | PTE_U)) != (PTE_V | PTE_U))
        return false;
    switch (acc) {
    case ACCESS_READ:
        return (pte & PTE_R) != 0;
    case ACCESS_WRITE:
        return (pte & PTE_W) != 0;
    case ACCESS_EXEC:
        return (pte & PTE_X) != 0;
    }
    return false;
}

static long fault_demand_zero(struct proc *p, uint64_t va, enum access acc)
{
    /* Heap, stack and mmap regions are read/write, never executable. */
    if (acc == ACCESS_EXEC || !proc_region_of(p, va))
        return -TINYOS_EFAULT;
    pte_t *pte = vm_walk(p->root, va, true);
    uint64_t pa = pte ? frame_alloc() : 0;
    if (!pa)
        kernel_fail("out of memory demand-faulting 0x%lx for pid %d", (unsigned long)va, p->pid);
    /* No fence: invalid -> valid leaf (spec: may be fenced lazily). */
    *pte = pa_to_pte(pa, PTE_V | PTE_R | PTE_W | PTE_U);
    kstats.faults_zero++;
    return 0;
}

static long fault_cow(struct proc *p, uint64_t va, pte_t *pte)
{
    uint64_t old_pa = pte_to_pa(*pte);
    if (frame_refcount(old_pa) == 1) {
        /* Every other sharer is gone: write-enable in place.  No fence: a
         * permission increase on a leaf may be fenced lazily. */
        *pte = (*pte & ~PTE_COW) | PTE_W;
        kstats.faults_cow_reuse++;
        return 0;
    }
    uint64_t new_pa = frame_alloc();
    if (!new_pa)
        kernel_fail("out of memory breaking COW at 0x%lx for pid %d", (unsigned long)va, p->pid);
    page_copy(new_pa, old_pa);
    *pte = pa_to_pte(new_pa, PTE_V | PTE_R | PTE_W | PTE_U);
    /* FENCE (leaf rule): the leaf now names another frame; the old
     * read-only translation of the shared frame must not serve later
     * reads: sfence.vma va, asid. */
    if (p->asid >= 0)
        fence_page(va, (uint64_t)p->asid);
    frame_unref(old_pa);
    kstats.faults_cow_copy++;
    return 0;
}

static long fault_spurious(struct proc *p, uint64_t va, pte_t pte)
{
    kstats.faults_spurious++;
    p->spurious_repeats = p->spurious_va == va ? p->spurious_repeats + 1 : 1;
    p->spurious_va = va;
    if (p->spurious_repeats > SPURIOUS_ESCALATIONS)
        kernel_fail("pid %d faults again and again at 0x%lx although its PTE 0x%lx allows the "
                    "access (A/D bits not updated by hardware, or a stale translation that "
                    "sfence.vma does not remove)",
                    p->pid, (unsigned long)va, (unsigned long)pte);
    if (p->asid < 0)
        return 0;
    if (p->spurious_repeats == 1) {
        /* FENCE (lazy rule, then leaf rule): a stale translation from
         * before an invalid->valid or permission-increase change faulted;
         * the spec says to fence now: sfence.vma va, asid. */
        fence_page(va, (uint64_t)p->asid);
    } else {
        /* FENCE (non-leaf rule): the leaf fence did not help, so what is
         * stale is an invalid table entry that has since become valid:
         * sfence.vma x0, asid. */
        fence_asid((uint64_t)p->asid);
    }
    return 0;
}

long fault_resolve(struct proc *p, uint64_t va, enum access acc)
{
    va = ALIGN_DOWN(va, PAGE_SIZE);
    if (va >= TINYOS_USER_END)
        return -TINYOS_EFAULT;
    pte_t *pte = vm_walk(p->root, va, false);
    if (pte && pte_allows(*pte, acc))
        return fault_spurious(p, va, *pte);
    p->spurious_va = 0;
    if (!pte || !(*pte & PTE_V))
        return fault_demand_zero(p, va, acc);
    if (acc == ACCESS_WRITE && (*pte & PTE_COW))
        return fault_cow(p, va, pte);
    return -TINYOS_EFAULT;
}

/* The kernel address of user byte `uva`, made accessible as `acc` first. */
static uint8_t *uaccess_page(struct proc *p, uint64_t uva, enum access acc)
{
    pte_t *pte = vm_walk(p->root, uva, false);
    if (!pte || !pte_allows(*pte, acc)) {
        if (fault_resolve(p, uva, acc) < 0)
            return NULL;
        pte = vm_walk(p->root, uva, false);
    }
    return (uint8_t *)pa_to_ptr(pte_to_pa(*pte)) + (uva & (PAGE_SIZE - 1));
}

static bool uaccess_range_ok(uint64_t uva, size_t len)
{
    return uva < TINYOS_USER_END && len <= TINYOS_USER_END - uva;
}

long uaccess_copy_in(struct proc *p, void *dst, uint64_t uva, size_t len)
{
    if (!uaccess_range_ok(uva, len))
        return -TINYOS_EFAULT;
    uint8_t *out = dst;
    while (len) {
        size_t chunk = MIN(len, (size_t)(PAGE_SIZE - (uva & (PAGE_SIZE - 1))));
        const uint8_t *src = uaccess_page(p, uva, ACCESS_READ);
        if (!src)
            return -TINYOS_EFAULT;
        memcpy(out, src, chunk);
        out += chunk;
        uva += chunk;
        len -= chunk;
    }
    return 0;
}

long uaccess_copy_out(struct proc *p, uint64_t uva, const void *src, size_t len)
{
    if (!uaccess_range_ok(uva, len))
        return -TINYOS_EFAULT;
    const uint8_t *in = src;
    while (len) {
        size_t chunk = MIN(len, (size_t)(PAGE_SIZE - (uva & (PAGE_SIZE - 1))));
        uint8_t *dst = uaccess_page(p, uva, ACCESS_WRITE);
        if (!dst)
            return -TINYOS_EFAULT;
        memcpy(dst, in, chunk);
        in += chunk;
        uva += chunk;
        len -= chunk;
    }
    return 0;
}
