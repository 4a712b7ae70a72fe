/*
 * kernel.h — the tinyos kernel's shared declarations: Sv39 page-table
 * encodings, the process structure, and the interfaces between the
 * kernel's modules (frames, page tables, ASIDs, fences, processes and the
 * scheduler, files and pipes, traps, the tick, workloads).
 *
 * The kernel is single-hart and non-preemptive: it runs with
 * sstatus.SIE = 0 and takes interrupts only while a process is in U-mode,
 * so no data structure here needs a lock.
 */
#ifndef UMBRA_TINYOS_KERNEL_H
#define UMBRA_TINYOS_KERNEL_H

#include "core/lib/base.h"
#include "guests/tinyos/abi.h"
#include "guests/tinyos/entry_layout.h"
#include "core/lib/pte.h"

/* ---- Limits. ---- */
#define NPROC 64                /* processes alive at once, the first included */
#define KSTACK_SIZE KIB(16)
#define NFD 16                  /* descriptors per process */
#define NFILE 256               /* open files system-wide */
#define NPIPE 64
#define PIPE_BUF_SIZE 4096      /* one frame per pipe */
#define NREGION 16              /* mmap regions per process */

/* ---- Sv39 (the architectural bits are in core/lib/pte.h). ---- */

#define PTE_COW (1ull << 8)     /* RSW bit: shared copy-on-write page */
#define PTE_FLAGS_MASK 0x3ffull


#define MEGAPAGE MIB(2)
#define GIGAPAGE GIB(1)

static inline uint64_t pte_to_pa(pte_t pte)
{
    return (pte >> PTE_PPN_SHIFT) << 12;
}

static inline pte_t pa_to_pte(uint64_t pa, uint64_t flags)
{
    return ((pa >> 12) << PTE_PPN_SHIFT) | flags;
}

static inline bool pte_is_leaf(pte_t pte)
{
    return (pte & (PTE_R | PTE_W | PTE_X)) != 0;
}

/* ---- Counters of what the kernel did, per workload (the "measure" line). ---- */
struct kstats {
    uint64_t syscalls;
    uint64_t forks;
    uint64_t context_switches;  /* scheduler handing the hart to another process */
    uint64_t satp_writes;
    uint64_t timer_ticks;
    uint64_t faults_zero;       /* demand-zero pages installed */
    uint64_t faults_cow_copy;   /* COW break by copying */
    uint64_t faults_cow_reuse;  /* COW break by reusing a page no longer shared */
    uint64_t faults_spurious;   /* fault on a PTE that already allowed the access */
    uint64_t fence_va_asid;     /* sfence.vma va, asid */
    uint64_t fence_asid;        /* sfence.vma x0, asid */
    uint64_t fence_all;         /* sfence.vma x0, x0 */
    uint64_t asid_recycles;     /* ASIDs taken from a live process */
};

extern struct kstats kstats;

/* ---- Failure: one reason line, then SRST shutdown with "system failure". ---- */
_Noreturn void kernel_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The command line (DTB /chosen/bootargs), NUL included, fits this. */
#define BOOTARGS_MAX 1024
/* `key=N` (decimal) from the command line; `fallback` when absent. */
uint64_t bootarg_number(const char *bootargs, const char *key, uint64_t fallback);

/* ---- Frames (frame.c): 4 KiB pages of RAM with reference counts. ---- */
void frame_init(uint64_t start, uint64_t end, uint64_t hole_start, uint64_t hole_end);
/* A zero-filled frame (physical address == kernel virtual address), or 0. */
uint64_t frame_alloc(void);
void frame_ref(uint64_t pa);
/* Drops one reference; the frame is freed when none remain. */
void frame_unref(uint64_t pa);
unsigned frame_refcount(uint64_t pa);
/* True for frames the allocator owns (false for the kernel image). */
bool frame_is_managed(uint64_t pa);
size_t frame_free_count(void);
void page_zero(uint64_t pa);
void page_copy(uint64_t dst_pa, uint64_t src_pa);

/* ---- Fences (fence.c): every sfence.vma the kernel executes. ---- */
void fence_page(uint64_t va, uint64_t asid);   /* sfence.vma va, asid */
void fence_asid(uint64_t asid);                /* sfence.vma x0, asid */
void fence_all(void);                          /* sfence.vma x0, x0 */

/* ---- Kernel page tables (vm.c). ---- */
/* Builds the global direct map of [map_start, ram_end) with 2 MiB leaves:
 * executable over the kernel image, read/write elsewhere. */
void vm_init(uint64_t map_start, uint64_t ram_end, uint64_t image_end);
pte_t *vm_kernel_root(void);
/* A new address space: a root holding only the kernel's global entries. */
pte_t *vm_space_create(void);
/* The L0 PTE for `va` (user range), creating tables when `create`; NULL if
 * a table is missing (and not created) or no memory is left. */
pte_t *vm_walk(pte_t *root, uint64_t va, bool create);
/* Frees every user page and table of `root` (the space must be inactive). */
void vm_space_destroy(pte_t *root);

struct proc;
/* Copy-on-write fork of the parent's user pages into the child's space. */
bool vm_fork(struct proc *parent, struct proc *child);
/* Removes the user pages in [start, end) of a live space, fencing each. */
void vm_unmap(struct proc *p, uint64_t start, uint64_t end);

/* ---- Faults and user memory (fault.c). ---- */
enum access { ACCESS_READ, ACCESS_WRITE, ACCESS_EXEC };
/* Makes `va` accessible as `acc` in p's space, as the page-fault handler
 * does: demand-zero, COW break, spurious-fault fence.  0 or -EFAULT. */
