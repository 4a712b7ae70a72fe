/*
 * mmu_hap.c — hap: the hardware's two-stage translation does the work.
 * Umbra only builds the VM's Sv39x4 G-stage table (all of its RAM, mapped
 * once at creation with 2 MiB leaves where alignment allows); the guest's
 * satp, sfence.vma and page faults never leave the guest.
 */
#include "core/lib/fmt.h"
#include "core/mmu/mmu.h"
#include "mm/frame.h"

extern struct frame_pool umbra_pool;

static int hap_vm_create(struct vm *vm, char *err, size_t errlen)
{
    const char *what = NULL;
    paddr_t root = frame_alloc(&umbra_pool, KIB(16), KIB(16));
    if (!root) {
        what = "not enough host memory for its G-stage table";
    } else {
        pt_init(&vm->gstage, PT_SV39X4, root, umbra_pool_alloc_page, NULL);
        /* U: the G-stage treats every access as a user access.  A and D:
         * set up front so the walker never has to. */
        if (pt_map(&vm->gstage, GUEST_RAM_BASE, vm->ram_hpa, vm->ram_size,
                   PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D) != 0)
            what = "cannot build its G-stage table";
    }
    if (what)
        fmt_snprintf(err, errlen, "vm %s: %s", vm->config->name, what);
    return what ? -1 : 0;
}

const struct mmu_ops mmu_hap_ops = {
    .mode = MM_MODE_HAP,
    .on_vm_create = hap_vm_create,
};

const struct mmu_ops *mmu_ops_for(enum mm_mode mode)
{
    switch (mode) {
    case MM_MODE_TSP: return &mmu_tsp_ops;
    case MM_MODE_SSP: return &mmu_ssp_ops;
    default:          return &mmu_hap_ops;
    }
}
