/*
 * asm_offsets.c — the numbers arch/riscv/trap.S needs from C: offsets into
 * struct vcpu_regs and the structures it points to, and the constants the
 * fast path compares against.  Never linked: the build compiles it to
 * assembly and turns each DEFINE into a #define of build/gen/asm_offsets.h,
 * so the assembly can never disagree with the C layout.
 */
#include "core/vm.h"

#define DEFINE(sym, val) __asm__ volatile("\n.ascii \"->" #sym " %0\"" ::"i"((long)(val)))
#define OFFSET(sym, type, member) DEFINE(sym, offsetof(type, member))

/* The scan in trap.S steps by shifting the entry index. */
_Static_assert((sizeof(struct sptbuf_entry) & (sizeof(struct sptbuf_entry) - 1)) == 0, "sptbuf entry size");

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
    OFFSET(VCPU_REGS_SPTBUF, struct vcpu_regs, sptbuf);
    OFFSET(VCPU_REGS_GUEST_SATP, struct vcpu_regs, guest_satp);
    OFFSET(VCPU_REGS_SHADOW_INDEX, struct vcpu_regs, shadow_index);
    OFFSET(VCPU_REGS_FAST_INSTRET, struct vcpu_regs, fast_instret);
    OFFSET(VCPU_REGS_FAST_SATP_HITS, struct vcpu_regs, fast_satp_hits);
    OFFSET(VCPU_REGS_SHADOW_LOCK, struct vcpu_regs, shadow_lock);
    DEFINE(SHADOW_LOCK_FAST, SLEEPLOCK_FAST);
    OFFSET(SPTBUF_OFF_SIZE, struct sptbuf, size);
    OFFSET(SPTBUF_OFF_CLOCK, struct sptbuf, clock);
    OFFSET(SPTBUF_OFF_HITS, struct sptbuf, hits);
    OFFSET(SPTBUF_OFF_ENTRIES, struct sptbuf, entries);
    DEFINE(SPTBUF_ENTRY_SIZE, sizeof(struct sptbuf_entry));
    DEFINE(SPTBUF_ENTRY_SHIFT, __builtin_ctzl(sizeof(struct sptbuf_entry)));
    OFFSET(SPTBUF_ENTRY_OFF_KEY, struct sptbuf_entry, key);
    OFFSET(SPTBUF_ENTRY_OFF_SATP, struct sptbuf_entry, shadow_satp);
    OFFSET(SPTBUF_ENTRY_OFF_LRU, struct sptbuf_entry, last_used);
    OFFSET(SPTBUF_ENTRY_OFF_ROOT, struct sptbuf_entry, root_index);
}
