/*
 * console.h — line output for the built-in guests over the SBI console.
 * Every line a guest prints starts with its tag ("hello: ", "selftests: ") so
 * a test can pick a guest's lines out of a shared UART, natively and when
 * several VMs run at once.
 */
#ifndef UMBRA_GUESTS_CONSOLE_H
#define UMBRA_GUESTS_CONSOLE_H

#include "core/lib/base.h"

/* Remember the tag and choose the transport: DBCN console_write when the
 * SBI has it, the legacy putchar otherwise.  Call before printing. */
void console_init(const char *tag);
const char *console_tag(void);

/* Raw bytes, no tag.  The buffer must be identity mapped (VA == PA) when
 * paging is on, because DBCN takes a physical address. */
void console_write(const char *s, size_t len);

/* One whole line: "<tag>: " + formatted text + "\n", written with a single
 * console_write so lines of concurrent VMs never interleave mid-line. */
void console_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
