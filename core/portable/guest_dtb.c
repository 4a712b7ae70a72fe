/*
 * guest_dtb.c — the device tree a VM boots with: its RAM, its vCPUs (with
 * the host's ISA minus what a guest does not get), the timebase, and
 * /chosen (bootargs, initrd, stdout-path).  The console is SBI and, for
 * kernels that drive a UART themselves, an ns16550a under /soc
 * (core/devices/vuart.c).  The PCI host bridge of a VM that has PCI
 * functions assigned (iommu/passthrough/vpci.c) stays at the root.
 */
#include "core/portable/guest_dtb.h"
#include "core/lib/fdt.h"
#include "core/lib/fmt.h"

#define GUEST_ISA_MAX 512

/* Multi-letter extensions a VS-mode guest does not have: the hypervisor
 * ones (sh*), machine-level ones (sm*), and counter overflow interrupts,
 * which need the SBI PMU extension Umbra does not offer. */
static bool isa_extension_hidden(const char *ext, size_t len)
{
    return (len >= 2 && (strncmp(ext, "sh", 2) == 0 || strncmp(ext, "sm", 2) == 0)) ||
           (len == 8 && strncmp(ext, "sscofpmf", 8) == 0);
}

/* Copy the host's riscv,isa without 'h' and hidden extensions. */
size_t guest_isa_string(const char *host, char *out, size_t cap)
{
    size_t n = 0;
    const char *p = host;
    for (; *p && *p != '_'; p++)
        if (!(p - host >= 4 && *p == 'h') && n + 1 < cap)
            out[n++] = *p;
    while (*p == '_') {
        const char *ext = ++p;
        while (*p && *p != '_')
            p++;
        size_t len = (size_t)(p - ext);
        if (!len || isa_extension_hidden(ext, len))
            continue;
        if (n + 1 + len + 1 > cap)
            break;          /* keep a prefix of the list, never a list with holes */
        out[n++] = '_';
        memcpy(out + n, ext, len);
        n += len;
    }
    out[n] = '\0';
    return n;
}

static void guest_dtb_cpus(struct fdt_writer *w, const struct guest_dtb_params *p)
{
    char isa[GUEST_ISA_MAX], name[24];
    guest_isa_string(p->host_isa, isa, sizeof(isa));
    fdt_begin_node(w, "cpus");
    fdt_prop_cell(w, "#address-cells", 1);
    fdt_prop_cell(w, "#size-cells", 0);
    fdt_prop_cell(w, "timebase-frequency", p->timebase_hz);
    for (unsigned i = 0; i < p->ncpus; i++) {
        fmt_snprintf(name, sizeof(name), "cpu@%u", i);
        fdt_begin_node(w, name);
        fdt_prop_str(w, "device_type", "cpu");
        fdt_prop_cell(w, "reg", i);
        fdt_prop_str(w, "status", "okay");
        fdt_prop_str(w, "compatible", "riscv");
        fdt_prop_str(w, "riscv,isa", isa);
        if (p->mmu_type && p->mmu_type[0])
            fdt_prop_str(w, "mmu-type", p->mmu_type);
        fdt_begin_node(w, "interrupt-controller");
        fdt_prop_cell(w, "#interrupt-cells", 1);
        fdt_prop_empty(w, "interrupt-controller");
        fdt_prop_str(w, "compatible", "riscv,cpu-intc");
        fdt_prop_cell(w, "phandle", i + 1);
        fdt_end_node(w);
        fdt_end_node(w);
    }
    fdt_end_node(w);
}

/* "pci-host-ecam-generic", as QEMU virt describes its own, but bus 0 only,
 * no I/O window (Umbra passes memory BARs only) and no interrupt map: the
 * assigned functions are driven by polling. */
