/*
 * pci_host.c — the ECAM host bridge of QEMU virt as Umbra drives it: its
 * config space through MMIO, its windows from the DTB's `ranges`.
 */
#include "iommu/hostbridge/pci_host.h"
#include "core/console.h"
#include "core/lib/fdt.h"
#include "core/lib/fmt.h"

struct pci_host pci_host;

/* `ranges` space codes (bits 25:24 of the first PCI address cell). */
#define RANGES_SPACE_IO    1u
#define RANGES_SPACE_MEM32 2u
#define RANGES_SPACE_MEM64 3u
#define RANGES_ENTRY_CELLS 7u            /* 3 PCI address + 2 CPU address + 2 size */

static uint32_t ecam_read32(void *ctx, uint16_t bdf, unsigned reg)
{
    (void)ctx;
    return *(volatile uint32_t *)pa_to_ptr(pci_host.ecam + pci_ecam_offset_bdf(bdf, reg));
}

static void ecam_write32(void *ctx, uint16_t bdf, unsigned reg, uint32_t val)
{
    (void)ctx;
    *(volatile uint32_t *)pa_to_ptr(pci_host.ecam + pci_ecam_offset_bdf(bdf, reg)) = val;
}

const struct pci_cfg_ops pci_host_ops = { .read32 = ecam_read32, .write32 = ecam_write32 };

/* The bridge's windows, from `ranges`: PCI addresses equal CPU addresses for
 * memory on virt; I/O is PCI 0.. at a CPU base.  Port 0 is kept out, since
 * drivers take it for "unassigned". */
static bool windows_from_ranges(const void *fdt, int node)
{
    int len;
    const uint32_t *r = fdt_getprop(fdt, node, "ranges", &len);
    if (!r || len <= 0 || len % (int)(RANGES_ENTRY_CELLS * 4) != 0)
        return false;
    for (int i = 0; i < len / 4; i += RANGES_ENTRY_CELLS) {
        uint32_t space = (fdt_read_cells(&r[i], 1) >> 24) & 3u;
        uint64_t pci = fdt_read_cells(&r[i + 1], 2);
        uint64_t cpu = fdt_read_cells(&r[i + 3], 2);
        uint64_t size = fdt_read_cells(&r[i + 5], 2);
        if (space == RANGES_SPACE_IO && pci == 0 && size > PAGE_SIZE) {
            pci_host.io_cpu_base = cpu;
            pci_window_init(&pci_host.windows.io, PAGE_SIZE, size - PAGE_SIZE);
        } else if (space == RANGES_SPACE_MEM32 && pci == cpu) {
            pci_window_init(&pci_host.windows.mem32, pci, size);
        } else if (space == RANGES_SPACE_MEM64 && pci == cpu) {
            pci_window_init(&pci_host.windows.mem64, pci, size);
        }
    }
    return pci_host.windows.mem32.size != 0;
}

static void pci_host_log(void)
{
    for (unsigned i = 0; i < pci_host.table.count; i++) {
        const struct pci_func *f = &pci_host.funcs[i];
        if (f->class_code >> 16 == 0x06)
            continue;                   /* bridges are Umbra's, never a VM's */
        kprintf("umbra: pci %02x:%02x.%u %04x:%04x class %06x", pci_bdf_bus(f->bdf), pci_bdf_dev(f->bdf),
                pci_bdf_fn(f->bdf), f->vendor, f->device, f->class_code);
        for (unsigned b = 0; b < f->nbars; b++) {
            const struct pci_bar *bar = &f->bar[b];
            if (!bar->size || (bar->flags & PCI_BAR_UPPER))
                continue;
            const char *kind = bar->flags & PCI_BAR_IO ? "io" : bar->flags & PCI_BAR_MEM64 ? "mem64" : "mem32";
            if (bar->size >= KIB(1))
                kprintf(", BAR%u %lu KiB %s at 0x%lx", b, bar->size >> 10, kind, bar->addr);
            else
                kprintf(", BAR%u %lu bytes %s at 0x%lx", b, bar->size, kind, bar->addr);
        }
        kprintf("\n");
    }
}

int pci_host_init(const void *fdt, char *err, size_t errlen)
{
    int node = fdt_next_compatible(fdt, -1, "pci-host-ecam-generic");
    if (node < 0)
        return 0;
    memset(&pci_host, 0, sizeof(pci_host));
    if (!fdt_get_reg(fdt, node, 0, &pci_host.ecam, &pci_host.ecam_size) || pci_host.ecam_size < MIB(1) ||
        !windows_from_ranges(fdt, node)) {
        fmt_snprintf(err, errlen, "pci host bridge: its DTB node has no usable reg or ranges");
        return -1;
    }
    pci_host.table = (struct pci_table){ .funcs = pci_host.funcs, .cap = PCI_HOST_MAX_FUNCS };
    int rc = pci_enumerate(&pci_host_ops, 0, &pci_host.table);
    struct pci_assign_error where = { 0 };
    if (rc == PCI_OK)
        rc = pci_assign(&pci_host_ops, &pci_host.table, &pci_host.windows, &where);
    if (rc != PCI_OK) {
        fmt_snprintf(err, errlen, "pci bus 0: %s (at %02x:%02x.%u BAR%u)", pci_strerror(rc),
                     pci_bdf_bus(where.bdf), pci_bdf_dev(where.bdf), pci_bdf_fn(where.bdf), where.bar);
        return -1;
    }
    pci_host.present = true;
    pci_host_log();
    return 0;
}
