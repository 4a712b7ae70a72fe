/*
 * devtest — a bare-metal guest that drives PCI devices the way a kernel on
 * bare QEMU virt does: it finds the ECAM host bridge in its DTB, turns on
 * Sv39 (an identity map of ECAM, the BAR window and RAM), enumerates bus 0,
 * sizes and assigns the BARs itself, and tests every device it knows:
 * QEMU's `edu` (edu.c) and NVMe controllers (blktest.c).  The same image
 * runs natively and inside an Umbra VM that has devices passed through; its
 * RESULT and PASS/FAIL lines must be the same in both (devtest.h).
 *
 * Bootargs (all optional):
 *   blk_mib=N           MiB per nvme phase (default 16; 0 = bring-up only)
 *   blk_write=0         nvme: the read phase only (for measuring reads)
 *   garbage=SEED        random config writes before the bring-up (garbage.c);
 *                       decimal, or hex with 0x
 *   attack=ADDR[,ADDR]  hex DMA targets for the edu attack (edu.c), at most 8;
 *                       raw addresses given to the device, past the DMA layer
 *   touch_mib=N         write, check, sum and zero N MiB of free RAM; then
 *   touch_wait_ms=M     spin M ms and check it again (memtouch.c)
 *   edu_loops=N         N rounds of 3 edu transfers with data checks (edu.c),
 *                       up to 100000; edu_seed=N seeds their data
 *   edu_garbage=SEED    random edu register writes instead of the edu test,
 *                       waiting for nothing (for shared-device tests)
 * The guest's own IOMMU (iommu.c; used only if the DTB has a "riscv,iommu"
 * node, else DMA addresses stay physical and these change nothing but the
 * phases they ask for):
 *   iommu_ddt=1|2       device-directory levels (default 2)
 *   dma_teardown=strict|deferred|optimistic   unmap policy (dma.h; default strict)
 *   iommu_bench=N       N map+unmap pairs of one page, timed (iommutest.c)
 *   iommu_bench_buffers=K  only the phase over K buffers in turn (1 or 32;
 *                       default: both)
 *   iommu_wait=spin|sleep  how the IOMMU driver waits for a fence not yet
 *                       done (default spin; iommu.h)
 *   iommu_attack=ADDR[,ADDR]  map an IOVA to each hex physical ADDR and let
 *                       edu write there; prints what the fault queue got
 *   iommu_badtable=1    a device context whose table root is outside RAM,
 *                       then a DMA: the fault queue must get a record
 *   iommu_fuzz=SEED     random register writes and command streams, a full
 *                       re-init, malformed commands (CMD_ILL), an edu round trip
 *
 * It ends like the other guests: "N passed, M failed", then SBI system
 * reset, reason "system failure" if anything failed.
 */
#include "core/lib/fmt.h"
#include "guests/common/check.h"
#include "guests/common/console.h"
#include "guests/common/platform.h"
#include "guests/common/sbi.h"
#include "guests/common/timer.h"
#include "core/lib/coiommu_abi.h"
#include "guests/devtest/coiommu.h"
#include "guests/devtest/devtest.h"
#include "guests/devtest/iommu.h"
#include "guests/devtest/paging.h"

#define DEVTEST_ARG_MAX 256
#define DEVTEST_BLK_MIB_MAX 65536      /* 64 GiB per phase: far beyond any test disk */
#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8
#define NVME_CLASS 0x010802             /* mass storage, NVM, NVMe I/O controller */

static struct pcibus devtest_bus;

static _Noreturn void devtest_finish(void)
{
    console_line("dma maps=%u coiommu_notifications=%u", dma_map_calls(), coiommu_notifications());
    console_line("%u passed, %u failed", check_passed(), check_failed());
    sbi_shutdown(check_failed() != 0);
}

/* ---- Bootargs ----------------------------------------------------------- */

static int devtest_digit(char ch, unsigned base)
{
    int d = -1;
    if (ch >= '0' && ch <= '9')
        d = ch - '0';
    else if (ch >= 'a' && ch <= 'f')
        d = ch - 'a' + 10;
    else if (ch >= 'A' && ch <= 'F')
        d = ch - 'A' + 10;
    return d >= 0 && (unsigned)d < base ? d : -1;
}

/* The number in s[0, len): hex if base is 16 or it starts with 0x,
 * decimal otherwise.  False if empty, malformed or above 2^64 - 1. */
