/*
 * pci.c — enumeration, BAR sizing and assignment, and the per-VM virtual
 * config space declared in pci.h.  Every hardware access goes through
 * struct pci_cfg_ops; nothing here keeps global state.
 */
#include "core/pci.h"

#define PCI_CAP_LIST_MIN 0x40    /* capabilities live after the header */
#define PCI_STD_CFG_SIZE 0x100   /* the conventional (non-extended) space */
#define PCI_MAX_CAPS_WALKED 48   /* (0x100 - 0x40) / 4: more means a loop */

/* Command bits a VM may set: the ones QEMU's devices (and typical hardware)
 * implement as writable.  Others read back 0, as on such a device. */
#define PCI_VCOMMAND_WRITABLE                                                \
    (PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |              \
     PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE)

/* ---- Config access ----------------------------------------------------- */

/* All ones in an access of `size` bytes; sizes other than 1 and 2 get 32
 * bits, which is also what a malformed access reads. */
static uint32_t size_mask(unsigned size)
{
    return size == 1 || size == 2 ? (1u << (8 * size)) - 1 : 0xffffffffu;
}

/* 1, 2 or 4 bytes, naturally aligned, inside one function's 4 KiB. */
static bool access_ok(unsigned offset, unsigned size)
{
    if (size != 1 && size != 2 && size != 4)
        return false;
    return offset < PCI_CFG_SIZE && (offset & (size - 1)) == 0;
}

