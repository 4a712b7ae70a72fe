/*
 * guest_dtb.c — the device tree a VM boots with, laid out as QEMU virt lays
 * out its own (tests/integration/test_dtb.py compares the two node by
 * node): its RAM, its vCPUs (with the host's ISA minus what a guest does
 * not get, as riscv,isa and as riscv,isa-base/-extensions, the cache-block
 * sizes, mmu-type, a cpu-intc each and the cpu-map), the timebase,
 * /aliases, and /chosen (bootargs, initrd, stdout-path).  Under /soc: the
 * ns16550a (core/devices/vuart.c) and, for a VM that has PCI functions
 * assigned, the host bridge (iommu/passthrough/vpci.c).
 */
#include "core/portable/guest_dtb.h"
#include "core/lib/coiommu_abi.h"
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

/* "rv64i" from "rv64imafdc_...": the XLEN prefix and the base letter. */
size_t guest_isa_base(const char *isa, char *out, size_t cap)
{
    if (strncmp(isa, "rv", 2) != 0 || strlen(isa) < 5 || cap < 6)
        return 0;
    memcpy(out, isa, 5);
    out[5] = '\0';
    return 6;
}

static bool isa_list_add(char *out, size_t cap, size_t *n, const char *name, size_t len)
{
    if (*n + len + 1 > cap)
        return false;
    memcpy(out + *n, name, len);
    out[*n + len] = '\0';
    *n += len + 1;
    return true;
}

size_t guest_isa_extensions(const char *isa, char *out, size_t cap)
{
    size_t n = 0;
    if (!guest_isa_base(isa, out, cap))
        return 0;
    const char *p = isa + 4;
    for (; *p && *p != '_'; p++)
        if (!isa_list_add(out, cap, &n, p, 1))
            return 0;
    while (*p == '_') {
        const char *ext = ++p;
        while (*p && *p != '_')
            p++;
        if (p > ext && !isa_list_add(out, cap, &n, ext, (size_t)(p - ext)))
            return 0;
    }
    return n;
}

/* The phandles of cpu@i and of its interrupt controller, and of the IOMMU
 * (QEMU virt's own number for it). */
#define IOMMU_PHANDLE 0x8000u
static uint32_t cpu_phandle(unsigned i) { return 2 * i + 1; }
static uint32_t cpu_intc_phandle(unsigned i) { return 2 * i + 2; }

/* True when the '_'-separated list names ext exactly. */
static bool isa_has_extension(const char *isa, const char *ext)
{
    size_t n = strlen(ext);
    for (const char *p = isa; (p = strchr_k(p, '_')) != NULL; p++)
        if (strncmp(p + 1, ext, n) == 0 && (p[n + 1] == '_' || p[n + 1] == '\0'))
            return true;
    return false;
}

static void cpu_block_size(struct fdt_writer *w, const char *isa, const char *ext, uint32_t size)
{
    char name[32];
    if (!size || !isa_has_extension(isa, ext))
        return;
    fmt_snprintf(name, sizeof(name), "riscv,%s-block-size", ext + 2);   /* zicbom: cbom */
    fdt_prop_cell(w, name, size);
}

static void guest_dtb_cpu(struct fdt_writer *w, const struct guest_dtb_params *p, unsigned i,
                          const char *isa)
{
    char name[24], list[GUEST_ISA_MAX + 64], base[8];
    fmt_snprintf(name, sizeof(name), "cpu@%u", i);
    fdt_begin_node(w, name);
    fdt_prop_cell(w, "phandle", cpu_phandle(i));
    fdt_prop_str(w, "device_type", "cpu");
    fdt_prop_cell(w, "reg", i);
    fdt_prop_str(w, "status", "okay");
    fdt_prop_str(w, "compatible", "riscv");
    cpu_block_size(w, isa, "zicbop", p->cbop_block);
    cpu_block_size(w, isa, "zicboz", p->cboz_block);
    cpu_block_size(w, isa, "zicbom", p->cbom_block);
    size_t len = guest_isa_extensions(isa, list, sizeof(list));
    if (len)
        fdt_prop(w, "riscv,isa-extensions", list, len);
    if (guest_isa_base(isa, base, sizeof(base)))
        fdt_prop_str(w, "riscv,isa-base", base);
    fdt_prop_str(w, "riscv,isa", isa);
    if (p->mmu_type && p->mmu_type[0])
        fdt_prop_str(w, "mmu-type", p->mmu_type);
    fdt_begin_node(w, "interrupt-controller");
    fdt_prop_cell(w, "#interrupt-cells", 1);
    fdt_prop_empty(w, "interrupt-controller");
    fdt_prop_str(w, "compatible", "riscv,cpu-intc");
    fdt_prop_cell(w, "phandle", cpu_intc_phandle(i));
    fdt_end_node(w);
    fdt_end_node(w);
}

/* One cluster of single-thread cores, as QEMU virt describes a socket. */
static void guest_dtb_cpu_map(struct fdt_writer *w, unsigned ncpus)
{
    char name[16];
    fdt_begin_node(w, "cpu-map");
    fdt_begin_node(w, "cluster0");
    for (unsigned i = 0; i < ncpus; i++) {
        fmt_snprintf(name, sizeof(name), "core%u", i);
        fdt_begin_node(w, name);
        fdt_prop_cell(w, "cpu", cpu_phandle(i));
        fdt_end_node(w);
    }
    fdt_end_node(w);
    fdt_end_node(w);
}

