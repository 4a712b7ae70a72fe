/*
 * console.c — serialised output for Umbra and its guests.  One lock keeps
 * lines from different harts whole.  With several VMs, guest output is
 * buffered per VM up to a newline and printed as "[name] line" so it can be
 * told apart; with one VM it is passed through untouched so the guest's
 * output is byte-for-byte what it prints natively.
 */
#include "core/console.h"
#include "arch/riscv/sbi_call.h"
#include "arch/riscv/uart.h"
#include "core/lib/fmt.h"
#include "core/spinlock.h"
#include "core/vm.h"

static struct spinlock console_lock;
static paddr_t console_uart;
static unsigned console_shift;

void console_init(paddr_t uart_base, unsigned reg_shift)
{
    console_uart = uart_base;
    console_shift = reg_shift;
}

static void console_putc_raw(char c)
{
    if (console_uart)
        uart_putc(console_uart, console_shift, c);
    else
        sbi_console_putchar(c);
}

/* '\n' becomes "\r\n" as OpenSBI's console does, so a guest's output is
 * byte-for-byte the same under Umbra as on bare QEMU. */
static void console_put_locked(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            console_putc_raw('\r');
        console_putc_raw(s[i]);
    }
}

int console_getc(void)
{
    return console_uart ? uart_getc(console_uart, console_shift) : -1;
}

void console_write(const char *s, size_t n)
{
    spin_lock(&console_lock);
    console_put_locked(s, n);
    spin_unlock(&console_lock);
}

void kprintf(const char *fmt, ...)
{
    char buf[640];
    va_list ap;
    va_start(ap, fmt);
    int n = fmt_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    console_write(buf, MIN((size_t)n, sizeof(buf) - 1));
}

static void guest_line_emit(struct vm *vm)
{
    bool complete = vm->line[vm->line_len - 1] == '\n';
    spin_lock(&console_lock);
    console_put_locked("[", 1);
    console_put_locked(vm->config->name, strlen(vm->config->name));
    console_put_locked("] ", 2);
    console_put_locked(vm->line, vm->line_len);
    if (!complete)          /* an over-long line continues on the next one */
        console_put_locked("\n", 1);
    spin_unlock(&console_lock);
    vm->line_len = 0;
}

void console_guest_write(struct vm *vm, const char *s, size_t n)
{
    if (vm_count <= 1) {
        console_write(s, n);
        return;
    }
    spin_lock(&vm->lock);
    for (size_t i = 0; i < n; i++) {
        vm->line[vm->line_len++] = s[i];
        if (s[i] == '\n' || vm->line_len == sizeof(vm->line))
            guest_line_emit(vm);
    }
    spin_unlock(&vm->lock);
}

/* Print a partial last line (a guest that ended without a newline). */
void console_guest_flush(struct vm *vm)
{
    spin_lock(&vm->lock);
    if (vm->line_len)
        guest_line_emit(vm);
    spin_unlock(&vm->lock);
}
