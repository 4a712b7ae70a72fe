/*
 * main.c — boot: the boot hart reads the machine description and the
 * runner's configuration, builds every VM, starts the harts their vCPUs are
 * pinned to, and then becomes one of those harts itself.
 */
#include "arch/riscv/csr.h"
#include "arch/riscv/sbi_call.h"
#include "arch/riscv/vcpu_arch.h"
#include "core/console.h"
#include "core/lib/fmt.h"
#include "core/platform.h"
#include "iommu/hostbridge/pci_host.h"
#include "iommu/driver/iommu.h"
#include "core/vm.h"
#include "core/mmu/mmu.h"
#include "core/pool.h"
#include "core/monitor/monitor.h"
#include "iommu/provider/sidecore.h"
#include "iommu/share/share.h"



unsigned umbra_trace_flags;
static struct umbra_config config;

void boot_main(unsigned long hartid, const void *fdt);
void boot_secondary(unsigned long hartid);

_Noreturn static void boot_fail(enum machine_status status, const char *what)
{
    kprintf("umbra: error: %s\n", what);
    machine_exit(status);
}

static struct hart *hart_by_id(unsigned long hartid)
{
    for (unsigned i = 0; i < hart_count; i++)
        if (harts[i].hartid == hartid)
            return &harts[i];
    return NULL;
}

/* Trap vector, per-hart pointer and hypervisor CSR defaults for this hart. */
static void hart_init_local(struct hart *hart)
{
    __asm__ volatile("mv tp, %0" ::"r"(hart));
    csr_write(sscratch, 0);
    csr_write(stvec, (uint64_t)(uintptr_t)trap_entry);
    vcpu_arch_probe_hart();
}

/* The runner passes "umbra.config=0xADDR" in bootargs; the text sits in the
 * staging area at the top of RAM, NUL-terminated. */
