/*
 * pcibus.c — host bridge discovery, bus scan, BAR sizing and assignment for
 * the devtest guest (see pcibus.h).  Enumeration, sizing and placement are
 * core/lib/pci.c's, the same code Umbra runs on the host bridge; this file adds
 * the DTB, the ECAM accessors and what a polled driver wants of a function.
 */
#include "guests/devtest/pcibus.h"

#include "core/lib/fdt.h"
#include "core/lib/fmt.h"
#include "guests/common/console.h"
#include "guests/common/timer.h"
#include "guests/devtest/io.h"

#define PCIBUS_COMPATIBLE "pci-host-ecam-generic"
#define PCIBUS_ECAM_BUS_SIZE MIB(1)
#define PCIBUS_CHILD_ADDR_CELLS 3       /* phys.hi, phys.mid, phys.lo */
#define PCIBUS_SPACE_MEM32 2u           /* phys.hi bits 25:24 of a 32-bit memory range */
#define PCIBUS_CLASS_HOST_BRIDGE 0x0600u
#define PCIBUS_CAP_MAX_HOPS 48          /* (256 - 64) / 4: a longer list loops */
#define PCIBUS_CAP_FIRST 0x40           /* capabilities live above the header */

/* Capability register offsets and bits (PCI Local Bus and PM specs). */
#define PCIBUS_PM_CSR 4
#define PCIBUS_PM_STATE_MASK 0x0003u
#define PCIBUS_PM_PME_STATUS 0x8000u    /* write-one-to-clear: never write it back */
#define PCIBUS_PM_D3_TO_D0_MS 10        /* recovery time after leaving D3hot */
#define PCIBUS_MSI_CONTROL 2
#define PCIBUS_MSI_ENABLE 0x0001u
#define PCIBUS_MSIX_CONTROL 2
#define PCIBUS_MSIX_ENABLE 0x8000u
#define PCIBUS_MSIX_FUNCTION_MASK 0x4000u

/* ---- Config access ---------------------------------------------------- */

static uint8_t cfg_read8(const struct pcibus_func *f, unsigned reg)
{
    return io_read8(f->cfg + reg);
}

static uint16_t cfg_read16(const struct pcibus_func *f, unsigned reg)
{
    return io_read16(f->cfg + reg);
}

static void cfg_write16(const struct pcibus_func *f, unsigned reg, uint16_t val)
{
    io_write16(f->cfg + reg, val);
}

static void cfg_write32(const struct pcibus_func *f, unsigned reg, uint32_t val)
{
    io_write32(f->cfg + reg, val);
}

uint64_t pcibus_cfg_addr(const struct pcibus *b, unsigned dev, unsigned fn)
{
    return b->host.ecam_base + pci_ecam_offset(0, dev, fn, 0);
}

/* ---- The host bridge in the DTB --------------------------------------- */

static uint32_t pcibus_cells(const void *dtb, int node, const char *name, uint32_t fallback)
{
    uint32_t v;
    return (node >= 0 && fdt_prop_u32(dtb, node, name, &v)) ? v : fallback;
}

/* The first `ranges` entry for 32-bit memory.  Entry layout: child address
 * (3 cells), parent address (the parent's #address-cells), size (this
 * node's #size-cells, 2 by the PCI binding). */
static bool pcibus_read_window(const void *dtb, int node, struct pcibus_host *h)
{
    uint32_t parent_cells = pcibus_cells(dtb, fdt_parent(dtb, node), "#address-cells", 2);
    uint32_t size_cells = pcibus_cells(dtb, node, "#size-cells", 2);
    if (parent_cells < 1 || parent_cells > 2 || size_cells < 1 || size_cells > 2)
        return false;
    int len;
    const uint8_t *ranges = fdt_getprop(dtb, node, "ranges", &len);
    size_t entry = 4u * (PCIBUS_CHILD_ADDR_CELLS + parent_cells + size_cells);
    for (size_t off = 0; ranges && off + entry <= (size_t)len; off += entry) {
        const uint8_t *e = ranges + off;
        uint32_t phys_hi = (uint32_t)fdt_read_cells(e, 1);
        if (((phys_hi >> 24) & 3u) != PCIBUS_SPACE_MEM32)
            continue;
        h->mem_pci = fdt_read_cells(e + 4, 2);
        h->mem_cpu = fdt_read_cells(e + 12, (int)parent_cells);
        h->mem_size = fdt_read_cells(e + 12 + 4 * parent_cells, (int)size_cells);
        return true;
    }
    return false;
}

