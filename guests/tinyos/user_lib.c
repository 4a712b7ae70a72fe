/*
 * user_lib.c — tinyos's user-mode library (see ulib.h).  Runs in U-mode;
 * linked at user addresses with the rest of the user programs.
 */
#include "guests/tinyos/ulib.h"

_Noreturn void u_exit(uint64_t status)
{
    u_syscall(SYS_EXIT, (long)status, 0, 0);
    for (;;)
        ;
}

long u_fork(void)
{
    return u_syscall(SYS_FORK, 0, 0, 0);
}

long u_wait(uint64_t *status)
{
    return u_syscall(SYS_WAIT, (long)status, 0, 0);
}

void u_yield(void)
{
    u_syscall(SYS_YIELD, 0, 0, 0);
}

long u_getpid(void)
{
    return u_syscall(SYS_GETPID, 0, 0, 0);
}

long u_pipe(int fds[2])
{
    return u_syscall(SYS_PIPE, (long)fds, 0, 0);
}

long u_read(int fd, void *buf, size_t len)
{
    return u_syscall(SYS_READ, fd, (long)buf, (long)len);
}

long u_write(int fd, const void *buf, size_t len)
{
    return u_syscall(SYS_WRITE, fd, (long)buf, (long)len);
}

long u_close(int fd)
{
    return u_syscall(SYS_CLOSE, fd, 0, 0);
}

uint64_t *u_sbrk(long increment)
{
    return (uint64_t *)u_check(u_syscall(SYS_SBRK, increment, 0, 0), SYS_SBRK);
}

uint64_t *u_mmap(size_t len)
{
    return (uint64_t *)u_check(u_syscall(SYS_MMAP, (long)len, 0, 0), SYS_MMAP);
}

void u_munmap(void *addr, size_t len)
{
    u_check(u_syscall(SYS_MUNMAP, (long)addr, (long)len, 0), SYS_MUNMAP);
}

_Noreturn void u_fail(uint64_t check, uint64_t a, uint64_t b)
{
    u_syscall(SYS_FAIL, (long)check, (long)a, (long)b);
    for (;;)
        ;
}

long u_check(long result, long call)
{
    if (result < 0)
        u_fail(CHECK_SYSCALL, (uint64_t)call, (uint64_t)result);
    return result;
}

void u_read_exact(int fd, void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len) {
        long n = u_check(u_read(fd, p, len), SYS_READ);
        if (n == 0)
            u_fail(CHECK_PIPE_SHORT, (uint64_t)fd, len);
        p += n;
        len -= (size_t)n;
    }
}

void u_write_exact(int fd, const void *buf, size_t len)
{
    long n = u_check(u_write(fd, buf, len), SYS_WRITE);
    if ((size_t)n != len)
        u_fail(CHECK_PIPE_SHORT, (uint64_t)fd, (uint64_t)n);
}

long u_wait_any(uint64_t *status)
{
    return u_check(u_wait(status), SYS_WAIT);
}

size_t u_strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

void u_append(char *buf, size_t cap, size_t *pos, const char *s)
{
    while (*s && *pos + 1 < cap)
        buf[(*pos)++] = *s++;
    buf[*pos] = '\0';
}

void u_append_u64(char *buf, size_t cap, size_t *pos, uint64_t v)
{
    char digits[21];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n && *pos + 1 < cap)
        buf[(*pos)++] = digits[--n];
    buf[*pos] = '\0';
}

void u_print(const char *line)
{
    u_write(TINYOS_FD_CONSOLE, line, u_strlen(line));
}

uint64_t u_mix(uint64_t h, uint64_t v)
{
    /* splitmix64's finalizer over the running hash xor the new value. */
    uint64_t x = (h ^ v) + 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}
