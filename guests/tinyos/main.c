/*
 * main.c — tinyos boot: read the DTB, hand RAM to the frame allocator,
 * build the kernel's direct map and turn Sv39 on (probing the ASID width
 * on the way), install the user trap path and the scheduling tick, then
 * run the workloads named on the command line and shut down through SRST:
 * reason "none" when every self-check passed, "system failure" otherwise.
 */
#include "core/lib/fmt.h"
#include "guests/common/console.h"
#include "guests/common/platform.h"
#include "guests/common/sbi.h"
#include "guests/tinyos/kernel.h"

#define DEFAULT_QUANTUM_US 1000

struct kstats kstats;

/* Copied out of the DTB before its memory could be reused. */
static char boot_args[BOOTARGS_MAX];

_Noreturn void kernel_fail(const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    fmt_vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    console_line("FAIL %s", msg);
    sbi_shutdown(true);
}

static void boot_copy_args(const struct platform *plat)
{
    size_t len = strlen(plat->bootargs);
    if (len >= sizeof(boot_args))
        kernel_fail("bootargs longer than %zu bytes", sizeof(boot_args) - 1);
    memcpy(boot_args, plat->bootargs, len + 1);
}

uint64_t bootarg_number(const char *bootargs, const char *key, uint64_t fallback)
{
    /* platform_bootarg() only looks at the bootargs field. */
    const struct platform plat = { .bootargs = bootargs };
    /* As long as the whole command line, so no value is too long to see. */
    char buf[BOOTARGS_MAX];
    if (!platform_bootarg(&plat, key, buf, sizeof(buf)))
        return fallback;
    if (!buf[0] || strlen(buf) > 18)
        kernel_fail("bootarg %s=%s is not a number below 10^18", key, buf);
    uint64_t v = 0;
    for (const char *s = buf; *s; s++) {
        if (*s < '0' || *s > '9')
            kernel_fail("bootarg %s=%s is not a number below 10^18", key, buf);
        v = v * 10 + (uint64_t)(*s - '0');
    }
    return v;
}

/* Free RAM: after the image, minus the DTB if it sits in RAM. */
static void boot_memory(const struct platform *plat)
{
    uint64_t ram_end = platform_ram_end(plat);
    uint64_t image_end = platform_image_end();
    uint64_t dtb = ptr_to_pa(plat->dtb);
    uint64_t hole_start = ALIGN_DOWN(dtb, PAGE_SIZE);
    uint64_t hole_end = ALIGN_UP(dtb + plat->dtb_size, PAGE_SIZE);
    if (plat->mem_base != GUEST_RAM_BASE || ram_end <= image_end + MIB(4))
        kernel_fail("unusable memory: base 0x%lx size 0x%lx", (unsigned long)plat->mem_base,
                    (unsigned long)plat->mem_size);
    frame_init(image_end, ram_end, hole_start, hole_end);
    /* The direct map starts at the 2 MiB boundary holding the image; the
     * firmware's region below it is never mapped. */
    vm_init(ALIGN_DOWN(GUEST_RAM_BASE + MIB(2), MEGAPAGE), ram_end, image_end);
}

void guest_main(uint64_t hartid, const void *dtb)
{
    struct platform plat;
    console_init("tinyos");
    if (!platform_read(&plat, hartid, dtb))
        kernel_fail("unusable DTB (fdt_check %d)", plat.dtb_error);
    boot_copy_args(&plat);
    bool sstc = platform_isa_has(&plat, "sstc");
    unsigned asid_limit = (unsigned)MIN(bootarg_number(boot_args, "asids", ASID_NO_LIMIT),
                                        ASID_NO_LIMIT);
    uint64_t quantum_us = bootarg_number(boot_args, "quantum_us", DEFAULT_QUANTUM_US);

    boot_memory(&plat);
    asid_init(asid_limit);
    usertrap_init();
    file_init();
    tick_init(plat.timebase_hz, sstc, quantum_us ? quantum_us : DEFAULT_QUANTUM_US);
    console_line("boot: %lu MiB RAM, Sv39, %u ASID bits (%u in use), tick %s every %lu us",
                 (unsigned long)(plat.mem_size >> 20), asid_bits(), asid_count(),
                 sstc ? "stimecmp" : "sbi_set_timer", (unsigned long)quantum_us);
    /* Where the DTB sits differs under a hypervisor: a measure line. */
    console_line("measure boot free_pages=%zu", frame_free_count());

    workload_run_from_bootargs(boot_args);
    console_line("all workloads passed their checks");
    sbi_shutdown(false);
}
