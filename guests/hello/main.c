/*
 * hello — the smallest built-in guest.  It greets, summarizes its DTB,
 * checks a handful of SBI return values, takes a timer interrupt (through
 * SBI, then through Sstc when the ISA string has it) and shuts down through
 * SRST, reporting failure if any check failed.  It prints only what is the
 * same natively and inside an Umbra VM, so the two outputs can be diffed,
 * except its last line, "measure instret=N", which comparisons skip.
 */
#include "core/lib/fmt.h"
#include "guests/common/check.h"
#include "guests/common/console.h"
#include "guests/common/csr.h"
#include "guests/common/platform.h"
#include "guests/common/sbi.h"
#include "guests/common/timer.h"

#define HELLO_UNKNOWN_EID 0x0A0B0C0D
#define HELLO_NO_SUCH_HART 12345

struct hello_extension {
    const char *name;
    uint64_t eid;
};

/* What the platform contract promises a guest (design brief, section 2). */
static const struct hello_extension hello_extensions[] = {
    { "BASE", SBI_EXT_BASE }, { "TIME", SBI_EXT_TIME }, { "IPI", SBI_EXT_IPI },
    { "RFENCE", SBI_EXT_RFENCE }, { "HSM", SBI_EXT_HSM }, { "SRST", SBI_EXT_SRST },
    { "DBCN", SBI_EXT_DBCN },
};

static void hello_show_dtb(const struct platform *p)
{
    check_eq(p->dtb_error, 0, "fdt_check of the boot DTB");
    console_line("memory base=0x%lx size=0x%lx (%lu MiB)", (unsigned long)p->mem_base,
                 (unsigned long)p->mem_size, (unsigned long)(p->mem_size >> 20));
    console_line("cpus=%u", p->cpu_count);
    console_line("timebase-frequency=%u", (unsigned)p->timebase_hz);
    console_line("bootargs=\"%s\"", p->bootargs);
    check_true(strncmp(p->isa, "rv64", 4) == 0, "riscv,isa starts with rv64");
}

static void hello_check_sbi(uint64_t hartid)
{
    uint64_t version = sbi_spec_version();
    unsigned long major = (version >> 24) & 0x7f, minor = version & 0xffffff;
    check_true(major > 0 || minor >= 2, "SBI spec version %lu.%lu is at least 0.2", major, minor);

    for (size_t i = 0; i < ARRAY_SIZE(hello_extensions); i++) {
        long present = sbi_probe_extension(hello_extensions[i].eid);
        check_eq(present, 1, "SBI extension %s: %s", hello_extensions[i].name,
                 present ? "yes" : "no");
    }
    check_eq(sbi_probe_extension(HELLO_UNKNOWN_EID), 0, "probe of unknown extension 0x%x",
             HELLO_UNKNOWN_EID);
    struct sbiret r = sbi_ecall(HELLO_UNKNOWN_EID, 0, 0, 0, 0, 0, 0, 0);
    check_eq(r.error, SBI_ERR_NOT_SUPPORTED, "call to unknown extension is NOT_SUPPORTED");

    r = sbi_hart_get_status(hartid);
    check_eq(r.error, SBI_SUCCESS, "hart_get_status(self) succeeds");
    check_eq(r.value, SBI_HSM_STATE_STARTED, "hart_get_status(self) is STARTED");
    r = sbi_hart_get_status(HELLO_NO_SUCH_HART);
    check_eq(r.error, SBI_ERR_INVALID_PARAM, "hart_get_status(%d) is INVALID_PARAM",
             HELLO_NO_SUCH_HART);
}

static void hello_take_timers(const struct platform *p)
{
    check_true(timer_take_interrupt(TIMER_SBI, 1), "timer interrupt through SBI set_timer");
    if (platform_isa_has(p, "sstc"))
        check_true(timer_take_interrupt(TIMER_SSTC, 1), "timer interrupt through stimecmp (Sstc)");
    else
        console_line("no Sstc in riscv,isa: stimecmp timer skipped");
}

void guest_main(uint64_t hartid, const void *dtb)
{
    uint64_t instret_start = csr_read(instret);
    struct platform plat;
    console_init("hello");
    console_line("Hello from hart %lu", (unsigned long)hartid);
    platform_read(&plat, hartid, dtb);
    timer_init(plat.timebase_hz);

    hello_show_dtb(&plat);
    hello_check_sbi(hartid);
    hello_take_timers(&plat);

    console_line("%u passed, %u failed", check_passed(), check_failed());
    /* Instructions the guest retired from entry to here: the cost of the
     * same work natively and in a VM.  It differs between the two by
     * nature, so comparisons skip lines containing " measure ". */
    uint64_t instret_end = csr_read(instret);
    console_line("measure instret=%lu", (unsigned long)(instret_end - instret_start));
    sbi_shutdown(check_failed() != 0);
}
