/*
 * pci.c — enumeration, BAR sizing and assignment (pci.h).  Every hardware
 * access goes through struct pci_cfg_ops; nothing here keeps global state.
 * A VM's virtual config space is built on this in iommu/pci/vfunc.c.
 */
#include "core/lib/pci.h"


/* ---- Config access ----------------------------------------------------- */

/* All ones in an access of `size` bytes; sizes other than 1 and 2 get 32
 * bits, which is also what a malformed access reads. */
uint32_t pci_cfg_size_mask(unsigned size)
{
    return size == 1 || size == 2 ? (1u << (8 * size)) - 1 : 0xffffffffu;
}

/* 1, 2 or 4 bytes, naturally aligned, inside one function's 4 KiB. */
bool pci_cfg_access_ok(unsigned offset, unsigned size)
{
    if (size != 1 && size != 2 && size != 4)
        return false;
    return offset < PCI_CFG_SIZE && (offset & (size - 1)) == 0;
}

uint32_t pci_cfg_read(const struct pci_cfg_ops *ops, uint16_t bdf, unsigned reg, unsigned size)
{
    if (!pci_cfg_access_ok(reg, size))
        return pci_cfg_size_mask(size);
    uint32_t dword = ops->read32(ops->ctx, bdf, reg & ~3u);
    return (dword >> (8 * (reg & 3))) & pci_cfg_size_mask(size);
}

/* The status half of the dword is written as 0: its error bits are
 * write-one-to-clear, so writing back what was read would clear them. */
void pci_cfg_write_command(const struct pci_cfg_ops *ops, uint16_t bdf, uint16_t command)
{
    ops->write32(ops->ctx, bdf, PCI_COMMAND, command);
}

/* Walks the standard capability list into offs[]/ids[] (list order).  Stops
 * at a pointer into the header or at PCI_MAX_CAPS_WALKED entries, so a
 * malformed or looping list cannot hang the caller. */
