/*
 * console.c — the guests' console: DBCN console_write of whole lines, with
 * the legacy putchar as fallback, plus the panic() that core/lib/base.h
 * promises every image (used by core/lib/fdt.c's assertions, if any).
 */
#include "guests/common/console.h"

#include "core/lib/fmt.h"
#include "guests/common/sbi.h"

#define CONSOLE_LINE_MAX 512

static const char *console_tag_text = "guest";
static bool console_has_dbcn;

void console_init(const char *tag)
{
    console_tag_text = tag;
    console_has_dbcn = sbi_spec_version() != 0 && sbi_probe_extension(SBI_EXT_DBCN) != 0;
}

const char *console_tag(void)
{
    return console_tag_text;
}

static void console_write_legacy(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        sbi_legacy_putchar(s[i]);
}

void console_write(const char *s, size_t len)
{
    while (len && console_has_dbcn) {
        /* satp is Bare, or the buffer is identity mapped: VA == PA. */
        struct sbiret r = sbi_debug_console_write(len, ptr_to_pa(s));
        if (r.error || r.value <= 0 || (size_t)r.value > len)
            break;              /* finish the rest the slow way */
        s += r.value;
        len -= (size_t)r.value;
    }
    console_write_legacy(s, len);
}

static void console_vline(const char *fmt, va_list ap)
{
    char line[CONSOLE_LINE_MAX];
    int n = fmt_snprintf(line, sizeof(line), "%s: ", console_tag_text);
    n += fmt_vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    if (n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;   /* truncated: still end the line */
    line[n++] = '\n';
    console_write(line, (size_t)n);
}

void console_line(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    console_vline(fmt, ap);
    va_end(ap);
}

_Noreturn void panic(const char *fmt, ...)
{
    char msg[CONSOLE_LINE_MAX - 32];
    va_list ap;
    va_start(ap, fmt);
    fmt_vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    console_line("panic: %s", msg);
    sbi_shutdown(true);
}