static bool pcibus_read_bus_range(const void *dtb, int node, struct pcibus_host *h)
{
    int len;
    const uint8_t *range = fdt_getprop(dtb, node, "bus-range", &len);
    h->bus_first = h->bus_last = 0;
    if (!range)
        return true;
    if (len < 8)
        return false;
    h->bus_first = (unsigned)fdt_read_cells(range, 1);
    h->bus_last = (unsigned)fdt_read_cells(range + 4, 1);
    return h->bus_first <= h->bus_last && h->bus_last <= 0xff;
}

bool pcibus_find_host(const void *dtb, struct pcibus *b)
{
    struct pcibus_host *h = &b->host;
    int node = fdt_next_compatible(dtb, -1, PCIBUS_COMPATIBLE);
    if (node < 0) {
        console_line("no PCI host bridge (compatible \"%s\") in the DTB", PCIBUS_COMPATIBLE);
        return false;
    }
    h->node_name = fdt_node_name(dtb, node);
    if (!fdt_get_reg(dtb, node, 0, &h->ecam_base, &h->ecam_size) ||
        h->ecam_size < PCIBUS_ECAM_BUS_SIZE) {
        console_line("host bridge %s: unusable reg", h->node_name);
        return false;
    }
    if (!pcibus_read_bus_range(dtb, node, h)) {
        console_line("host bridge %s: unusable bus-range", h->node_name);
        return false;
    }
    if (!pcibus_read_window(dtb, node, h) || h->mem_size < PAGE_SIZE ||
        h->mem_pci >= GIB(4)) {
        console_line("host bridge %s: no 32-bit memory window in ranges", h->node_name);
        return false;
    }
    /* 32-bit BARs cannot hold an address at or above 4 GiB. */
    h->mem_size = MIN(h->mem_size, GIB(4) - h->mem_pci);
    console_line("host bridge %s ecam 0x%lx size 0x%lx bus %u-%u mem pci 0x%lx cpu 0x%lx "
                 "size 0x%lx", h->node_name, (unsigned long)h->ecam_base,
                 (unsigned long)h->ecam_size, h->bus_first, h->bus_last,
                 (unsigned long)h->mem_pci, (unsigned long)h->mem_cpu,
                 (unsigned long)h->mem_size);
    return true;
}

/* ---- Scan: core/lib/pci.c's enumeration and BAR sizing, over ECAM ---------- */

static uint32_t ecam_read32(void *ctx, uint16_t bdf, unsigned reg)
{
    const struct pcibus *b = ctx;
    return io_read32(pcibus_cfg_addr(b, pci_bdf_dev(bdf), pci_bdf_fn(bdf)) + reg);
}

static void ecam_write32(void *ctx, uint16_t bdf, unsigned reg, uint32_t val)
{
    const struct pcibus *b = ctx;
    io_write32(pcibus_cfg_addr(b, pci_bdf_dev(bdf), pci_bdf_fn(bdf)) + reg, val);
}

static struct pci_cfg_ops pcibus_ops(struct pcibus *b)
{
    return (struct pci_cfg_ops){ .read32 = ecam_read32, .write32 = ecam_write32, .ctx = b };
}

