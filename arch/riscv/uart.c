/*
 * uart.c — polled ns16550 output.  OpenSBI has already programmed the line
 * settings, so Umbra only waits for the transmit holding register.
 */
#include "arch/riscv/uart.h"

#define UART_THR 0
#define UART_RBR 0
#define UART_LSR 5
#define UART_LSR_THRE 0x20
#define UART_LSR_DR 0x01

void uart_putc(paddr_t base, unsigned reg_shift, char c)
{
    volatile uint8_t *lsr = pa_to_ptr(base + ((paddr_t)UART_LSR << reg_shift));
    volatile uint8_t *thr = pa_to_ptr(base + ((paddr_t)UART_THR << reg_shift));
    while (!(*lsr & UART_LSR_THRE))
        ;
    *thr = (uint8_t)c;
}

int uart_getc(paddr_t base, unsigned reg_shift)
{
    volatile uint8_t *lsr = pa_to_ptr(base + ((paddr_t)UART_LSR << reg_shift));
    volatile uint8_t *rbr = pa_to_ptr(base + ((paddr_t)UART_RBR << reg_shift));
    return (*lsr & UART_LSR_DR) ? *rbr : -1;
}
