/*
 * syscall.c — the system call table, and the calls that shape a process's
 * memory: sbrk (the heap) and mmap/munmap (anonymous regions).  Memory is
 * only reserved here; pages appear on first touch (fault.c).  Shrinking
 * the heap or unmapping removes the pages that were touched, each with
 * the leaf fence the spec requires (vm_unmap).
 */
#include "guests/common/gups.h"
#include "guests/tinyos/kernel.h"

static const char *const syscall_check_names[] = {
    [CHECK_SYSCALL] = "system call result",
    [CHECK_RING_TOKEN] = "ring token",
    [CHECK_PIPE_SHORT] = "pipe read length",
    [CHECK_COW_PARENT] = "COW isolation (parent data)",
    [CHECK_COW_CHILD] = "COW snapshot (child data)",
    [CHECK_NOT_ZERO] = "demand-zero page content",
    [CHECK_READBACK] = "memory read-back",
    [CHECK_CHILD_STATUS] = "child exit status",
    [CHECK_WORKLOAD] = "workload number",
};

static long sys_sbrk(struct proc *p, int64_t increment)
{
    uint64_t old = p->brk;
    uint64_t new_brk = old + (uint64_t)increment;
    if (new_brk < TINYOS_USER_HEAP_BASE || new_brk > TINYOS_USER_HEAP_LIMIT)
        return -TINYOS_ENOMEM;
    p->brk = new_brk;
    if (increment < 0)
        vm_unmap(p, ALIGN_UP(new_brk, PAGE_SIZE), ALIGN_UP(old, PAGE_SIZE));
    return (long)old;
}

static bool mmap_overlaps(const struct proc *p, uint64_t start, uint64_t end, uint64_t *skip_to)
{
    for (unsigned i = 0; i < NREGION; i++) {
        const struct region *r = &p->regions[i];
        if (r->end && r->start < end && start < r->end) {
            *skip_to = r->end;
            return true;
        }
    }
    return false;
}

static struct region *mmap_free_slot(struct proc *p)
{
    for (unsigned i = 0; i < NREGION; i++) {
        if (!p->regions[i].end)
            return &p->regions[i];
    }
    return NULL;
}

static long sys_mmap(struct proc *p, uint64_t len)
{
    len = ALIGN_UP(len, PAGE_SIZE);
    if (len == 0 || len > TINYOS_USER_MMAP_END - TINYOS_USER_MMAP_BASE)
        return -TINYOS_EINVAL;
    struct region *slot = mmap_free_slot(p);
    if (!slot)
        return -TINYOS_ENOMEM;
    /* First fit, lowest address first. */
    uint64_t start = TINYOS_USER_MMAP_BASE, skip;
    while (mmap_overlaps(p, start, start + len, &skip))
        start = skip;
    if (start + len > TINYOS_USER_MMAP_END)
        return -TINYOS_ENOMEM;
    *slot = (struct region){ .start = start, .end = start + len };
    return (long)start;
}

static long sys_munmap(struct proc *p, uint64_t addr, uint64_t len)
{
    len = ALIGN_UP(len, PAGE_SIZE);
    uint64_t end = addr + len;
    if (!IS_ALIGNED(addr, PAGE_SIZE) || len == 0 || end < addr)
        return -TINYOS_EINVAL;
    for (unsigned i = 0; i < NREGION; i++) {
        struct region *r = &p->regions[i];
        if (!r->end || addr < r->start || end > r->end)
            continue;
        if (addr > r->start && end < r->end) {
            /* A hole in the middle: the tail becomes a region of its own. */
            struct region *tail = mmap_free_slot(p);
            if (!tail)
                return -TINYOS_ENOMEM;
            *tail = (struct region){ .start = end, .end = r->end };
            r->end = addr;
        } else if (addr > r->start) {
            r->end = addr;
        } else if (end < r->end) {
            r->start = end;
        } else {
            *r = (struct region){ 0 };
        }
        vm_unmap(p, addr, end);
        return 0;
    }
    return -TINYOS_EINVAL;
}

/* SYS_GUPS: the frames of the table, each reached through the direct map
 * (2 MiB leaves), so the loop's translations are 2 MiB ones. */
#define GUPS_MAX_PAGES 16384u
static uint64_t gups_frames[GUPS_MAX_PAGES];

static uint64_t *gups_kernel_word(void *ctx, uint64_t index)
{
    (void)ctx;
    return (uint64_t *)pa_to_ptr(gups_frames[index / GUPS_WORDS_PER_PAGE]) + index % GUPS_WORDS_PER_PAGE;
}

static long sys_gups(uint64_t pages, uint64_t updates)
{
    if (!pages || pages > GUPS_MAX_PAGES || (pages & (pages - 1)))
        return -TINYOS_EINVAL;
    uint64_t got = 0;
    while (got < pages && (gups_frames[got] = frame_alloc()) != 0)
        got++;
    long r = got == pages ? (long)(gups_run(gups_kernel_word, NULL, pages, updates) & 0x7fffffffffffffffull)
                          : -TINYOS_ENOMEM;
    while (got)
        frame_unref(gups_frames[--got]);
    return r;
}

static _Noreturn void sys_fail(struct proc *p, uint64_t check, uint64_t a, uint64_t b)
{
    const char *name = check < ARRAY_SIZE(syscall_check_names) && syscall_check_names[check]
                           ? syscall_check_names[check]
                           : "unknown";
    kernel_fail("pid %d: self-check %lu (%s) failed: a=0x%lx b=0x%lx", p->pid,
                (unsigned long)check, name, (unsigned long)a, (unsigned long)b);
}

void syscall_dispatch(struct user_frame *f)
{
    struct proc *p = proc_current();
    uint64_t a0 = f->regs[REG_A0], a1 = f->regs[REG_A1], a2 = f->regs[REG_A2];
    long r;
    kstats.syscalls++;
    switch (f->regs[REG_A7]) {
    case SYS_EXIT:
        proc_exit(a0);
    case SYS_FORK:
        r = proc_fork();
        break;
    case SYS_WAIT:
        r = proc_wait(a0);
        break;
    case SYS_YIELD:
        proc_yield();
        r = 0;
        break;
    case SYS_GETPID:
        r = p->pid;
        break;
    case SYS_PIPE:
        r = file_pipe(p, a0);
        break;
    case SYS_READ:
        r = file_read(p, (int)a0, a1, a2);
        break;
    case SYS_WRITE:
        r = file_write(p, (int)a0, a1, a2);
        break;
    case SYS_CLOSE:
        r = file_close(p, (int)a0);
        break;
    case SYS_SBRK:
        r = sys_sbrk(p, (int64_t)a0);
        break;
    case SYS_MMAP:
        r = sys_mmap(p, a0);
        break;
    case SYS_MUNMAP:
        r = sys_munmap(p, a0, a1);
        break;
    case SYS_GUPS:
        r = sys_gups(a0, a1);
        break;
    case SYS_FAIL:
        sys_fail(p, a0, a1, a2);
    default:
        r = -TINYOS_ENOSYS;
        break;
    }
    f->regs[REG_A0] = (uint64_t)r;
}