static bool devtest_parse_u64(const char *s, size_t len, unsigned base, uint64_t *out)
{
    if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
        len -= 2;
        base = 16;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        int d = devtest_digit(s[i], base);
        if (d < 0 || v > (UINT64_MAX - (uint64_t)d) / base)
            return false;
        v = v * base + (uint64_t)d;
    }
    *out = v;
    return len > 0;
}

/* key=N (decimal, or hex with 0x) into *out if the bootargs have it:
 * false, with a message, if it is not a number up to max.  *given, if not
 * NULL, says whether it was there. */
static bool devtest_number(const struct platform *p, const char *key, uint64_t max, uint64_t *out, bool *given)
{
    char arg[32];
    bool present = platform_bootarg(p, key, arg, sizeof(arg));
    if (given)
        *given = present;
    if (present && (!devtest_parse_u64(arg, strlen(arg), 10, out) || *out > max)) {
        if (max == UINT64_MAX)
            console_line("error: %s=%s is not a number", key, arg);
        else
            console_line("error: %s=%s is not a number up to %lu", key, arg, (unsigned long)max);
        return false;
    }
    return true;
}

/* A comma-separated list of hex addresses into list[], *count of them. */
static bool devtest_parse_addrs(const char *text, uint64_t *list, unsigned *count)
{
    for (const char *s = text; *s;) {
        size_t len = 0;
        while (s[len] && s[len] != ',')
            len++;
        if (*count == DEVTEST_MAX_ATTACKS || !devtest_parse_u64(s, len, 16, &list[(*count)++]))
            return false;
        s += len + (s[len] == ',');
    }
    return *count > 0;
}

static bool devtest_parse_teardown(const char *arg, enum dma_teardown *out)
{
    static const enum dma_teardown all[] = { DMA_STRICT, DMA_DEFERRED, DMA_OPTIMISTIC };
    for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
        if (strcmp(arg, dma_teardown_name(all[i])) == 0) {
            *out = all[i];
            return true;
        }
    }
    return false;
}

static bool devtest_read_iommu_options(const struct platform *p, struct devtest_options *opt)
{
    char arg[DEVTEST_ARG_MAX];
    if (platform_bootarg(p, "iommu_ddt", arg, sizeof(arg))) {
        if (strcmp(arg, "1") != 0 && strcmp(arg, "2") != 0) {
            console_line("error: iommu_ddt=%s: want 1 or 2", arg);
            return false;
        }
        opt->iommu_ddt = (unsigned)(arg[0] - '0');
    }
    if (platform_bootarg(p, "dma_teardown", arg, sizeof(arg)) &&
        !devtest_parse_teardown(arg, &opt->teardown)) {
        console_line("error: dma_teardown=%s: want strict, deferred or optimistic", arg);
        return false;
    }
    if (!devtest_number(p, "iommu_bench", UINT64_MAX, &opt->iommu_bench, NULL))
        return false;
    if (platform_bootarg(p, "iommu_wait", arg, sizeof(arg))) {
        if (strcmp(arg, "spin") != 0 && strcmp(arg, "sleep") != 0) {
            console_line("error: iommu_wait=%s: want spin or sleep", arg);
            return false;
        }
        opt->iommu_wait_sleep = arg[1] == 'l';
    }
    if (platform_bootarg(p, "iommu_bench_buffers", arg, sizeof(arg)) &&
        (!devtest_parse_u64(arg, strlen(arg), 10, &opt->iommu_bench_buffers) ||
         (opt->iommu_bench_buffers != 1 && opt->iommu_bench_buffers != DEVTEST_BENCH_ROTATE))) {
        console_line("error: iommu_bench_buffers=%s: want 1 or %u", arg, DEVTEST_BENCH_ROTATE);
        return false;
    }
    if (platform_bootarg(p, "iommu_attack", arg, sizeof(arg)) &&
        !devtest_parse_addrs(arg, opt->iommu_attack, &opt->iommu_attack_count)) {
        console_line("error: iommu_attack=%s: want up to %u hex addresses separated by commas",
                     arg, DEVTEST_MAX_ATTACKS);
        return false;
    }
    if (platform_bootarg(p, "iommu_badtable", arg, sizeof(arg)))
        opt->iommu_badtable = strcmp(arg, "0") != 0;
    if (platform_bootarg(p, "iommu_fuzz", arg, sizeof(arg))) {
        opt->iommu_fuzz = true;
        if (!devtest_parse_u64(arg, strlen(arg), 10, &opt->iommu_fuzz_seed)) {
            console_line("error: iommu_fuzz=%s is not a number", arg);
            return false;
        }
    }
    return true;
}