static void guest_dtb_pci(struct fdt_writer *w, const struct guest_dtb_params *p)
{
    char name[32];
    const uint32_t bus_range[2] = { 0, 0 };
    /* child address (space code 0b10: 32-bit memory; PCI address), parent
     * address, size */
    const uint32_t ranges[7] = {
        0x02000000u, (uint32_t)(p->pci_mem_base >> 32), (uint32_t)p->pci_mem_base,
        (uint32_t)(p->pci_mem_base >> 32), (uint32_t)p->pci_mem_base,
        (uint32_t)(p->pci_mem_size >> 32), (uint32_t)p->pci_mem_size,
    };
    fmt_snprintf(name, sizeof(name), "pci@%llx", (unsigned long long)p->pci_ecam_base);
    fdt_begin_node(w, name);
    fdt_prop_str(w, "compatible", "pci-host-ecam-generic");
    fdt_prop_str(w, "device_type", "pci");
    fdt_prop_cell(w, "#address-cells", 3);
    fdt_prop_cell(w, "#size-cells", 2);
    fdt_prop_reg64(w, "reg", p->pci_ecam_base, p->pci_ecam_size);
    fdt_prop_cells(w, "bus-range", bus_range, 2);
    fdt_prop_cell(w, "linux,pci-domain", 0);
    fdt_prop_empty(w, "dma-coherent");
    fdt_prop_cells(w, "ranges", ranges, 7);
    fdt_end_node(w);
}

/* QEMU virt's serial@10000000, minus interrupts: the guest has no PLIC,
 * so a driver polls it. */
static void guest_dtb_soc(struct fdt_writer *w, const struct guest_dtb_params *p)
{
    char name[32];
    fdt_begin_node(w, "soc");
    fdt_prop_cell(w, "#address-cells", 2);
    fdt_prop_cell(w, "#size-cells", 2);
    fdt_prop_str(w, "compatible", "simple-bus");
    fdt_prop_empty(w, "ranges");
    fmt_snprintf(name, sizeof(name), "serial@%llx", (unsigned long long)p->uart_base);
    fdt_begin_node(w, name);
    fdt_prop_str(w, "compatible", "ns16550a");
    fdt_prop_reg64(w, "reg", p->uart_base, p->uart_size);
    fdt_prop_cell(w, "clock-frequency", p->uart_clock_hz);
    fdt_end_node(w);
    fdt_end_node(w);
}

int guest_dtb_build(const struct guest_dtb_params *p, void *buf, size_t cap)
{
    struct fdt_writer w;
    char name[32];
    fdt_writer_init(&w, buf, cap);
    fdt_begin_node(&w, "");
    fdt_prop_cell(&w, "#address-cells", 2);
    fdt_prop_cell(&w, "#size-cells", 2);
    fdt_prop_str(&w, "compatible", "umbra,vm");
    fdt_prop_str(&w, "model", "Umbra virtual machine");
    fdt_begin_node(&w, "chosen");
    fdt_prop_str(&w, "bootargs", p->bootargs);
    if (p->initrd_size) {
        fdt_prop_u64(&w, "linux,initrd-start", p->initrd_start);
        fdt_prop_u64(&w, "linux,initrd-end", p->initrd_start + p->initrd_size);
    }
    if (p->uart_size) {
        fmt_snprintf(name, sizeof(name), "/soc/serial@%llx", (unsigned long long)p->uart_base);
        fdt_prop_str(&w, "stdout-path", name);
    }
    fdt_end_node(&w);
    guest_dtb_cpus(&w, p);
    fmt_snprintf(name, sizeof(name), "memory@%llx", (unsigned long long)p->ram_base);
    fdt_begin_node(&w, name);
    fdt_prop_str(&w, "device_type", "memory");
    fdt_prop_reg64(&w, "reg", p->ram_base, p->ram_size);
    fdt_end_node(&w);
    if (p->uart_size)
        guest_dtb_soc(&w, p);
    if (p->pci_ecam_size)
        guest_dtb_pci(&w, p);
    fdt_end_node(&w);
    return fdt_finish(&w);
}
