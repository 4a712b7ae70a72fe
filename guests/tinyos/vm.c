/*
 * vm.c — tinyos's Sv39 page tables.
 *
 * Kernel: one global direct map of RAM, VA == PA, built from 2 MiB leaves
 * (G=1) under level-1 tables that every address space shares: each root
 * copies the kernel's root entries, so the kernel keeps running whatever
 * satp holds and writes every page table through this map.  The kernel
 * mappings never change after boot.
 *
 * User: root slots 0 and 1 (VA below 0x8000_0000), 4 KiB leaves with U=1,
 * tables created on demand.  Leaves are always created with A = D = 0:
 * the hardware sets them (Svadu), tinyos never does.
 *
 * Fences here follow the privileged spec's SFENCE.VMA rules; each site
 * says which.  Creating an entry (invalid -> valid, leaf or table) is never
 * fenced: the spec lets software fence such a change lazily, and the fault
 * path does so if a stale invalid entry ever causes a fault (fault.c).
 */
#include "guests/tinyos/kernel.h"

#define USER_ROOT_SLOTS (TINYOS_USER_END / GIGAPAGE)   /* root entries 0 and 1 */

static pte_t *vm_kernel;

static unsigned vm_index(uint64_t va, unsigned level)
{
    return (unsigned)((va >> (12 + 9 * level)) & (PTES_PER_TABLE - 1));
}

static pte_t *vm_table(pte_t entry)
{
    return pa_to_ptr(pte_to_pa(entry));
}

void vm_init(uint64_t map_start, uint64_t ram_end, uint64_t image_end)
{
    uint64_t root_pa = frame_alloc();
    if (!root_pa)
        kernel_fail("no memory for the kernel page table");
    vm_kernel = pa_to_ptr(root_pa);
    for (uint64_t pa = map_start; pa < ram_end; pa += MEGAPAGE) {
        pte_t *slot = &vm_kernel[vm_index(pa, 2)];
        if (!(*slot & PTE_V)) {
            uint64_t l1 = frame_alloc();
            if (!l1)
                kernel_fail("no memory for the kernel page table");
            /* G on the pointer: everything below it is global. */
            *slot = pa_to_pte(l1, PTE_V | PTE_G);
        }
        /* Text lives in the image; the rest of RAM is data only. */
        uint64_t perm = pa < image_end ? (PTE_R | PTE_W | PTE_X) : (PTE_R | PTE_W);
        vm_table(*slot)[vm_index(pa, 1)] = pa_to_pte(pa, PTE_V | PTE_G | perm);
    }
}

pte_t *vm_kernel_root(void)
{
    return vm_kernel;
}

pte_t *vm_space_create(void)
{
    uint64_t root_pa = frame_alloc();
    if (!root_pa)
        return NULL;
    pte_t *root = pa_to_ptr(root_pa);
    for (unsigned i = USER_ROOT_SLOTS; i < PTES_PER_TABLE; i++)
        root[i] = vm_kernel[i];
    return root;
}

pte_t *vm_walk(pte_t *root, uint64_t va, bool create)
{
    if (va >= TINYOS_USER_END)
        return NULL;
    pte_t *table = root;
    for (unsigned level = 2; level > 0; level--) {
        pte_t *entry = &table[vm_index(va, level)];
        if (!(*entry & PTE_V)) {
            if (!create)
                return NULL;
            uint64_t next = frame_alloc();
            if (!next)
                return NULL;
            /* Invalid -> valid non-leaf: no fence (see the file header). */
            *entry = pa_to_pte(next, PTE_V);
        } else if (pte_is_leaf(*entry)) {
            return NULL;        /* user space has no huge pages */
        }
        table = vm_table(*entry);
    }
    return &table[vm_index(va, 0)];
}

static void vm_free_leaves(pte_t *l0)
{
    for (unsigned i = 0; i < PTES_PER_TABLE; i++) {
        uint64_t pa = pte_to_pa(l0[i]);
        if ((l0[i] & PTE_V) && frame_is_managed(pa))
            frame_unref(pa);
    }
}

void vm_space_destroy(pte_t *root)
{
    /* No fence here: asid_release() already discarded every translation
     * of this space (sfence.vma x0, asid) and it is no longer in satp. */
    for (unsigned i = 0; i < USER_ROOT_SLOTS; i++) {
        if (!(root[i] & PTE_V))
            continue;
        pte_t *l1 = vm_table(root[i]);
        for (unsigned j = 0; j < PTES_PER_TABLE; j++) {
            if (!(l1[j] & PTE_V))
                continue;
            vm_free_leaves(vm_table(l1[j]));
            frame_unref(pte_to_pa(l1[j]));
        }
        frame_unref(pte_to_pa(root[i]));
    }
    frame_unref(ptr_to_pa(root));
}

/* Shares one valid leaf at `va` with the child, copy-on-write if it is
 * writable.  False if the child's tables cannot be allocated. */
static bool vm_fork_leaf(struct proc *parent, struct proc *child, uint64_t va, pte_t *ppte)
{
    pte_t pte = *ppte;
    if (pte & PTE_W) {
        pte = (pte & ~PTE_W) | PTE_COW;
        *ppte = pte;
        /* FENCE (leaf rule): a leaf of the parent's live space lost W, so
         * its old writable translation must go: sfence.vma va, asid.  A
         * parent without an ASID has nothing cached (asid.c). */
        if (parent->asid >= 0)
            fence_page(va, (uint64_t)parent->asid);
    }
    pte_t *cpte = vm_walk(child->root, va, true);
    if (!cpte)
        return false;
    uint64_t pa = pte_to_pa(pte);
    if (frame_is_managed(pa))
        frame_ref(pa);
    /* The child's leaf is new: A and D start clear for the hardware. */
    *cpte = pte & ~(PTE_A | PTE_D);
    return true;
}

bool vm_fork(struct proc *parent, struct proc *child)
{
    for (unsigned i = 0; i < USER_ROOT_SLOTS; i++) {
        if (!(parent->root[i] & PTE_V))
            continue;
        pte_t *l1 = vm_table(parent->root[i]);
        for (unsigned j = 0; j < PTES_PER_TABLE; j++) {
            if (!(l1[j] & PTE_V))
                continue;
            pte_t *l0 = vm_table(l1[j]);
            for (unsigned k = 0; k < PTES_PER_TABLE; k++) {
                uint64_t va = ((uint64_t)i << 30) | ((uint64_t)j << 21) | ((uint64_t)k << 12);
                if ((l0[k] & PTE_V) && !vm_fork_leaf(parent, child, va, &l0[k]))
                    return false;
            }
        }
    }
    return true;
}

void vm_unmap(struct proc *p, uint64_t start, uint64_t end)
{
    for (uint64_t va = start; va < end; va += PAGE_SIZE) {
        pte_t *pte = vm_walk(p->root, va, false);
        if (!pte) {
            /* No L0 table: skip to the next 2 MiB. */
            va = ALIGN_DOWN(va, MEGAPAGE) + MEGAPAGE - PAGE_SIZE;
            continue;
        }
        if (!(*pte & PTE_V))
            continue;
        uint64_t pa = pte_to_pa(*pte);
        *pte = 0;
        /* FENCE (leaf rule): a leaf of a live space was removed; the frame
         * may be reused only once no translation can reach it:
         * sfence.vma va, asid, then free. */
        if (p->asid >= 0)
            fence_page(va, (uint64_t)p->asid);
        if (frame_is_managed(pa))
            frame_unref(pa);
    }
}