/* edu_loops=, edu_seed=, edu_garbage= (edu.c). */
static bool devtest_read_edu_options(const struct platform *p, struct devtest_options *opt)
{
    return devtest_number(p, "edu_loops", DEVTEST_EDU_LOOPS_MAX, &opt->edu_loops, NULL) &&
           devtest_number(p, "edu_seed", UINT64_MAX, &opt->edu_seed, NULL) &&
           devtest_number(p, "edu_garbage", UINT64_MAX, &opt->edu_garbage_seed, &opt->edu_garbage);
}

static bool devtest_read_options(const struct platform *p, struct devtest_options *opt)
{
    char arg[DEVTEST_ARG_MAX];
    *opt = (struct devtest_options){ .blk_mib = DEVTEST_BLK_MIB_DEFAULT, .blk_write = true };
    if (platform_bootarg(p, "blk_mib", arg, sizeof(arg)) &&
        (!devtest_parse_u64(arg, strlen(arg), 10, &opt->blk_mib) ||
         opt->blk_mib > DEVTEST_BLK_MIB_MAX)) {
        console_line("error: blk_mib=%s is not a number of MiB up to %u", arg,
                     DEVTEST_BLK_MIB_MAX);
        return false;
    }
    if (platform_bootarg(p, "blk_write", arg, sizeof(arg))) {
        if (strcmp(arg, "0") != 0 && strcmp(arg, "1") != 0) {
            console_line("error: blk_write=%s: want 0 or 1", arg);
            return false;
        }
        opt->blk_write = arg[0] == '1';
    }
    if (!devtest_number(p, "garbage", UINT64_MAX, &opt->garbage_seed, &opt->garbage))
        return false;
    if (!devtest_read_edu_options(p, opt))
        return false;
    if (platform_bootarg(p, "attack", arg, sizeof(arg)) &&
        !devtest_parse_addrs(arg, opt->attack, &opt->attack_count)) {
        console_line("error: attack=%s: want up to %u hex addresses separated by commas", arg,
                     DEVTEST_MAX_ATTACKS);
        return false;
    }
    if (!devtest_number(p, "touch_mib", 1024, &opt->touch_mib, NULL) ||
        !devtest_number(p, "touch_wait_ms", 600000, &opt->touch_wait_ms, NULL))
        return false;
    return devtest_read_iommu_options(p, opt);
}

/* ---- Memory ------------------------------------------------------------ */

static void devtest_find_free_ram(const struct platform *p, struct devtest_ram *ram)
{
    uint64_t dtb = ptr_to_pa(p->dtb);
    ram->start = p->mem_base;
    ram->end = platform_ram_end(p);
    ram->free_start = ALIGN_UP(platform_image_end(), PAGE_SIZE);
    ram->free_end = ram->end;
    if (dtb >= ram->free_start && dtb < ram->end)
        ram->free_end = ALIGN_DOWN(dtb, PAGE_SIZE);
    console_line("own RAM [0x%lx, 0x%lx), free for attack targets [0x%lx, 0x%lx)",
                 (unsigned long)ram->start, (unsigned long)ram->end,
                 (unsigned long)ram->free_start, (unsigned long)ram->free_end);
}

/* Identity map ECAM, the BAR window, RAM and the IOMMU's registers (if
 * iommu_regs is not 0), then turn paging on. */
static bool devtest_paging_on(const struct platform *p, const struct pcibus_host *h,
                              uint64_t iommu_regs, uint64_t coiommu_regs)
{
    if (!paging_map_identity(h->ecam_base, h->ecam_size) ||
        !paging_map_identity(h->mem_cpu, h->mem_size) ||
        !paging_map_identity(p->mem_base, p->mem_size) ||
        (iommu_regs && !paging_map_identity(iommu_regs, IOMMU_REG_PAGE)) ||
        (coiommu_regs && !paging_map_identity(coiommu_regs, COIOMMU_SIZE))) {
        console_line("error: ECAM, BAR window, RAM or IOMMU lies beyond what an Sv39 identity "
                     "map covers");
        return false;
    }
    paging_enable();
    return true;
}

