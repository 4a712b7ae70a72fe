/* test_guest_dtb.c — the device tree Umbra hands a VM, read back with the
 * DTB reader: RAM, cpus, ISA as a guest sees it (riscv,isa, -base and
 * -extensions), cache-block sizes, cpu-map, bootargs and initrd, the UART
 * under /soc with /chosen/stdout-path and /aliases, the PCI host bridge. */
#define _GNU_SOURCE   /* memmem */
#include <stdio.h>
#include <string.h>
#include "core/lib/fdt.h"
#include "core/portable/guest_dtb.h"
#include "tests/unit/unit.h"

static const char *QEMU_ISA =
    "rv64imafdch_zicbom_zicntr_zicsr_zifencei_zihpm_zba_shcounterenw_shgatpa_shvstvecd"
    "_smaia_sscofpmf_sstc_svadu";

static void check_isa_filter(void)
{
    char out[256];
    guest_isa_string(QEMU_ISA, out, sizeof(out));
    CHECK(strcmp(out, "rv64imafdc_zicbom_zicntr_zicsr_zifencei_zihpm_zba_sstc_svadu") == 0);
    guest_isa_string("rv64imafdch", out, sizeof(out));
    CHECK(strcmp(out, "rv64imafdc") == 0);
    /* The 'h' of "rv64" prefix position is never confused with the H letter. */
    guest_isa_string("rv64ih_zhm", out, sizeof(out));
    CHECK(strcmp(out, "rv64i_zhm") == 0);
    /* A small buffer truncates at whole extensions and stays terminated. */
    char small[16];
    guest_isa_string(QEMU_ISA, small, sizeof(small));
    CHECK(strcmp(small, "rv64imafdc") == 0);
}

/* The stringlist riscv,isa-extensions: base letters one by one, then the
 * multi-letter names, in the string's order; too small a buffer gives 0. */
static void check_isa_lists(void)
{
    char out[64];
    CHECK_EQ(guest_isa_base("rv64imac_zba", out, sizeof(out)), 6);
    CHECK(strcmp(out, "rv64i") == 0);
    CHECK_EQ(guest_isa_base("x86", out, sizeof(out)), 0);
    size_t n = guest_isa_extensions("rv64imc_zba__zicsr", out, sizeof(out));
    static const char want[] = "i\0m\0c\0zba\0zicsr";
    CHECK_EQ(n, sizeof(want));
    CHECK(memcmp(out, want, sizeof(want)) == 0);
    CHECK_EQ(guest_isa_extensions("rv64imc_zba__zicsr", out, 8), 0);
    CHECK_EQ(guest_isa_extensions("mips", out, sizeof(out)), 0);
}

static uint8_t blob[16384] __attribute__((aligned(8)));