long fault_resolve(struct proc *p, uint64_t va, enum access acc);
/* The kernel reaches user memory through its own direct map, translating
 * each page in software (faulting it in as the hardware fault would). */
long uaccess_copy_in(struct proc *p, void *dst, uint64_t uva, size_t len);
long uaccess_copy_out(struct proc *p, uint64_t uva, const void *src, size_t len);

/* ---- ASIDs (asid.c). ---- */
/* Probes the ASID width with the kernel root (turns paging on).  `limit`
 * caps the ASIDs handed out, to exercise recycling (bootarg asids=N);
 * 0 runs every process as ASID 0, as on hardware without ASIDs. */
#define ASID_NO_LIMIT 0xffffu
void asid_init(unsigned limit);
unsigned asid_bits(void);
unsigned asid_count(void);      /* ASIDs handed to processes */
/* Loads p's space into satp, giving p an ASID first if it has none. */
void asid_activate(struct proc *p);
/* Leaves p's space for good: satp back to the kernel root, the ASID's
 * translations discarded and the ASID freed. */
void asid_release(struct proc *p);
bool asid_all_free(void);

/* ---- Processes (proc.c). ---- */
enum proc_state { PROC_UNUSED, PROC_RUNNABLE, PROC_RUNNING, PROC_SLEEPING, PROC_ZOMBIE };

struct context {                /* callee-saved registers, see entry.S */
    uint64_t ra, sp, s[12];
};

/* Saved user registers at the top of the kernel stack (entry_layout.h). */
struct user_frame {
    uint64_t regs[32];          /* regs[n] = xn; regs[0] unused */
    uint64_t sepc;
    uint64_t pad;
};

#define REG_SP 2
#define REG_A0 10
#define REG_A1 11
#define REG_A2 12
#define REG_A3 13
#define REG_A7 17

struct region {
    uint64_t start, end;        /* page aligned; end == 0: slot unused */
};

struct file;

struct proc {
    enum proc_state state;
    int pid;
    struct proc *parent;
    uint64_t exit_status;
    const void *wait_channel;   /* what a SLEEPING process waits for */
    struct context context;
    uint8_t *kstack;            /* KSTACK_SIZE bytes; the user frame at the top */
    struct user_frame *frame;
    pte_t *root;                /* Sv39 root of the user address space */
    int asid;                   /* -1: none yet, or recycled (asid.c) */
    uint64_t brk;               /* heap: [TINYOS_USER_HEAP_BASE, brk) */
    struct region regions[NREGION];
    struct file *files[NFD];
    uint64_t spurious_va;       /* last spurious fault, to escalate a repeat */
    unsigned spurious_repeats;
};

_Static_assert(offsetof(struct user_frame, sepc) == UFRAME_SEPC, "entry.S frame layout");
_Static_assert(sizeof(struct user_frame) == UFRAME_SIZE, "entry.S frame layout");
_Static_assert(UFRAME_SIZE % 16 == 0, "the ABI keeps sp 16-byte aligned");
_Static_assert(sizeof(struct context) == 14 * 8, "entry.S context layout");

struct proc *proc_current(void);
/* The first process of a workload, ready to run the user entry with a0..a3. */
struct proc *proc_spawn_first(const uint64_t args[4]);
long proc_fork(void);
_Noreturn void proc_exit(uint64_t status);
long proc_wait(uint64_t status_uva);
void proc_yield(void);
/* Sleep until proc_wakeup(channel); the caller re-checks its condition. */
void proc_sleep(const void *channel);
void proc_wakeup(const void *channel);
/* Runs processes round-robin until none is left; false on a deadlock
 * (processes alive, none runnable). */
bool sched_run(void);
unsigned proc_live_count(void);
/* Exit status of the last parentless pid 1: the workload's checksum. */
uint64_t proc_first_exit_status(void);
void proc_reset_pids(void);
/* True if `va` lies in one of p's read/write regions (heap, stack, mmap). */
bool proc_region_of(const struct proc *p, uint64_t va);

/* ---- Files and pipes (file.c). ---- */
void file_init(void);
long file_open_console(struct proc *p);   /* fds 1 and 2 */
long file_pipe(struct proc *p, uint64_t fds_uva);
long file_read(struct proc *p, int fd, uint64_t buf, uint64_t len);
long file_write(struct proc *p, int fd, uint64_t buf, uint64_t len);
long file_close(struct proc *p, int fd);
void file_dup_all(struct proc *from, struct proc *to);
void file_close_all(struct proc *p);
bool file_all_closed(void);

/* ---- System calls (syscall.c). ---- */
void syscall_dispatch(struct user_frame *f);

/* ---- Traps (usertrap.c, entry.S). ---- */
void usertrap_init(void);
/* Called by entry.S for every trap from U-mode. */
void usertrap_handle(struct user_frame *f);
/* entry.S: restore the frame and sret to U-mode. */
_Noreturn void usertrap_return(struct user_frame *f);
/* entry.S calls it for a trap taken in S-mode: always a kernel bug. */
_Noreturn void kernel_trap_report(uint64_t scause, uint64_t sepc, uint64_t stval);
/* entry.S: save callee-saved registers in *from, load *to. */
void context_switch(struct context *from, const struct context *to);

/* ---- The scheduling tick (tick.c). ---- */
void tick_init(uint32_t timebase_hz, bool use_sstc, uint64_t quantum_us);
void tick_arm(void);            /* one quantum from now */
void tick_stop(void);
uint64_t tick_to_us(uint64_t ticks);    /* `time` units to microseconds */

/* ---- Workloads (workload.c). ---- */
void workload_run_from_bootargs(const char *bootargs);

#endif
