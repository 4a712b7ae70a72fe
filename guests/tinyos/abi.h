/*
 * abi.h — the contract between the tinyos kernel and its user programs:
 * the user address-space layout, system call numbers and error codes, the
 * workload numbers passed to the first process, and the codes a process
 * reports a failed self-check with.  Included by both sides, so it holds
 * only constants.
 */
#ifndef UMBRA_TINYOS_ABI_H
#define UMBRA_TINYOS_ABI_H

/* ---- User address space (all below 0x8000_0000, Sv39 root slots 0-1). ---- */
#define TINYOS_USER_TEXT_BASE 0x10000ull     /* = linker/tinyos.ld; entry point */
#define TINYOS_USER_HEAP_BASE 0x10000000ull  /* sbrk heap grows up from here */
#define TINYOS_USER_HEAP_LIMIT 0x30000000ull
#define TINYOS_USER_MMAP_BASE 0x40000000ull  /* anonymous mmap regions */
#define TINYOS_USER_MMAP_END 0x70000000ull
#define TINYOS_USER_STACK_TOP 0x7fff0000ull  /* grows down, demand-zero */
#define TINYOS_USER_STACK_SIZE 0x20000ull
#define TINYOS_USER_END 0x80000000ull
#define TINYOS_PAGE_SIZE 4096ull

/* ---- System calls: number in a7, arguments in a0..a2, result in a0. ---- */
#define SYS_EXIT 1      /* (status) never returns */
#define SYS_FORK 2      /* () -> child pid in the parent, 0 in the child */
#define SYS_WAIT 3      /* (uint64_t *status) -> pid of a reaped child */
#define SYS_YIELD 4     /* () -> 0 */
#define SYS_GETPID 5    /* () -> pid */
#define SYS_PIPE 6      /* (int fds[2]) -> 0; fds[0] reads, fds[1] writes */
#define SYS_READ 7      /* (fd, buf, len) -> bytes read, 0 at end of file */
#define SYS_WRITE 8     /* (fd, buf, len) -> bytes written */
#define SYS_CLOSE 9     /* (fd) -> 0 */
#define SYS_SBRK 10     /* (increment) -> previous break */
#define SYS_MMAP 11     /* (len) -> address of a new anonymous read/write region */
#define SYS_MUNMAP 12   /* (addr, len) -> 0 */
#define SYS_FAIL 13     /* (check, a, b) a self-check failed: never returns */
/* (pages, updates) -> checksum: gups.h's loop run by the kernel over
 * `pages` fresh frames reached through its 2 MiB direct map (tinyos has no
 * user huge pages; this is how workload tlb2m gets 2 MiB translations). */
#define SYS_GUPS 14

/* Errors come back as small negative numbers. */
#define TINYOS_EPERM 1
#define TINYOS_EBADF 9
#define TINYOS_ECHILD 10
#define TINYOS_EAGAIN 11
#define TINYOS_ENOMEM 12
#define TINYOS_EFAULT 14
#define TINYOS_EINVAL 22
#define TINYOS_EMFILE 24
#define TINYOS_EPIPE 32
#define TINYOS_ENOSYS 38

#define TINYOS_FD_CONSOLE 1  /* fds 1 and 2 of the first process */

/* ---- Workloads: the first process starts with a0 = workload,
 * a1 = iterations, a2 = processes, a3 = size (pages). ---- */
#define WORKLOAD_CTXSW 0
#define WORKLOAD_FORK 1
#define WORKLOAD_MMAP 2
#define WORKLOAD_PAGEFAULT 3
#define WORKLOAD_COMPUTE 4
#define WORKLOAD_MIX 5
#define WORKLOAD_TLB 6       /* random updates over `size` pages of 4 KiB (user heap) */
#define WORKLOAD_TLB2M 7     /* the same over the kernel's 2 MiB direct map (SYS_GUPS) */
#define WORKLOAD_SBI 8        /* kernel only: null SBI calls (BASE get_spec_version) */
#define WORKLOAD_COUNT 9

/* ---- Self-checks a process reports through SYS_FAIL. ---- */
#define CHECK_SYSCALL 1       /* a system call failed unexpectedly (a = call, b = result) */
#define CHECK_RING_TOKEN 2    /* a ring token came back wrong (a = got, b = want) */
#define CHECK_PIPE_SHORT 3    /* a pipe read returned a short count */
#define CHECK_COW_PARENT 4    /* parent's data changed by a child's writes */
#define CHECK_COW_CHILD 5     /* child saw data other than the fork-time snapshot */
#define CHECK_NOT_ZERO 6      /* a demand-zero page was not zero (a = address) */
#define CHECK_READBACK 7      /* memory did not read back what was written */
#define CHECK_CHILD_STATUS 8  /* a child's exit status was not what it computed */
#define CHECK_WORKLOAD 9      /* unknown workload number */

#endif