static const char *find_config_text(size_t *len)
{
    const char *args = platform.bootargs, *key = "umbra.config=0x";
    const char *p = args ? strchr_k(args, 'u') : NULL;
    for (; p; p = strchr_k(p + 1, 'u'))
        if (strncmp(p, key, strlen(key)) == 0)
            break;
    if (!p)
        return NULL;
    paddr_t addr = 0;
    for (p += strlen(key); (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'); p++)
        addr = addr * 16 + (uint64_t)(*p <= '9' ? *p - '0' : *p - 'a' + 10);
    paddr_t ram_end = platform.ram_base + platform.ram_size;
    if (addr < ptr_to_pa(_end) || addr >= ram_end)
        return NULL;
    const char *text = pa_to_ptr(addr);
    size_t n = 0;
    while (addr + n < ram_end && text[n])
        n++;
    *len = n;
    return text;
}

static void boot_load_config(void)
{
    char err[160];
    size_t len;
    const char *text = find_config_text(&len);
    if (!text)
        boot_fail(MACHINE_BAD_CONFIG, "no configuration: boot Umbra with tools/umbra-run");
    if (config_parse(text, len, &config, err, sizeof(err)) != 0)
        boot_fail(MACHINE_BAD_CONFIG, err);
    paddr_t pool_base = ALIGN_UP(ptr_to_pa(_end), MIB(2));
    if (config.staging <= pool_base || config.staging > platform.ram_base + platform.ram_size)
        boot_fail(MACHINE_BAD_CONFIG, "the staging area overlaps Umbra or lies outside RAM");
    umbra_staging = config.staging;
    umbra_trace_flags = config.trace;
    ptdump_init(&config);
    frame_pool_init(&umbra_pool, pool_base, ALIGN_DOWN(config.staging, PAGE_SIZE));
    /* Zeroing VM RAM is most of Umbra's start: a block per instruction. */
    if (platform_isa_has("zicboz"))
        umbra_pool_use_cbo_zero(platform.cboz_block);
}

static void boot_create_vms(void)
{
    char err[160];
    unsigned next_hart = 0;
    for (unsigned i = 0; i < config.nvms; i++) {
        if (vm_create(&vms[i], i, &config.vms[i], next_hart, err, sizeof(err)) != 0)
            boot_fail(MACHINE_BAD_CONFIG, err);
        char where[48];
        if (vms[i].ram)
            fmt_snprintf(where, sizeof(where), "page by page (%s backing)",
                         mem_backing_name(config.vms[i].mem_backing));
        else
            fmt_snprintf(where, sizeof(where), "at host 0x%llx", (unsigned long long)vms[i].mem.regions[0].hpa);
        kprintf("umbra: vm %s: mode %s, %llu MiB RAM %s, %u vCPU(s) on harts %u-%u, VMID %u\n",
                config.vms[i].name, vms[i].mmu->name, (unsigned long long)(vms[i].ram_size >> 20), where,
                vms[i].ncpus, next_hart, next_hart + vms[i].ncpus - 1, vms[i].vmid);
        next_hart += config.vms[i].cpus;
        vm_count++;
    }
    /* Shared devices need every sharer's RAM and DMA table. */
    if (share_init(err, sizeof(err)) != 0)
        boot_fail(MACHINE_BAD_CONFIG, err);
    /* The monitor takes the first hart no vCPU is pinned to. */
    if (config.monitor && next_hart >= hart_count)
        boot_fail(MACHINE_BAD_CONFIG, "monitor=1 needs a hart without a vCPU (tools/umbra-run --monitor adds one)");
    monitor_init(&config, next_hart);
    /* The vIOMMU sidecore takes the next one. */
    if (sidecore_init(&config, next_hart + (config.monitor ? 1 : 0), hart_count) != 0)
        boot_fail(MACHINE_BAD_CONFIG, "viommu=sidecore needs a hart without a vCPU (tools/umbra-run adds one)");
}

/* Every hart comes up, each on its own stack; one without a vCPU idles in
 * hart_run, ready for when vCPUs can move between harts. */
static void boot_start_harts(unsigned long boot_hartid)
{
    for (unsigned i = 0; i < hart_count; i++) {
        if (harts[i].hartid == boot_hartid)
            continue;
        if (sbi_hart_start(harts[i].hartid, ptr_to_pa((void *)secondary_entry), 0) != SBI_SUCCESS)
            boot_fail(MACHINE_PANIC, "the firmware refused to start a hart");
    }
}

/* The machine's IOMMU, if it has one: up with every device blocked.  A
 * machine without one, or with one Umbra cannot use, runs its VMs all the
 * same, except that a VM with an assigned device is refused (iommu/passthrough/vpci.c). */
static void boot_init_iommu(void)
{
    char err[160];
    if (!platform.iommu_base)
        return;
    if (iommu_init(platform.iommu_base, err, sizeof(err)) != 0) {
        kprintf("umbra: %s; going on without it\n", err);
        return;
    }
    kprintf("umbra: iommu at 0x%lx: version %u.%u, %u-byte device contexts, %u-level directory, "
            "every device blocked (%lu commands), directory at host 0x%lx\n", iommu.base,
            iommu.caps.version >> 4u, iommu.caps.version & 0xfu, iommu_dc_size(iommu.dc_format),
            iommu_ddt_levels(iommu.ddt_mode), iommu.commands, iommu.ddt_root);
}

/* Bus 0 of the PCI host bridge: enumerated and every BAR placed, so the
 * devices are ready for assignment.  A bus Umbra cannot set up is reported
 * and left alone. */
static void boot_init_pci(void)
{
    char err[160];
    if (pci_host_init(platform.fdt, err, sizeof(err)) != 0)
        kprintf("umbra: %s; PCI devices stay unused\n", err);
}

void boot_main(unsigned long hartid, const void *fdt)
{
    uint64_t start = instret_read();
    char err[160];
    int probe = platform_probe(fdt, hartid, err, sizeof(err));
    console_init(platform.uart_base, platform.uart_reg_shift);
    kprintf("umbra: RISC-V hypervisor, boot hart %lu\n", hartid);
    if (probe != 0)
        boot_fail(MACHINE_PANIC, err);
    if (!platform_isa_has("h"))
        boot_fail(MACHINE_PANIC, "this CPU has no H extension (riscv,isa lacks 'h')");
    if (!platform_isa_has("sstc"))
        boot_fail(MACHINE_PANIC, "this CPU has no Sstc, which guest timers rely on");
    struct hart *self = hart_by_id(hartid);
    ASSERT(self);                   /* platform_probe checked the boot hart */
    hart_init_local(self);
    kprintf("umbra: %u hart(s), %llu MiB RAM, %u-bit VMIDs, isa %s\n", hart_count,
            (unsigned long long)(platform.ram_size >> 20), vcpu_arch_vmid_bits(), platform.isa);
    boot_load_config();
    boot_init_iommu();
    boot_init_pci();
    boot_create_vms();
    /* Under QEMU -icount an exact figure (docs/results.md): Umbra's own
     * start, from its first instruction to the guests'. */
    kprintf("umbra: started in %llu instructions\n", (unsigned long long)(instret_read() - start));
    boot_start_harts(hartid);
    hart_run(self);
}

void boot_secondary(unsigned long hartid)
{
    struct hart *self = hart_by_id(hartid);
    if (!self)
        for (;;)
            wait_for_interrupt();
    hart_init_local(self);
    hart_run(self);
}
