/*
 * trap.S — the only way into Umbra once guests run (stvec), and the way back
 * out (vcpu_resume).
 *
 * While a guest runs, sscratch holds its struct vcpu_regs; while Umbra runs,
 * sscratch is 0.  So one csrrw tells a guest exit from a trap taken inside
 * Umbra (which is always a bug: Umbra runs with interrupts off and never
 * faults by design) without touching any other register.
 */
#include "asm_offsets.h"
#include "core/lib/riscv.h"

    .section .text
    .balign 4
    .globl trap_entry
trap_entry:
    csrrw   sp, sscratch, sp
    beqz    sp, trap_from_umbra
    /* From a guest: sp = &vcpu->regs.  instret first, so everything below
     * is charged to Umbra. */
    sd      t0, 5*8(sp)
    csrr    t0, instret
    sd      t0, VCPU_REGS_INSTRET_ENTRY(sp)
    ld      t0, VCPU_REGS_FAST(sp)      /* ssp with a buffer: try the fast path */
    bnez    t0, fast_satp_write
trap_save_all:
    sd      x1, 1*8(sp)
    sd      x3, 3*8(sp)
    sd      x4, 4*8(sp)
    sd      x6, 6*8(sp)
    sd      x7, 7*8(sp)
    sd      x8, 8*8(sp)
    sd      x9, 9*8(sp)
    sd      x10, 10*8(sp)
    sd      x11, 11*8(sp)
    sd      x12, 12*8(sp)
    sd      x13, 13*8(sp)
    sd      x14, 14*8(sp)
    sd      x15, 15*8(sp)
    sd      x16, 16*8(sp)
    sd      x17, 17*8(sp)
    sd      x18, 18*8(sp)
    sd      x19, 19*8(sp)
    sd      x20, 20*8(sp)
    sd      x21, 21*8(sp)
    sd      x22, 22*8(sp)
    sd      x23, 23*8(sp)
    sd      x24, 24*8(sp)
    sd      x25, 25*8(sp)
    sd      x26, 26*8(sp)
    sd      x27, 27*8(sp)
    sd      x28, 28*8(sp)
    sd      x29, 29*8(sp)
    sd      x30, 30*8(sp)
    sd      x31, 31*8(sp)
    csrrw   t0, sscratch, zero          /* guest sp; Umbra now "inside" */
    sd      t0, 2*8(sp)
    csrr    t0, sepc
    sd      t0, VCPU_REGS_SEPC(sp)
    csrr    t0, sstatus
    sd      t0, VCPU_REGS_SSTATUS(sp)
    csrr    t0, hstatus
    sd      t0, VCPU_REGS_HSTATUS(sp)
    mv      a0, sp
    ld      tp, VCPU_REGS_HOST_TP(sp)
    ld      sp, VCPU_REGS_HOST_SP(sp)
    call    vcpu_handle_trap
    /* fall through with a0 = the registers to resume */

/* vcpu_resume(struct vcpu_regs *regs): enter the guest described by regs. */
    .globl vcpu_resume
vcpu_resume:
    ld      t0, VCPU_REGS_SEPC(a0)
    csrw    sepc, t0
    ld      t0, VCPU_REGS_SSTATUS(a0)
    csrw    sstatus, t0
    ld      t0, VCPU_REGS_HSTATUS(a0)
    csrw    hstatus, t0
    csrw    sscratch, a0
    csrr    t0, instret
    sd      t0, VCPU_REGS_INSTRET_RESUME(a0)
    ld      x1, 1*8(a0)
    ld      x2, 2*8(a0)
    ld      x3, 3*8(a0)
    ld      x4, 4*8(a0)
    ld      x5, 5*8(a0)
    ld      x6, 6*8(a0)
    ld      x7, 7*8(a0)
    ld      x8, 8*8(a0)
    ld      x9, 9*8(a0)
    ld      x11, 11*8(a0)
    ld      x12, 12*8(a0)
    ld      x13, 13*8(a0)
    ld      x14, 14*8(a0)
    ld      x15, 15*8(a0)
    ld      x16, 16*8(a0)
    ld      x17, 17*8(a0)
    ld      x18, 18*8(a0)
    ld      x19, 19*8(a0)
    ld      x20, 20*8(a0)
    ld      x21, 21*8(a0)
    ld      x22, 22*8(a0)
    ld      x23, 23*8(a0)
    ld      x24, 24*8(a0)
    ld      x25, 25*8(a0)
    ld      x26, 26*8(a0)
    ld      x27, 27*8(a0)
    ld      x28, 28*8(a0)
    ld      x29, 29*8(a0)
    ld      x30, 30*8(a0)
    ld      x31, 31*8(a0)
    ld      x10, 10*8(a0)
    sret