/* The driver's view of a function core/lib/pci.c found and sized. */
static void pcibus_record(struct pcibus *b, struct pcibus_func *f, const struct pci_func *pf)
{
    *f = (struct pcibus_func){ .bus = b->host.bus_first, .dev = pci_bdf_dev(pf->bdf),
                               .fn = pci_bdf_fn(pf->bdf), .vendor = pf->vendor,
                               .device = pf->device, .class_code = pf->class_code,
                               .header_type = pf->header_type & PCI_HEADER_TYPE_MASK };
    f->cfg = pcibus_cfg_addr(b, f->dev, f->fn);
    if ((f->class_code >> 8) == PCIBUS_CLASS_HOST_BRIDGE)
        f->skip_reason = "host bridge";
    else if (f->header_type != PCI_HEADER_TYPE_NORMAL)
        f->skip_reason = "not header type 0";
    for (unsigned i = 0; i < PCI_MAX_BARS; i++) {
        const struct pci_bar *bar = &pf->bar[i];
        if (!bar->size || (bar->flags & PCI_BAR_UPPER))
            continue;
        f->bar[i].size = bar->size;
        f->bar[i].flags = (bar->flags & PCI_BAR_IO) ? PCIBUS_BAR_IO
                        : PCIBUS_BAR_MEM | ((bar->flags & PCI_BAR_MEM64) ? PCIBUS_BAR_MEM64 : 0);
    }
}

void pcibus_scan(struct pcibus *b)
{
    struct pci_cfg_ops ops = pcibus_ops(b);
    b->table = (struct pci_table){ .funcs = b->found, .cap = PCIBUS_MAX_FUNCS };
    b->truncated = pci_enumerate(&ops, b->host.bus_first, &b->table) == PCI_ERR_TABLE_FULL;
    b->count = b->table.count;
    for (unsigned i = 0; i < b->count; i++)
        pcibus_record(b, &b->funcs[i], &b->found[i]);
    if (b->truncated)
        console_line("more than %u PCI functions: the rest are ignored", PCIBUS_MAX_FUNCS);
}

/* ---- Capabilities: a polled driver wants no MSI, MSI-X or low power --- */

static void pcibus_wake(const struct pcibus_func *f, unsigned cap)
{
    uint16_t csr = cfg_read16(f, cap + PCIBUS_PM_CSR);
    if ((csr & PCIBUS_PM_STATE_MASK) == 0)
        return;
    cfg_write16(f, cap + PCIBUS_PM_CSR,
                csr & (uint16_t)~(PCIBUS_PM_STATE_MASK | PCIBUS_PM_PME_STATUS));
    timer_spin_ms(PCIBUS_PM_D3_TO_D0_MS);
}

static void pcibus_quiesce_caps(const struct pcibus_func *f)
{
    if (!(cfg_read16(f, PCI_STATUS) & PCI_STATUS_CAP_LIST))
        return;
    unsigned cap = cfg_read8(f, PCI_CAPABILITY_LIST) & 0xfcu;
    for (unsigned hops = 0; cap >= PCIBUS_CAP_FIRST && hops < PCIBUS_CAP_MAX_HOPS; hops++) {
        uint8_t id = cfg_read8(f, cap);
        if (id == PCI_CAP_ID_PM) {
            pcibus_wake(f, cap);
        } else if (id == PCI_CAP_ID_MSI) {
            uint16_t ctl = cfg_read16(f, cap + PCIBUS_MSI_CONTROL);
            cfg_write16(f, cap + PCIBUS_MSI_CONTROL, ctl & (uint16_t)~PCIBUS_MSI_ENABLE);
        } else if (id == PCI_CAP_ID_MSIX) {
            uint16_t ctl = cfg_read16(f, cap + PCIBUS_MSIX_CONTROL);
            cfg_write16(f, cap + PCIBUS_MSIX_CONTROL,
                        ctl & (uint16_t)~(PCIBUS_MSIX_ENABLE | PCIBUS_MSIX_FUNCTION_MASK));
        }
        cap = cfg_read8(f, cap + 1) & 0xfcu;
    }
}

/* ---- Assignment: core/lib/pci.c's, in the 32-bit window only ---------------- */

/* Every memory BAR of the functions the guest drives got an address;
 * record where the CPU reaches it.  I/O BARs are left alone (there is no
 * I/O window here, so core/lib/pci.c reports them as not fitting). */
