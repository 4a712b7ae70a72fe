/*
 * ulib.h — the user-mode library of tinyos's programs: system call stubs,
 * a few string and number helpers, and the hash that all checksums are
 * built with.  User code is linked at user addresses (linker/tinyos.ld)
 * and may not call into the kernel image, so it has its own helpers and
 * must not let the compiler emit memcpy/memset.
 */
#ifndef UMBRA_TINYOS_ULIB_H
#define UMBRA_TINYOS_ULIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guests/tinyos/abi.h"

#define U_PAGE_WORDS (TINYOS_PAGE_SIZE / sizeof(uint64_t))

static inline long u_syscall(long number, long a0, long a1, long a2)
{
    register long r_a0 __asm__("a0") = a0;
    register long r_a1 __asm__("a1") = a1;
    register long r_a2 __asm__("a2") = a2;
    register long r_a7 __asm__("a7") = number;
    __asm__ volatile("ecall" : "+r"(r_a0) : "r"(r_a1), "r"(r_a2), "r"(r_a7) : "memory");
    return r_a0;
}

_Noreturn void u_exit(uint64_t status);
long u_fork(void);
long u_wait(uint64_t *status);
void u_yield(void);
long u_getpid(void);
long u_pipe(int fds[2]);
long u_read(int fd, void *buf, size_t len);
long u_write(int fd, const void *buf, size_t len);
long u_close(int fd);
/* The previous break; grows (or with a negative increment shrinks) the heap. */
uint64_t *u_sbrk(long increment);
uint64_t *u_mmap(size_t len);
void u_munmap(void *addr, size_t len);
_Noreturn void u_fail(uint64_t check, uint64_t a, uint64_t b);

/* Call wrappers that treat any error as a failed self-check. */
long u_check(long result, long call);
void u_read_exact(int fd, void *buf, size_t len);
void u_write_exact(int fd, const void *buf, size_t len);
/* Wait for any child; its pid and status. */
long u_wait_any(uint64_t *status);

size_t u_strlen(const char *s);
/* Appends s / decimal v at *pos in buf (cap bytes, always NUL-terminated). */
void u_append(char *buf, size_t cap, size_t *pos, const char *s);
void u_append_u64(char *buf, size_t cap, size_t *pos, uint64_t v);
void u_print(const char *line);

/* The checksum hash: order-sensitive, so callers feed it in a fixed order. */
uint64_t u_mix(uint64_t h, uint64_t v);

/* user_work.c: the workloads, each returning its checksum. */
uint64_t user_main(uint64_t workload, uint64_t iters, uint64_t procs, uint64_t size);
uint64_t work_ctxsw(uint64_t iters, uint64_t procs, uint64_t size);
uint64_t work_fork(uint64_t iters, uint64_t size);
uint64_t work_mmap(uint64_t iters, uint64_t size);
uint64_t work_pagefault(uint64_t iters, uint64_t size);
uint64_t work_compute(uint64_t iters, uint64_t procs, uint64_t size);
uint64_t work_mix(uint64_t iters, uint64_t procs, uint64_t size);
uint64_t work_tlb(uint64_t iters, uint64_t size);
uint64_t work_tlb2m(uint64_t iters, uint64_t size);

#endif