/* With an IOMMU in the DTB, devices DMA through it (a failure to bring
 * it up is a FAIL: the devices then get no DMA or only what it allows). */
static void devtest_iommu_on(bool present, uint64_t regs, uint64_t coiommu_regs, const struct devtest_options *opt)
{
    bool on = false;
    if (present) {
        struct iommu_config cfg = { .ddt_levels = opt->iommu_ddt, .wait_sleep = opt->iommu_wait_sleep };
        on = check_true(iommu_init(regs, &cfg), "the IOMMU in the DTB brought up");
    } else {
        console_line("no IOMMU in the DTB: DMA addresses are physical");
    }
    dma_setup(opt->teardown, on);
    if (coiommu_regs) {
        bool tracked = check_true(coiommu_init(coiommu_regs), "the coIOMMU in the DTB took the DMA tracking table");
        dma_track_with_coiommu(tracked);
        console_line("dma tracked with the coIOMMU at 0x%lx", (unsigned long)coiommu_regs);
    }
    console_line("dma teardown %s", dma_teardown_name(opt->teardown));
}

/* ---- Devices ----------------------------------------------------------- */

/* Runs the test of every supported function; returns how many there were. */
static unsigned devtest_run_devices(const struct devtest_options *opt,
                                    const struct devtest_ram *ram)
{
    unsigned tested = 0;
    for (unsigned i = 0; i < devtest_bus.count; i++) {
        const struct pcibus_func *f = &devtest_bus.funcs[i];
        if (f->skip_reason)
            continue;
        if (f->vendor == EDU_VENDOR && f->device == EDU_DEVICE) {
            edu_run(f, opt, ram);
            tested++;
        } else if (f->class_code == NVME_CLASS) {
            nvme_run(f, opt->blk_mib, opt->blk_write);
            iommu_drain_faults();
            tested++;
        }
    }
    return tested;
}

static void devtest_bring_up(const struct devtest_options *opt)
{
    pcibus_scan(&devtest_bus);
    if (opt->garbage) {
        unsigned writes = garbage_config_writes(&devtest_bus, opt->garbage_seed);
        console_line("RESULT garbage writes=%u done", writes);
        /* From scratch: garbage may have changed anything but the IDs. */
        pcibus_scan(&devtest_bus);
    }
    /* Success adds no check: with no devices the run has 0 checks. */
    if (!pcibus_assign(&devtest_bus))
        check_true(false, "every memory BAR got an address in the window");
    pcibus_print(&devtest_bus);
}

void guest_main(uint64_t hartid, const void *dtb)
{
    struct platform plat;
    struct devtest_options opt;
    struct devtest_ram ram;
    console_init("devtest");
    if (!platform_read(&plat, hartid, dtb)) {
        console_line("error: unusable DTB (fdt_check %d, memory size 0x%lx, timebase %u)",
                     plat.dtb_error, (unsigned long)plat.mem_size, (unsigned)plat.timebase_hz);
        sbi_shutdown(true);
    }
    timer_init(plat.timebase_hz);
    if (!devtest_read_options(&plat, &opt))
        sbi_shutdown(true);
    devtest_find_free_ram(&plat, &ram);
    if (opt.touch_mib)
        memtouch_run(&opt, &ram);

    if (!pcibus_find_host(dtb, &devtest_bus)) {
        /* A memory-only run (touch_mib=) needs no devices. */
        if (!opt.touch_mib)
            check_true(false, "PCI host bridge in the DTB");
        devtest_finish();
    }
    uint64_t iommu_regs = 0, coiommu_regs = 0;
    bool iommu = iommu_find(dtb, &iommu_regs);
    if (!coiommu_find(dtb, &coiommu_regs))
        coiommu_regs = 0;
    if (!devtest_paging_on(&plat, &devtest_bus.host, iommu_regs, coiommu_regs)) {
        check_true(false, "Sv39 identity map of ECAM, BAR window and RAM");
        devtest_finish();
    }
    devtest_iommu_on(iommu, iommu_regs, coiommu_regs, &opt);
    devtest_bring_up(&opt);
    if (devtest_run_devices(&opt, &ram) == 0)
        console_line("no devices");
    devtest_finish();
}
