/*
 * asm_offsets.c — the numbers arch/riscv/trap.S needs from C: offsets into
 * struct vcpu_regs, struct hart and the ssp fast path's state, and the
 * lock value the fast path holds.  Never linked: the build compiles it to
 * assembly and turns each DEFINE into a #define of build/gen/asm_offsets.h,
 * so the assembly can never disagree with the C layout.
 */
#include "arch/riscv/vcpu_regs.h"
#include "core/mmu/mode_shadow.h"
#include "core/spinlock.h"
#include "core/vm.h"

#define DEFINE(sym, val) __asm__ volatile("\n.ascii \"->" #sym " %0\"" ::"i"((long)(val)))
#define OFFSET(sym, type, member) DEFINE(sym, offsetof(type, member))

/* The scan in trap.S steps by shifting the entry index. */
_Static_assert((sizeof(struct sptbuf_entry) & (sizeof(struct sptbuf_entry) - 1)) == 0, "sptbuf entry size");
_Static_assert(offsetof(struct vcpu_regs, gpr) == 0, "trap.S saves x1..x31 at 8 * n");

void asm_offsets(void);
void asm_offsets(void)
{
    OFFSET(VCPU_REGS_SEPC, struct vcpu_regs, sepc);
    OFFSET(VCPU_REGS_SSTATUS, struct vcpu_regs, sstatus);
    OFFSET(VCPU_REGS_HSTATUS, struct vcpu_regs, hstatus);
    OFFSET(VCPU_REGS_HOST_SP, struct vcpu_regs, host_sp);
    OFFSET(VCPU_REGS_HOST_TP, struct vcpu_regs, host_tp);
    OFFSET(VCPU_REGS_INSTRET_ENTRY, struct vcpu_regs, instret_entry);
    OFFSET(VCPU_REGS_INSTRET_RESUME, struct vcpu_regs, instret_resume);
    OFFSET(VCPU_REGS_FAST_INSTRET, struct vcpu_regs, fast_instret);
    OFFSET(VCPU_REGS_FAST, struct vcpu_regs, fast);
    /* tp is the hart; its vCPU's regs are the vCPU (offset 0, core/vm.h). */
    OFFSET(HART_VCPU, struct hart, vcpu);
    /* struct shadow_cpu, the fast path's state */
    OFFSET(FAST_GUEST_SATP, struct shadow_cpu, guest_satp);
    OFFSET(FAST_SHADOW_INDEX, struct shadow_cpu, shadow_index);
    OFFSET(FAST_SATP_HITS, struct shadow_cpu, fast_satp_hits);
    OFFSET(FAST_LOCK, struct shadow_cpu, lock);
    OFFSET(FAST_SPTBUF_SIZE, struct shadow_cpu, sptbuf.size);
    OFFSET(FAST_SPTBUF_CLOCK, struct shadow_cpu, sptbuf.clock);
    OFFSET(FAST_SPTBUF_ENTRIES, struct shadow_cpu, sptbuf.entries);
    DEFINE(SPTBUF_ENTRY_SHIFT, __builtin_ctzl(sizeof(struct sptbuf_entry)));
    DEFINE(SPTBUF_ENTRY_SIZE, sizeof(struct sptbuf_entry));
    OFFSET(SPTBUF_ENTRY_OFF_KEY, struct sptbuf_entry, key);
    OFFSET(SPTBUF_ENTRY_OFF_SATP, struct sptbuf_entry, shadow_satp);
    OFFSET(SPTBUF_ENTRY_OFF_LRU, struct sptbuf_entry, last_used);
    OFFSET(SPTBUF_ENTRY_OFF_ROOT, struct sptbuf_entry, root_index);
    DEFINE(SHADOW_LOCK_FAST, SLEEPLOCK_FAST);
}