/*
 * The ssp fast path: a guest "csrw satp, rs1" (trapped by hstatus.VTVM)
 * whose value is in this vCPU's SPT base buffer.  All it reads and writes
 * of the mode is behind one pointer, vcpu_regs.fast (struct shadow_cpu,
 * core/mmu/mode_shadow.h; offsets from build/gen/asm_offsets.h).  It saves only t0-t3,
 * finds rs1's value, scans the buffer and, on a hit, loads the buffered
 * shadow into vsatp and returns straight to the guest.  Anything else (a
 * different trap, another instruction, satp = Bare, a miss) restores what
 * it touched and takes the general path above, which sees the trap exactly
 * as if the fast path had not looked.
 *
 * Cost of a hit (counted from the disassembly): 81 instructions from
 * trap_entry to sret when the first buffer entry matches (7 shared with the
 * general path, 23 to check the trap came from VS and decode it, 2 to fetch
 * rs1, 13 to refuse 0, take the VM's shadow lock and set up the scan, 3 to
 * match, 33 to switch vsatp, update the LRU and counters, release the lock
 * and return), plus 5 for each entry scanned
 * before the matching one.  A full
 * exit for the same satp write costs several hundred.
 */
fast_satp_write:
    sd      t1, 6*8(sp)
    csrr    t1, scause
    addi    t1, t1, -CAUSE_VIRTUAL_INSTRUCTION
    bnez    t1, fast_restore_t1
    csrr    t1, sstatus                 /* from VU it is an illegal instruction */
    andi    t1, t1, SSTATUS_SPP
    beqz    t1, fast_restore_t1
    sd      t2, 7*8(sp)
    csrr    t1, stval
    li      t2, ~(0x1f << INSN_RS1_SHIFT)
    and     t2, t1, t2
    li      t0, INSN_CSRW_SATP
    bne     t2, t0, fast_restore_t2
    srli    t1, t1, INSN_RS1_SHIFT
    andi    t1, t1, 0x1f
    beqz    t1, fast_restore_t2         /* csrw satp, x0: Bare, not buffered */
    la      t0, fast_read_reg
    slli    t1, t1, 3
    add     t0, t0, t1
    jr      t0                          /* t1 = the guest's x[rs1] */
fast_have_value:
    /* satp = 0 (Bare) is never buffered: empty entries have key 0, and a
     * match would load vsatp = 0 and let the guest run on host-physical
     * addresses.  The general path runs it on its physical shadow. */
    beqz    t1, fast_restore_t2
    sd      t3, 28*8(sp)
    /* The VM's shadow lock: another vCPU may be freeing a root or editing
     * this buffer (core/mmu/mode_shadow.c).  One try: a holder may be
     * waiting for this hart to answer a shootdown, which only the general
     * path does, so when the lock is taken the general path waits for it. */
    ld      t2, VCPU_REGS_FAST(sp)      /* t2 = struct shadow_cpu */
    ld      t0, FAST_LOCK(t2)
    lr.w.aq t3, (t0)
    bnez    t3, fast_restore_t3
    li      t3, SHADOW_LOCK_FAST
    sc.w    t3, t3, (t0)
    bnez    t3, fast_restore_t3
    addi    t0, t2, FAST_SPTBUF_ENTRIES
    ld      t2, FAST_SPTBUF_SIZE(t2)
    slli    t2, t2, SPTBUF_ENTRY_SHIFT
    add     t2, t2, t0                  /* end of the entries in use */