static bool pcibus_collect_addresses(struct pcibus *b)
{
    bool ok = true;
    for (unsigned fi = 0; fi < b->count; fi++) {
        struct pcibus_func *f = &b->funcs[fi];
        for (unsigned i = 0; i < PCI_MAX_BARS && !f->skip_reason; i++) {
            const struct pci_bar *bar = &b->found[fi].bar[i];
            if (!(f->bar[i].flags & PCIBUS_BAR_MEM))
                continue;
            if (!(bar->flags & PCI_BAR_ASSIGNED)) {
                console_line("pci %02x:%02x.%x bar%u size 0x%lx does not fit in the window",
                             f->bus, f->dev, f->fn, i, (unsigned long)bar->size);
                ok = false;
                continue;
            }
            f->bar[i].pci_addr = bar->addr;
            f->bar[i].cpu_addr = bar->addr - b->host.mem_pci + b->host.mem_cpu;
        }
    }
    return ok;
}

static bool pcibus_has_mem_bar(const struct pcibus_func *f)
{
    for (unsigned i = 0; i < PCI_MAX_BARS; i++)
        if (f->bar[i].cpu_addr)
            return true;
    return false;
}

bool pcibus_assign(struct pcibus *b)
{
    for (unsigned fi = 0; fi < b->count; fi++)
        if (!b->funcs[fi].skip_reason)
            pcibus_quiesce_caps(&b->funcs[fi]);
    /* Largest BARs first, each naturally aligned and at least a page. */
    struct pci_windows windows = { 0 };
    pci_window_init(&windows.mem32, b->host.mem_pci, b->host.mem_size);
    struct pci_cfg_ops ops = pcibus_ops(b);
    pci_assign(&ops, &b->table, &windows, NULL);
    bool ok = pcibus_collect_addresses(b);
    for (unsigned fi = 0; fi < b->count; fi++) {
        struct pcibus_func *f = &b->funcs[fi];
        if (f->skip_reason)
            continue;
        /* Whatever was there before (reset, or garbage): no expansion ROM,
         * no I/O decoding, no bus mastering yet, no INTx (we poll). */
        cfg_write32(f, PCI_ROM_ADDRESS, 0);
        uint16_t command = PCI_COMMAND_INTX_DISABLE;
        if (pcibus_has_mem_bar(f))
            command |= PCI_COMMAND_MEMORY;
        cfg_write16(f, PCI_COMMAND, command);
    }
    return ok;
}

void pcibus_enable_master(const struct pcibus_func *f)
{
    uint16_t command = cfg_read16(f, PCI_COMMAND);
    cfg_write16(f, PCI_COMMAND, command | PCI_COMMAND_MASTER);
}

/* ---- Report ------------------------------------------------------------ */

static int pcibus_describe_bars(const struct pcibus_func *f, char *buf, size_t cap)
{
    int n = 0;
    for (unsigned i = 0; i < PCI_MAX_BARS; i++) {
        const struct pcibus_bar *bar = &f->bar[i];
        size_t left = cap - (size_t)n;
        if (bar->flags & PCIBUS_BAR_IO)
            n += fmt_snprintf(buf + n, left, " bar%u io (unused)", i);
        else if (bar->cpu_addr)
            n += fmt_snprintf(buf + n, left, " bar%u 0x%lx size 0x%lx", i,
                              (unsigned long)bar->cpu_addr, (unsigned long)bar->size);
        if ((size_t)n >= cap)
            return (int)cap - 1;
    }
    return n;
}

void pcibus_print(const struct pcibus *b)
{
    for (unsigned fi = 0; fi < b->count; fi++) {
        const struct pcibus_func *f = &b->funcs[fi];
        char bars[256] = "";
        if (f->skip_reason)
            fmt_snprintf(bars, sizeof(bars), " (skipped: %s)", f->skip_reason);
        else
            pcibus_describe_bars(f, bars, sizeof(bars));
        console_line("pci %02x:%02x.%x %04x:%04x class %06x%s", f->bus, f->dev, f->fn,
                     f->vendor, f->device, (unsigned)f->class_code, bars);
    }
}
