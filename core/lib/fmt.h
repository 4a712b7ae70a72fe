/*
 * fmt.h — a small printf-style formatter for freestanding code.
 * Supports %d %i %u %x %X %p %s %c %% with the l, ll and z length modifiers,
 * a field width, and the '0' and '-' flags.  Output is always NUL-terminated
 * when cap > 0; the return value is the length the full output would have.
 */
#ifndef UMBRA_CORE_FMT_H
#define UMBRA_CORE_FMT_H

#include "core/lib/base.h"

int fmt_vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap);
int fmt_snprintf(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Byte helpers every freestanding image needs (the compiler may also emit
 * calls to memcpy/memset itself). */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
/* strchr under a name that cannot clash with the host libc's. */
const char *strchr_k(const char *s, int c);

#endif
