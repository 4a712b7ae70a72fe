/*
 * platform.c — read the machine description OpenSBI passes Umbra (memory,
 * harts, timebase, ISA, UART, the test finisher, bootargs) and end the
 * machine with a status QEMU turns into its exit code.
 */
#include "core/platform.h"
#include "arch/riscv/csr.h"
#include "core/console.h"
#include "core/lib/fdt.h"
#include "core/lib/fmt.h"
#include "core/vm.h"
#include "arch/riscv/sbi_call.h"

struct platform platform;

static int probe_fail(char *err, size_t errlen, const char *what)
{
    fmt_snprintf(err, errlen, "%s", what);
    return -1;
}

static void copy_string(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    n = MIN(n, cap - 1);
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

/* Harts in DTB order; only those with status "okay" (or no status). */
static int probe_harts(const void *fdt, unsigned long boot_hartid)
{
    bool boot_seen = false;
    for (int node = fdt_next_node_by_type(fdt, -1, "cpu"); node >= 0;
         node = fdt_next_node_by_type(fdt, node, "cpu")) {
        const char *status = fdt_prop_string(fdt, node, "status");
        uint64_t hartid, unused;
        if ((status && strcmp(status, "okay") != 0) || !fdt_get_reg(fdt, node, 0, &hartid, &unused))
            continue;
        if (hart_count == MAX_HARTS || hartid >= MAX_HARTS)
            continue;
        if (hart_count == 0) {
            copy_string(platform.isa, sizeof(platform.isa), fdt_prop_string(fdt, node, "riscv,isa"));
            copy_string(platform.mmu_type, sizeof(platform.mmu_type),
                        fdt_prop_string(fdt, node, "mmu-type"));
            fdt_prop_u32(fdt, node, "riscv,cbom-block-size", &platform.cbom_block);
            fdt_prop_u32(fdt, node, "riscv,cboz-block-size", &platform.cboz_block);
            fdt_prop_u32(fdt, node, "riscv,cbop-block-size", &platform.cbop_block);
        }
        harts[hart_count].index = hart_count;
        harts[hart_count].hartid = hartid;
        boot_seen |= hartid == boot_hartid;
        hart_count++;
    }
    return boot_seen ? 0 : -1;
}

static void probe_devices(const void *fdt)
{
    uint64_t addr, size;
    int uart = fdt_next_compatible(fdt, -1, "ns16550a");
    if (uart >= 0 && fdt_get_reg(fdt, uart, 0, &addr, &size)) {
        uint32_t shift = 0;
        fdt_prop_u32(fdt, uart, "reg-shift", &shift);
        platform.uart_base = addr;
        platform.uart_reg_shift = shift;
    }
    int test = fdt_next_compatible(fdt, -1, "sifive,test0");
    if (test >= 0 && fdt_get_reg(fdt, test, 0, &addr, &size))
        platform.test_base = addr;
    int iommu = fdt_next_compatible(fdt, -1, "riscv,iommu");
    if (iommu >= 0 && fdt_get_reg(fdt, iommu, 0, &addr, &size))
        platform.iommu_base = addr;
    int pci = fdt_next_compatible(fdt, -1, "pci-host-ecam-generic");
    if (pci >= 0 && fdt_get_reg(fdt, pci, 0, &addr, &size)) {
        platform.pci_ecam_base = addr;
        platform.pci_ecam_size = size;
    }
}

int platform_probe(const void *fdt, unsigned long boot_hartid, char *err, size_t errlen)
{
    if (fdt_check(fdt, MIB(1)) != 0)
        return probe_fail(err, errlen, "the DTB from the firmware is malformed");
    platform.fdt = fdt;
    probe_devices(fdt);
    int mem = fdt_next_node_by_type(fdt, -1, "memory");
    if (mem < 0 || !fdt_get_reg(fdt, mem, 0, &platform.ram_base, &platform.ram_size))
        return probe_fail(err, errlen, "no /memory node in the DTB");
    int cpus = fdt_path_offset(fdt, "/cpus");
    if (cpus < 0 || !fdt_prop_u32(fdt, cpus, "timebase-frequency", &platform.timebase_hz))
        return probe_fail(err, errlen, "no /cpus timebase-frequency in the DTB");
    if (probe_harts(fdt, boot_hartid) != 0)
        return probe_fail(err, errlen, "the boot hart is not among the DTB's usable cpus");
    int chosen = fdt_path_offset(fdt, "/chosen");
    platform.bootargs = chosen >= 0 ? fdt_prop_string(fdt, chosen, "bootargs") : NULL;
    return 0;
}

/* True when the first hart's riscv,isa names `extension`: a single letter is
 * looked up in the base string ("rv64imafdch"), longer names as one of the
 * '_'-separated multi-letter extensions. */
bool platform_isa_has(const char *extension)
{
    const char *isa = platform.isa;
    size_t n = strlen(extension);
    if (strncmp(isa, "rv64", 4) != 0)
        return false;
    if (n == 1) {
        for (const char *p = isa + 4; *p && *p != '_'; p++)
            if (*p == extension[0])
                return true;
        return false;
    }
    for (const char *p = isa; (p = strchr_k(p, '_')) != NULL; p++)
        if (strncmp(p + 1, extension, n) == 0 && (p[n + 1] == '_' || p[n + 1] == '\0'))
            return true;
    return false;
}

#define TEST_FINISHER_FAIL 0x3333
#define TEST_FINISHER_PASS 0x5555

_Noreturn void machine_exit(enum machine_status status)
{
    if (platform.test_base) {
        volatile uint32_t *finisher = pa_to_ptr(platform.test_base);
        *finisher = status == MACHINE_OK ? TEST_FINISHER_PASS
                                         : TEST_FINISHER_FAIL | ((uint32_t)status << 16);
        /* QEMU acts on the write asynchronously.  Anything more from this
         * hart (such as the SRST fallback below, whose poweroff writes
         * "pass") could overwrite the status before QEMU exits, so wait. */
        for (;;)
            wait_for_interrupt();
    }
    sbi_system_shutdown(status == MACHINE_OK ? SBI_SRST_REASON_NONE : SBI_SRST_REASON_FAILURE);
}