unsigned pci_cap_walk(const struct pci_cfg_ops *ops, uint16_t bdf, uint8_t *offs, uint8_t *ids,
                         unsigned max)
{
    if (!(pci_cfg_read(ops, bdf, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST))
        return 0;
    unsigned n = 0;
    unsigned pos = pci_cfg_read(ops, bdf, PCI_CAPABILITY_LIST, 1) & 0xfc;
    while (pos >= PCI_CAP_LIST_MIN && n < max && n < PCI_MAX_CAPS_WALKED) {
        uint32_t header = pci_cfg_read(ops, bdf, pos, 4);
        offs[n] = (uint8_t)pos;
        ids[n] = (uint8_t)header;
        n++;
        pos = (header >> 8) & 0xfc;
    }
    return n;
}

unsigned pci_find_capability(const struct pci_cfg_ops *ops, uint16_t bdf, uint8_t id)
{
    uint8_t offs[PCI_MAX_CAPS_WALKED], ids[PCI_MAX_CAPS_WALKED];
    unsigned n = pci_cap_walk(ops, bdf, offs, ids, PCI_MAX_CAPS_WALKED);
    for (unsigned i = 0; i < n; i++)
        if (ids[i] == id)
            return offs[i];
    return 0;
}

const char *pci_strerror(int err)
{
    switch (err) {
    case PCI_OK: return "ok";
    case PCI_ERR_TABLE_FULL: return "more PCI functions than the table holds";
    case PCI_ERR_WINDOW_FULL: return "PCI BAR does not fit in its window";
    case PCI_ERR_NOT_ENDPOINT: return "only header type 0 functions can be passed through";
    case PCI_ERR_BAD_GUEST_BAR: return "guest BAR address misaligned or out of range";
    case PCI_ERR_BAR_UNASSIGNED: return "PCI function has an unassigned BAR";
    default: return "unknown PCI error";
    }
}

/* ---- BAR sizing -------------------------------------------------------- */

static unsigned header_nbars(uint8_t header_type)
{
    switch (header_type & PCI_HEADER_TYPE_MASK) {
    case PCI_HEADER_TYPE_NORMAL: return 6;
    case PCI_HEADER_TYPE_BRIDGE: return 2;
    default: return 0;  /* CardBus and reserved types: not handled */
    }
}

/* The standard probe: write all ones, read which bits stuck, put the
 * original value back. */
static uint32_t bar_probe(const struct pci_cfg_ops *ops, uint16_t bdf, unsigned reg)
{
    uint32_t orig = ops->read32(ops->ctx, bdf, reg);
    ops->write32(ops->ctx, bdf, reg, 0xffffffffu);
    uint32_t stuck = ops->read32(ops->ctx, bdf, reg);
    ops->write32(ops->ctx, bdf, reg, orig);
    return stuck;
}

/* The size is the lowest writable address bit. */
static uint64_t size_from_mask(uint64_t mask)
{
    return mask & (~mask + 1);
}

/* Sizes the BAR at index i; returns how many registers it used (2 for a
 * 64-bit pair). */
static unsigned size_one_bar(const struct pci_cfg_ops *ops, struct pci_func *f, unsigned i)
{
    unsigned reg = PCI_BAR0 + 4 * i;
    uint32_t stuck = bar_probe(ops, f->bdf, reg);
    struct pci_bar *b = &f->bar[i];

    if (stuck & PCI_BAR_SPACE_IO) {
        b->size = size_from_mask(stuck & ~3u);
        b->flags = b->size ? PCI_BAR_IO : 0;
        return 1;
    }
    uint8_t prefetch = (stuck & PCI_BAR_MEM_PREFETCH) ? PCI_BAR_PREFETCH : 0;
    switch ((stuck >> 1) & 3) {
    case 0:  /* 32-bit */
    case 1:  /* legacy below-1 MiB type: placed like a 32-bit BAR */
        b->size = size_from_mask(stuck & ~0xfu);
        b->flags = b->size ? prefetch : 0;
        return 1;
    case 2: { /* 64-bit: the next register holds the upper half */
        if (i + 1 >= f->nbars)
            return 1;  /* a pair cannot start in the last register: ignore it */
        uint64_t mask = ((uint64_t)bar_probe(ops, f->bdf, reg + 4) << 32) | (stuck & ~0xfu);
        b->size = size_from_mask(mask);
        b->flags = b->size ? (uint8_t)(PCI_BAR_MEM64 | prefetch) : 0;
        f->bar[i + 1].flags = PCI_BAR_UPPER;
        return 2;
    }
    default: /* reserved type */
        return 1;
    }
}

/* Decoding is off while probing: a BAR holding all ones would otherwise
 * claim whatever address range that pattern lands on. */
void pci_size_bars(const struct pci_cfg_ops *ops, struct pci_func *f)
{
    f->nbars = (uint8_t)header_nbars(f->header_type);
    for (unsigned i = 0; i < PCI_MAX_BARS; i++)
        f->bar[i] = (struct pci_bar){0};

    uint16_t command = (uint16_t)pci_cfg_read(ops, f->bdf, PCI_COMMAND, 2);
    uint16_t decode = PCI_COMMAND_IO | PCI_COMMAND_MEMORY;
    if (command & decode)
        pci_cfg_write_command(ops, f->bdf, command & (uint16_t)~decode);
    for (unsigned i = 0; i < f->nbars;)
        i += size_one_bar(ops, f, i);
    if (command & decode)
        pci_cfg_write_command(ops, f->bdf, command);
}

/* ---- Enumeration ------------------------------------------------------- */

static bool vendor_present(uint32_t id)
{
    uint16_t vendor = (uint16_t)id;
    return vendor != 0xffff && vendor != 0x0000;
}

static void func_record(const struct pci_cfg_ops *ops, uint16_t bdf, uint32_t id, struct pci_func *f)
{
    uint32_t class_rev = pci_cfg_read(ops, bdf, PCI_CLASS_REVISION, 4);
    *f = (struct pci_func){0};
    f->bdf = bdf;
    f->vendor = (uint16_t)id;
    f->device = (uint16_t)(id >> 16);
    f->class_code = class_rev >> 8;
    f->revision = (uint8_t)class_rev;
    f->header_type = (uint8_t)pci_cfg_read(ops, bdf, PCI_HEADER_TYPE, 1);
    f->irq_pin = (uint8_t)pci_cfg_read(ops, bdf, PCI_INTERRUPT_PIN, 1);
    pci_size_bars(ops, f);
}

int pci_enumerate(const struct pci_cfg_ops *ops, unsigned bus, struct pci_table *t)
{
    t->count = 0;
    for (unsigned dev = 0; dev < PCI_MAX_DEVS; dev++) {
        uint16_t bdf0 = pci_bdf(bus, dev, 0);
        if (!vendor_present(pci_cfg_read(ops, bdf0, PCI_VENDOR_ID, 4)))
            continue;  /* no function 0 means no device in the slot */
        unsigned nfns = (pci_cfg_read(ops, bdf0, PCI_HEADER_TYPE, 1) & PCI_HEADER_MULTIFUNCTION)
                            ? PCI_MAX_FNS : 1;
        for (unsigned fn = 0; fn < nfns; fn++) {
            uint16_t bdf = pci_bdf(bus, dev, fn);
            uint32_t id = pci_cfg_read(ops, bdf, PCI_VENDOR_ID, 4);
            if (!vendor_present(id))
                continue;
            if (t->count >= t->cap)
                return PCI_ERR_TABLE_FULL;
            func_record(ops, bdf, id, &t->funcs[t->count++]);
        }
    }
    return PCI_OK;
}

/* ---- Assignment -------------------------------------------------------- */

void pci_window_init(struct pci_window *w, uint64_t base, uint64_t size)
{
    w->base = base;
    w->size = size;
    w->next = base;
}

/* `limit` bounds the block's end (4 GiB for a 32-bit BAR). */
static bool window_alloc_below(struct pci_window *w, uint64_t size, uint64_t limit, uint64_t *addr)
{
    uint64_t block = MAX(size, PAGE_SIZE);
    if (block & (block - 1))
        return false;  /* BAR sizes are powers of two; anything else is bogus */
    uint64_t start = ALIGN_UP(w->next, block);
    uint64_t top = w->base + w->size < w->base ? UINT64_MAX : w->base + w->size;
    uint64_t end = MIN(top, limit);
    if (start < w->next || start > end || end - start < block)
        return false;
    w->next = start + block;
    *addr = start;
    return true;
}

bool pci_window_alloc(struct pci_window *w, uint64_t size, uint64_t *addr)
{
    return window_alloc_below(w, size, UINT64_MAX, addr);
}


static bool bar_place(struct pci_windows *w, const struct pci_bar *b, uint64_t *addr)
{
    if (b->flags & PCI_BAR_IO)
        return window_alloc_below(&w->io, b->size, PCI_LIMIT_4G, addr);
    if ((b->flags & PCI_BAR_MEM64) && w->mem64.size &&
        window_alloc_below(&w->mem64, b->size, UINT64_MAX, addr))
        return true;
    return window_alloc_below(&w->mem32, b->size, PCI_LIMIT_4G, addr);
}

static void bar_program(const struct pci_cfg_ops *ops, const struct pci_func *f, unsigned i)
{
    const struct pci_bar *b = &f->bar[i];
    unsigned reg = PCI_BAR0 + 4 * i;
    ops->write32(ops->ctx, f->bdf, reg, (uint32_t)b->addr);
    if (b->flags & PCI_BAR_MEM64)
        ops->write32(ops->ctx, f->bdf, reg + 4, (uint32_t)(b->addr >> 32));
}

/* Order for assignment: larger first, then table order.  Returns whether
 * (size, pos) comes strictly after (last_size, last_pos). */
static bool bar_after(uint64_t size, unsigned pos, uint64_t last_size, unsigned last_pos)
{
    return size < last_size || (size == last_size && pos > last_pos);
}

static bool bar_before(uint64_t size, unsigned pos, uint64_t best_size, unsigned best_pos)
{
    return size > best_size || (size == best_size && pos < best_pos);
}

/* The next BAR in assignment order after (last_size, last_pos); pos is
 * function index * PCI_MAX_BARS + BAR index.  False when none is left. */
static bool bar_next(const struct pci_table *t, uint64_t last_size, unsigned last_pos, unsigned *out)
{
    bool found = false;
    uint64_t best_size = 0;
    unsigned best_pos = 0;
    for (unsigned fi = 0; fi < t->count; fi++) {
        const struct pci_func *f = &t->funcs[fi];
        for (unsigned bi = 0; bi < f->nbars && bi < PCI_MAX_BARS; bi++) {
            uint64_t size = f->bar[bi].size;
            unsigned pos = fi * PCI_MAX_BARS + bi;
            if (!size || !bar_after(size, pos, last_size, last_pos))
                continue;
            if (!found || bar_before(size, pos, best_size, best_pos)) {
                found = true;
                best_size = size;
                best_pos = pos;
            }
        }
    }
    *out = best_pos;
    return found;
}

int pci_assign(const struct pci_cfg_ops *ops, struct pci_table *t, struct pci_windows *w,
               struct pci_assign_error *err)
{
    int result = PCI_OK;
    for (unsigned fi = 0; fi < t->count; fi++)
        for (unsigned bi = 0; bi < PCI_MAX_BARS; bi++)
            t->funcs[fi].bar[bi].flags &= (uint8_t)~PCI_BAR_ASSIGNED;

    uint64_t last_size = UINT64_MAX;
    unsigned pos = 0, last_pos = 0;
    while (bar_next(t, last_size, last_pos, &pos)) {
        struct pci_func *f = &t->funcs[pos / PCI_MAX_BARS];
        unsigned bi = pos % PCI_MAX_BARS;
        struct pci_bar *b = &f->bar[bi];
        last_size = b->size;
        last_pos = pos;
        if (bar_place(w, b, &b->addr)) {
            b->flags |= PCI_BAR_ASSIGNED;
            bar_program(ops, f, bi);
            continue;
        }
        b->addr = 0;
        if (result == PCI_OK && err)
            *err = (struct pci_assign_error){f->bdf, (uint8_t)bi, b->flags, b->size};
        result = PCI_ERR_WINDOW_FULL;
    }
    return result;
}
