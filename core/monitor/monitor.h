/*
 * monitor.h — Umbra's monitor shell and its page-table dumps.
 *
 * The monitor (shell.c) runs on a hart of its own, one with no vCPU, so
 * watching costs the guests nothing until someone types.  While its prompt
 * is open every guest waits in Umbra (vcpu_pause), so what it prints is
 * one consistent moment.  docs/monitor.md is its manual.
 *
 * The dumps (ptdump.c) print a VM's guest page tables and its mode's own
 * tables as text records (docs/ptdump.md) for tools/umbra-ptdump.
 */
#ifndef UMBRA_CORE_MONITOR_H
#define UMBRA_CORE_MONITOR_H

#include "core/portable/config.h"
#include "core/vm.h"

/* The key that opens the prompt while guests run: Ctrl-] (as telnet's).
 * QEMU's own console escape, Ctrl-A, stays QEMU's. */
#define MONITOR_ESCAPE_KEY 0x1d

/* True while the monitor holds the guests (at boot, and while its prompt
 * is open): vCPUs wait instead of entering or resuming their guest. */
extern volatile bool monitor_holding;

/* shell.c */
/* At boot, before any hart runs a guest: with cfg->monitor the monitor
 * takes hart `hart_index` (one without a vCPU) and holds the guests. */
void monitor_init(const struct umbra_config *cfg, unsigned hart_index);
bool monitor_enabled(void);
bool monitor_owns_hart(const struct hart *hart);
_Noreturn void monitor_run(void);
/* Every VM has ended: the prompt opens once more, and `quit` ends the
 * machine with `status` (an enum machine_status). */
void monitor_vms_ended(int status);
/* The next byte typed for the guests while the prompt is closed, or -1:
 * with the monitor on, the first VM's UART receives through this. */
int monitor_input_take(void);

/* ptdump.c */
void ptdump_init(const struct umbra_config *cfg);
/* Some trigger watches exits (ptdump=CAUSE:N): vCPUs set ptdump_watch. */
bool ptdump_watches_exits(void);
/* With vcpu->ptdump_watch: dump for each trigger whose count this vCPU
 * has just reached, `at` (inside an sfence.vma exit, before its sync) or
 * after the exit. */
void ptdump_check_exit(struct vcpu *vcpu, bool at);
void ptdump_at_vm_end(struct vm *vm);
/* One dump of vm; `when` says when (one word); all = every shadow the mode
 * keeps, else those a vCPU runs on.  The VM's vCPUs must be stopped in
 * Umbra (paused, parked, or the caller itself). */
void ptdump_vm(struct vm *vm, const char *when, bool all);
/* For the modes' ptdump hooks: the guest tree satp names (read through the
 * VM's memory map, so any value is safe), and one of Umbra's own trees. */
void ptdump_guest_tree(const struct vm *vm, uint64_t satp, bool current);
void ptdump_host_tree(const char *attrs, paddr_t root);

#endif
