/*
 * coiommu.c — the DMA tracking table and its protocol (coiommu.h).
 *
 * The table's leaves come from a small pool, added to the root the first
 * time a page they cover is mapped: a radix tree covers all of RAM but
 * costs memory only where DMA happens.
 */
#include "guests/devtest/coiommu.h"

#include "core/lib/coiommu_abi.h"
#include "core/lib/fdt.h"
#include "guests/common/console.h"
#include "guests/devtest/io.h"

#define COIOMMU_LEAF_POOL 16u

static uint64_t co_root[COIOMMU_DTT_ROOT_SLOTS] __attribute__((aligned(4096)));
static uint32_t co_leaves[COIOMMU_LEAF_POOL][COIOMMU_DTT_LEAF_SLOTS] __attribute__((aligned(4096)));
static uint64_t co_batch[COIOMMU_BATCH_MAX] __attribute__((aligned(4096)));
static unsigned co_leaves_used;
static uint64_t co_regs, co_ram_base;
static unsigned co_notifies;

bool coiommu_find(const void *dtb, uint64_t *regs)
{
    int node = fdt_next_compatible(dtb, -1, COIOMMU_COMPATIBLE);
    uint64_t base, size;
    if (node < 0)
        return false;
    if (!fdt_get_reg(dtb, node, 0, &base, &size) || size < COIOMMU_SIZE || !IS_ALIGNED(base, COIOMMU_SIZE)) {
        console_line("coiommu: node %s has no usable reg", fdt_node_name(dtb, node));
        return false;
    }
    *regs = base;
    return true;
}

bool coiommu_init(uint64_t regs)
{
    if (io_read64(regs + COIOMMU_REG_ID) != COIOMMU_ID) {
        console_line("coiommu: no coIOMMU at 0x%lx", (unsigned long)regs);
        return false;
    }
    co_regs = regs;
    co_ram_base = io_read64(regs + COIOMMU_REG_RAM_BASE);
    io_write64(regs + COIOMMU_REG_DTT_ROOT, ptr_to_pa(co_root));
    return io_read64(regs + COIOMMU_REG_DTT_ROOT) == ptr_to_pa(co_root);
}

/* The entry of the page at pa, adding its leaf if needed (NULL: the pool
 * is out, or pa is below RAM or beyond what one tree covers). */
static uint32_t *co_entry(uint64_t pa)
{
    uint64_t page = (pa - co_ram_base) >> 12;
    if (pa < co_ram_base || page >= (uint64_t)COIOMMU_DTT_ROOT_SLOTS * COIOMMU_DTT_LEAF_SLOTS)
        return NULL;
    uint64_t *slot = &co_root[page / COIOMMU_DTT_LEAF_SLOTS];
    if (!(*slot & COIOMMU_DTT_VALID)) {
        if (co_leaves_used == COIOMMU_LEAF_POOL) {
            console_line("coiommu: out of table leaves (%u)", COIOMMU_LEAF_POOL);
            return NULL;
        }
        __atomic_store_n(slot, ptr_to_pa(co_leaves[co_leaves_used++]) | COIOMMU_DTT_VALID, __ATOMIC_RELEASE);
    }
    uint32_t *leaf = pa_to_ptr(*slot & ~(uint64_t)4095);
    return &leaf[page % COIOMMU_DTT_LEAF_SLOTS];
}

/* Count one more mapping and mark it accessed; the entry before. */
static uint32_t co_get(uint32_t *e)
{
    uint32_t old = __atomic_load_n(e, __ATOMIC_RELAXED);
    while (!__atomic_compare_exchange_n(e, &old, (old + 1) | COIOMMU_DTTE_ACCESSED, true, __ATOMIC_SEQ_CST,
                                        __ATOMIC_RELAXED))
        ;
    return old;
}

/* Pin the pages listed in co_batch[0..n): one exit. */
static bool co_notify(unsigned n)
{
    co_notifies++;
    if (n == 1)
        io_write64(co_regs + COIOMMU_REG_NOTIFY, co_batch[0]);
    else
        io_write64(co_regs + COIOMMU_REG_BATCH, ptr_to_pa(co_batch) | (n - 1));
    /* Umbra sets PINNED before the store completes: reading the status
     * (a second exit) is needed only when a page did not get it. */
    for (unsigned i = 0; i < n; i++) {
        uint32_t *e = co_entry(co_batch[i] << 12);
        if (!(__atomic_load_n(e, __ATOMIC_SEQ_CST) & COIOMMU_DTTE_PINNED)) {
            console_line("coiommu: notification of %u page(s) refused (status %lu)", n,
                         (unsigned long)io_read64(co_regs + COIOMMU_REG_STATUS));
            return false;
        }
    }
    return true;
}

void coiommu_unmap(uint64_t pa, uint64_t len)
{
    for (uint64_t p = pa & ~4095ull; p < pa + len; p += 4096) {
        uint32_t *e = co_entry(p);
        if (e)
            __atomic_fetch_sub(e, 1, __ATOMIC_SEQ_CST);
    }
}

bool coiommu_map(uint64_t pa, uint64_t len)
{
    unsigned n = 0;
    uint64_t first = pa & ~4095ull, done = first;
    bool ok = true;
    for (; ok && done < pa + len; done += 4096) {
        uint32_t *e = co_entry(done);
        if (!e) {
            ok = false;
            break;
        }
        if (!(co_get(e) & COIOMMU_DTTE_PINNED))
            co_batch[n++] = done >> 12;
        if (n == COIOMMU_BATCH_MAX) {
            ok = co_notify(n);
            n = 0;
        }
    }
    if (ok && n)
        ok = co_notify(n);
    if (!ok)
        coiommu_unmap(first, done - first);
    return ok;
}

unsigned coiommu_notifications(void)
{
    return co_notifies;
}
