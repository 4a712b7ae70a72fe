/*
 * vm.h — virtual machines, vCPUs and physical harts.
 *
 * Each vCPU is pinned to its own physical hart for its whole life (like Bao),
 * so a hart's trap stack is empty whenever its guest runs and every trap
 * starts on a fresh stack; the guest's register state lives in the vCPU.
 */
#ifndef UMBRA_CORE_VM_H
#define UMBRA_CORE_VM_H

#include "core/lib/base.h"
#include "core/portable/config.h"
#include "core/portable/stats.h"
#include "core/spinlock.h"
#include "iommu/passthrough/vpci.h"
#include "mm/pt.h"
#include "mm/shadow.h"
#include "mm/sptbuf.h"
#include "arch/riscv/layout.h"

#define MAX_VCPUS_PER_VM 8
#define GUEST_RAM_BASE 0x80000000ull
#define GUEST_KERNEL_OFFSET 0x200000ull
#define GUEST_DTB_MAX 0x4000ull

/*
 * The register frame that arch/riscv/trap.S saves and restores.  Its layout
 * is a contract with the assembly, which takes every offset from the
 * generated build/gen/asm_offsets.h (arch/riscv/asm_offsets.c).
 */
struct vcpu_regs {
    uint64_t gpr[32];        /* x0..x31; gpr[0] is unused */
    uint64_t sepc;
    uint64_t sstatus;
    uint64_t hstatus;
    uint64_t host_sp;        /* top of this hart's trap stack */
    uint64_t host_tp;        /* this hart's struct hart */
    uint64_t instret_entry;  /* instret read first thing on trap entry */
    uint64_t instret_resume; /* instret read last thing before sret */
    /* Shadow modes: the fast path reads and writes these. */
    uint64_t sptbuf;         /* struct sptbuf * of this vCPU, 0 = no fast path */
    uint64_t guest_satp;     /* satp as the guest wrote it (what it reads back) */
    uint64_t shadow_index;   /* the shadow root vsatp currently runs */
    uint64_t fast_instret;   /* instructions spent on the fast path, not yet accounted */
    uint64_t fast_satp_hits; /* satp writes the fast path handled */
    uint64_t shadow_lock;    /* &vm->shadow_lock: the fast path takes it too */
};


/* Register numbers of the SBI calling convention. */
enum { REG_RA = 1, REG_SP = 2, REG_A0 = 10, REG_A1, REG_A2, REG_A3, REG_A4, REG_A5, REG_A6, REG_A7 };

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

struct vm;

struct vcpu {
    struct vcpu_regs regs;   /* first: trap.S finds it at sscratch */
    struct vm *vm;
    unsigned id;             /* vCPU id = the guest's hart id */
    unsigned hart_index;     /* index into the hart table it is pinned to */
    volatile enum vcpu_state state;
    volatile uint32_t requests;
    gpaddr_t start_pc;       /* for hart_start */
    uint64_t start_opaque;
    struct exit_stats stats; /* only this vCPU's hart writes it */
    struct sptbuf sptbuf;    /* ssp: this vCPU's SPT base buffer */
    int pinned_root;         /* the shadow root this vCPU holds a pin on (SHADOW_NO_ROOT) */
    volatile uint64_t flush_ack; /* the last vm.flush_gen this hart's TLB was flushed for */
    uint64_t instret_prev_entry;
    /* The trap being handled (copied from the CSRs on entry). */
    uint64_t scause, stval, htval, htinst;
};
_Static_assert(offsetof(struct vcpu, regs) == 0, "trap.S expects regs first");

enum vm_state { VM_RUNNING, VM_ENDING, VM_ENDED };

struct mmu_ops;

struct vm {
    unsigned index;
    const struct vm_config *config;
    const struct mmu_ops *mmu;     /* how this VM's memory is virtualized */
    bool has_devices;              /* vpci.ndevs > 0, kept near the top for the exit path */
    struct shadow_vm shadow;       /* tsp/ssp */
    volatile enum vm_state state;
    int status;              /* 0 = clean shutdown */
    const char *end_reason;
    uint16_t vmid;
    struct pt gstage;
    paddr_t ram_hpa;         /* guest RAM is one contiguous host block */
    uint64_t ram_size;
    struct guest_mem mem;    /* its GPA -> HPA map (for now one contiguous region) */
    gpaddr_t dtb_gpa;
    unsigned ncpus;
    struct vcpu vcpus[MAX_VCPUS_PER_VM];
    /* Console line buffer, so several VMs' output stays line-separated. */
    char line[160];
    size_t line_len;
    struct spinlock lock;
    /* Shadow modes: guards the shared shadow trees, every vCPU's SPT base
     * buffer and shadow_index, and the pins (core/mmu/mode_shadow.c). */
    struct sleeplock shadow_lock;
    struct sleeplock shootdown_lock; /* one vm_shootdown at a time */
    volatile uint64_t flush_gen;   /* shootdowns requested so far (vm_shootdown) */
    volatile unsigned long flush_waiter; /* hart id of the vCPU waiting for the acks */
    uint64_t remote_flushes;       /* shadow changes that needed a vm_shootdown */
    uint64_t sptbufs_checked;      /* shadow.roots_freed when the buffers were last checked */
    struct vpci vpci;              /* assigned PCI functions (iommu/passthrough/vpci.c) */
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
extern paddr_t umbra_staging;   /* images staged by the runner live above this */
extern unsigned umbra_trace_flags; /* CONFIG_TRACE_* from the configuration */
extern unsigned vm_count;

/* One zeroed page of Umbra's frame pool, safe from any hart once they run
 * (a pt_alloc_fn; the argument is unused). */
paddr_t umbra_pool_alloc_page(void *unused);

static inline struct hart *hart_self(void)
{
    struct hart *h;
    __asm__("mv %0, tp" : "=r"(h));
    return h;
}

/* Guest-physical to host-physical for a range that must lie wholly in RAM;
 * returns false (and touches nothing) for anything else. */
bool vm_gpa_range_to_hpa(const struct vm *vm, gpaddr_t gpa, uint64_t len, paddr_t *hpa);

int vm_create(struct vm *vm, unsigned index, const struct vm_config *config,
              unsigned first_hart, char *err, size_t errlen);
void vm_end(struct vm *vm, int status, const char *reason);

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
void vcpu_account_instret(struct vcpu *vcpu, uint64_t now_entry);
void vcpu_close_instret(struct vcpu *vcpu);
_Noreturn void vcpu_park(struct vcpu *vcpu, enum vcpu_state state);
struct vcpu *vcpu_current(void);

/* exit.c */
struct vcpu_regs *vcpu_handle_trap(struct vcpu_regs *regs);

/* sbi.c */
void sbi_handle_ecall(struct vcpu *vcpu);


#endif