static void check_dtb_contents(void)
{
    struct guest_dtb_params p = {
        .bootargs = "console=hvc0 workload=ctxsw", .ncpus = 3, .ram_base = 0x80000000,
        .ram_size = 0x8000000, .timebase_hz = 10000000, .host_isa = QEMU_ISA,
        .mmu_type = "riscv,sv57", .initrd_start = 0x84200000, .initrd_size = 0x1234,
        .cbom_block = 64, .cboz_block = 128, .cbop_block = 64,
    };
    int size = guest_dtb_build(&p, blob, sizeof(blob));
    CHECK(size > 0);
    CHECK_EQ(fdt_check(blob, sizeof(blob)), 0);

    int mem = fdt_next_node_by_type(blob, -1, "memory");
    uint64_t base = 0, len = 0;
    CHECK(mem >= 0 && fdt_get_reg(blob, mem, 0, &base, &len));
    CHECK_EQ(base, 0x80000000);
    CHECK_EQ(len, 0x8000000);

    unsigned cpus = 0;
    uint32_t phandles[3] = { 0 };
    int plen = 0;
    for (int n = fdt_next_node_by_type(blob, -1, "cpu"); n >= 0; n = fdt_next_node_by_type(blob, n, "cpu")) {
        uint32_t reg = 99;
        CHECK(fdt_prop_u32(blob, n, "reg", &reg));
        CHECK_EQ(reg, cpus);
        const char *isa = fdt_prop_string(blob, n, "riscv,isa");
        CHECK(isa && strncmp(isa, "rv64imafdc_", 11) == 0 && !strstr(isa, "sh") && !strstr(isa, "smaia"));
        CHECK(fdt_prop_string(blob, n, "mmu-type") && strcmp(fdt_prop_string(blob, n, "mmu-type"), "riscv,sv57") == 0);
        int intc = fdt_first_child(blob, n);
        CHECK(intc >= 0 && fdt_is_compatible(blob, intc, "riscv,cpu-intc"));
        CHECK(fdt_prop_string(blob, n, "riscv,isa-base") &&
              strcmp(fdt_prop_string(blob, n, "riscv,isa-base"), "rv64i") == 0);
        const char *ext = fdt_getprop(blob, n, "riscv,isa-extensions", &plen);
        CHECK(ext && plen > 0 && ext[plen - 1] == '\0' && memmem(ext, (size_t)plen, "\0c\0zicbom\0", 9) &&
              !memmem(ext, (size_t)plen, "\0h\0", 3) && !memmem(ext, (size_t)plen, "smaia", 5));
        /* Zicbom is in the ISA: its size is written; Zicboz/Zicbop are not. */
        uint32_t block = 0;
        CHECK(fdt_prop_u32(blob, n, "riscv,cbom-block-size", &block) && block == 64);
        CHECK(fdt_getprop(blob, n, "riscv,cboz-block-size", &plen) == NULL);
        CHECK(fdt_getprop(blob, n, "riscv,cbop-block-size", &plen) == NULL);
        phandles[cpus++] = fdt_prop_u32(blob, n, "phandle", &block) ? block : 0;
    }
    CHECK_EQ(cpus, 3);
    /* cpu-map: one cluster whose coreN names cpu@N by phandle. */
    CHECK(fdt_path_offset(blob, "/cpus/cpu-map/cluster0") >= 0);
    for (unsigned i = 0; i < cpus; i++) {
        char path[48];
        uint32_t ref = 0;
        snprintf(path, sizeof(path), "/cpus/cpu-map/cluster0/core%u", i);
        CHECK(phandles[i] && fdt_prop_u32(blob, fdt_path_offset(blob, path), "cpu", &ref) && ref == phandles[i]);
    }

    uint32_t tb = 0;
    CHECK(fdt_prop_u32(blob, fdt_path_offset(blob, "/cpus"), "timebase-frequency", &tb));
    CHECK_EQ(tb, 10000000);

    int chosen = fdt_path_offset(blob, "/chosen");
    CHECK(chosen >= 0 && strcmp(fdt_prop_string(blob, chosen, "bootargs"), "console=hvc0 workload=ctxsw") == 0);
    const void *start = fdt_getprop(blob, chosen, "linux,initrd-start", &plen);
    CHECK(start && plen == 8 && fdt_read_cells(start, 2) == 0x84200000);
    const void *end = fdt_getprop(blob, chosen, "linux,initrd-end", &plen);
    CHECK(end && plen == 8 && fdt_read_cells(end, 2) == 0x84201234);

    /* Without an initrd there is no initrd property at all. */
    p.initrd_size = 0;
    CHECK(guest_dtb_build(&p, blob, sizeof(blob)) > 0);
    CHECK(fdt_getprop(blob, fdt_path_offset(blob, "/chosen"), "linux,initrd-start", &plen) == NULL);

    /* Too small a buffer is an error, not an overflow. */
    CHECK_EQ(guest_dtb_build(&p, blob, 200), -1);
}

/* A VM with PCI functions gets a host bridge a bare-QEMU driver finds the
 * way it finds QEMU's: by compatible, reg and the 32-bit memory range. */
/* The UART as QEMU virt describes its own, minus interrupts, and
 * stdout-path naming it; without uart_size neither is there. */
