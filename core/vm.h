/*
 * vm.h — virtual machines, vCPUs and physical harts.
 *
 * Each vCPU is pinned to its own physical hart for its whole life (like Bao),
 * so a hart's trap stack is empty whenever its guest runs and every trap
 * starts on a fresh stack; the guest's register state lives in the vCPU.
 * What a mode keeps per VM lives with the mode (core/mmu/), what passthrough
 * keeps with passthrough (iommu/passthrough/): this header knows neither.
 */
#ifndef UMBRA_CORE_VM_H
#define UMBRA_CORE_VM_H

#include "arch/riscv/layout.h"
#include "arch/riscv/vcpu_regs.h"
#include "core/lib/base.h"
#include "core/portable/config.h"
#include "core/portable/dbtr.h"
#include "core/portable/stats.h"
#include "core/spinlock.h"
#include "mm/guest_mem.h"

/* Each layer keeps its own per-VM state; a VM only points at it. */
struct mmu_ops;
struct vpci;
struct lazy_ram;

#define MAX_VCPUS_PER_VM 8
#define GUEST_RAM_BASE 0x80000000ull
#define GUEST_KERNEL_OFFSET 0x200000ull
#define GUEST_DTB_MAX 0x4000ull

/* vCPU life cycle, as the guest sees it through SBI HSM. */
enum vcpu_state {
    VCPU_STOPPED,        /* parked on its hart, waiting for hart_start */
    VCPU_START_PENDING,  /* hart_start accepted; the hart has not entered it yet */
    VCPU_RUNNING,
    VCPU_ENDED,          /* its VM ended; the hart idles forever */
};

/* Requests another hart posts to a vCPU (bits of vcpu.requests). */
#define VCPU_REQ_STOP       (1u << 0)   /* the VM is ending: leave the guest */
#define VCPU_REQ_VSSIP      (1u << 1)   /* raise the guest's software interrupt */
#define VCPU_REQ_TLB_FLUSH  (1u << 2)   /* flush this hart's guest TLB and ack (vm_shootdown) */
#define VCPU_REQ_PAUSE      (1u << 3)   /* the monitor holds the guests: wait in Umbra (vcpu_pause) */

struct vm;

struct vcpu {
    struct vcpu_regs regs;   /* first: trap.S finds it at sscratch */
    struct vm *vm;
    unsigned id;             /* vCPU id = the guest's hart id */
    unsigned hart_index;     /* index into the hart table it is pinned to */
    volatile enum vcpu_state state;
    volatile uint32_t requests;
    volatile bool suspended; /* in SBI HSM hart_suspend (state stays RUNNING) */
    uint32_t fwft_locked;    /* SBI FWFT features locked on this hart (bit = feature) */
    /* Near the top: every exit reads it (small offsets are one instruction). */
    bool ptdump_watch;       /* a ptdump=CAUSE:N trigger is configured (core/monitor/ptdump.c) */
    uint8_t ptdump_done_at, ptdump_done_after; /* triggers that fired here (bit i = trigger i) */
    gpaddr_t start_pc;       /* for hart_start */
    uint64_t start_opaque;
    struct exit_stats stats; /* only this vCPU's hart writes it */
    volatile uint64_t flush_ack; /* the last vm.flush_gen this hart's TLB was flushed for */
    uint64_t instret_prev_entry;
    /* The trap being handled (copied from the CSRs on entry). */
    uint64_t scause, stval, htval, htinst;
    void *mmu_cpu;           /* the mode's own per-vCPU state: only the mode looks inside */
    /* For the monitor: whether the vCPU waits in vcpu_pause now, and the
     * guest's satp when it last stopped in Umbra (pause or end), read on
     * its own hart because under hap only that hart's vsatp holds it. */
    volatile bool paused;
    uint64_t satp_seen;
    bool dbtr_ready;         /* dbtr below has been reset (on the first DBTR call) */
    bool dbtr_fw_shmem_set;  /* the firmware has this hart's DBTR buffer (core/sbi.c) */
    uint32_t dbtr_fw_used;   /* the firmware's triggers on this hart in use (bit = index) */
    struct dbtr_vcpu dbtr;   /* the guest's SBI debug triggers (core/portable/dbtr.c) */
};
_Static_assert(offsetof(struct vcpu, regs) == 0, "trap.S expects regs first");

enum vm_state { VM_RUNNING, VM_ENDING, VM_ENDED };

#define EXIT_WORK_DEVICES (1u << 0)   /* vpci != NULL: poll the IOMMU's fault queue */
#define EXIT_WORK_PTDUMP  (1u << 1)   /* a ptdump=CAUSE:N trigger watches the vCPUs' exits */
#define EXIT_WORK_MEMORY  (1u << 2)   /* RAM kept page by page: end the VM if a page could not be backed */

