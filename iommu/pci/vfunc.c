/*
 * vfunc.c — the virtual config space a VM sees for a PCI function assigned
 * to it (vfunc.h): its own BAR addresses, a filtered capability list and the
 * command bits it may set; everything else reads through to the device.
 * Portable: the device is reached only through struct pci_cfg_ops.
 */
#include "iommu/pci/vfunc.h"

/* Command bits a VM may set: the ones QEMU's devices (and typical hardware)
 * implement as writable.  Others read back 0, as on such a device. */
#define PCI_VCOMMAND_WRITABLE                                                \
    (PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |              \
     PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE)

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
    if (!(b->flags & PCI_BAR_MEM64) && (guest_addr >= PCI_LIMIT_4G || PCI_LIMIT_4G - guest_addr < vsize))
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
    unsigned n = pci_cap_walk(vf->ops, vf->bdf, offs, ids, PCI_MAX_CAPS_WALKED);
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
    if (!vf->ops || !pci_cfg_access_ok(offset, size))
        return pci_cfg_size_mask(size);
    uint32_t dword = vconf_read_dword(vf, offset & ~3u);
    return (dword >> (8 * (offset & 3))) & pci_cfg_size_mask(size);
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
    if (!vf->ops || !pci_cfg_access_ok(offset, size) || offset >= PCI_CAP_LIST_MIN)
        return 0;
    unsigned reg = offset & ~3u;
    unsigned shift = 8 * (offset & 3);
    uint32_t bytes = pci_cfg_size_mask(size) << shift;
    uint32_t merged = (vheader_read_dword(vf, reg) & ~bytes) | ((val << shift) & bytes);
    return vheader_write_dword(vf, reg, merged, bytes);
}