static void check_uart(void)
{
    struct guest_dtb_params p = {
        .bootargs = "", .ncpus = 1, .ram_base = 0x80000000, .ram_size = 0x4000000,
        .timebase_hz = 10000000, .host_isa = QEMU_ISA, .mmu_type = "riscv,sv39",
    };
    int plen = 0;
    CHECK(guest_dtb_build(&p, blob, sizeof(blob)) > 0);
    CHECK(fdt_path_offset(blob, "/soc") < 0);
    CHECK(fdt_path_offset(blob, "/aliases") < 0);
    CHECK(fdt_getprop(blob, fdt_path_offset(blob, "/chosen"), "stdout-path", &plen) == NULL);

    p.uart_base = 0x10000000;
    p.uart_size = 0x100;
    p.uart_clock_hz = 0x384000;
    CHECK(guest_dtb_build(&p, blob, sizeof(blob)) > 0);
    CHECK_EQ(fdt_check(blob, sizeof(blob)), 0);
    int soc = fdt_path_offset(blob, "/soc");
    CHECK(soc >= 0 && fdt_is_compatible(blob, soc, "simple-bus"));
    uint32_t cells = 0;
    CHECK(fdt_prop_u32(blob, soc, "#address-cells", &cells) && cells == 2);
    CHECK(fdt_prop_u32(blob, soc, "#size-cells", &cells) && cells == 2);
    CHECK(fdt_getprop(blob, soc, "ranges", &plen) != NULL && plen == 0);
    int uart = fdt_path_offset(blob, "/soc/serial@10000000");
    CHECK(uart >= 0 && fdt_parent(blob, uart) == soc);
    CHECK_EQ(uart, fdt_next_compatible(blob, -1, "ns16550a"));
    uint64_t base = 0, len = 0;
    CHECK(fdt_get_reg(blob, uart, 0, &base, &len));
    CHECK_EQ(base, 0x10000000);
    CHECK_EQ(len, 0x100);
    uint32_t clock = 0;
    CHECK(fdt_prop_u32(blob, uart, "clock-frequency", &clock) && clock == 0x384000);
    CHECK(fdt_getprop(blob, uart, "interrupts", &plen) == NULL);
    CHECK(fdt_getprop(blob, uart, "interrupt-parent", &plen) == NULL);
    const char *stdout_path = fdt_prop_string(blob, fdt_path_offset(blob, "/chosen"), "stdout-path");
    CHECK(stdout_path && strcmp(stdout_path, "/soc/serial@10000000") == 0);
    CHECK_EQ(fdt_path_offset(blob, stdout_path), uart);
    const char *alias = fdt_prop_string(blob, fdt_path_offset(blob, "/aliases"), "serial0");
    CHECK(alias && strcmp(alias, stdout_path) == 0);
}

/* One vCPU, 64 MiB, QEMU virt's UART: the base the device tests add to. */
static struct guest_dtb_params one_cpu_with_uart(void)
{
    return (struct guest_dtb_params){
        .bootargs = "", .ncpus = 1, .ram_base = 0x80000000, .ram_size = 0x4000000,
        .timebase_hz = 10000000, .host_isa = QEMU_ISA, .mmu_type = "riscv,sv39",
        .uart_base = 0x10000000, .uart_size = 0x100, .uart_clock_hz = 0x384000,
    };
}

