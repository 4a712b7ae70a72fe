/*
 * sv39.c — page-table building for the selftests guest (see sv39.h): a
 * bump allocator over free RAM and a walker that creates missing tables.
 */
#include "guests/selftests/sv39.h"

#include "core/lib/fmt.h"
#include "guests/common/csr.h"

static uint64_t sv39_pool_next, sv39_pool_end;
static uint64_t sv39_dtb_start, sv39_dtb_end;

void sv39_pool_init(const struct platform *p)
{
    sv39_pool_next = platform_image_end();
    sv39_pool_end = platform_ram_end(p);
    sv39_dtb_start = ALIGN_DOWN(ptr_to_pa(p->dtb), PAGE_SIZE);
    sv39_dtb_end = ALIGN_UP(ptr_to_pa(p->dtb) + p->dtb_size, PAGE_SIZE);
}

uint64_t sv39_alloc(uint64_t size, uint64_t align)
{
    uint64_t pa = ALIGN_UP(sv39_pool_next, align);
    if (pa < sv39_dtb_end && pa + size > sv39_dtb_start)
        pa = ALIGN_UP(sv39_dtb_end, align);
    if (pa + size > sv39_pool_end)
        panic("sv39: out of free RAM (0x%lx bytes wanted)", (unsigned long)size);
    memset(pa_to_ptr(pa), 0, size);
    sv39_pool_next = pa + size;
    return pa;
}

pte_t *sv39_table_new(void)
{
    return pa_to_ptr(sv39_alloc(PAGE_SIZE, PAGE_SIZE));
}

pte_t *sv39_slot(pte_t *root, uint64_t va, unsigned level)
{
    pte_t *table = root;
    for (unsigned l = SV39_LEVELS - 1; l > level; l--) {
        pte_t *entry = &table[sv39_vpn(va, l)];
        if (!(*entry & PTE_V))
            *entry = sv39_pointer(sv39_table_new());
        if (*entry & (PTE_R | PTE_W | PTE_X))
            panic("sv39: 0x%lx already has a leaf at level %u", (unsigned long)va, l);
        table = sv39_table_of(*entry);
    }
    return &table[sv39_vpn(va, level)];
}

void sv39_map_ram(pte_t *root)
{
    /* Guest RAM never extends past its first gigabyte in these tests, and
     * the gigapage keeps the kernel's mapping a single PTE. */
    root[sv39_vpn(GUEST_RAM_BASE, 2)] =
        sv39_leaf(GUEST_RAM_BASE, PTE_R | PTE_W | PTE_X | PTE_G | PTE_A | PTE_D);
}

void sv39_off(void)
{
    csr_write(satp, 0);
    sv39_fence_all();
}