struct vm {
    unsigned index;
    const struct vm_config *config;
    const struct mmu_ops *mmu;     /* how this VM's memory is virtualized (core/mmu/mmu.h) */
    /* Work at the end of every exit besides the usual, in one byte near the
     * top so that an exit without any costs one test. */
    uint8_t exit_work;             /* EXIT_WORK_* bits */
    volatile enum vm_state state;
    int status;              /* 0 = clean shutdown */
    const char *end_reason;
    uint16_t vmid;
    /* Guest RAM: [GUEST_RAM_BASE, + ram_size), reached only through mem. */
    uint64_t ram_size;
    struct guest_mem mem;
    struct lazy_ram *ram;          /* RAM kept page by page (core/memory.c), or NULL: one block */
    volatile bool held;            /* core/memory.c holds the vCPUs (they wait in vcpu_pause) */
    gpaddr_t dtb_gpa;
    unsigned ncpus;
    struct vcpu vcpus[MAX_VCPUS_PER_VM];
    /* Console line buffer, so several VMs' output stays line-separated. */
    char line[160];
    size_t line_len;
    struct spinlock lock;
    struct sleeplock shootdown_lock; /* one vm_shootdown at a time */
    volatile uint64_t flush_gen;   /* shootdowns requested so far (vm_shootdown) */
    volatile unsigned long flush_waiter; /* hart id of the vCPU waiting for the acks */
    struct vpci *vpci;             /* assigned PCI functions (iommu/passthrough/vpci.c), or NULL */
    void *mmu_state;               /* the mode's own per-VM state: only the mode looks inside */
    /* Pages of Umbra's frame pool this VM holds (its RAM, tables, shadow
     * pool): all it took at creation, plus the tables added while it ran
     * (G-stage and DMA tables for BARs, through umbra_pool_alloc_page).
     * The report shows both, so a leak shows as end > start. */
    uint64_t frame_pages;
    uint64_t frame_pages_start;
};

/* A physical hart Umbra runs on. */
struct hart {
    unsigned index;          /* position in the DTB's /cpus */
    unsigned long hartid;
    struct vcpu *vcpu;       /* the vCPU pinned here, or NULL */
};

extern struct hart harts[MAX_HARTS];
extern unsigned hart_count;
extern struct vm vms[CONFIG_MAX_VMS];
extern unsigned vm_count;

/* The guest's integer register r as the trap left it (x0 reads 0, and a
 * write to it is dropped), for every emulation that decodes an instruction. */
static inline uint64_t vcpu_reg(const struct vcpu *vcpu, unsigned r)
{
    return r ? vcpu->regs.gpr[r] : 0;
}

static inline void vcpu_set_reg(struct vcpu *vcpu, unsigned r, uint64_t value)
{
    if (r)
        vcpu->regs.gpr[r] = value;
}

static inline struct hart *hart_self(void)
{
    struct hart *h;
    __asm__("mv %0, tp" : "=r"(h));
    return h;
}

int vm_create(struct vm *vm, unsigned index, const struct vm_config *config,
              unsigned first_hart, char *err, size_t errlen);
void vm_end(struct vm *vm, int status, const char *reason);
/* The VM's exit report (docs/exit-report.md), also while it runs. */
void vm_print_report(struct vm *vm);

/* vcpu.c */
_Noreturn void hart_run(struct hart *hart);
void vcpu_post_request(struct vcpu *vcpu, uint32_t request);
/* Flush the guest TLB (hfence.vvma, everything) of the VM's other running
 * vCPUs named in `vcpus` (bit i = vCPU i) and wait until all have.  True
 * if any had to.  Safe from any Umbra context of a hart of the VM. */
bool vm_shootdown(struct vm *vm, unsigned long vcpus);
/* The target's side: flush this hart for the VM's latest shootdown and
 * wake the hart waiting for it. */
void vcpu_ack_tlb_flush(struct vcpu *vcpu);
/* For loops where a hart waits on another with interrupts off: answer a
 * pending shootdown, or the other hart could be waiting on this one. */
void vcpu_serve_while_waiting(struct vcpu *self);
/* Take or release a sleeplock (core/spinlock.h) from a hart of self's VM
 * (self may be NULL outside a vCPU); waiting answers shootdowns. */
void sleeplock_acquire(struct sleeplock *l, struct vcpu *self);
void sleeplock_release(struct sleeplock *l);
/* One try, no waiting (the short trap path must not serve shootdowns). */
bool sleeplock_try(struct sleeplock *l);
void vcpu_account_instret(struct vcpu *vcpu, uint64_t now_entry);
void vcpu_close_instret(struct vcpu *vcpu);
_Noreturn void vcpu_park(struct vcpu *vcpu, enum vcpu_state state);
/* SBI HSM suspend: wait on this hart until an interrupt the guest enabled
 * is pending (handling requests meanwhile).  vcpu_restart then enters the
 * guest afresh at pc with a0 = hart id, a1 = opaque (non-retentive). */
void vcpu_suspend(struct vcpu *vcpu);
_Noreturn void vcpu_restart(struct vcpu *vcpu, gpaddr_t pc, uint64_t opaque);
/* exit.c: act on posted requests (may park the vCPU for good). */
void vcpu_process_requests(struct vcpu *vcpu);
/* Wait in Umbra while the monitor holds the guests (VCPU_REQ_PAUSE). */
void vcpu_pause(struct vcpu *vcpu);
/* Wake a vCPU's hart (the monitor letting go). */
void vcpu_kick(struct vcpu *vcpu);
struct vcpu *vcpu_current(void);

/* exit.c: the general path, and the short one (trap.S: true when the trap
 * was handled with only the registers a C call may change saved). */
struct vcpu_regs *vcpu_handle_trap(struct vcpu_regs *regs);
bool vcpu_short_ecall(struct vcpu_regs *regs);
bool vcpu_short_page_fault(struct vcpu_regs *regs);
bool vcpu_short_virtual_instruction(struct vcpu_regs *regs, uint64_t rs1_value, uint64_t rs2_value);

/* sbi.c: an ecall on the general path; on the short one, true if it was
 * an extension that may be handled there (counted as a fast exit). */
void sbi_handle_ecall(struct vcpu *vcpu);
bool sbi_handle_short(struct vcpu *vcpu);
/* Give back the hardware triggers a vCPU's guest installed (it ends). */
void sbi_dbtr_release(struct vcpu *vcpu);


#endif
