/*
 * panic.c — the one fatal-error path.  Prints the reason, the trap CSRs of
 * the hart (cause, sepc, stval, htval, htinst: for a panic during exit
 * handling they describe the guest's trap) and the vCPU, then ends the
 * machine with MACHINE_PANIC so the runner reports it.
 */
#include "arch/riscv/csr.h"
#include "core/console.h"
#include "core/lib/fmt.h"
#include "core/platform.h"
#include "core/vm.h"

static volatile uint32_t panicking;

_Noreturn void panic(const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    fmt_vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (__atomic_exchange_n(&panicking, 1, __ATOMIC_ACQ_REL))
        for (;;)                    /* another hart is already reporting */
            wait_for_interrupt();
    struct hart *h = hart_self();
    kprintf("umbra: PANIC: %s\n", msg);
    kprintf("umbra:   hart %lu scause=0x%lx sepc=0x%lx stval=0x%lx htval=0x%lx htinst=0x%lx\n",
            h ? h->hartid : ~0ul, csr_read(scause), csr_read(sepc), csr_read(stval),
            csr_read(htval), csr_read(htinst));
    if (h && h->vcpu)
        kprintf("umbra:   vcpu %u of vm %s, guest pc=0x%lx\n", h->vcpu->id,
                h->vcpu->vm->config->name, h->vcpu->regs.sepc);
    else
        kprintf("umbra:   no vcpu on this hart\n");
    machine_exit(MACHINE_PANIC);
}

/* Called by trap.S for a trap taken inside Umbra itself. */
void umbra_trap(const uint64_t *frame);
void umbra_trap(const uint64_t *frame)
{
    panic("unexpected trap inside Umbra (ra=0x%lx)", frame[1]);
}