1:  bgeu    t0, t2, fast_miss
    ld      t3, SPTBUF_ENTRY_OFF_KEY(t0)
    beq     t3, t1, fast_hit
    addi    t0, t0, SPTBUF_ENTRY_SIZE
    j       1b
fast_hit:                               /* t0 = entry, t1 = guest satp */
    ld      t2, SPTBUF_ENTRY_OFF_SATP(t0)
    csrw    vsatp, t2
    ld      t3, VCPU_REGS_FAST(sp)      /* t3 = struct shadow_cpu */
    sd      t1, FAST_GUEST_SATP(t3)
    ld      t2, SPTBUF_ENTRY_OFF_ROOT(t0)
    sd      t2, FAST_SHADOW_INDEX(t3)
    ld      t2, FAST_SPTBUF_CLOCK(t3)   /* LRU: stamp the entry */
    addi    t2, t2, 1
    sd      t2, FAST_SPTBUF_CLOCK(t3)
    sd      t2, SPTBUF_ENTRY_OFF_LRU(t0)
    ld      t2, FAST_SPTBUF_HITS(t3)
    addi    t2, t2, 1
    sd      t2, FAST_SPTBUF_HITS(t3)
    ld      t2, FAST_SATP_HITS(t3)
    addi    t2, t2, 1
    sd      t2, FAST_SATP_HITS(t3)
    ld      t2, FAST_LOCK(t3)
    amoswap.w.rl zero, zero, (t2)
    csrr    t2, sepc
    addi    t2, t2, 4
    csrw    sepc, t2
    csrr    t2, instret                 /* all of this was Umbra's work */
    ld      t0, VCPU_REGS_INSTRET_ENTRY(sp)
    sub     t2, t2, t0
    ld      t0, VCPU_REGS_FAST_INSTRET(sp)
    add     t0, t0, t2
    sd      t0, VCPU_REGS_FAST_INSTRET(sp)
    ld      t0, 5*8(sp)
    ld      t1, 6*8(sp)
    ld      t2, 7*8(sp)
    ld      t3, 28*8(sp)
    csrrw   sp, sscratch, sp
    sret
fast_miss:                              /* the general path takes the lock again */
    ld      t0, VCPU_REGS_FAST(sp)
    ld      t0, FAST_LOCK(t0)
    amoswap.w.rl zero, zero, (t0)
fast_restore_t3:
    ld      t3, 28*8(sp)
fast_restore_t2:
    ld      t2, 7*8(sp)
fast_restore_t1:
    ld      t1, 6*8(sp)
    j       trap_save_all

/* x[n] -> t1, one 8-byte slot per register.  t0-t2 hold fast-path values,
 * so the guest's are read from the frame; sp's is in sscratch. */
    .balign 4
    .option push
    .option norvc
fast_read_reg:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .if \n == 2
    csrr    t1, sscratch
    .elseif (\n >= 5 && \n <= 7)
    ld      t1, \n*8(sp)
    .else
    mv      t1, x\n
    .endif
    j       fast_have_value
    .endr
    .option pop

/* A trap inside Umbra: save everything on the current stack for the panic
 * report and never return. */
trap_from_umbra:
    csrrw   sp, sscratch, sp            /* back to Umbra's sp; sscratch = 0 */
    addi    sp, sp, -32*8
    sd      x1, 1*8(sp)
    sd      x10, 10*8(sp)
    sd      x11, 11*8(sp)
    mv      a0, sp
    call    umbra_trap
1:  wfi
    j       1b
