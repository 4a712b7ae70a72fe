/* uart.h — polled ns16550 transmit and receive, the UART of QEMU's virt machine. */
#ifndef UMBRA_ARCH_UART_H
#define UMBRA_ARCH_UART_H

#include "core/lib/base.h"

void uart_putc(paddr_t base, unsigned reg_shift, char c);
/* The next received byte, or -1 if none is waiting. */
int uart_getc(paddr_t base, unsigned reg_shift);

#endif
