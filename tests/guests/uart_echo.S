/*
 * uart_echo.S — the UART's receive side: programs the ns16550 at
 * 0x1000_0000, prints "echo: ready", then reads bytes by polling LSR.DR
 * and prints one "echo: got 0xNN" line per byte, until it reads '.' or
 * 16 bytes, prints "echo: done" and ends with SBI SRST.  The test feeds
 * its input only after "ready", so natively the bytes cannot be lost to
 * the FIFO reset in uart_init.
 */
#include "uart.inc"

    .section .text
    .globl _start
_start:
    uart_init
    la      a0, ready
    call    puts
    li      s1, 16
1:  call    getc
    li      t1, '.'
    beq     a0, t1, 2f
    mv      s0, a0
    la      a0, got
    call    puts
    mv      a0, s0
    call    puthex
    la      a0, crlf
    call    puts
    addi    s1, s1, -1
    bnez    s1, 1b
2:  la      a0, done
    call    puts
    sbi_shutdown

    uart_lib

    .section .rodata
ready:  .asciz "echo: ready\r\n"
got:    .asciz "echo: got "
crlf:   .asciz "\r\n"
done:   .asciz "echo: done\r\n"