static void check_pci_host_bridge(void)
{
    struct guest_dtb_params p = one_cpu_with_uart();
    CHECK(guest_dtb_build(&p, blob, sizeof(blob)) > 0);
    CHECK(fdt_next_compatible(blob, -1, "pci-host-ecam-generic") < 0);

    p.pci_ecam_base = 0x30000000;
    p.pci_ecam_size = 0x100000;
    p.pci_mem_base = 0x40000000;
    p.pci_mem_size = 0x40000000;
    CHECK(guest_dtb_build(&p, blob, sizeof(blob)) > 0);
    CHECK_EQ(fdt_check(blob, sizeof(blob)), 0);
    int pci = fdt_next_compatible(blob, -1, "pci-host-ecam-generic");
    CHECK(pci >= 0);
    CHECK_EQ(pci, fdt_path_offset(blob, "/soc/pci@30000000"));
    uint64_t base = 0, len = 0;
    CHECK(fdt_get_reg(blob, pci, 0, &base, &len));
    CHECK_EQ(base, 0x30000000);
    CHECK_EQ(len, 0x100000);
    CHECK(strcmp(fdt_prop_string(blob, pci, "device_type"), "pci") == 0);
    uint32_t cells = 0;
    CHECK(fdt_prop_u32(blob, pci, "#address-cells", &cells) && cells == 3);
    CHECK(fdt_prop_u32(blob, pci, "#size-cells", &cells) && cells == 2);
    int plen = 0;
    const uint32_t *bus = fdt_getprop(blob, pci, "bus-range", &plen);
    CHECK(bus && plen == 8 && fdt_read_cells(bus, 2) == 0);
    const uint32_t *r = fdt_getprop(blob, pci, "ranges", &plen);
    CHECK(r && plen == 28);
    CHECK_EQ(fdt_read_cells(&r[0], 1), 0x02000000);   /* 32-bit memory */
    CHECK_EQ(fdt_read_cells(&r[1], 2), 0x40000000);   /* PCI address */
    CHECK_EQ(fdt_read_cells(&r[3], 2), 0x40000000);   /* CPU address */
    CHECK_EQ(fdt_read_cells(&r[5], 2), 0x40000000);   /* size */
    CHECK(fdt_getprop(blob, pci, "dma-coherent", &plen) != NULL && plen == 0);
    /* The bridge is on /soc beside the UART, as in QEMU virt. */
    CHECK_EQ(fdt_parent(blob, pci), fdt_path_offset(blob, "/soc"));
    CHECK(fdt_path_offset(blob, "/soc/serial@10000000") >= 0);
    CHECK(fdt_next_compatible(blob, -1, "riscv,iommu") < 0);
    CHECK(fdt_getprop(blob, pci, "iommu-map", &plen) == NULL);

    /* A vIOMMU: QEMU virt's iommu@3010000 node, and the bridge's
     * iommu-map naming it for every requester ID, as QEMU writes it. */
    p.iommu_base = 0x3010000;
    p.iommu_size = 0x1000;
    CHECK(guest_dtb_build(&p, blob, sizeof(blob)) > 0);
    CHECK_EQ(fdt_check(blob, sizeof(blob)), 0);
    int iommu = fdt_next_compatible(blob, -1, "riscv,iommu");
    CHECK_EQ(iommu, fdt_path_offset(blob, "/soc/iommu@3010000"));
    CHECK(fdt_get_reg(blob, iommu, 0, &base, &len) && base == 0x3010000 && len == 0x1000);
    uint32_t phandle = 0;
    CHECK(fdt_prop_u32(blob, iommu, "phandle", &phandle) && phandle == 0x8000);
    CHECK(fdt_prop_u32(blob, iommu, "#iommu-cells", &cells) && cells == 1);
    CHECK(fdt_getprop(blob, iommu, "interrupts", &plen) == NULL);
    pci = fdt_path_offset(blob, "/soc/pci@30000000");
    const uint32_t *map = fdt_getprop(blob, pci, "iommu-map", &plen);
    CHECK(map && plen == 32);
    if (map && plen == 32) {
        static const uint32_t want[8] = { 0, 0x8000, 0, 0, 0, 0x8000, 0, 0xffff };
        for (unsigned i = 0; i < 8; i++)
            CHECK_EQ(fdt_read_cells(&map[i], 1), want[i]);
    }
}

/* A coIOMMU: one register page under /soc, found by its compatible; none
 * unless asked for. */
static void check_coiommu(void)
{
    struct guest_dtb_params p = one_cpu_with_uart();
    CHECK(guest_dtb_build(&p, blob, sizeof(blob)) > 0);
    CHECK(fdt_next_compatible(blob, -1, "umbra,coiommu") < 0);
    p.coiommu_base = 0x3020000;
    p.coiommu_size = 0x1000;
    CHECK(guest_dtb_build(&p, blob, sizeof(blob)) > 0);
    CHECK_EQ(fdt_check(blob, sizeof(blob)), 0);
    int co = fdt_next_compatible(blob, -1, "umbra,coiommu");
    CHECK_EQ(co, fdt_path_offset(blob, "/soc/coiommu@3020000"));
    uint64_t base = 0, len = 0;
    CHECK(fdt_get_reg(blob, co, 0, &base, &len) && base == 0x3020000 && len == 0x1000);
}

void unit_main(void)
{
    check_isa_filter();
    check_isa_lists();
    check_dtb_contents();
    check_uart();
    check_pci_host_bridge();
    check_coiommu();
}