static void guest_dtb_cpus(struct fdt_writer *w, const struct guest_dtb_params *p)
{
    char isa[GUEST_ISA_MAX];
    guest_isa_string(p->host_isa, isa, sizeof(isa));
    fdt_begin_node(w, "cpus");
    fdt_prop_cell(w, "#address-cells", 1);
    fdt_prop_cell(w, "#size-cells", 0);
    fdt_prop_cell(w, "timebase-frequency", p->timebase_hz);
    for (unsigned i = 0; i < p->ncpus; i++)
        guest_dtb_cpu(w, p, i, isa);
    guest_dtb_cpu_map(w, p->ncpus);
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
    if (p->iommu_size) {
        /* QEMU virt's iommu-map, entry for entry: (rid base, iommu, iommu
         * base, length) twice, the first of length 0, so every requester
         * ID maps to the same device ID. */
        const uint32_t map[8] = { 0, IOMMU_PHANDLE, 0, 0, 0, IOMMU_PHANDLE, 0, 0xffff };
        fdt_prop_cells(w, "iommu-map", map, 8);
    }
    fdt_end_node(w);
}

/* QEMU virt's iommu@3010000 (iommu-sys=on) minus interrupts and
 * msi-parent: the guest has no interrupt controller, so its driver polls. */
/* Begin node "<kind>@<base hex>" with its reg. */
static void begin_reg_node(struct fdt_writer *w, const char *kind, uint64_t base, uint64_t size)
{
    char name[32];
    fmt_snprintf(name, sizeof(name), "%s@%llx", kind, (unsigned long long)base);
    fdt_begin_node(w, name);
    fdt_prop_reg64(w, "reg", base, size);
}

static void guest_dtb_iommu(struct fdt_writer *w, const struct guest_dtb_params *p)
{
    begin_reg_node(w, "iommu", p->iommu_base, p->iommu_size);
    fdt_prop_cell(w, "phandle", IOMMU_PHANDLE);
    fdt_prop_cell(w, "#iommu-cells", 1);
    fdt_prop_str(w, "compatible", "riscv,iommu");
    fdt_end_node(w);
}

/* Umbra's coIOMMU: a register page, no interrupts (a notification is a
 * store the guest waits on). */
static void guest_dtb_coiommu(struct fdt_writer *w, const struct guest_dtb_params *p)
{
    begin_reg_node(w, "coiommu", p->coiommu_base, p->coiommu_size);
    fdt_prop_str(w, "compatible", COIOMMU_COMPATIBLE);
    fdt_end_node(w);
}

/* QEMU virt's serial@10000000, minus interrupts: the guest has no PLIC,
 * so a driver polls it. */
static void guest_dtb_uart(struct fdt_writer *w, const struct guest_dtb_params *p)
{
    char name[32];
    fmt_snprintf(name, sizeof(name), "serial@%llx", (unsigned long long)p->uart_base);
    fdt_begin_node(w, name);
    fdt_prop_str(w, "compatible", "ns16550a");
    fdt_prop_reg64(w, "reg", p->uart_base, p->uart_size);
    fdt_prop_cell(w, "clock-frequency", p->uart_clock_hz);
    fdt_end_node(w);
}

/* QEMU virt puts its devices, the PCI host bridge among them, on /soc. */
static void guest_dtb_soc(struct fdt_writer *w, const struct guest_dtb_params *p)
{
    fdt_begin_node(w, "soc");
    fdt_prop_cell(w, "#address-cells", 2);
    fdt_prop_cell(w, "#size-cells", 2);
    fdt_prop_str(w, "compatible", "simple-bus");
    fdt_prop_empty(w, "ranges");
    if (p->uart_size)
        guest_dtb_uart(w, p);
    if (p->iommu_size)
        guest_dtb_iommu(w, p);
    if (p->coiommu_size)
        guest_dtb_coiommu(w, p);
    if (p->pci_ecam_size)
        guest_dtb_pci(w, p);
    fdt_end_node(w);
}

static void guest_dtb_chosen(struct fdt_writer *w, const struct guest_dtb_params *p,
                             const char *uart_path)
{
    fdt_begin_node(w, "chosen");
    fdt_prop_str(w, "bootargs", p->bootargs);
    if (p->initrd_size) {
        fdt_prop_u64(w, "linux,initrd-start", p->initrd_start);
        fdt_prop_u64(w, "linux,initrd-end", p->initrd_start + p->initrd_size);
    }
    if (p->uart_size)
        fdt_prop_str(w, "stdout-path", uart_path);
    fdt_end_node(w);
}

int guest_dtb_build(const struct guest_dtb_params *p, void *buf, size_t cap)
{
    struct fdt_writer w;
    char name[32], uart_path[48];
    fmt_snprintf(uart_path, sizeof(uart_path), "/soc/serial@%llx", (unsigned long long)p->uart_base);
    fdt_writer_init(&w, buf, cap);
    fdt_begin_node(&w, "");
    fdt_prop_cell(&w, "#address-cells", 2);
    fdt_prop_cell(&w, "#size-cells", 2);
    fdt_prop_str(&w, "compatible", "umbra,vm");
    fdt_prop_str(&w, "model", "Umbra virtual machine");
    fmt_snprintf(name, sizeof(name), "memory@%llx", (unsigned long long)p->ram_base);
    fdt_begin_node(&w, name);
    fdt_prop_str(&w, "device_type", "memory");
    fdt_prop_reg64(&w, "reg", p->ram_base, p->ram_size);
    fdt_end_node(&w);
    guest_dtb_cpus(&w, p);
    if (p->uart_size) {
        fdt_begin_node(&w, "aliases");
        fdt_prop_str(&w, "serial0", uart_path);
        fdt_end_node(&w);
    }
    guest_dtb_chosen(&w, p, uart_path);
    if (p->uart_size || p->pci_ecam_size)
        guest_dtb_soc(&w, p);
    fdt_end_node(&w);
    return fdt_finish(&w);
}
