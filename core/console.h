/*
 * console.h — Umbra's console: its own messages, and the guests' output,
 * which gets a "[vm] " prefix per line once more than one VM runs.
 */
#ifndef UMBRA_CORE_CONSOLE_H
#define UMBRA_CORE_CONSOLE_H

#include "core/lib/base.h"

struct vm;

extern unsigned umbra_trace_flags; /* CONFIG_TRACE_* from the configuration (core/main.c) */

void console_init(paddr_t uart_base, unsigned reg_shift);
void console_write(const char *s, size_t n);
/* The next byte typed on the console, or -1 (none, or no UART to read). */
int console_getc(void);
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void console_guest_write(struct vm *vm, const char *s, size_t n);
void console_guest_flush(struct vm *vm);

#endif