uint32_t pci_cfg_read(const struct pci_cfg_ops *ops, uint16_t bdf, unsigned reg, unsigned size)
{
    if (!access_ok(reg, size))
        return size_mask(size);
    uint32_t dword = ops->read32(ops->ctx, bdf, reg & ~3u);
    return (dword >> (8 * (reg & 3))) & size_mask(size);
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
static unsigned cap_walk(const struct pci_cfg_ops *ops, uint16_t bdf, uint8_t *offs, uint8_t *ids,
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
    unsigned n = cap_walk(ops, bdf, offs, ids, PCI_MAX_CAPS_WALKED);
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

#define LIMIT_4G 0x100000000ull

static bool bar_place(struct pci_windows *w, const struct pci_bar *b, uint64_t *addr)
{
    if (b->flags & PCI_BAR_IO)
        return window_alloc_below(&w->io, b->size, LIMIT_4G, addr);
    if ((b->flags & PCI_BAR_MEM64) && w->mem64.size &&
        window_alloc_below(&w->mem64, b->size, UINT64_MAX, addr))
        return true;
    return window_alloc_below(&w->mem32, b->size, LIMIT_4G, addr);
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

/* ---- Virtual config space: setup --------------------------------------- */

static uint8_t bar_type_bits(uint8_t flags)
{
    if (flags & PCI_BAR_IO)
        return PCI_BAR_SPACE_IO;
    return (uint8_t)(((flags & PCI_BAR_MEM64) ? PCI_BAR_MEM_TYPE_64 : 0) |
                     ((flags & PCI_BAR_PREFETCH) ? PCI_BAR_MEM_PREFETCH : 0));
}

/* A VM sees each BAR as at least one page so that wherever it puts it, the
 * BAR starts on a page boundary the G-stage can map. */
static int vbar_init(struct pci_vbar *vb, const struct pci_bar *b, gpaddr_t guest_addr)
{
    *vb = (struct pci_vbar){0};
    vb->flags = b->flags & (uint8_t)~PCI_BAR_ASSIGNED;
    if (b->flags & PCI_BAR_UPPER || !b->size)
        return PCI_OK;
    if (!(b->flags & PCI_BAR_ASSIGNED))
        return PCI_ERR_BAR_UNASSIGNED;
    uint64_t vsize = MAX(b->size, PAGE_SIZE);
    if (!IS_ALIGNED(guest_addr, vsize))
        return PCI_ERR_BAD_GUEST_BAR;
    if (!(b->flags & PCI_BAR_MEM64) && (guest_addr >= LIMIT_4G || LIMIT_4G - guest_addr < vsize))
        return PCI_ERR_BAD_GUEST_BAR;
    vb->size = vsize;
    vb->host_addr = b->addr;
    vb->guest_addr = guest_addr;
    return PCI_OK;
}

/* Bytes a capability occupies, where its layout fixes them; 0 = unknown. */
static unsigned cap_known_length(const struct pci_cfg_ops *ops, uint16_t bdf, uint8_t id,
                                 unsigned off)
{
    switch (id) {
    case PCI_CAP_ID_PM: return 8;
    case PCI_CAP_ID_MSIX: return 12;
    case PCI_CAP_ID_EXP: return 0x3c;
    case PCI_CAP_ID_VNDR: return MAX(pci_cfg_read(ops, bdf, off + 2, 1), 3u);
    case PCI_CAP_ID_MSI: {
        uint32_t control = pci_cfg_read(ops, bdf, off + 2, 2);
        unsigned len = 10;                /* header, control, address, data */
        if (control & 0x0080)
            len += 4;                     /* upper address */
        if (control & 0x0100)
            len += 10;                    /* (padding,) mask and pending */
        return len;
    }
    default: return 0;
    }
}

/* A capability's visible bytes stop at the next capability's start so that
 * a hidden neighbour never shows through. */
static unsigned cap_length(const struct pci_cfg_ops *ops, uint16_t bdf, const uint8_t *offs,
                           const uint8_t *ids, unsigned n, unsigned k)
{
    unsigned off = offs[k];
    unsigned gap = PCI_STD_CFG_SIZE - off;
    for (unsigned j = 0; j < n; j++)
        if (offs[j] > off)
            gap = MIN(gap, (unsigned)offs[j] - off);
    unsigned len = cap_known_length(ops, bdf, ids[k], off);
    return MAX(len ? MIN(len, gap) : gap, 2u);
}

static void vcaps_init(struct pci_vfunc *vf, uint32_t cap_allow)
{
    uint8_t offs[PCI_MAX_CAPS_WALKED], ids[PCI_MAX_CAPS_WALKED];
    unsigned n = cap_walk(vf->ops, vf->bdf, offs, ids, PCI_MAX_CAPS_WALKED);
    vf->ncaps = 0;
    for (unsigned k = 0; k < n && vf->ncaps < PCI_VFUNC_MAX_CAPS; k++) {
        if (ids[k] >= 32 || !(cap_allow & PCI_CAP_ALLOW(ids[k])))
            continue;
        /* A list that revisits an offset is looping: show each cap once. */
        bool seen = false;
        for (unsigned j = 0; j < vf->ncaps; j++)
            seen |= vf->cap[j].offset == offs[k];
        if (seen)
            continue;
        vf->cap[vf->ncaps++] = (struct pci_vcap){
            offs[k], (uint8_t)cap_length(vf->ops, vf->bdf, offs, ids, n, k), ids[k]};
    }
}

int pci_vfunc_init(struct pci_vfunc *vf, const struct pci_cfg_ops *ops, const struct pci_func *f,
                   const gpaddr_t guest_bar_addr[PCI_MAX_BARS], uint32_t cap_allow)
{
    *vf = (struct pci_vfunc){0};
    if ((f->header_type & PCI_HEADER_TYPE_MASK) != PCI_HEADER_TYPE_NORMAL)
        return PCI_ERR_NOT_ENDPOINT;
    vf->ops = ops;
    vf->bdf = f->bdf;
    for (unsigned i = 0; i < PCI_MAX_BARS; i++) {
        int rc = vbar_init(&vf->bar[i], &f->bar[i], guest_bar_addr[i]);
        if (rc != PCI_OK) {
            *vf = (struct pci_vfunc){0};  /* reads as an empty slot */
            return rc;
        }
    }
    vf->id = pci_cfg_read(ops, f->bdf, PCI_VENDOR_ID, 4);
    vf->class_revision = pci_cfg_read(ops, f->bdf, PCI_CLASS_REVISION, 4);
    /* Each passed-through function sits alone in its virtual slot. */
    vf->header_type = PCI_HEADER_TYPE_NORMAL;
    vcaps_init(vf, cap_allow);
    return PCI_OK;
}

bool pci_vfunc_bar_live(const struct pci_vfunc *vf, unsigned i)
{
    if (i >= PCI_MAX_BARS || !vf->bar[i].size)
        return false;
    uint16_t decode = (vf->bar[i].flags & PCI_BAR_IO) ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
    return (vf->command & decode) != 0;
}

/* ---- Virtual config space: reads --------------------------------------- */

static uint32_t device_read(const struct pci_vfunc *vf, unsigned reg, unsigned size)
{
    return pci_cfg_read(vf->ops, vf->bdf, reg, size);
}

static uint32_t vbar_read(const struct pci_vfunc *vf, unsigned i)
{
    const struct pci_vbar *vb = &vf->bar[i];
    if ((vb->flags & PCI_BAR_UPPER) && i > 0)
        return (uint32_t)(vf->bar[i - 1].guest_addr >> 32);
    if (!vb->size)
        return 0;
    return (uint32_t)vb->guest_addr | bar_type_bits(vb->flags);
}

static const struct pci_vcap *vcap_at(const struct pci_vfunc *vf, unsigned off, unsigned *index)
{
    for (unsigned k = 0; k < vf->ncaps; k++) {
        const struct pci_vcap *c = &vf->cap[k];
        if (off >= c->offset && off < (unsigned)c->offset + c->length) {
            *index = k;
            return c;
        }
    }
    return NULL;
}

/* Bytes of visible capabilities read from the device, except each "next"
 * byte, which skips the hidden ones; every other byte reads 0. */
static uint32_t vcap_read_dword(const struct pci_vfunc *vf, unsigned reg)
{
    uint32_t live = device_read(vf, reg, 4);
    uint32_t out = 0;
    for (unsigned b = 0; b < 4; b++) {
        unsigned k;
        const struct pci_vcap *c = vcap_at(vf, reg + b, &k);
        if (!c)
            continue;
        uint32_t byte = (live >> (8 * b)) & 0xff;
        if (reg + b == (unsigned)c->offset + 1)
            byte = k + 1 < vf->ncaps ? vf->cap[k + 1].offset : 0;
        out |= byte << (8 * b);
    }
    return out;
}

static uint32_t vstatus_command(const struct pci_vfunc *vf)
{
    uint32_t status = device_read(vf, PCI_STATUS, 2) & ~(uint32_t)PCI_STATUS_CAP_LIST;
    if (vf->ncaps)
        status |= PCI_STATUS_CAP_LIST;
    return status << 16 | vf->command;
}

static uint32_t vheader_read_dword(const struct pci_vfunc *vf, unsigned reg)
{
    switch (reg) {
    case PCI_VENDOR_ID: return vf->id;
    case PCI_COMMAND: return vstatus_command(vf);
    case PCI_CLASS_REVISION: return vf->class_revision;
    case PCI_CACHE_LINE_SIZE: /* BIST reads 0: a VM cannot start a self-test */
        return (uint32_t)vf->header_type << 16 | (uint32_t)vf->latency_timer << 8 |
               vf->cache_line_size;
    case PCI_SUBSYSTEM_VENDOR_ID: return device_read(vf, reg, 4);
    case PCI_CAPABILITY_LIST: return vf->ncaps ? vf->cap[0].offset : 0;
    case PCI_INTERRUPT_LINE: /* pin, min_gnt, max_lat from the device */
        return (device_read(vf, reg, 4) & 0xffffff00u) | vf->interrupt_line;
    default:
        if (reg >= PCI_BAR0 && reg < PCI_BAR0 + 4 * PCI_MAX_BARS)
            return vbar_read(vf, (reg - PCI_BAR0) / 4);
        return 0;  /* expansion ROM, CardBus CIS, reserved */
    }
}

static uint32_t vconf_read_dword(const struct pci_vfunc *vf, unsigned reg)
{
    if (reg >= PCI_STD_CFG_SIZE)
        return 0;  /* a zero header at 0x100: no extended capabilities */
    if (reg >= PCI_CAP_LIST_MIN)
        return vcap_read_dword(vf, reg);
    return vheader_read_dword(vf, reg);
}

uint32_t pci_vconf_read(const struct pci_vfunc *vf, unsigned offset, unsigned size)
{
    if (!vf->ops || !access_ok(offset, size))
        return size_mask(size);
    uint32_t dword = vconf_read_dword(vf, offset & ~3u);
    return (dword >> (8 * (offset & 3))) & size_mask(size);
}

/* ---- Virtual config space: writes -------------------------------------- */

/* Keeps guest_addr aligned to the BAR's size, which is what makes writing
 * all ones read back as the size mask. */
static unsigned vbar_write(struct pci_vfunc *vf, unsigned i, uint32_t val)
{
    unsigned lo = i;
    gpaddr_t addr;
    if (vf->bar[i].flags & PCI_BAR_UPPER) {
        if (i == 0)
            return 0;
        lo = i - 1;
        addr = (vf->bar[lo].guest_addr & 0xffffffffull) | (uint64_t)val << 32;
    } else {
        uint32_t type_mask = (vf->bar[i].flags & PCI_BAR_IO) ? 3u : 0xfu;
        addr = (vf->bar[i].guest_addr & ~0xffffffffull) | (val & ~type_mask);
    }
    struct pci_vbar *vb = &vf->bar[lo];
    if (!vb->size)
        return 0;
    addr &= ~(vb->size - 1);
    if (addr == vb->guest_addr)
        return 0;
    vb->guest_addr = addr;
    return PCI_VCONF_BAR_MOVED(lo);
}

/* `merged` is the dword after the write; `bytes` marks the bytes written. */
static unsigned vheader_write_dword(struct pci_vfunc *vf, unsigned reg, uint32_t merged,
                                    uint32_t bytes)
{
    switch (reg) {
    case PCI_COMMAND: {
        /* Status is read-only to a VM: its error bits stay for Umbra. */
        if (!(bytes & 0xffff))
            return 0;
        uint16_t command = (uint16_t)(merged & PCI_VCOMMAND_WRITABLE);
        if (command == vf->command)
            return 0;
        vf->command = command;
        return PCI_VCONF_COMMAND;
    }
    case PCI_CACHE_LINE_SIZE:
        if (bytes & 0xff)
            vf->cache_line_size = (uint8_t)merged;
        if (bytes & 0xff00)
            vf->latency_timer = (uint8_t)(merged >> 8);
        return 0;
    case PCI_INTERRUPT_LINE:
        if (bytes & 0xff)
            vf->interrupt_line = (uint8_t)merged;
        return 0;
    default:
        if (reg >= PCI_BAR0 && reg < PCI_BAR0 + 4 * PCI_MAX_BARS)
            return vbar_write(vf, (reg - PCI_BAR0) / 4, merged);
        return 0;  /* IDs, class, header type, ROM, pointers: read-only */
    }
}

unsigned pci_vconf_write(struct pci_vfunc *vf, unsigned offset, unsigned size, uint32_t val)
{
    /* Capabilities are read-only and the extended space is empty. */
    if (!vf->ops || !access_ok(offset, size) || offset >= PCI_CAP_LIST_MIN)
        return 0;
    unsigned reg = offset & ~3u;
    unsigned shift = 8 * (offset & 3);
    uint32_t bytes = size_mask(size) << shift;
    uint32_t merged = (vheader_read_dword(vf, reg) & ~bytes) | ((val << shift) & bytes);
    return vheader_write_dword(vf, reg, merged, bytes);
}
